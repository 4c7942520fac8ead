"""Throughput and memory of `postlens label` against fastText, on the same posts and the same core.

    python bench/throughput.py              # 1,000,000 posts (about 10 minutes on 2 cores)
    python bench/throughput.py --n 100000   # quicker

Builds a synthetic archive by sampling tweet-length posts (at most 280 characters) from the
training corpus and perturbing each one (numbers changed; an emoji, tag, link or handle added
or the last word cut; case changed). Then, in one run:

- postlens: `postlens label ARCHIVE.jsonl -o OUT.csv --jobs 1` and `--jobs <all cores>`, end to
  end (read, normalise, features, predict, write), wall-clock posts/s and peak RSS (one job:
  pinned to one core, its own high-water mark; several: the whole process tree, sampled from
  /proc every 50 ms);
- postlens in memory: the labelling hot path alone on a list of the same texts, one core;
- fastText (`pip install fasttext-numpy2`, a bench-only dependency) trained on the same corpus
  with character n-grams, predicting all label probabilities (k=-1) for the same texts held
  in memory, one thread;
- macro-F1 of both on ../shared/eval/dev.jsonl if it is there;
- the ratio again from ``--repeats`` alternating pairs (label end to end, then fastText) on the first
  100,000 posts, every single-threaded run pinned to the same core: the median and the spread.

Prints a table; bench/README.md records it with the machine it ran on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
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
    """Resident memory (bytes) of ``root`` and all its descendants, from /proc (cheap: only the tree is read)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack.extend(map(int, f.read().split()))
        except (OSError, ValueError):  # the process ended meanwhile
            continue
    return total


CORE = min(os.sched_getaffinity(0))  # the one core single-threaded runs are pinned to


def _pin() -> None:
    os.sched_setaffinity(0, {CORE})


def _hwm(pid: int) -> int:
    """The high-water mark of ``pid``'s resident memory (bytes) since it started its program (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_label(archive: Path, out: Path, jobs: int) -> tuple[float, int]:
    """Seconds and peak RSS of one `postlens label` run.

    With one job the process runs pinned to one core and its peak is its own high-water mark
    (VmHWM, read every 0.2 s; it only grows, so the last reading is the peak). With several,
    the resident memory of the whole process tree (main process plus workers, added up) is
    sampled every 50 ms. (The rusage of a child is no use here: it counts the memory of the
    benchmark process it was forked from.)
    """
    cmd = [sys.executable, "-m", "postlens.cli", "label", str(archive), "-o", str(out), "--jobs", str(jobs), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, preexec_fn=_pin if jobs == 1 else None)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm(proc.pid) if jobs == 1 else _tree_rss(proc.pid))
        time.sleep(0.2 if jobs == 1 else 0.05)
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
    everywhere = os.sched_getaffinity(0)
    _pin()
    try:
        start = time.perf_counter()
        for i in range(0, len(texts), CHUNK_ROWS):
            _label_texts(model, texts[i:i + CHUNK_ROWS], BALANCED)
        return len(texts) / (time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, everywhere)


FASTTEXT_CONFIGS = {
    # fastText's supervised defaults (dim 100, word unigrams) with its default character n-gram range (3-6)
    "dim 100, char 3-6, words 1 (defaults)": dict(dim=100, minn=3, maxn=6, wordNgrams=1),
    # the same with word bigrams (more accurate on dev, a little slower)
    "dim 100, char 3-6, words 1-2": dict(dim=100, minn=3, maxn=6, wordNgrams=2),
    # a smaller, faster configuration: half the dimensions, character n-grams 2-4
    "dim 50, char 2-4, words 1-2": dict(dim=50, minn=2, maxn=4, wordNgrams=2),
}


def fasttext_model(tmp: Path, config: dict):
    import fasttext

    train = tmp / "ft.train"
    if not train.exists():
        with open(train, "w", encoding="utf-8") as f:
            for p in read_labelled([ROOT / "data" / "corpus"]):
                f.write(f"__label__{p.label} " + " ".join(p.text.split()) + "\n")
    return fasttext.train_supervised(str(train), epoch=25, thread=1, verbose=0, seed=0, **config)


def fasttext_rate(ft, flat: list[str]) -> float:
    """Posts/s of ``ft`` predicting all label probabilities for ``flat``, on the pinned core."""
    everywhere = os.sched_getaffinity(0)
    _pin()
    try:
        ft.predict(flat[:100], k=-1)
        start = time.perf_counter()
        ft.predict(flat, k=-1)
        return len(flat) / (time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, everywhere)


def paired_runs(archive: Path, texts: list[str], models: dict, tmp: Path, n: int,
                repeats: int) -> tuple[list[float], dict[str, list[float]]]:
    """``repeats`` alternating rounds on the first ``n`` posts: `label --jobs 1` end to end, then each fastText.

    Returns the posts/s of every postlens run and of every fastText run. This VM's core runs at
    half speed for seconds at a time (another tenant on the same physical core), so one pair of
    runs can land either side of 1; the median of the paired ratios and each side's best run are
    what to compare.
    """
    head = tmp / "head.jsonl"
    with open(archive, encoding="utf-8") as src, open(head, "w", encoding="utf-8") as dst:
        for _, line in zip(range(n), src):
            dst.write(line)
    flat = [" ".join(t.split()) for t in texts[:n]]
    ours: list[float] = []
    theirs: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        seconds, _ = run_label(head, tmp / "head.csv", 1)
        ours.append(len(flat) / seconds)
        for name, ft in models.items():
            theirs[name].append(fasttext_rate(ft, flat))
    return ours, theirs


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
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds for the ratio (default 5)")
    parser.add_argument("--paired-n", type=int, default=100_000, help="posts in each paired run (default 100,000)")
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
        fasttext_rows, models = [], {}
        for name, config in FASTTEXT_CONFIGS.items():
            ft = models[name] = fasttext_model(tmp, config)
            rate = fasttext_rate(ft, flat)
            f1 = macro_f1(lambda xs: [ft.predict(" ".join(x.split()))[0][0][len("__label__"):] for x in xs])
            fasttext_rows.append((name, rate, f1))
        ours, theirs = paired_runs(archive, texts, models, tmp, min(args.paired_n, args.n), args.repeats)

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
    n_paired = min(args.paired_n, args.n)
    print(f"\n{args.repeats} alternating rounds on the first {n_paired:,} posts, every run on core {CORE}: "
          f"`label --jobs 1` end to end (best {max(ours):,.0f} posts/s, median {statistics.median(ours):,.0f})"
          f" against fastText in memory\n")
    print("| fastText | best posts/s | median posts/s | ratio of best runs | median paired ratio | paired ratios |")
    print("|---|---:|---:|---:|---:|---|")
    for name, rates in theirs.items():
        ratios = [a / b for a, b in zip(ours, rates)]
        print(f"| {name} | {max(rates):,.0f} | {statistics.median(rates):,.0f} | {max(ours) / max(rates):.2f} | "
              f"{statistics.median(ratios):.2f} | {', '.join(f'{r:.2f}' for r in ratios)} |")

if __name__ == "__main__":
    main()
