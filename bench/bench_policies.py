"""Benchmark: next-best-action policies on a sample shop with campaigns, against the oracle (issue #18).

On a database loaded from ``clv generate --campaigns`` and built, fits the one-step uplift policy
and the sequential one (fitted Q-iteration) cross-fitted on customer halves, judges every decision
month's choices at budgets of 10, 20 and 50 % of customers by the oracle's counterfactuals over the
action horizon (90 days), and prints the policy table with the off-policy estimates from the log
alone (IPS, doubly robust) beside the truth, and the fitting time.

    .venv/bin/python -m bench.bench_policies [--db bench/out/clv_100k_campaigns.duckdb]
        [--shop bench/out/shop_100k_campaigns] [--models DIR] [--sims 50]

A missing shop is generated (100,000 customers, seed 42, campaigns from 2023-01), loaded and built.

With ``--models`` (a registry trained on the same database by ``clv train``), the two score
baselines of the issue rank by the CLV champion's prediction (coupon to the top decile) and the
churn champion's (coupon to the highest churn risk); without it, by the base model's predicted
value over the action horizon and by days since the last order.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from duckdb_clv import pipeline
from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.generator import ShopParams
from duckdb_clv.ingest.schema import LOAD_ORDER
from duckdb_clv.settings import make_settings
from duckdb_clv.training.dataset import connect
from duckdb_clv.training.policies.decisions import read_decisions
from duckdb_clv.training.policies.evaluate import PolicySettings, policy_table, policy_values
from duckdb_clv.training.policies.judge import champion_scores, oracle_truth


def prepare(db: Path, shop: Path, customers: int = 100_000) -> None:
    """Generate, load and build a shop with campaigns (seed 42, from 2023-01) where they are missing."""
    if not (shop / "campaigns.parquet").exists():
        generate_shop(shop, customers=customers, seed=42, params=ShopParams(campaign_start="2023-01-01"))
    if not db.exists():
        settings = make_settings(db=str(db))
        pipeline.load(settings, {t: [str(shop / f"{t}.parquet")] for t in LOAD_ORDER})
        pipeline.build(settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_100k_campaigns.duckdb")
    parser.add_argument("--shop", default="bench/out/shop_100k_campaigns")
    parser.add_argument("--models", help="registry trained on --db by `clv train` (for the score baselines)")
    parser.add_argument("--sims", type=int, default=50)
    parser.add_argument("--horizon-days", type=int, default=90)
    args = parser.parse_args()
    prepare(Path(args.db), Path(args.shop))
    with connect(args.db) as con:
        started = time.perf_counter()
        data = read_decisions(con)
        read = time.perf_counter() - started
    months = np.unique(data.cutoff).size
    print(f"{len(data):,} decisions over {months} months, actions {data.actions}, read in {read:.1f} s")
    started = time.perf_counter()
    values = policy_values(data, PolicySettings(), progress=print)
    fitted = time.perf_counter() - started
    print(f"cross-fitted both policies, propensities and outcomes in {fitted:.1f} s")
    started = time.perf_counter()
    truth = oracle_truth(data, pipeline.shop_action_oracle(args.shop, args.sims), args.horizon_days)
    missing = int(np.isnan(truth[:, 0]).sum())
    print(f"oracle counterfactuals in {time.perf_counter() - started:.1f} s ({missing} rows not covered)")
    coupon = data.actions.index("coupon_10") if "coupon_10" in data.actions else 1
    if args.models:
        scores = champion_scores(Path(args.models), data.X)
        baselines = {
            "coupon to top decile of predicted CLV": (coupon, scores["value"], 0.1),
            "coupon to high churn risk": (coupon, scores["churn"]),
        }
    else:
        recency = data.X[:, data.features.index("days_since_last_order")].astype(float)
        baselines = {
            "coupon to top predicted value": (coupon, values["uplift"][:, 0]),
            "coupon to longest since last order": (coupon, recency),
        }
    rows = policy_table(data, values, truth, baselines)
    head = ("policy", "budget", "treated", "true", "oracle", "IPS", "DR", "±")
    print(f"{head[0]:38s} " + " ".join(f"{h:>7s}" for h in head[1:]) + "  mix")
    for r in rows:
        share = f"{r.share_of_oracle:.2f}" if r.share_of_oracle is not None else "-"
        mix = " ".join(f"{a} {v:.2f}" for a, v in r.mix.items())
        print(
            f"{r.policy:38s} {r.budget:>6s} {r.treated_share:7.3f} {r.true_value:7.2f} {share:>6s} "
            f"{r.ips:7.2f} {r.doubly_robust:7.2f} {r.dr_std_error:5.2f}  {mix}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
