"""notebooks/quickstart.ipynb runs top to bottom (in a copy, so nothing is written into the checkout),
and its sample data is not taken from the training corpus (a model scored on its own training posts
looks perfect, and retraining on them looks harmful)."""
import csv
import json
import re
import shutil
import unicodedata

import nbclient
import nbformat
import numpy as np
import scipy.sparse as sp

from .conftest import CORPUS, ROOT

NOTEBOOK_DATA = ("sample_posts.csv", "inhouse_labels.csv")
#: Two posts sharing this share of their character 5-grams (Jaccard) are near-duplicates.
NEAR = 0.6


def test_quickstart_notebook_runs(tmp_path):
    for name in ("quickstart.ipynb", *NOTEBOOK_DATA):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    nb = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "hard_ad" in outputs and "accounts, best score first" in outputs and "cross-validation" in outputs
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "my_model" / "model.json").is_file()


def _key(text):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def _notebook_posts():
    posts = []
    for name in NOTEBOOK_DATA:
        with open(ROOT / "notebooks" / name, encoding="utf-8", newline="") as f:
            posts += [(f"{name}:{n}", row["text"]) for n, row in enumerate(csv.DictReader(f), 2)]
    return posts


def _corpus_posts():
    posts = []
    for path in sorted(CORPUS.glob("*.jsonl")) + sorted((ROOT / "data" / "candidates").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                posts.append((f"{path.name}:{n}", json.loads(line)["text"]))
    return posts


def _grams(posts, vocab):
    """Rows of 0/1 character 5-gram indicators (of the normalised text), one per post."""
    indptr, indices = [0], []
    for _, text in posts:
        t = _key(text)
        indices.extend(vocab.setdefault(g, len(vocab)) for g in {t[i:i + 5] for i in range(max(1, len(t) - 4))})
        indptr.append(len(indices))
    return np.ones(len(indices), dtype=np.float32), np.array(indices), np.array(indptr)


def _near_pairs(a, b, same=False):
    """Pairs (post of a, post of b, Jaccard) whose character 5-gram Jaccard is at least NEAR."""
    vocab = {}
    ga, gb = _grams(a, vocab), _grams(b, vocab)
    xa = sp.csr_matrix(ga, shape=(len(a), len(vocab)))
    xb = sp.csr_matrix(gb, shape=(len(b), len(vocab)))
    inter = (xa @ xb.T).tocoo()
    if same:
        keep = inter.row < inter.col
        inter = sp.coo_matrix((inter.data[keep], (inter.row[keep], inter.col[keep])), shape=inter.shape)
    size_a, size_b = np.diff(ga[2]), np.diff(gb[2])
    jaccard = inter.data / (size_a[inter.row] + size_b[inter.col] - inter.data)
    return [(a[i], b[j], round(float(s), 2)) for i, j, s in zip(inter.row, inter.col, jaccard) if s >= NEAR]


def test_notebook_posts_are_not_in_the_corpus():
    """No sample post is a training post of the shipped model, exactly or nearly."""
    mine, corpus = _notebook_posts(), _corpus_posts()
    assert len(mine) >= 200 and len(corpus) >= 4000
    seen = {_key(text): where for where, text in corpus}
    exact = [(where, seen[_key(text)]) for where, text in mine if _key(text) in seen]
    assert not exact, f"{len(exact)} notebook posts are corpus posts, e.g. {exact[:5]}"
    near = _near_pairs(mine, corpus)
    assert not near, f"{len(near)} notebook posts nearly repeat corpus posts, e.g. {near[:3]}"


def test_notebook_posts_are_not_repeated():
    """The sample archive and the in-house labels are distinct posts, with no near-copies among them."""
    mine = _notebook_posts()
    keys = [_key(text) for _, text in mine]
    assert len(set(keys)) == len(keys)
    near = _near_pairs(mine, mine, same=True)
    assert not near, f"{len(near)} near-duplicate pairs in the notebook data, e.g. {near[:3]}"
