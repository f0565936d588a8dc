"""Benchmark: explanations and intervals in SQL against scoring, and TreeSHAP against the shap package (#15).

On the customers at the scoring cutoff of a built shop, with its registry's champions, in one run
(DuckDB with every core, as `clv score` runs them):

- ``predict_clv(s)`` into a table: the baseline every other figure is a ratio of;
- ``predict_clv_interval(s)``. Target: at most 2x the cost of ``predict_clv``;
- ``explain_clv(s)`` (top 3) and ``explain_churn(s)``. Target: at least 5,000 rows/s on 2 cores
  with the 1M shop's champion;
- for context, the ``shap`` package's own TreeSHAP (C++, one thread, as it runs) on a
  scikit-learn model of the value champion's family and size fitted on the same shop's training
  rows: what a Python user gets today for a model of this size.

    .venv/bin/python -m bench.bench_explain --db bench/out/clv_100k.duckdb --models bench/out/clv_100k_models
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np

from duckdb_clv import udfs
from duckdb_clv.training.dataset import connect, read_rows
from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.explain import TreeExplainer, explainer_for

TARGET_EXPLAIN_ROWS_PER_S, TARGET_INTERVAL_COST = 5_000, 2.0


def timed_query(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - start


def tree_size(models: Path, task: str) -> tuple[str, int, int, int]:
    """(model, trees, leaves, largest number of distinct inputs on one path) of a task's champion."""
    pointer = registry.champion(models, task)
    model = functions.cache_for(models).get(pointer["name"], pointer["version"])
    explainer = explainer_for(model)
    if not isinstance(explainer, TreeExplainer):
        return f"{model.ref} ({explainer.method})", 0, 0, 0
    parts = explainer.ensemble.parts
    trees = sum(len(p.levels[0]) for p in parts)
    leaves = sum(len(p.leaf) for p in parts)
    points = max(len(p.quad_t) for p in parts)
    return model.ref, trees, leaves, 2 * points


def shap_reference(db: Path, models: Path, rows: int) -> tuple[float, int, int]:
    """(rows/s, trees, leaves) of shap.TreeExplainer on a HistGradientBoosting model like the value champion."""
    import shap
    from sklearn.ensemble import HistGradientBoostingRegressor

    pointer = registry.champion(models, "value")
    params = registry.read_card(models, pointer["name"], pointer["version"])["model"]["params"]
    with connect(db) as con:
        data = read_rows(con, "ml_training_set")
    data = data.take(np.random.default_rng(0).permutation(len(data))[:200_000])
    settings = {
        k: v for k, v in params.items() if k in ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf")
    }
    model = HistGradientBoostingRegressor(loss="poisson", early_stopping=False, random_state=0, **settings)
    model.fit(data.X, data.value)
    explainer = shap.TreeExplainer(model)
    X = data.X[:rows]
    start = time.perf_counter()
    explainer.shap_values(X)
    seconds = time.perf_counter() - start
    leaves = sum(int(p[0].nodes["is_leaf"].sum()) for p in model._predictors)
    return rows / seconds, len(model._predictors), leaves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("bench/out/clv_100k.duckdb"))
    parser.add_argument("--models", type=Path, default=Path("bench/out/clv_100k_models"))
    parser.add_argument("--rows", type=int, default=20_000, help="customers explained (the first by id)")
    parser.add_argument("--shap-rows", type=int, default=2_000)
    args = parser.parse_args()

    con = udfs.connect(args.db, args.models)
    con.execute(f"CREATE TEMP TABLE bench_rows AS SELECT * FROM ml_scoring_set ORDER BY customer_id LIMIT {args.rows}")
    n = con.execute("SELECT count(*) FROM bench_rows").fetchall()[0][0]
    # Load and verify the models (and build the explainers) before any timing.
    con.execute(
        "SELECT predict_clv(s), predict_clv_interval(s), explain_clv(s), explain_churn(s) FROM bench_rows s LIMIT 10"
    ).fetchall()
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    print(f"{n:,} customers, DuckDB threads {threads}")
    for task in ("value", "churn"):
        ref, trees, leaves, depth = tree_size(args.models, task)
        print(f"{task} champion {ref}: {trees} trees, {leaves:,} leaves, up to {depth} distinct inputs on a path")

    results = {}
    for name, expression in (
        ("predict_clv", "predict_clv(s)"),
        ("predict_clv_interval", "predict_clv_interval(s)"),
        ("explain_clv", "explain_clv(s)"),
        ("churn_score", "churn_score(s)"),
        ("explain_churn", "explain_churn(s)"),
    ):
        seconds = timed_query(con, f"CREATE OR REPLACE TEMP TABLE out AS SELECT {expression} AS x FROM bench_rows s")
        results[name] = seconds
        print(f"{name:22s} {seconds:8.2f} s  {n / seconds:12,.0f} rows/s", flush=True)
    interval_cost = results["predict_clv_interval"] / results["predict_clv"]
    explain_rate = n / results["explain_clv"]
    print(
        f"predict_clv_interval costs {interval_cost:.2f}x predict_clv (target <= {TARGET_INTERVAL_COST}x): "
        f"{'met' if interval_cost <= TARGET_INTERVAL_COST else 'NOT met'}"
    )
    print(
        f"explain_clv {explain_rate:,.0f} rows/s (target >= {TARGET_EXPLAIN_ROWS_PER_S:,}): "
        f"{'met' if explain_rate >= TARGET_EXPLAIN_ROWS_PER_S else 'NOT met'}; "
        f"{results['explain_clv'] / results['predict_clv']:.0f}x the cost of predict_clv"
    )
    if args.shap_rows:
        rate, trees, leaves = shap_reference(args.db, args.models, args.shap_rows)
        print(
            f"shap.TreeExplainer (C++, one thread) on a HistGradientBoosting model of {trees} trees and {leaves:,} "
            f"leaves: {rate:,.0f} rows/s; explain_clv is {explain_rate / rate:.2f}x that"
        )
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
