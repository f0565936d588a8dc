"""Benchmark: generate the 1,000,000-customer sample shop (issue #2 target: < 3 min, < 8 GB).

Prints rows per table, wall time and the peak resident memory of the whole process tree.

    .venv/bin/python bench/bench_generate.py [--customers 1000000] [--out bench/out/shop_1m]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from bench.memory import PeakMemory
from duckdb_clv.ingest import generate_shop

TARGET_SECONDS, TARGET_GB = 180.0, 8.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="bench/out/shop_1m")
    args = parser.parse_args()

    started = time.perf_counter()
    with PeakMemory() as mem:
        shop = generate_shop(args.out, customers=args.customers, seed=args.seed)
    seconds = time.perf_counter() - started
    size_gb = sum(p.stat().st_size for p in Path(args.out).glob("*")) / 1e9

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    for table, rows in shop.rows.items():
        print(f"  {table:<13} {rows:>12,} rows")
    print(f"customers: {args.customers:,}  wall: {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s)")
    print(f"peak memory (process tree): {mem.peak_gb:.2f} GB (target < {TARGET_GB:.0f} GB)  files: {size_gb:.2f} GB")
    ok = seconds < TARGET_SECONDS and mem.peak_gb < TARGET_GB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
