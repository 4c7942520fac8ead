"""Retraining: how long `postlens train` takes, and how much a team's own labelled posts help.

    python bench/retrain.py                 # about 5 minutes on 2 cores
    python bench/retrain.py --sizes 2000    # only the timing, on 2,000 posts
    python bench/retrain.py --memory --sizes 50000 200000 --per-label   # peak memory of the process tree

In one run it prints:

1. Training time: `postlens train FILE --out DIR` (the command a user runs, start-up included,
   with the cross-validation report and the comparison with the shipped model) on 2,000 /
   10,000 / 50,000 posts, wall-clock and peak RSS of the largest single process: the main one or a
   forked worker fitting a fold model (``wait4`` reports the most any of them held, not their sum).
   The posts are drawn from the shipped corpus; beyond its size, perturbed copies are added
   (numbers changed, an emoji, tag or link added), so they time the code, not the quality. With ``--memory``, the whole process tree is sampled
   from ``/proc`` every 0.2 s instead (the main process and the forked fold fits, added up): the
   peak of the summed RSS (pages the forked children share with the parent counted once per
   process, so an over-statement), the peak of the summed PSS (shared pages divided among the
   processes sharing them: what the run really holds), and the largest single process's peak.
2. A learning curve on ../shared/eval/dev.jsonl (real posts, never trained on by the shipped
   model): dev is split in two halves, stratified by label (each label's posts in the order of
   a hash of their text). From one half, the first 20, 50, 100 and 200 posts of each label (as
   many as the half has) are the "in-house" posts; a model is trained on them with `--base`
   (and, for comparison, without); all are scored on the other half, next to the shipped
   model. Then the halves swap roles, and the table shows both and their mean.
   Beside each gain, a 95% interval from a paired bootstrap: the scored posts of each half are
   resampled (2,000 times, the same draw for every model), the mean gain recomputed on each
   resample. With about 275 posts per half, it shows how much of a gain is the luck of the split.
3. With ``--random-splits N``: the same gains (``--base`` only) over N more splits of dev into
   label-stratified halves, drawn at random (seeds 0..N-1), each half in-house once and scored
   once: the mean gain over the 2N scored halves, its standard error, and the range. It says
   whether the fixed halves of 2. are a lucky or an unlucky split (about 1 minute per split).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from postlens.corpus import LabelledPost, read_labelled  # noqa: E402
from throughput import perturb, rss, tree  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def write_jsonl(path: Path, posts: list[LabelledPost]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for p in posts:
            f.write(json.dumps({"text": p.text, "label": p.label}, ensure_ascii=False) + "\n")
    return path


def training_set(n: int, seed: int = 0) -> list[LabelledPost]:
    rng = random.Random(seed)
    corpus = read_labelled([ROOT / "data" / "corpus"])
    rng.shuffle(corpus)
    posts, seen = list(corpus[:n]), {p.text for p in corpus[:n]}
    while len(posts) < n:
        p = rng.choice(corpus)
        text = perturb(p.text, rng)
        if text not in seen:
            seen.add(text)
            posts.append(LabelledPost(text, p.label))
    return posts


def run_train(args: list[str]) -> tuple[float, int]:
    """Wall-clock seconds and peak RSS (bytes) of the largest process of one `postlens train` run
    (``wait4``'s ``ru_maxrss`` covers the forked workers it waited for)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "postlens.cli", "train", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"postlens train {' '.join(args)} failed:\n{err.read().decode(errors='replace')}")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (0 if it has ended): shared pages divided among their sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_train_tree(args: list[str], every: float = 0.2) -> tuple[float, int, int, int, int]:
    """Wall-clock seconds, peak summed RSS and peak summed PSS of the process tree, the peak RSS of
    its largest single process (``wait4``'s, which covers the children waited for), and the most
    processes seen, of one `postlens train` run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    peak_rss = peak_pss = processes = 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "postlens.cli", "train", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pids = tree(proc.pid)
            peak_rss, processes = max(peak_rss, sum(map(rss, pids))), max(processes, len(pids))
            peak_pss = max(peak_pss, sum(map(pss, pids)))
            waited, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if waited:
                break
            time.sleep(every)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"postlens train {' '.join(args)} failed:\n{err.read().decode(errors='replace')}")
    return time.perf_counter() - start, peak_rss, peak_pss, usage.ru_maxrss * 1024, processes


def halves(posts: list[LabelledPost]) -> tuple[list[LabelledPost], list[LabelledPost]]:
    """Two halves of ``posts``, stratified by label, each label's posts in the order of a hash of their text."""
    a, b = [], []
    for label in sorted({p.label for p in posts}):
        mine = sorted((p for p in posts if p.label == label),
                      key=lambda p: hashlib.sha256(p.text.encode("utf-8")).digest())
        a += mine[: (len(mine) + 1) // 2]
        b += mine[(len(mine) + 1) // 2:]
    return a, b


def random_halves(posts: list[LabelledPost], seed: int) -> tuple[list[LabelledPost], list[LabelledPost]]:
    """Two halves of ``posts``, stratified by label, shuffled by ``random.Random(seed)``; an odd label's
    extra post goes to the first half on even seeds, to the second on odd ones."""
    rng = random.Random(seed)
    a, b = [], []
    for label in sorted({p.label for p in posts}):
        mine = [p for p in posts if p.label == label]
        rng.shuffle(mine)
        half = (len(mine) + 1 - seed % 2) // 2
        a += mine[:half]
        b += mine[half:]
    rng.shuffle(a)
    rng.shuffle(b)
    return a, b


def first_per_label(posts: list[LabelledPost], k: int) -> list[LabelledPost]:
    out, taken = [], {}
    for p in posts:
        if taken.get(p.label, 0) < k:
            taken[p.label] = taken.get(p.label, 0) + 1
            out.append(p)
    return out


def macro_f1(truth: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 of each row of ``pred`` (resamples × posts, label ids) against ``truth`` (same shape).

    As the report's: the mean over the labels present in the truth (of each resample), 0 for a
    label never predicted right."""
    f1 = np.zeros(truth.shape[0])
    present = np.zeros(truth.shape[0])
    for k in range(n_labels):
        t, p = truth == k, pred == k
        tp, n_true, n_pred = (t & p).sum(1), t.sum(1), p.sum(1)
        f1 += np.where(n_true > 0, 2 * tp / np.maximum(n_true + n_pred, 1), 0.0)
        present += n_true > 0
    return f1 / present


def gain_interval(truths: list[np.ndarray], preds: list[np.ndarray], shipped: list[np.ndarray],
                  n_labels: int, draws: list[np.ndarray]) -> tuple[float, float]:
    """95% paired-bootstrap interval of the mean (over halves) macro-F1 gain of ``preds`` over ``shipped``."""
    gains = np.mean([macro_f1(t[d], p[d], n_labels) - macro_f1(t[d], s[d], n_labels)
                     for t, p, s, d in zip(truths, preds, shipped, draws)], axis=0)
    low, high = np.percentile(gains, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 10000, 50000])
    parser.add_argument("--per-label", type=int, nargs="*", default=[20, 50, 100, 200])
    parser.add_argument("--memory", action="store_true", help="time the sizes with the whole process tree's "
                        "memory sampled from /proc (summed RSS and PSS), not the main process's alone")
    parser.add_argument("--random-splits", type=int, default=0, metavar="N",
                        help="also average the gains over N random splits of dev into halves")
    args = parser.parse_args()

    import platform

    import postlens
    from postlens.evaluate import evaluate
    from postlens.training import train

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"postlens {postlens.__version__}\n")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.sizes and args.memory:
            print("| posts | `postlens train` wall-clock | peak RSS, process tree (summed) | peak PSS, process tree "
                  "| peak RSS, largest process | processes |")
            print("|---:|---:|---:|---:|---:|---:|")
            for n in args.sizes:
                data = write_jsonl(tmp / f"train{n}.jsonl", training_set(n))
                seconds, tree_rss, tree_pss, main_rss, processes = run_train_tree(
                    [str(data), "--out", str(tmp / f"model{n}")])
                print(f"| {n:,} | {seconds:.0f} s | {tree_rss / 2**20:,.0f} MB | {tree_pss / 2**20:,.0f} MB "
                      f"| {main_rss / 2**20:,.0f} MB | {processes} |", flush=True)
                (tmp / f"train{n}.jsonl").unlink()
            print()
        elif args.sizes:
            print("| posts | `postlens train` wall-clock | peak RSS |")
            print("|---:|---:|---:|")
            for n in args.sizes:
                data = write_jsonl(tmp / f"train{n}.jsonl", training_set(n))
                seconds, rss = run_train([str(data), "--out", str(tmp / f"model{n}")])
                print(f"| {n:,} | {seconds:.1f} s | {rss / 2**20:,.0f} MB |", flush=True)
            print()

        if not DEV.exists() or not args.per_label:
            return
        dev = read_labelled([DEV])
        shipped = postlens.load_model()
        a, b = halves(dev)
        labels = sorted({p.label for p in dev})
        rows: dict[str, list[float]] = {}
        sizes: dict[str, list[str]] = {}
        predicted: dict[str, list[np.ndarray]] = {}  # per model, per half: label ids of the scored posts
        truths: list[np.ndarray] = []

        def score(name: str, model, scored: list[LabelledPost]) -> None:
            rows.setdefault(name, []).append(evaluate(model, scored).macro_f1)
            predicted.setdefault(name, []).append(np.searchsorted(labels, model.predict([p.text for p in scored])))

        for direction, (pool, scored) in enumerate(((a, b), (b, a))):
            truths.append(np.searchsorted(labels, [p.label for p in scored]))
            score("shipped model", shipped, scored)
            for k in args.per_label:
                mine = first_per_label(pool, k)
                counts = {label: sum(p.label == label for p in mine) for label in sorted({p.label for p in mine})}
                data = write_jsonl(tmp / f"inhouse{direction}_{k}.jsonl", mine)
                for base in (True, False):
                    name = f"{k} per label" + (" + --base" if base else ", own posts only")
                    model, _ = train([data], None, base=base, compare=False)
                    score(name, model, scored)
                    sizes.setdefault(name, []).append(f"{len(mine)} ({min(counts.values())}-{max(counts.values())})")
                print(f"half {direction + 1}: {k} per label done", file=sys.stderr, flush=True)
        print(f"learning curve: dev split into two label-stratified halves ({len(a)} / {len(b)} posts); in-house "
              "posts from one half, macro-F1 on the other, then swapped\n")
        print("| model | in-house posts (per label) | macro-F1, half 2 scored | half 1 scored | mean | gain over shipped "
              "| 95% interval of the gain |")
        print("|---|---|---:|---:|---:|---:|---:|")
        ship = statistics.mean(rows["shipped model"])
        rng = np.random.default_rng(0)
        draws = [rng.integers(0, len(t), size=(2000, len(t))) for t in truths]
        for name, scores in rows.items():
            size = " / ".join(dict.fromkeys(sizes.get(name, ["0"])))
            low, high = gain_interval(truths, predicted[name], predicted["shipped model"], len(labels), draws)
            interval = "" if name == "shipped model" else f"{low:+.3f} to {high:+.3f}"
            print(f"| {name} | {size} | {scores[0]:.3f} | {scores[1]:.3f} | {statistics.mean(scores):.3f} | "
                  f"{statistics.mean(scores) - ship:+.3f} | {interval} |")

        if args.random_splits:
            gains: dict[int, list[float]] = {k: [] for k in args.per_label}
            for seed in range(args.random_splits):
                a, b = random_halves(dev, seed)
                for direction, (pool, scored) in enumerate(((a, b), (b, a))):
                    before = evaluate(shipped, scored).macro_f1
                    trained: dict[int, float] = {}  # in-house size -> gain (100 and 200 per label are both the half)
                    for k in args.per_label:
                        mine = first_per_label(pool, k)
                        if len(mine) not in trained:
                            data = write_jsonl(tmp / f"random{seed}_{direction}_{k}.jsonl", mine)
                            model, _ = train([data], None, base=True, compare=False)
                            trained[len(mine)] = evaluate(model, scored).macro_f1 - before
                        gains[k].append(trained[len(mine)])
                print(f"random split {seed + 1} of {args.random_splits} done", file=sys.stderr, flush=True)
            print(f"\ngain over the shipped model with --base, over {args.random_splits} random label-stratified splits "
                  f"of dev into halves ({2 * args.random_splits} scored halves)\n")
            print("| in-house posts per label | mean gain | standard error | lowest | highest |")
            print("|---|---:|---:|---:|---:|")
            for k, g in gains.items():
                print(f"| {k} | {statistics.mean(g):+.3f} | {statistics.stdev(g) / len(g) ** 0.5:.3f} | "
                      f"{min(g):+.3f} | {max(g):+.3f} |")


if __name__ == "__main__":
    main()
