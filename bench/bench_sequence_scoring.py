"""Benchmark: scoring with a sequence model in SQL (issue #17: at least 50,000 rows/s).

On the rows of a built shop's ``ml_training_set`` (features and the six weekly-history arrays,
copied once into a table, up to ``--rows``), in one run and for each model named:

- ``SELECT predict_clv(s, model := ...)`` into a table: the call a user writes, the history
  arrays bound by name with the features;
- onnxruntime called directly with every core on the same rows, already in one float32 matrix
  and one rows x 52 x 6 tensor, in chunks of 16,384 rows (the ceiling: no DuckDB, no Arrow, no
  conversion).

A feature-only model of the same registry (``--baseline``, default the anchored Tweedie trees) is
measured the same way for comparison.

    .venv/bin/python -m bench.bench_training --db bench/out/clv_100k.duckdb --shop bench/out/shop_100k \\
        --models-dir bench/out/clv_100k_seq --only btyd,hgb,rf,mlp,ziln,lstm,cnn,fused,kmeans
    .venv/bin/python -m bench.bench_sequence_scoring --source bench/out/clv_100k.duckdb \\
        --models bench/out/clv_100k_seq
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import onnxruntime as ort

from duckdb_clv import udfs
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT, SEQUENCE_COLUMNS, SEQUENCE_WEEKS

TARGET_ROWS_PER_SECOND = 50_000
DIRECT_CHUNK = 16_384


def prepare(source: Path, db: Path, rows: int) -> int:
    """A table ``rows_in`` of feature rows with their histories, copied once; returns its row count."""
    with duckdb.connect(str(db)) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        if "rows_in" not in tables:
            print(f"preparing {db} from {source} ...", flush=True)
            con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
            columns = ", ".join(("customer_id", "cutoff_date", *FEATURES, *SEQUENCE_COLUMNS))
            con.execute(
                f"CREATE TABLE rows_in AS SELECT {columns} FROM src.main.ml_training_set "
                f"ORDER BY cutoff_date, customer_id LIMIT {rows}"
            )
        return int(con.execute("SELECT count(*) FROM rows_in").fetchall()[0][0])


def matrices(con: duckdb.DuckDBPyConnection, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows as the direct call takes them: features (n x 90) and histories (n x 52 x 6)."""
    X = np.empty((n, len(FEATURES)), dtype=np.float32)
    H = np.empty((n, SEQUENCE_WEEKS, len(SEQUENCE_COLUMNS)), dtype=np.float32)
    start = 0
    for batch in con.sql(f"SELECT {', '.join((*FEATURES, *SEQUENCE_COLUMNS))} FROM rows_in").to_arrow_reader(1 << 18):
        end = start + batch.num_rows
        for j, name in enumerate(FEATURES):
            X[start:end, j] = batch.column(name).to_numpy(zero_copy_only=False)
        for c, name in enumerate(SEQUENCE_COLUMNS):
            flat = batch.column(name).flatten().to_numpy(zero_copy_only=False)
            H[start:end, :, c] = flat.reshape(batch.num_rows, SEQUENCE_WEEKS)
        start = end
    return X, H


def measure(con, models: Path, name: str, X: np.ndarray, H: np.ndarray, threads: int) -> dict[str, float]:
    """SQL and direct seconds for one model, and the largest gap between their scores."""
    version = registry.versions(models, name)[-1]
    ref = f"{name}/{version}"
    con.execute(f"SELECT predict_clv(s, model := '{ref}') FROM rows_in s LIMIT 10").fetchall()  # load it
    start = time.perf_counter()
    con.execute(
        f"CREATE OR REPLACE TABLE scored AS SELECT customer_id, cutoff_date, predict_clv(s, model := '{ref}') AS v "
        "FROM rows_in s"
    )
    sql_s = time.perf_counter() - start
    data, card = registry.verified_model(models, name, version)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    feed = {"features": X} | ({HISTORY_INPUT: H} if "history_input" in card else {})
    session.run(["value"], {k: v[:1000] for k, v in feed.items()})
    start = time.perf_counter()
    # In chunks: one call on every row at once is slower for the LSTM (its per-step buffers
    # outgrow the caches) and aborted onnxruntime on 539k rows.
    direct = np.concatenate(
        [
            session.run(["value"], {k: v[i : i + DIRECT_CHUNK] for k, v in feed.items()})[0].ravel()
            for i in range(0, len(X), DIRECT_CHUNK)
        ]
    )
    direct_s = time.perf_counter() - start
    # Same order as the table (both come from rows_in in storage order, scored row by row).
    served = con.execute("SELECT v FROM scored").fetchnumpy()["v"].astype(np.float64)
    gap = float(np.max(np.abs(served - direct.astype(np.float64)) / np.maximum(1.0, np.abs(direct))))
    return {"sql_s": sql_s, "direct_s": direct_s, "gap": gap}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="bench/out/clv_100k.duckdb")
    parser.add_argument("--models", default="bench/out/clv_100k_seq")
    parser.add_argument("--db", default="bench/out/sequence_scoring.duckdb")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", action="append", help="sequence value models (default: value_lstm, value_cnn)")
    parser.add_argument("--baseline", default="value_hgb_tweedie", help="a feature-only value model to compare with")
    args = parser.parse_args()
    models, db = Path(args.models), Path(args.db)
    n = prepare(Path(args.source), db, args.rows)
    threads = os.cpu_count() or 1
    print(f"{n:,} rows with their weekly histories; {threads} cores", flush=True)
    con = udfs.connect(db, models, read_only=False)
    con.execute(f"SET threads = {threads}")
    X, H = matrices(con, n)  # also reads every column once, so no timing pays for the first read
    ok = True
    for name in [*(args.model or ["value_lstm", "value_cnn"]), args.baseline]:
        got = measure(con, models, name, X, H, threads)
        sql_rate, direct_rate = n / got["sql_s"], n / got["direct_s"]
        sequence = name != args.baseline
        verdict = f" (target >= {TARGET_ROWS_PER_SECOND:,})" if sequence else " (feature-only, for comparison)"
        print(
            f"{name:20s} SQL {got['sql_s']:7.2f} s = {sql_rate:9,.0f} rows/s{verdict}; direct onnxruntime "
            f"{got['direct_s']:6.2f} s = {direct_rate:9,.0f} rows/s; SQL / direct {sql_rate / direct_rate:.2f}x; "
            f"largest gap {got['gap']:.1e}",
            flush=True,
        )
        ok &= not sequence or sql_rate >= TARGET_ROWS_PER_SECOND
    con.close()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
