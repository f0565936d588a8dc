"""Benchmark: train the full model set, then evaluate it on the test cutoff (issue #4).

Two uses, one script:
- accuracy on the 100,000-customer shop (seed 42): the evaluation table with the BG/NBD baseline
  and the oracle, and the accuracy targets met or not;
- speed on the 1,000,000-customer shop (12 training cutoffs): total and per-model training times
  against the 20-minute target, with peak memory.

The database must be built already (bench_features.py builds the 1M one):

    .venv/bin/python bench/bench_training.py --db bench/out/clv_100k.duckdb --shop bench/out/shop_100k
    .venv/bin/python bench/bench_training.py --db bench/out/clv_1m.duckdb --shop bench/out/shop_1m --no-oracle
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from bench.memory import PeakMemory
from duckdb_clv.pipeline import sample_shop_oracle
from duckdb_clv.settings import make_settings
from duckdb_clv.training.evaluation.holdout import evaluate_registry
from duckdb_clv.training.pipeline import TrainSettings, train_models

TARGET_SECONDS = 20 * 60


def prepare(db: Path, shop: Path, customers: int) -> None:
    """Generate (seed 42), load and build the shop when the database is missing."""
    from duckdb_clv.build import build_features
    from duckdb_clv.ingest import generate_shop
    from duckdb_clv.ingest.loader import load_files
    from duckdb_clv.ingest.schema import LOAD_ORDER

    if not (shop / "orders.parquet").exists():
        print(f"generating {customers:,} customers into {shop} ...", flush=True)
        generate_shop(shop, customers=customers, seed=42)
    print(f"loading and building {db} ...", flush=True)
    load_files(db, {t: [str(shop / f"{t}.parquet")] for t in LOAD_ORDER})
    build_features(db)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--shop", help="the generated shop folder (its ground truth gives the oracle)")
    parser.add_argument("--models-dir", help="registry to train into (default: a fresh folder next to the db)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the oracle (slow on 1M customers)")
    parser.add_argument("--trials", type=int, default=TrainSettings.trials)
    parser.add_argument("--customers", type=int, default=100_000, help="shop size when it must be generated")
    parser.add_argument("--only", help=f"comma-separated model families (default: {','.join(TrainSettings.families)})")
    args = parser.parse_args()
    db = Path(args.db)
    if not db.exists():
        prepare(db, Path(args.shop or db.with_suffix("").as_posix() + "_shop"), args.customers)
    models = Path(args.models_dir or db.with_suffix("").as_posix() + "_models")
    shutil.rmtree(models, ignore_errors=True)

    started = time.perf_counter()
    with PeakMemory(interval=0.2) as mem:
        families = tuple(args.only.split(",")) if args.only else TrainSettings.families
        settings = TrainSettings(trials=args.trials, families=families)
        result = train_models(db, models, settings, log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - started
    print(f"\ntraining rows: {result.cards[0]['training_rows']}")
    print("per-model seconds (search + final fit):")
    for name, s in sorted(result.seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {s:8.1f}")
    print(
        f"full training run (read, fit, export, parity, register): {seconds:.1f} s "
        f"(target < {TARGET_SECONDS} s); peak memory {mem.peak_gb:.2f} GB"
    )
    print(f"champions: {result.champions}")

    started = time.perf_counter()
    shop = None if args.no_oracle or not args.shop else args.shop
    oracle = sample_shop_oracle(make_settings(db=str(db), models_dir=str(models)), shop) if shop else None
    report = evaluate_registry(db, models, oracle=oracle, out=models / "evaluation.json")
    print(
        f"\nevaluation on test cutoff {report['test_cutoff']} ({report['rows']:,} customers) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for task, columns in (
        ("value", ("mae", "rmse", "spearman", "normalized_gini", "decile_mape", "total_ratio")),
        ("churn", ("roc_auc", "pr_auc", "brier", "log_loss", "f1")),
    ):
        print(f"{task:26s}" + "".join(f"{c:>16s}" for c in columns))
        for row in report[task]:
            mark = "*" if row["champion"] else " "
            print(f"{mark}{row['model']:25s}" + "".join(f"{row['metrics'][c]:16.4f}" for c in columns))
    for check in report["targets"]:
        print(
            f"[{'met' if check['met'] else 'NOT MET'}] {check['target']}: "
            f"{check['champion']:.4f} vs {check['reference']:.4f}"
        )
    ok = seconds < TARGET_SECONDS and all(c["met"] for c in report["targets"])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
