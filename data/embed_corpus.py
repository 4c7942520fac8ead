"""Store the corpus's sentence embeddings: `python data/embed_corpus.py` (about 6 minutes on 2 cores).

`postlens train --accurate` reads the vectors of the corpus's posts from
data/embeddings/<encoder>.npz instead of embedding 10,000 posts again (float16, keyed by a hash
of the text the encoder reads; a post missing from it is embedded). Run this after the corpus
changes; the accurate model's rebuild command is then minutes shorter, and gives the same model.
"""
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from postlens.corpus import read_labelled  # noqa: E402
from postlens.encoder import E5Encoder, write_cache  # noqa: E402
from postlens.text import normalize_many  # noqa: E402

encoder = E5Encoder()
docs = normalize_many([p.text for p in read_labelled([HERE / "corpus"])])
started = time.perf_counter()
vectors = encoder.encode(docs, progress=lambda n: print(".", end="", flush=True, file=sys.stderr))
out = HERE / "embeddings" / f"{encoder.name}.npz"
write_cache(out, encoder, docs, vectors)
print(f"\n{len(docs)} posts embedded in {time.perf_counter() - started:.0f} s: {out}")
