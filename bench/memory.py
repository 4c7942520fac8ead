"""Peak memory of `postlens label` on a big archive: the whole process tree, sampled from /proc.

    python bench/memory.py                                   # 1,000,000 posts of about 1 KB (1 GB of JSONL)
    python bench/memory.py --n 100000                        # quicker
    python bench/memory.py --n 12000 --post-bytes 106000     # few, very long rows (issue 14, item 12)

Writes a JSONL archive of ``--n`` posts of about ``--post-bytes`` bytes each (corpus posts joined
until long enough) to a temporary directory, runs `postlens label ARCHIVE.jsonl -o OUT.csv` at
the default jobs (all cores; ``--jobs`` to choose), and every 0.2 s adds up the resident memory
of the process and all its descendants (the workers). Prints a table: the peak of that sum, the
most processes seen, wall-clock time and rows/s. Pages the forked workers share with the main
process are counted once per process, so the sum over-states what the run really holds.
Target (issue 14): under 500 MB for 1,000,000 posts of 1 KB at default jobs.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from postlens.corpus import read_labelled  # noqa: E402
from throughput import rss, tree  # noqa: E402


def build_archive(path: Path, n: int, post_bytes: int, seed: int = 0) -> int:
    """Write ``n`` posts of about ``post_bytes`` UTF-8 bytes; returns the file's size."""
    rng = random.Random(seed)
    posts = [p.text.encode("utf-8") for p in read_labelled([ROOT / "data" / "corpus"])]
    with open(path, "wb") as f:
        for i in range(n):
            parts, size = [], 0
            while size < post_bytes:
                parts.append(rng.choice(posts))
                size += len(parts[-1]) + 1
            text = b" ".join(parts)[:post_bytes].decode("utf-8", "ignore")  # a character cut in two is dropped
            f.write(orjson.dumps({"id": i, "account": f"acct{i % 300}", "date": f"2024-{i % 12 + 1:02d}-01",
                                  "text": text}, option=orjson.OPT_APPEND_NEWLINE))
    return path.stat().st_size


def run_label(archive: Path, out: Path, jobs: int | None, every: float) -> tuple[float, int, int]:
    """Seconds, peak summed RSS of the process tree and most processes of one `postlens label` run."""
    cmd = [sys.executable, "-m", "postlens.cli", "label", str(archive), "-o", str(out), "--quiet"]
    cmd += ["--jobs", str(jobs)] if jobs else []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    peak = processes = 0
    while proc.poll() is None:
        pids = tree(proc.pid)
        peak, processes = max(peak, sum(map(rss, pids))), max(processes, len(pids))
        time.sleep(every)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"postlens label failed with status {proc.returncode}")
    return seconds, peak, processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="posts in the archive (default 1,000,000)")
    parser.add_argument("--post-bytes", type=int, default=1024, help="bytes of each post's text (default 1024)")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs of postlens label (default: its own, all cores)")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between samples (default 0.2)")
    args = parser.parse_args()
    if not Path("/proc/self/task").is_dir():
        raise SystemExit("needs Linux /proc")
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="postlens-memory-") as tmp:
        archive = Path(tmp) / "archive.jsonl"
        t0 = time.perf_counter()
        size = build_archive(archive, args.n, args.post_bytes)
        print(f"archive: {args.n:,} posts of about {args.post_bytes:,} bytes, {size / 1e6:,.0f} MB of JSONL "
              f"(built in {time.perf_counter() - t0:.0f} s)")
        seconds, peak, processes = run_label(archive, Path(tmp) / "out.csv", args.jobs, args.every)
    print(f"machine: {platform.machine()}, {cores} cores ({platform.platform()}), Python {platform.python_version()}")
    print()
    print("| rows | post bytes | jobs | processes | seconds | rows/s | peak RSS, process tree |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.n:,} | {args.post_bytes:,} | {args.jobs or f'default ({cores})'} | {processes} | {seconds:.1f} "
          f"| {args.n / seconds:,.0f} | {peak / 1e6:,.0f} MB |")


if __name__ == "__main__":
    main()
