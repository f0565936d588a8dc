"""Benchmark: every registered model compiled to SQL, against onnxruntime on the same rows (issue #19).

For each model of a registry (one that cannot compile is reported as refused, with the operator):
compilation seconds, macro size, the seconds DuckDB takes to bind the expression (one row), the
seconds to score ``--rows`` rows in SQL and with onnxruntime (one thread, one matrix, and the
weekly histories for a sequence model), and parity: the rows outside 1e-5 relative / 1e-6
absolute and the largest relative difference.

    .venv/bin/python -m bench.bench_compiled_sql --db bench/out/clv_100k.duckdb --models DIR [--rows 20000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np

from duckdb_clv.udfs import functions
from duckdb_clv.udfs.compiler.champions import compile_model
from duckdb_clv.udfs.compiler.expressions import CompileError
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS
from duckdb_clv.udfs.sql import TASK_FUNCTIONS


def _models(root: Path) -> list[tuple[str, str]]:
    return sorted((card.parent.parent.name, card.parent.name) for card in root.glob("*/v*/card.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a built database (reads ml_scoring_set)")
    parser.add_argument("--models", required=True, help="the registry")
    parser.add_argument("--rows", type=int, default=20_000, help="scoring rows to time and compare")
    args = parser.parse_args()
    con = duckdb.connect(args.db, read_only=True)
    con.execute("SET enable_progress_bar = false")
    columns = ", ".join(f'"{f}"' for f in FEATURES + SEQUENCE_COLUMNS)
    con.execute(f"CREATE TEMP TABLE f AS SELECT {columns} FROM ml_scoring_set ORDER BY customer_id LIMIT {args.rows}")
    table = con.execute("SELECT " + ", ".join(f'"{f}"::DOUBLE AS "{f}"' for f in FEATURES) + " FROM f").fetchnumpy()
    X = np.column_stack([table[f] for f in FEATURES]).astype(np.float32)
    weeks = con.execute("SELECT " + ", ".join(f'"{c}"' for c in SEQUENCE_COLUMNS) + " FROM f").fetchnumpy()
    H = np.stack([np.array(weeks[c].tolist(), dtype=np.float32) for c in SEQUENCE_COLUMNS], axis=2)
    cache = functions.cache_for(args.models)
    print(f"{len(X):,} rows of {args.db}; registry {args.models}")
    header = "model | compile s | macro MB | bind s | SQL s | onnxruntime s | rows outside | max rel diff"
    print(header)
    for name, version in _models(Path(args.models)):
        model = cache.get(name, version)
        if model.task not in TASK_FUNCTIONS:
            continue
        started = time.perf_counter()
        try:
            compiled = compile_model(model, "r")
        except CompileError as err:
            print(f"{model.ref} | refused: {str(err).split(': ', 1)[1]}")
            continue
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        con.execute(f"SELECT {compiled.sql} FROM (SELECT * FROM f LIMIT 1) r").fetchall()
        bind_s = time.perf_counter() - started
        started = time.perf_counter()
        got = np.array([v for (v,) in con.execute(f"SELECT {compiled.sql} FROM f r").fetchall()], dtype=np.float64)
        sql_s = time.perf_counter() - started
        started = time.perf_counter()
        want = model.run(X, H if model.reads_history else None).ravel().astype(np.float64)
        ort_s = time.perf_counter() - started
        diff = np.abs(got - want)
        outside = int((diff > np.maximum(1e-5 * np.abs(want), 1e-6)).sum())
        rel = float(np.max(diff / np.maximum(np.abs(want), 1e-6)))
        print(
            f"{model.ref} | {compile_s:.2f} | {len(compiled.sql) / 1e6:.2f} | {bind_s:.2f} | {sql_s:.2f} | "
            f"{ort_s:.3f} | {outside} | {rel:.2e}"
        )


if __name__ == "__main__":
    main()
