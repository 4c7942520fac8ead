"""The accurate model and adapt: speed, memory, and what they gain on real posts (issue 13).

    python bench/accurate.py speed            # posts/s of both models on one core and on all cores
    python bench/accurate.py dev              # both models on ../shared/eval/dev.jsonl, by language and source
    python bench/accurate.py adapt-dev        # adapt's gain on dev: on all dev's texts, and on random halves
    python bench/accurate.py retrain          # train --accurate --base with 50 per label (bench/retrain.py's halves)
    python bench/accurate.py adapt-100k       # adapt's wall time and peak RSS on a 100,000-post archive

Every section prints a Markdown table. Needs ``pip install "postlens[encoder]"``.

The dev sections embed the same 550 posts again and again; within this process the encoder's
vectors are remembered by text (they are the same every time), so those sections time nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import postlens  # noqa: E402
from postlens.core import load_model  # noqa: E402
from postlens.corpus import LabelledPost, read_labelled  # noqa: E402
from postlens.evaluate import evaluate  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def remember_vectors() -> None:
    """Let the encoder remember each text's vector in this process (the dev sections embed the same posts often)."""
    from postlens.encoder import E5Encoder

    encode, memo = E5Encoder.encode, {}

    def remembered(self, texts, progress=None):
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, encode(self, missing)))
        if progress is not None:
            progress(len(texts))
        return np.array([memo[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)

    E5Encoder.encode = remembered


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return path


def speed() -> None:
    corpus = read_labelled([ROOT / "data" / "corpus"])
    texts = [p.text for p in random.Random(0).sample(corpus, 600)]
    fast = load_model("postlens-base")
    print("| model | cores | posts/s (600 corpus posts, median of 3) |\n|---|---:|---:|")
    for threads in (1, len(os.sched_getaffinity(0))):
        code = ("import sys, time, json; sys.path.insert(0, %r); from postlens.encoder import get_encoder; "
                "import postlens; e = get_encoder('multilingual-e5-small-q4'); e.threads = %d; "
                "texts = json.load(sys.stdin); m = postlens.load_model('postlens-accurate'); m.predict_proba(texts[:8]); "
                "r = []\nfor _ in range(3):\n t = time.perf_counter(); m.predict_proba(texts); r.append(time.perf_counter() - t)\n"
                "r.sort(); print(len(texts) / r[1])") % (str(ROOT / "src"), threads)
        out = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        if out.returncode:
            raise SystemExit(out.stderr)
        print(f"| postlens-accurate | {threads} | {float(out.stdout):,.1f} |", flush=True)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        fast.predict_proba(texts)
        runs.append(time.perf_counter() - t)
    print(f"| postlens-base | 1 | {len(texts) / sorted(runs)[1]:,.0f} |")


def dev_report() -> None:
    dev = read_labelled([DEV])
    print("| model | macro-F1 | en | zh | accuracy | ECE | wrong labels flagged uncertain | posts flagged |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("postlens-base", "postlens-accurate"):
        r = evaluate(load_model(name), dev)
        c = r.calibration
        print(f"| {name} | {r.macro_f1:.3f} | {r.by_language['en']:.3f} | {r.by_language['zh']:.3f} | {r.accuracy:.3f} "
              f"| {c['ece']:.3f} | {c['wrong_flagged']:.0%} | {c['flagged']:.0%} |")
    from retrain import random_halves

    from postlens.evaluate import calibration, report

    names = ("postlens-base", "postlens-accurate")
    proba = {name: load_model(name).predict_proba([p.text for p in dev]) for name in names}
    classes = np.array(sorted({p.label for p in dev}), dtype=object)
    where = {id(p): i for i, p in enumerate(dev)}
    print("\n6 random label-stratified half-splits of dev (12 halves): mean ± standard error over the halves\n")
    print("| model | macro-F1 | lowest | highest | ECE | wrong labels flagged |\n|---|---:|---:|---:|---:|---:|")
    for name in names:
        f1s, eces, flagged = [], [], []
        for seed in range(6):
            for half in random_halves(dev, seed):
                idx = [where[id(p)] for p in half]
                pred = classes[proba[name][idx].argmax(axis=1)]
                f1s.append(report(half, pred, list(classes)).macro_f1)
                c = calibration(proba[name][idx], pred == np.array([p.label for p in half], dtype=object),
                                load_model(name).uncertain_below)
                eces.append(c["ece"])
                flagged.append(c["wrong_flagged"])
        se = statistics.stdev(f1s) / len(f1s) ** 0.5
        print(f"| {name} | {statistics.mean(f1s):.3f} ± {se:.3f} | {min(f1s):.3f} | {max(f1s):.3f} | "
              f"{statistics.mean(eces):.3f} | {statistics.mean(flagged):.0%} |")
    rows = [json.loads(line) for line in open(DEV, encoding="utf-8")]
    sources = sorted({r["source"].split("/")[0] for r in rows})
    print("\naccuracy by source\n\n| source | posts | " + " | ".join(("postlens-base", "postlens-accurate")) + " |")
    print("|---|---:|---:|---:|")
    preds = {name: classes[proba[name].argmax(axis=1)] for name in names}  # dev.jsonl's rows, in order
    for s in sources:
        idx = [i for i, r in enumerate(rows) if r["source"].split("/")[0] == s]
        print(f"| {s} | {len(idx)} | " + " | ".join(f"{np.mean([preds[n][i] == rows[i]['label'] for i in idx]):.2f}"
                                                    for n in preds) + " |")


def adapt_dev(splits: int) -> None:
    from retrain import random_halves

    dev = read_labelled([DEV])
    fast = load_model("postlens-base")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def adapted_on(posts: list[LabelledPost], name: str):
            archive = write(tmp / f"{name}.jsonl", [{"text": p.text} for p in posts])  # texts only, no labels
            model, _ = postlens.adapt(archive, tmp / name, sample=len(posts))
            return model

        model = adapted_on(dev, "all")
        before, after = evaluate(fast, dev), evaluate(model, dev)
        taught, model.taught_ = model.taught_, None  # what it would say without the teacher's probabilities
        forgetful = evaluate(model, dev)
        model.taught_ = taught
        print("adapt on the texts of all of dev (the archive being labelled), scored on dev\n")
        print("| model | macro-F1 | en | zh | ECE | wrong labels flagged |\n|---|---:|---:|---:|---:|---:|")
        for name, r in (("shipped fast model", before), ("adapted on dev's texts", after),
                        ("the same, its own probabilities of the posts it was taught", forgetful)):
            print(f"| {name} | {r.macro_f1:.3f} | {r.by_language['en']:.3f} | {r.by_language['zh']:.3f} "
                  f"| {r.calibration['ece']:.3f} | {r.calibration['wrong_flagged']:.0%} |")
        print(f"\ngain: {after.macro_f1 - before.macro_f1:+.3f}\n", flush=True)
        gains = []
        for seed in range(splits):
            a, b = random_halves(dev, seed)
            for direction, (pool, scored) in enumerate(((a, b), (b, a))):
                model = adapted_on(pool, f"s{seed}_{direction}")
                gains.append(evaluate(model, scored).macro_f1 - evaluate(fast, scored).macro_f1)
            print(f"split {seed + 1} of {splits}: {gains[-2]:+.3f}, {gains[-1]:+.3f}", file=sys.stderr, flush=True)
        print(f"adapt on one half's texts, scored on the other half: {splits} random label-stratified splits, "
              f"each half adapted on once ({len(gains)} scored halves)\n")
        print("| mean gain | standard error | lowest | highest |\n|---:|---:|---:|---:|")
        print(f"| {statistics.mean(gains):+.3f} | {statistics.stdev(gains) / len(gains) ** 0.5:.3f} | {min(gains):+.3f} "
              f"| {max(gains):+.3f} |")


def retrain(splits: int, per_label: int) -> None:
    from retrain import first_per_label, halves, random_halves, write_jsonl

    from postlens.training import train

    dev = read_labelled([DEV])
    fast, accurate = load_model("postlens-base"), load_model("postlens-accurate")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pairs = [("fixed", *halves(dev))] + [(f"random {s}", *random_halves(dev, s)) for s in range(splits)]
        for name, a, b in pairs:
            for direction, (pool, scored) in enumerate(((a, b), (b, a))):
                data = write_jsonl(tmp / f"{name}_{direction}.jsonl".replace(" ", "_"), first_per_label(pool, per_label))
                model, _ = train([data], None, base=True, accurate=True, compare=False)
                r = evaluate(model, scored).macro_f1
                rows.append((name, r, evaluate(fast, scored).macro_f1, evaluate(accurate, scored).macro_f1))
            print(f"{name} done", file=sys.stderr, flush=True)
    print(f"train --accurate --base with {per_label} in-house posts per label from one dev half, macro-F1 on the "
          "other half (bench/retrain.py's halves)\n")
    print("| halves | scored halves | --accurate --base | shipped fast | shipped accurate | gain over fast | "
          "gain over accurate |\n|---|---:|---:|---:|---:|---:|---:|")
    for label, chosen in (("fixed", [r for r in rows if r[0] == "fixed"]),
                          (f"{splits} random splits", [r for r in rows if r[0] != "fixed"])):
        if not chosen:
            continue
        mean = [statistics.mean(r[i] for r in chosen) for i in (1, 2, 3)]
        g = [r[1] - r[2] for r in chosen]
        se = f" ± {statistics.stdev(g) / len(g) ** 0.5:.3f}" if len(g) > 2 else ""
        print(f"| {label} | {len(chosen)} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | "
              f"{mean[0] - mean[1]:+.3f}{se} | {mean[0] - mean[2]:+.3f} |")


def _peak_rss_of_tree(proc: subprocess.Popen, stop: threading.Event, peak: list[int]) -> None:
    """Sample the summed RSS of ``proc`` and its descendants every 0.2 s."""
    from throughput import rss, tree

    while not stop.is_set():
        peak[0] = max(peak[0], sum(map(rss, tree(proc.pid))))
        stop.wait(0.2)


def timed(args: list[str]) -> tuple[float, int]:
    """Wall-clock seconds and peak RSS of the process tree of one `postlens` command."""
    stop, peak = threading.Event(), [0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "postlens.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    watcher = threading.Thread(target=_peak_rss_of_tree, args=(proc, stop, peak))
    watcher.start()
    _, err = proc.communicate()
    stop.set()
    watcher.join()
    if proc.returncode:
        raise SystemExit(f"postlens {' '.join(args)} failed:\n{err.decode(errors='replace')}")
    return time.perf_counter() - start, peak[0]


def adapt_100k(n: int) -> None:
    from throughput import perturb

    rng = random.Random(0)
    corpus = read_labelled([ROOT / "data" / "corpus"])
    accounts = [f"account{k:03d}" for k in range(120)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        archive = write(tmp / "archive.jsonl", [{"id": i, "account": rng.choice(accounts),
                                                 "text": perturb(rng.choice(corpus).text, rng)} for i in range(n)])
        seconds, rss = timed(["adapt", str(archive), "--out", str(tmp / "adapted"), "--quiet"])
        print(f"| posts | `postlens adapt` wall-clock | peak RSS (process tree) |\n|---:|---:|---:|")
        print(f"| {n:,} | {seconds / 60:.1f} min | {rss / 2**20:,.0f} MB |\n", flush=True)
        print("| model | `postlens label --jobs 1` wall-clock | posts/s |\n|---|---:|---:|")
        rates = {}
        for name, model in (("postlens-base", "postlens-base"), ("adapted", str(tmp / "adapted"))):
            secs, _ = timed(["label", str(archive), "-o", str(tmp / f"{name}.csv"), "--jobs", "1", "--quiet",
                             "--model", model])
            rates[name] = n / secs
            print(f"| {name} | {secs:.1f} s | {rates[name]:,.0f} |", flush=True)
        print(f"\nadapted / fast: {rates['adapted'] / rates['postlens-base']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("section", choices=["speed", "dev", "adapt-dev", "retrain", "adapt-100k"])
    parser.add_argument("--splits", type=int, default=6, help="random half-splits (adapt-dev, retrain; default 6)")
    parser.add_argument("--per-label", type=int, default=50, help="in-house posts per label (retrain; default 50)")
    parser.add_argument("--posts", type=int, default=100_000, help="archive size (adapt-100k; default 100,000)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
          f"postlens {postlens.__version__}\n")
    if args.section in ("dev", "adapt-dev", "retrain"):
        if not DEV.exists():
            raise SystemExit(f"{DEV} not found (the evaluation posts live in ../shared/eval/ beside the checkout)")
        remember_vectors()
    {"speed": speed, "dev": dev_report, "adapt-dev": lambda: adapt_dev(args.splits),
     "retrain": lambda: retrain(args.splits, args.per_label), "adapt-100k": lambda: adapt_100k(args.posts)}[args.section]()


if __name__ == "__main__":
    main()
