"""Benchmark: training both next-best-action policies the way `clv train` does (issue #18's 10-minute target).

Runs ``training.policies.train.fit_policies`` (read the logged decisions, a seeded sample of
customers beyond ``policy_rows``; fit the one-step uplift policy and the sequential one; export
each to ONNX with its parity check) on a built database with campaign history, and prints the
rows, the time of each step and the process's peak memory.

    .venv/bin/python -m bench.bench_policy_training [--db bench/out/clv_1m_campaigns.duckdb]
        [--shop bench/out/shop_1m_campaigns] [--policy-rows N]

A missing shop is generated (1,000,000 customers, seed 42, campaigns from 2023-01), loaded and built.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from bench.bench_policies import prepare
from duckdb_clv.training.dataset import connect
from duckdb_clv.training.policies.evaluate import PolicySettings
from duckdb_clv.training.policies.train import fit_policies
from duckdb_clv.training.settings import TrainSettings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_1m_campaigns.duckdb")
    parser.add_argument("--shop", default="bench/out/shop_1m_campaigns")
    parser.add_argument("--policy-rows", type=int, default=TrainSettings().policy_rows)
    args = parser.parse_args()
    prepare(Path(args.db), Path(args.shop), customers=1_000_000)
    failures: list = []
    started = time.perf_counter()
    with connect(args.db) as con:
        total = con.execute("SELECT count(*) FROM ml_decision_set").fetchone()[0]
        print(f"{total:,} logged decisions in {args.db} (counted in {time.perf_counter() - started:.1f} s)")
        fitted = fit_policies(con, args.policy_rows, PolicySettings(), print, failures)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in fitted.seconds.items())
    print(f"both policies in {wall:.1f} s ({steps}); peak memory {peak:.2f} GB; dropped: {failures or 'none'}")
    return 0 if len(fitted.exported) == 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
