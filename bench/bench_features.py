"""Benchmark: the full feature build on the 1,000,000-customer shop (issue #3 target: < 5 min, < 8 GB).

Loads the shop written by bench_generate.py (generating it if missing), then runs `clv build`
with --full-refresh: the scoring cutoff plus 12 training cutoffs, every model and test. Prints
the load and build times and the peak resident memory of the process tree (dbt included).

    .venv/bin/python bench/bench_features.py [--shop bench/out/shop_1m] [--db bench/out/clv_1m.duckdb]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.memory import PeakMemory
from duckdb_clv.build import build_features
from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.ingest.schema import LOAD_ORDER

TARGET_SECONDS, TARGET_GB = 300.0, 8.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", default="bench/out/shop_1m")
    parser.add_argument("--db", default="bench/out/clv_1m.duckdb")
    parser.add_argument("--customers", type=int, default=1_000_000, help="size when the shop must be generated")
    parser.add_argument("--skip-load", action="store_true", help="reuse an already loaded database")
    args = parser.parse_args()
    shop, db = Path(args.shop), Path(args.db)
    if not (shop / "orders.parquet").exists():
        print(f"generating {args.customers:,} customers into {shop} ...", flush=True)
        generate_shop(shop, customers=args.customers, seed=42)
    if not args.skip_load:
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        report = load_files(db, {t: [str(shop / f"{t}.parquet")] for t in LOAD_ORDER})
        print(f"load: {report.totals()['rows_loaded']:,} rows in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    with PeakMemory(interval=0.1) as mem:
        result = build_features(db, full_refresh=True)
    seconds = time.perf_counter() - started
    print(
        f"cutoffs: scoring {result.scoring_cutoff}, {len(result.training_cutoffs)} training "
        f"({result.training_cutoffs[0]} .. {result.training_cutoffs[-1]}); dbt nodes: {result.nodes}"
    )
    print(
        f"feature build (dbt build --full-refresh, models + tests): {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s)"
    )
    print(f"peak memory (process tree): {mem.peak_gb:.2f} GB (target < {TARGET_GB:.0f} GB)")
    ok = seconds < TARGET_SECONDS and mem.peak_gb < TARGET_GB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
