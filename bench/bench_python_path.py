"""Benchmark: the Python scoring path against onnxruntime called directly, per model family (issue #19 item 4).

On ``--copies`` copies of a built database's scoring rows (1,000,000 rows from the 100k shop), in
one run and for each model named: the seconds of ``SELECT sum(predict_clv(s, model := ...))`` over a
table of the feature rows, and of onnxruntime with every core on the same rows as one float32
matrix (no DuckDB, no Arrow). The ratio is direct seconds / SQL seconds; the issue's target is
0.95x or more for every family. Best of ``--repeats`` runs each.

With ``--compiled-rows N`` the model is also compiled to SQL (``udfs.compiler``) and its macro
body scores the first N rows of the same table, once: compile seconds, macro size, and its rate in
rows per second beside the other two paths' (the compiled path is far too slow for millions of
rows, so it is timed on a part of them).

    .venv/bin/python -m bench.bench_python_path --db bench/out/clv_100k.duckdb --models bench/out/clv_100k_models \\
        --model value_rf --model value_hgb_tweedie --model value_mlp
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import onnxruntime as ort

from bench.bench_scoring_paths import timed
from duckdb_clv import udfs
from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.compiler.champions import compile_model
from duckdb_clv.udfs.contract import FEATURES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a built database (reads ml_scoring_set)")
    parser.add_argument("--models", required=True, help="the registry")
    parser.add_argument("--model", action="append", required=True, help="a registered model (repeatable)")
    parser.add_argument("--copies", type=int, default=10, help="copies of the scoring rows")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--compiled-rows", type=int, default=0, help="rows to score with the compiled SQL too")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    con = udfs.connect(":memory:", args.models, read_only=False)
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH '{args.db}' AS src (READ_ONLY)")
    columns = ", ".join(f's."{f}"::DOUBLE AS "{f}"' for f in FEATURES)
    con.execute(f"CREATE TABLE rows AS SELECT {columns} FROM src.main.ml_scoring_set s, range({args.copies})")
    con.execute("DETACH src")
    table = con.execute("SELECT * FROM rows").fetchnumpy()
    X = np.ascontiguousarray(np.column_stack([table[f] for f in FEATURES]), dtype=np.float32)
    del table
    print(f"{len(X):,} rows, {threads} cores; onnxruntime direct with {threads} threads")
    print("model | SQL s | direct s | direct / SQL | rows/s: Python UDF, direct, compiled SQL | compile s, macro MB")
    for name in args.model:
        version = registry.versions(args.models, name)[-1]
        data, card = registry.verified_model(args.models, name, version)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        session.run([card["task"]], {"features": X[:1000]})
        function = {"value": "predict_clv", "churn": "churn_score", "segment": "customer_segment"}[card["task"]]
        query = f"SELECT sum({function}(s, model := '{name}/{version}')) FROM rows s"
        con.execute(query.replace("FROM rows s", "FROM (SELECT * FROM rows LIMIT 10) s")).fetchall()  # load
        sql_s = timed(lambda query=query: con.execute(query).fetchall(), args.repeats)
        direct_s = timed(lambda s=session, t=card["task"]: s.run([t], {"features": X}), args.repeats)
        compiled = _compiled(con, args.models, name, version, args.compiled_rows) if args.compiled_rows else ""
        print(
            f"{name}/{version} | {sql_s:.2f} | {direct_s:.2f} | {direct_s / sql_s:.2f}x | "
            f"{len(X) / sql_s:,.0f}, {len(X) / direct_s:,.0f}{compiled}",
            flush=True,
        )


def _compiled(con, root: str, name: str, version: str, rows: int) -> str:
    """The compiled macro body's rate on ``rows`` rows (bind included), and its compile time and size."""
    started = time.perf_counter()
    sql = compile_model(functions.cache_for(root).get(name, version), "s").sql
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    con.execute(f"SELECT sum({sql}) FROM (SELECT * FROM rows LIMIT {rows}) s").fetchall()
    seconds = time.perf_counter() - started
    return f", {rows / seconds:,.0f} | {compile_s:.2f}, {len(sql) / 1e6:.2f}"


if __name__ == "__main__":
    main()
