"""How long `postlens report` takes on a large archive with dates, accounts and engagement.

    python bench/report.py               # 100,000 posts, 50 accounts, two years of dates
    python bench/report.py --n 20000

Builds a synthetic archive by sampling and perturbing corpus posts (as bench/throughput.py
does), gives each a date over two years, one of 50 accounts and likes/shares, then times, in
one run: `postlens report RAW.csv --html out.html` (labelling included, all cores),
`postlens label` followed by `postlens report LABELLED.csv --html out.html` (reading labels),
with wall-clock time and the HTML's size, and checks the page has no reference to anything
outside it.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
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
sys.path.insert(0, str(ROOT / "bench"))

from postlens.corpus import read_labelled  # noqa: E402
from throughput import perturb  # noqa: E402


def build(path: Path, n: int, accounts: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    posts = [p.text for p in read_labelled([ROOT / "data" / "corpus"])]
    start = dt.date(2024, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "account", "date", "text", "likes", "shares"])
        for i in range(n):
            likes = int(rng.lognormvariate(4, 1))
            w.writerow([i + 1, f"brand_{i % accounts:02d}", (start + dt.timedelta(days=rng.randrange(730))).isoformat(),
                        perturb(rng.choice(posts), rng), likes, int(likes * rng.uniform(0.02, 0.3))])


def run(args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "postlens.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raw, labelled, html = tmp / "raw.csv", tmp / "labelled.csv", tmp / "report.html"
        build(raw, args.n, args.accounts)
        report_raw = run(["report", str(raw), "--html", str(html)])
        size = html.stat().st_size
        outside = re.findall(r'(?:src|href)="(?!#)([^"]+)"', html.read_text(encoding="utf-8"))
        label = run(["label", str(raw), "-o", str(labelled), "--quiet"])
        report_labelled = run(["report", str(labelled), "--html", str(html)])
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"archive: {args.n:,} posts (CSV), {args.accounts} accounts, dates over two years, likes and shares\n")
    print("| step | wall-clock |")
    print("|---|---:|")
    print(f"| `postlens report RAW.csv --html report.html` (labels the posts, all cores) | {report_raw:.1f} s |")
    print(f"| `postlens label RAW.csv -o LABELLED.csv` | {label:.1f} s |")
    print(f"| `postlens report LABELLED.csv --html report.html` (reads the labels) | {report_labelled:.1f} s |")
    print(f"\nHTML: {size / 1024:,.0f} KB, one file; references to other files or addresses: {len(outside)}")


if __name__ == "__main__":
    main()
