"""Benchmark: where the Python scoring path spends its time, against onnxruntime called directly (issue #19).

On the scoring rows of a built database and one registered feature-only model, in one run, the
seconds of:

- onnxruntime on the rows as one float32 matrix, with one thread and with every core (the
  ceiling issue #19 measures the SQL path against);
- ``predict_clv(s, model := ...)`` over ``ml_scoring_set`` (whose rows carry the six 52-week
  history lists) and over the same view without them;
- the features assembled by DuckDB into one ``FLOAT[n]`` array per row, handed to a UDF that
  only counts them, and to a UDF that scores them with the model's session (a measurement of the
  one-buffer design, not the served function).

    .venv/bin/python -m bench.bench_scoring_paths --db bench/out/clv_100k.duckdb --models DIR [--model value_rf]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import onnxruntime as ort
import pyarrow as pa

from duckdb_clv import udfs
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS
from duckdb_clv.udfs.functions import cache_for
from duckdb_clv.udfs.sessions import session_options


def timed(work, repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs of ``work()``, in seconds (the first run warms caches)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_100k.duckdb")
    parser.add_argument("--models", required=True, help="a registry trained on --db")
    parser.add_argument("--model", default="value_rf", help="a feature-only value model of the registry")
    args = parser.parse_args()
    version = registry.versions(args.models, args.model)[-1]
    model = cache_for(args.models).get(args.model, version, "value")
    width = len(FEATURES)
    con = udfs.connect(args.db, args.models)
    con.execute("SET enable_progress_bar = false")
    columns = con.sql(f"SELECT {', '.join(FEATURES)} FROM ml_scoring_set").fetchnumpy()
    X = np.column_stack([np.asarray(columns[f], dtype=np.float32) for f in FEATURES])
    threads = os.cpu_count() or 1
    options = session_options(threads)
    parallel = ort.InferenceSession(model.data, sess_options=options, providers=["CPUExecutionProvider"])

    def as_matrix(values: pa.Array) -> np.ndarray:
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return values.values.to_numpy(zero_copy_only=False).reshape(len(values), width)

    def count(v: pa.Array) -> pa.Array:
        return pa.array(np.full(len(v), float(as_matrix(v).shape[1])))

    con.create_function("bench_count", count, [f"FLOAT[{width}]"], "DOUBLE", type="arrow")
    con.create_function(
        "bench_score",
        lambda v: pa.array(model.run(np.ascontiguousarray(as_matrix(v))).ravel().astype(np.float64)),
        [f"FLOAT[{width}]"],
        "DOUBLE",
        type="arrow",
    )
    without = f"(SELECT * EXCLUDE ({', '.join(SEQUENCE_COLUMNS)}) FROM ml_scoring_set)"
    array = "[" + ", ".join(FEATURES) + f"]::FLOAT[{width}]"
    ref = f"{args.model}/{version}"
    score = f"predict_clv(s, model := '{ref}')"

    def query(sql: str):
        return lambda: con.sql(sql).fetchall()

    figures = {
        "onnxruntime, one thread": timed(lambda: model.run(X)),
        f"onnxruntime, {threads} threads": timed(lambda: parallel.run(None, {"features": X})),
        "predict_clv over ml_scoring_set": timed(query(f"SELECT count({score}) FROM ml_scoring_set s")),
        "predict_clv without the histories": timed(query(f"SELECT count({score}) FROM {without} s")),
        f"FLOAT[{width}] to a counting UDF": timed(query(f"SELECT sum(bench_count({array})) FROM {without}")),
        f"FLOAT[{width}] to a scoring UDF": timed(query(f"SELECT sum(bench_score({array})) FROM {without}")),
    }
    ceiling = figures[f"onnxruntime, {threads} threads"]
    print(f"{len(X):,} rows, model {ref}, {threads} cores")
    for name, seconds in figures.items():
        rate = len(X) / seconds
        print(f"{name:40s} {seconds:7.3f} s  {rate:12,.0f} rows/s  {ceiling / seconds:5.2f}x the direct call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
