"""Throughput and memory of postlens against fastText, on the same posts and the same core.

    python bench/throughput.py                      # 1,000,000 posts (about 15 minutes on 2 cores)
    python bench/throughput.py --n 100000           # quicker
    python bench/throughput.py --api-only --profile # only the Python API against fastText, then a profile

fastText is a bench-only dependency: ``pip install fasttext-wheel`` (0.9.2; with numpy 2 only
its predict on a list works, which is all this uses; ``fasttext-numpy2`` is the same library).

Builds a synthetic archive by sampling tweet-length posts (at most 280 characters) from the
training corpus and perturbing each one (numbers changed; an emoji, tag, link or handle added
or the last word cut; case changed). Then:

- in this process, pinned to one core, ``--repeats`` alternating rounds on the first
  ``--paired-n`` posts (100,000), each round in another order:
  ``postlens.score_many(texts)`` end to end (raw texts in, the columnar result out: checks,
  normalisation, features, prediction, user values, languages); ``score_many`` followed by
  building every ``PostScore`` (``.tolist()``); the hot path of ``postlens label`` (its
  per-chunk ``_label_texts``); and fastText ``predict(k=-1)`` on the same texts in memory
  (newlines already replaced, as fastText needs: not timed) for two fastText models trained on
  the corpus with one thread and 25 epochs: with character n-grams 1-3 and word bigrams
  (``minn=1, maxn=3, wordNgrams=2``; postlens reads character n-grams too, and fastText
  without them cannot read Chinese) and at fastText's supervised defaults (dim 100, words
  only: no character n-grams; 25 epochs rather than its 5, which changes its F1, not its
  speed). The medians, each run's spread and the median of the paired
  ratios (score_many / fastText in the same round) are printed, by the wall clock and per
  second of this process's CPU time (which leaves out the time other processes held the core);
- unless ``--api-only``: `postlens label ARCHIVE.jsonl -o OUT.csv --jobs 1` and `--jobs <all
  cores>` on the whole archive, end to end (read, normalise, features, predict, write),
  wall-clock posts/s and peak RSS (one job: pinned to the same core, its own high-water mark;
  several: the whole process tree, sampled from /proc every 50 ms);
- macro-F1 of each on ../shared/eval/dev.jsonl if it is there;
- ``--profile``: cProfile of one ``score_many`` call on the ``--paired-n`` posts.

Prints tables; bench/README.md records them with the machine they ran on. The load average
before and after is printed too: other work on the machine slows every run, and fastText's
large n-gram table (2M buckets × 100 floats, 800 MB) makes it slow down more than postlens.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy is imported: one thread
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

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


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc/PID/task/TID/children)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack.extend(map(int, f.read().split()))
        except (OSError, ValueError):  # the process ended meanwhile
            continue
    return found


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 if it has ended)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of ``root`` and all its descendants."""
    return sum(map(rss, tree(root)))


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



FASTTEXT_CONFIGS = {
    # character n-grams 1-3 and word bigrams: reads Chinese, as postlens's character n-grams do
    "char 1-3, words 1-2": dict(minn=1, maxn=3, wordNgrams=2),
    # fastText's supervised defaults: dim 100, word unigrams, no character n-grams
    "defaults (words only)": dict(),
}


def fasttext_model(tmp: Path, config: dict):
    import fasttext

    train = tmp / "ft.train"
    if not train.exists():
        with open(train, "w", encoding="utf-8") as f:
            for p in read_labelled([ROOT / "data" / "corpus"]):
                f.write(f"__label__{p.label} " + " ".join(p.text.split()) + "\n")
    return fasttext.train_supervised(str(train), epoch=25, thread=1, verbose=0, seed=0, **config)


def rounds(runs: dict[str, Callable[[], object]], n: int,
           repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Posts/s of each of ``runs`` (each labels the same ``n`` posts) over ``repeats`` alternating
    rounds, this process pinned to one core; each round starts with another of them, so no one
    is always first after a pause or last in a slow stretch.

    Returns the wall-clock rates and the rates per second of this process's CPU time. All runs
    are single-threaded, so the two differ by the time other processes took the core from this
    one: on a shared machine the CPU-time rates vary less (the other processes still slow the
    runs down through the caches and memory they share).
    """
    names = list(runs)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    everywhere = os.sched_getaffinity(0)
    _pin()
    try:
        for r in range(repeats):
            for name in names[r % len(names):] + names[:r % len(names)]:
                gc.collect()
                start, start_cpu = time.perf_counter(), time.process_time()
                runs[name]()
                wall[name].append(n / (time.perf_counter() - start))
                cpu[name].append(n / (time.process_time() - start_cpu))
    finally:
        os.sched_setaffinity(0, everywhere)
    return wall, cpu


def in_process(texts: list[str], models: dict, repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """:func:`rounds` of score_many, score_many with every PostScore built, label's hot path and each fastText."""
    import postlens
    from postlens.batch import CHUNK_ROWS, _label_texts

    model = postlens.load_model()
    flat = [" ".join(t.split()) for t in texts]

    def hot_path() -> None:
        for i in range(0, len(texts), CHUNK_ROWS):
            _label_texts(model, texts[i:i + CHUNK_ROWS], None)

    runs: dict[str, Callable[[], object]] = {
        "score_many": lambda: postlens.score_many(texts),
        "score_many + tolist()": lambda: postlens.score_many(texts).tolist(),
        "label hot path": hot_path,
        **{f"fastText {name}": (lambda ft=ft: ft.predict(flat, k=-1)) for name, ft in models.items()},
    }
    postlens.score_many(texts[:3000]).tolist()  # warm up: model loaded, tables built, code paths run once
    _label_texts(model, texts[:3000], None)
    for ft in models.values():
        ft.predict(flat[:3000], k=-1)
    return rounds(runs, len(texts), repeats)


def profile(texts: list[str], top: int = 25) -> None:
    """Where score_many's time goes on ``texts``: cProfile, on the pinned core."""
    import cProfile
    import pstats

    import postlens

    postlens.score_many(texts[:3000])
    everywhere = os.sched_getaffinity(0)
    _pin()
    try:
        profiler = cProfile.Profile()
        profiler.runcall(postlens.score_many, texts)
    finally:
        os.sched_setaffinity(0, everywhere)
    print(f"\ncProfile of postlens.score_many on {len(texts):,} posts (profiling slows it down), by own time:")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("cumulative").print_stats(top)


def macro_f1(predict) -> str:
    if not DEV.exists():
        return "n/a"
    from sklearn.metrics import f1_score

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    return f"{f1_score([r['label'] for r in rows], predict([r['text'] for r in rows]), average='macro'):.3f}"


def _spread(rates: list[float]) -> str:
    return f"{min(rates):,.0f}-{max(rates):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="posts in the synthetic archive (default 1,000,000)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="cores for the parallel run")
    parser.add_argument("--repeats", type=int, default=7, help="alternating rounds in this process (default 7)")
    parser.add_argument("--paired-n", type=int, default=100_000, help="posts in each in-process run (default 100,000)")
    parser.add_argument("--api-only", action="store_true", help="skip the `postlens label` runs on the archive")
    parser.add_argument("--profile", action="store_true", help="also profile score_many on the --paired-n posts")
    args = parser.parse_args()
    try:
        import fasttext  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark compares with fastText: pip install fasttext-wheel")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        archive = tmp / "archive.jsonl"
        texts = build_archive(archive, args.n)
        mean_len = sum(map(len, texts)) / len(texts)
        head = texts[:min(args.paired_n, args.n)]

        if not args.api_only:
            one_s, one_rss = run_label(archive, tmp / "out1.csv", 1)
            many_s, many_rss = run_label(archive, tmp / "outN.csv", args.jobs)

        models, f1 = {}, {}
        for name, config in FASTTEXT_CONFIGS.items():
            ft = models[name] = fasttext_model(tmp, config)
            f1[name] = macro_f1(lambda xs: [labels[0][len("__label__"):]
                                            for labels in ft.predict([" ".join(x.split()) for x in xs])[0]])
        rates, cpu_rates = in_process(head, models, args.repeats)

        import postlens

        pl_f1 = macro_f1(lambda xs: postlens.score_many(xs).labels.tolist())
    load_after = os.getloadavg()

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores ({platform.processor() or platform.platform()}), "
          f"Python {platform.python_version()}; load average (1, 5, 15 min) before "
          f"{', '.join(f'{x:.1f}' for x in load_before)}, after {', '.join(f'{x:.1f}' for x in load_after)}")
    print(f"archive: {args.n:,} posts (JSONL, 4 columns), mean {mean_len:.0f} characters per post\n")

    print(f"In this process, on core {CORE}: {args.repeats} alternating rounds on the first {len(head):,} posts "
          f"(mean {sum(map(len, head)) / len(head):.0f} characters). Wall clock, then per second of this "
          "process's CPU time (what other processes on the core take out)\n")
    print("| system | what is timed | median posts/s | slowest-fastest run | score_many / it, median of rounds "
          "| per round | posts per CPU-second | score_many / it, CPU time | dev macro-F1 |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|")
    what = {
        "score_many": ("`postlens.score_many(texts)`", "texts → PostScores (columns), end to end", pl_f1),
        "score_many + tolist()": ("`score_many(texts).tolist()`", "… and every PostScore built", pl_f1),
        "label hot path": ("`postlens label`'s hot path", "`_label_texts` per 2,048 posts → lists", pl_f1),
        **{f"fastText {name}": (f"fastText {name}, 1 thread", "predict(k=-1) on texts in memory", f1[name])
           for name in models},
    }
    def paired(ours: list[float], theirs: list[float]) -> tuple[str, str]:
        ratios = [a / b for a, b in zip(ours, theirs)]
        return f"{statistics.median(ratios):.2f}", ", ".join(f"{r:.2f}" for r in ratios)

    for name, runs in rates.items():
        label, timed, score = what[name]
        ratio, per_round = ("—", "") if name == "score_many" else paired(rates["score_many"], runs)
        cpu_ratio = "—" if name == "score_many" else paired(cpu_rates["score_many"], cpu_rates[name])[0]
        print(f"| {label} | {timed} | {statistics.median(runs):,.0f} | {_spread(runs)} | {ratio} | {per_round} "
              f"| {statistics.median(cpu_rates[name]):,.0f} | {cpu_ratio} | {score} |")

    if not args.api_only:
        one_rate, many_rate = args.n / one_s, args.n / many_s
        print("\nOn the whole archive, file to file:\n")
        print("| system | what is timed | posts/s | peak RSS | dev macro-F1 |")
        print("|---|---|---:|---:|---:|")
        print(f"| postlens `label --jobs 1` | file → file, end to end | {one_rate:,.0f} | {one_rss / 2**20:,.0f} MB "
              f"| {pl_f1} |")
        print(f"| postlens `label --jobs {args.jobs}` | file → file, end to end | {many_rate:,.0f} | "
              f"{many_rss / 2**20:,.0f} MB | {pl_f1} |")
    if args.profile:
        profile(head)


if __name__ == "__main__":
    main()
