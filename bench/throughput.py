"""Throughput and memory of `postlens label` against fastText, on the same posts and the same core.

    python bench/throughput.py              # 1,000,000 posts (about 10 minutes on 2 cores)
    python bench/throughput.py --n 100000   # quicker

Builds a synthetic archive by sampling tweet-length posts (at most 280 characters) from the
training corpus and perturbing each one (numbers changed; an emoji, tag, link or handle added
or the last word cut; case changed). Then, in one run:

- postlens: `postlens label ARCHIVE.jsonl -o OUT.csv --jobs 1` and `--jobs <all cores>`, end to
  end (read, normalise, features, predict, write), wall-clock posts/s and the peak RSS of the
  whole process tree (sampled from /proc every 50 ms, plus each process's own high-water mark);
- postlens in memory: the labelling hot path alone on a list of the same texts, one core;
- fastText (`pip install fasttext-numpy2`, a bench-only dependency) trained on the same corpus
  with character n-grams, predicting all label probabilities (k=-1) for the same texts held
  in memory, one thread;
- macro-F1 of both on ../shared/eval/dev.jsonl if it is there.

Prints a table; bench/README.md records it with the machine it ran on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from postlens.corpus import read_labelled  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
_EXTRAS = [" #tbt", " 🎉", " 👉 https://t.co/Ab3xYz9", " @user", " 🔥🔥", " #周末#", " [心]", " (via @news)", "!!", " ✨",
           " https://bit.ly/3xQ", " 😂", " #ThrowbackThursday", " 网页链接", " ❤️", "～", " [doge]", " #NewPost"]


def perturb(text: str, rng: random.Random) -> str:
    """A variant of a corpus post: other numbers, an emoji, tag, link or handle added or cut, case changed."""
    if rng.random() < 0.5:
        text = re.sub(r"\d+", lambda m: str(rng.randint(1, 99)), text)
    if rng.random() < 0.6:
        text += rng.choice(_EXTRAS)
    elif rng.random() < 0.3 and " " in text:
        text = text.rsplit(" ", 1)[0]
    if rng.random() < 0.15:
        text = text.lower()
    return text


def build_archive(path: Path, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    posts = [p.text for p in read_labelled([ROOT / "data" / "corpus"]) if len(p.text) <= 280]
    texts = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            text = perturb(rng.choice(posts), rng)
            texts.append(text)
            f.write(json.dumps({"id": i, "account": f"acct{i % 300}", "date": f"2024-{i % 12 + 1:02d}-01",
                                "text": text}, ensure_ascii=False) + "\n")
    return texts


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_label(archive: Path, out: Path, jobs: int) -> tuple[float, int]:
    """Seconds and peak RSS of the process tree of one `postlens label` run."""
    cmd = [sys.executable, "-m", "postlens.cli", "label", str(archive), "-o", str(out), "--jobs", str(jobs), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"postlens label failed with status {proc.returncode}")
    return seconds, peak


def postlens_in_memory(texts: list[str]) -> float:
    import postlens
    from postlens.batch import CHUNK_ROWS, _label_texts
    from postlens.guidelines import BALANCED

    model = postlens.load_model()
    _label_texts(model, texts[:100], BALANCED)
    start = time.perf_counter()
    for i in range(0, len(texts), CHUNK_ROWS):
        _label_texts(model, texts[i:i + CHUNK_ROWS], BALANCED)
    return len(texts) / (time.perf_counter() - start)


FASTTEXT_CONFIGS = {
    # fastText's defaults (dim 100) with its own default character n-gram range (3-6) and word bigrams
    "dim 100, char 3-6 (defaults)": dict(dim=100, minn=3, maxn=6),
    # a smaller, faster configuration: half the dimensions, character n-grams 2-4
    "dim 50, char 2-4": dict(dim=50, minn=2, maxn=4),
}


def fasttext_model(tmp: Path, config: dict):
    import fasttext

    train = tmp / "ft.train"
    if not train.exists():
        with open(train, "w", encoding="utf-8") as f:
            for p in read_labelled([ROOT / "data" / "corpus"]):
                f.write(f"__label__{p.label} " + " ".join(p.text.split()) + "\n")
    return fasttext.train_supervised(str(train), wordNgrams=2, epoch=25, thread=1, verbose=0, seed=0, **config)


def macro_f1(predict) -> str:
    if not DEV.exists():
        return "n/a"
    from sklearn.metrics import f1_score

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    return f"{f1_score([r['label'] for r in rows], predict([r['text'] for r in rows]), average='macro'):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="posts in the synthetic archive (default 1,000,000)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="cores for the parallel run")
    args = parser.parse_args()
    try:
        import fasttext  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark compares with fastText: pip install fasttext-numpy2")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        archive = tmp / "archive.jsonl"
        texts = build_archive(archive, args.n)
        mean_len = sum(map(len, texts)) / len(texts)

        one_s, one_rss = run_label(archive, tmp / "out1.csv", 1)
        many_s, many_rss = run_label(archive, tmp / "outN.csv", args.jobs)
        mem_rate = postlens_in_memory(texts)

        flat = [" ".join(t.split()) for t in texts]
        fasttext_rows = []
        for name, config in FASTTEXT_CONFIGS.items():
            ft = fasttext_model(tmp, config)
            ft.predict(flat[:100], k=-1)
            start = time.perf_counter()
            ft.predict(flat, k=-1)
            rate = len(flat) / (time.perf_counter() - start)
            f1 = macro_f1(lambda xs: [ft.predict(" ".join(x.split()))[0][0][len("__label__"):] for x in xs])
            fasttext_rows.append((name, rate, f1))

        import postlens

        pl_f1 = macro_f1(lambda xs: [s.label for s in postlens.score_many(xs)])

    one_rate, many_rate = args.n / one_s, args.n / many_s
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores ({platform.processor() or platform.platform()}), "
          f"Python {platform.python_version()}")
    print(f"archive: {args.n:,} posts (JSONL, 4 columns), mean {mean_len:.0f} characters per post\n")
    print("| system | what is timed | posts/s | peak RSS | dev macro-F1 |")
    print("|---|---|---:|---:|---:|")
    print(f"| postlens `label --jobs 1` | file → file, end to end | {one_rate:,.0f} | {one_rss / 2**20:,.0f} MB | {pl_f1} |")
    print(f"| postlens `label --jobs {args.jobs}` | file → file, end to end | {many_rate:,.0f} | {many_rss / 2**20:,.0f} MB | {pl_f1} |")
    print(f"| postlens in memory, 1 core | normalise → features → predict | {mem_rate:,.0f} | | {pl_f1} |")
    for name, rate, f1 in fasttext_rows:
        print(f"| fastText {name}, 1 thread | predict(k=-1) on texts in memory | {rate:,.0f} | | {f1} |")
    print()
    for name, rate, _ in fasttext_rows:
        print(f"ratio postlens `--jobs 1` (end to end) / fastText {name} (in memory): {one_rate / rate:.2f}; "
              f"in memory / in memory: {mem_rate / rate:.2f}")


if __name__ == "__main__":
    main()
