"""Benchmark: the BTYD/RFM summary in the dbt models vs pandas groupby (issue #3 target: >= 10x).

Both compute, for every cutoff of a built database, each customer's BTYD summary (frequency,
recency, T, monetary value) and RFM inputs (days since last order, order count, net value with
refunds known by the cutoff), from the same staging rows materialised once. The SQL side runs
the dbt models' own compiled SQL (int_order_days, then int_btyd_summary_at_cutoffs) on temp
tables; the pandas side starts from DataFrames already in memory (their fetch is timed apart).
The two results must agree before any speed is printed.

    .venv/bin/python bench/bench_btyd_summary.py [--db bench/out/clv_1m.duckdb]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 10.0
COLUMNS = [
    "frequency",
    "recency_days",
    "t_days",
    "monetary_value",
    "days_since_last_order",
    "order_count",
    "total_value_net",
]


def compiled(db: Path, model: str) -> str:
    path = db.parent / "dbt" / "target" / "compiled" / "clv" / "models" / "intermediate" / f"{model}.sql"
    if not path.exists():
        sys.exit(f"{path} is missing: build the database first (bench/bench_features.py)")
    return path.read_text()


def sql_summary(con: duckdb.DuckDBPyConnection, db: Path) -> tuple[float, pd.DataFrame]:
    """Run the models' compiled SQL on the materialised staging rows (the same rows pandas gets)."""

    def local(sql: str) -> str:
        sql = re.sub(r'"[^"]+"\."staging"\."stg_shop__orders"', "bench_orders", sql)
        sql = re.sub(r'"[^"]+"\."staging"\."stg_shop__returns"', "bench_returns", sql)
        return re.sub(r'"[^"]+"\."intermediate"\."int_order_days"', "bench_order_days", sql)

    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE bench_order_days AS {local(compiled(db, 'int_order_days'))}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE bench_summary AS {local(compiled(db, 'int_btyd_summary_at_cutoffs'))}")
    seconds = time.perf_counter() - started
    cols = ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in COLUMNS)
    return seconds, con.execute(f"SELECT cutoff_date, customer_id, {cols} FROM bench_summary").fetchdf()


def pandas_summary(orders: pd.DataFrame, returns: pd.DataFrame, cutoffs: list) -> pd.DataFrame:
    # Purchase days once, as the dbt project does.
    days = orders.groupby(["customer_id", "ordered_on"], sort=True, as_index=False)["amount"].sum()
    out = []
    for cutoff in cutoffs:
        c = pd.Timestamp(cutoff)
        d = days[days["ordered_on"] <= c]
        g = d.groupby("customer_id", sort=False)
        first = g["ordered_on"].min()
        last = g["ordered_on"].max()
        n = g.size()
        total = g["amount"].sum()
        first_amount = g["amount"].first()  # days are sorted by date within each customer
        btyd = pd.DataFrame(
            {
                "frequency": n - 1,
                "recency_days": (last - first).dt.days,
                "t_days": (c - first).dt.days,
                "monetary_value": np.where(n > 1, (total - first_amount) / (n - 1).clip(lower=1), 0.0),
            }
        )
        o = orders[orders["ordered_on"] <= c]
        refunded = returns[returns["returned_on"] <= c].groupby("order_id")["refund_amount"].sum()
        net = o["amount"] - np.minimum(o["order_id"].map(refunded).fillna(0.0), o["amount"])
        rfm = (
            o.assign(net=net, age=(c - o["ordered_on"]).dt.days)
            .groupby("customer_id", sort=False)
            .agg(days_since_last_order=("age", "min"), order_count=("order_id", "size"), total_value_net=("net", "sum"))
        )
        frame = btyd.join(rfm).reset_index()
        frame.insert(0, "cutoff_date", c)
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_1m.duckdb")
    args = parser.parse_args()
    db = Path(args.db).resolve()
    con = duckdb.connect(str(db), read_only=True)
    cutoffs = [
        r[0] for r in con.execute("SELECT cutoff_date FROM intermediate.int_cutoffs_to_build ORDER BY 1").fetchall()
    ]

    # Both sides start from the same staging rows, materialised once: DuckDB as temp tables,
    # pandas as DataFrames (their fetch timed apart).
    con.execute("CREATE TEMP TABLE bench_orders AS SELECT * FROM staging.stg_shop__orders")
    con.execute("CREATE TEMP TABLE bench_returns AS SELECT * FROM staging.stg_shop__returns")
    sql_seconds, sql_df = sql_summary(con, db)

    started = time.perf_counter()
    orders = con.execute(
        "SELECT order_id, customer_id, CAST(ordered_on AS TIMESTAMP) AS ordered_on, CAST(amount AS DOUBLE) AS amount "
        "FROM bench_orders"
    ).fetchdf()
    returns = con.execute(
        "SELECT order_id, CAST(returned_on AS TIMESTAMP) AS returned_on, "
        "CAST(refund_amount AS DOUBLE) AS refund_amount FROM bench_returns"
    ).fetchdf()
    fetch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    pd_df = pandas_summary(orders, returns, cutoffs)
    pandas_seconds = time.perf_counter() - started

    key = ["cutoff_date", "customer_id"]
    sql_df["cutoff_date"] = pd.to_datetime(sql_df["cutoff_date"])
    merged = sql_df.merge(pd_df, on=key, suffixes=("_sql", "_pd"), how="outer", indicator=True)
    if not (merged["_merge"] == "both").all():
        print(f"MISMATCH: {int((merged['_merge'] != 'both').sum())} rows in only one result")
        return 1
    for c in COLUMNS:
        if not np.allclose(merged[f"{c}_sql"], merged[f"{c}_pd"].astype(float), rtol=1e-9, atol=1e-6):
            print(f"MISMATCH in {c}")
            return 1
    ratio = pandas_seconds / sql_seconds
    print(f"rows: {len(merged):,} customer-cutoffs over {len(cutoffs)} cutoffs; results agree on {COLUMNS}")
    print(f"dbt models (compiled SQL in DuckDB): {sql_seconds:.1f} s")
    print(f"pandas groupby (in memory):          {pandas_seconds:.1f} s  (plus {fetch_seconds:.1f} s to fetch)")
    print(f"speed-up: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    print("PASS" if ratio >= TARGET_RATIO else "FAIL")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
