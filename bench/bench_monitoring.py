"""Benchmark: what drift monitoring adds to a scoring run of 1,000,000 customers (issue #16).

The ``monitor_drift`` dbt model is rendered with a reference computed as training computes it
(``training/reference.py``, on the built 100k shop's scoring customers) and run against the
scoring set copied ten times (1,000,000 rows, 90 features), the same rows again as the features a
year before (the seasonal comparison scans them too) and a customer_scores table of the same size,
in DuckDB on this machine's cores. It prints the model's wall time (median of three runs),
against the issue's 30 seconds, and the rows it writes.

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


def render(references: dict[str, dict]) -> str:
    """The model's SQL as dbt would run it on a first build, with these cards' references."""
    source = (dbt_project_dir() / "models" / "marts" / "monitoring" / "monitor_drift.sql").read_text()
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
    }
    return env.from_string(source).render(
        execute=True,
        run_query=run_query,
        fromjson=json.loads,
        ref=lambda name: name,
        var=variables.__getitem__,
        config=lambda **_kwargs: "",
        is_incremental=lambda: False,
    )


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
        sql = render(references)
        seconds = []
        for _ in range(3):
            con.execute("DROP TABLE IF EXISTS monitor_drift")
            start = time.perf_counter()
            con.execute(f"CREATE TABLE monitor_drift AS {sql}")
            seconds.append(time.perf_counter() - start)
        written, alerts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'alert') FROM monitor_drift"
        ).fetchone()
        con.close()
    took = statistics.median(seconds)
    print(
        f"monitor_drift on {rows:,} customers x {len(FEATURES)} features + 3 outputs, three baselines, "
        f"{args.threads} threads:"
    )
    print(f"  {took:.1f} s (median of {', '.join(f'{s:.1f}' for s in seconds)}), {written} rows, {alerts} alerts")
    print(f"  target: under {TARGET_SECONDS:.0f} s -> {'met' if took < TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
