"""Benchmark: what the weekly histories add to the feature build (issue #17 target: < 2 min on the 1M shop).

On a database built by bench_features.py, rebuilds ``fct_customer_weekly_history`` alone from
scratch (every cutoff, with its tests: the part of ``clv build`` the histories add), then the
scoring cutoff's share of it as an incremental run adds it, and prints the times, the rows and
the peak memory of the process tree.

    .venv/bin/python -m bench.bench_histories [--db bench/out/clv_1m.duckdb]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from bench.memory import PeakMemory
from duckdb_clv.build import build_features

TARGET_SECONDS = 120.0
MODEL = "fct_customer_weekly_history"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_1m.duckdb")
    args = parser.parse_args()
    db = Path(args.db)
    if not db.exists():
        print(f"no database at {db}: run `.venv/bin/python -m bench.bench_features` first")
        return 2
    with PeakMemory() as memory:
        started = time.perf_counter()
        build_features(db, select=MODEL, full_refresh=True)
        full = time.perf_counter() - started
        started = time.perf_counter()
        build_features(db, select=MODEL)
        incremental = time.perf_counter() - started
    with duckdb.connect(str(db), read_only=True) as con:
        rows, cutoffs = con.execute(f"SELECT count(*), count(DISTINCT cutoff_date) FROM {MODEL}").fetchall()[0]
        features = con.execute("SELECT count(*) FROM fct_customer_features").fetchall()[0][0]
    verdict = "met" if full < TARGET_SECONDS else "NOT met"
    print(f"{MODEL}: {rows:,} rows over {cutoffs} cutoffs (fct_customer_features: {features:,})")
    print(f"full build of the histories, with their tests: {full:.1f} s (target < {TARGET_SECONDS:.0f} s: {verdict})")
    print(f"incremental run (the scoring cutoff rebuilt): {incremental:.1f} s")
    print(f"peak memory of the process tree: {memory.peak_gb:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
