"""Benchmark: what drift monitoring adds to a scoring run of 1,000,000 customers (issue #16).

The ``monitor_drift`` dbt model is rendered with a reference computed as training computes it
(``training/reference.py``, on the built 100k shop's scoring customers) and run against the
scoring set copied ten times (1,000,000 rows, 90 features), the same rows again as the features a
year before (the seasonal comparison scans them too) and a customer_scores table of the same size,
in DuckDB on this machine's cores. Then ``monitor_accuracy`` over a score history of 3 and of 12
runs of every customer, against the shop's orders copied the same ten times. It prints each
model's wall time (median of three runs) and their sum against the issue's 30 seconds.

    .venv/bin/python -m bench.bench_monitoring --db bench/out/clv_100k.duckdb

Only the monitor is timed: the scores are synthetic (a function of the features), so this
measures the drift SQL, not the models.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import jinja2
import numpy as np

from duckdb_clv.build import dbt_project_dir
from duckdb_clv.training.reference import distribution, feature_reference, seasonal_reference
from duckdb_clv.udfs.contract import FEATURES

TARGET_SECONDS = 30.0
COPIES = 10


def render(references: dict[str, dict], model: str = "monitor_drift") -> str:
    """The model's SQL as dbt would run it on a first build, with these cards' references."""
    macros = "".join(
        (dbt_project_dir() / "macros" / name).read_text() for name in ("future_outcomes.sql", "scoring_runs.sql")
    )
    source = macros + (dbt_project_dir() / "models" / "marts" / "monitoring" / f"{model}.sql").read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do"])

    class Result:
        def __init__(self, value: str | None) -> None:
            self.columns = [type("Column", (), {"values": lambda _self, v=value: [v]})()]

    def run_query(sql: str) -> Result:
        task = sql.split("'")[1]
        return Result(json.dumps(references[task]))

    variables = {
        "drift_psi_warning": 0.2,
        "drift_psi_alert": 0.5,
        "drift_shift_warning": 0.15,
        "drift_shift_alert": 0.3,
        "drift_shift_min_z": 3,
        "horizon_days": 365,
        "churn_window_days": 90,
    }
    return env.from_string(source).render(
        execute=True,
        run_query=run_query,
        fromjson=json.loads,
        ref=lambda name: name,
        var=variables.__getitem__,
        config=lambda **_kwargs: "",
        is_incremental=lambda: False,
        this="monitor_drift",
    )


def time_accuracy(con: duckdb.DuckDBPyConnection, runs: list[str]) -> tuple[float, int]:
    """Seconds to build monitor_accuracy over ``runs`` scoring runs of every customer, and its rows."""
    dates = ", ".join(f"DATE '{d}'" for d in runs)
    con.execute(
        "CREATE OR REPLACE TABLE score_history AS SELECT run.as_of_date, s.value_model, s.churn_model, "
        "s.segment_model, s.customer_id, s.predicted_clv, s.churn_probability "
        f"FROM customer_scores s, (SELECT unnest([{dates}]) AS as_of_date) AS run"
    )
    seconds = time_build(con, "monitor_accuracy", render({}, "monitor_accuracy"))
    return statistics.median(seconds), con.execute("SELECT count(*) FROM monitor_accuracy").fetchone()[0]


def time_build(con: duckdb.DuckDBPyConnection, table: str, sql: str) -> list[float]:
    """Seconds of three builds of ``table`` from its rendered ``sql``, each from scratch."""
    seconds = []
    for _ in range(3):
        con.execute(f"DROP TABLE IF EXISTS {table}")
        start = time.perf_counter()
        con.execute(f"CREATE TABLE {table} AS {sql}")
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a built database with ml_scoring_set (100,000 customers)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        con = duckdb.connect(str(Path(work) / "monitor.duckdb"))
        con.execute(f"SET threads = {args.threads}")
        con.execute(f"ATTACH '{Path(args.db).resolve()}' AS src (READ_ONLY)")
        columns = ", ".join(FEATURES)
        con.execute(
            f"CREATE TABLE ml_scoring_set AS SELECT customer_id || '-' || copy AS customer_id, {columns} "
            f"FROM src.ml_scoring_set, range({COPIES}) AS copies(copy)"
        )
        # Scores shaped like the real ones; only their distribution matters to the monitor.
        con.execute(
            "CREATE TABLE customer_scores AS SELECT customer_id, DATE '2026-01-01' AS as_of_date, "
            "'value_x/v1' AS value_model, 'churn_x/v1' AS churn_model, 'segment_x/v1' AS segment_model, "
            "total_value_net * 0.4 AS predicted_clv, 1 / (2 + frequency) AS churn_probability, "
            "cast(order_count % 5 AS BIGINT) AS segment FROM ml_scoring_set"
        )
        # The features a year before: the same rows at the latest training cutoff.
        con.execute(
            f"CREATE TABLE fct_customer_features AS SELECT customer_id, DATE '2024-12-31' AS cutoff_date, "
            f"'training' AS cutoff_role, {columns} FROM ml_scoring_set"
        )
        con.execute(
            "CREATE TABLE int_cutoffs AS SELECT * FROM (VALUES (DATE '2026-01-01', 'scoring'), "
            "(DATE '2024-12-31', 'training')) AS c(cutoff_date, cutoff_role)"
        )
        rows = con.execute("SELECT count(*) FROM ml_scoring_set").fetchone()[0]
        sample = con.execute(f"SELECT {columns} FROM src.ml_scoring_set").fetchnumpy()
        X = np.column_stack([sample[f].astype(np.float32) for f in FEATURES])
        outputs = con.execute(
            "SELECT predicted_clv, churn_probability, segment FROM customer_scores "
            "USING SAMPLE 100000 ROWS (reservoir, 1)"
        ).fetchnumpy()
        features = feature_reference(X, FEATURES)
        seasonal = seasonal_reference(X, X, FEATURES, dt.date(2026, 1, 1), dt.date(2024, 12, 31))
        references = {
            task: {b: {"features": features, "output": distribution(outputs[out])} for b in ("training", "scoring")}
            | {"seasonal": seasonal}
            for task, out in (("value", "predicted_clv"), ("churn", "churn_probability"), ("segment", "segment"))
        }
        seconds = time_build(con, "monitor_drift", render(references))
        written, alerts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'alert') FROM monitor_drift"
        ).fetchone()
        # monitor_accuracy rebuilds over every run in the history: the shop's orders copied the
        # same ten times, the history holding 3 and 12 runs of every customer.
        for table in ("orders", "returns"):
            keys = "order_id || '-' || copy AS order_id" + (
                ", customer_id || '-' || copy AS customer_id" if table == "orders" else ""
            )
            rest = "ordered_on, amount" if table == "orders" else "* EXCLUDE (order_id)"
            con.execute(
                f"CREATE TABLE stg_shop__{table} AS SELECT {keys}, {rest} "
                f"FROM src.staging.stg_shop__{table}, range({COPIES}) AS copies(copy)"
            )
        accuracy = {
            len(runs): time_accuracy(con, runs)
            for runs in (
                ["2024-07-01", "2025-01-01", "2025-07-01"],
                [f"{y}-{m:02d}-01" for y, m in [(2024, 12)] + [(2025, k) for k in range(1, 12)]],
            )
        }
        con.close()
    took = statistics.median(seconds)
    print(
        f"monitor_drift on {rows:,} customers x {len(FEATURES)} features + 3 outputs, three baselines, "
        f"{args.threads} threads:"
    )
    print(f"  {took:.1f} s (median of {', '.join(f'{s:.1f}' for s in seconds)}), {written} rows, {alerts} alerts")
    for runs, (seconds, written) in accuracy.items():
        print(f"monitor_accuracy over {runs} runs of {rows:,} customers: {seconds:.1f} s (median of 3), {written} rows")
    worst = took + max(seconds for seconds, _ in accuracy.values())
    print(
        f"  drift + accuracy: {worst:.1f} s; target: under {TARGET_SECONDS:.0f} s -> "
        f"{'met' if worst < TARGET_SECONDS else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
