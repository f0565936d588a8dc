"""Benchmark: the feature build and scoring on Spark ``local[2]`` against DuckDB on the same machine (#20).

On one loaded shop database (the 1M shop by default), in one run:

1. The DuckDB feature build (``clv build --full-refresh``) and the Spark build of the same project
   (``spark_build``: the shop tables copied to Parquet, then ``dbt build --target spark``), wall
   time each, and the Spark build's peak memory (the dbt process, the Spark JVM). The two builds'
   tables are compared (``spark.parity``).
2. Scoring the scoring cutoff's rows (the Spark build's ``ml_scoring_set`` export, held in memory
   by each engine first) with the registry's champions: the DuckDB SQL functions
   (``predict_clv``, ``churn_score``, ``customer_segment``) against ``score_dataframe`` on Spark at
   1, 2 and 4 partitions (rows per second), with the peak memory of the JVM and the Python workers.

    .venv/bin/python -m bench.bench_spark --db bench/out/clv_1m.duckdb --models bench/out/clv_100k_models
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import duckdb

from bench.memory import PeakByKind
from duckdb_clv.build import build_features
from duckdb_clv.settings import make_settings
from duckdb_clv.spark.build import SparkBuild, spark_build
from duckdb_clv.spark.parity import compare_builds
from duckdb_clv.udfs.sql import register_functions

KINDS = {
    "dbt": lambda c: "dbt.cli.main" in c,
    "jvm": lambda c: c.split(" ", 1)[0].endswith("/java"),
    "python workers": lambda c: "pyspark.daemon" in c or "pyspark.worker" in c,
}


def duckdb_build(db: Path) -> float:
    started = time.perf_counter()
    build_features(db, make_settings(db=str(db)).feature_vars(), full_refresh=True)
    return time.perf_counter() - started


def spark_feature_build(db: Path, warehouse: Path, driver_memory: str) -> tuple[SparkBuild, float, dict[str, float]]:
    started = time.perf_counter()
    with PeakByKind(KINDS) as peak:
        build = spark_build(db, warehouse, make_settings(db=str(db)).feature_vars(), driver_memory=driver_memory)
    return build, time.perf_counter() - started, peak.gb()


def _model(refs: dict[str, str | None], task: str) -> str:
    return f", model := '{refs[task]}'" if refs.get(task) else ""


def duckdb_scoring(source: Path, models: Path, refs: dict[str, str | None]) -> tuple[int, float]:
    """The SQL functions over the exported scoring rows, loaded into memory first (as Spark caches them)."""
    with duckdb.connect() as con:
        con.execute("CREATE TABLE scoring AS SELECT * FROM read_parquet(?)", [str(source / "*.parquet")])
        register_functions(con, models.resolve())
        started = time.perf_counter()
        rows = con.execute(
            f"SELECT count(*), sum(predict_clv(s{_model(refs, 'value')})), sum(churn_score(s{_model(refs, 'churn')})), "
            "sum(customer_segment(s)) FROM scoring AS s"
        ).fetchone()[0]
        return rows, time.perf_counter() - started


def spark_scoring(
    spark, source: Path, models: Path, partitions: int, refs: dict[str, str | None]
) -> tuple[int, float, dict[str, float]]:
    from duckdb_clv.spark.scoring import score_dataframe

    rows = spark.read.parquet(str(source)).repartition(partitions).cache()
    n = rows.count()  # read and partitioned before the clock starts
    started = time.perf_counter()
    with PeakByKind(KINDS) as peak:
        score_dataframe(rows, models, refs).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    rows.unpersist()
    return n, seconds, peak.gb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_1m.duckdb")
    parser.add_argument("--models", default="bench/out/clv_100k_models")
    parser.add_argument("--warehouse", default="bench/out/spark_1m")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--skip-builds", action="store_true", help="score the last Spark build's export only")
    parser.add_argument("--value-model", help="score with this value model instead of the champion")
    parser.add_argument("--churn-model", help="score with this churn model instead of the champion")
    args = parser.parse_args()
    db, models, warehouse = Path(args.db).resolve(), Path(args.models), Path(args.warehouse).resolve()

    if not args.skip_builds:
        duck_seconds = duckdb_build(db)
        print(f"DuckDB feature build: {duck_seconds:.1f} s", flush=True)
        build, spark_seconds, peak = spark_feature_build(db, warehouse, args.driver_memory)
        print(
            f"Spark feature build (local[2], driver {args.driver_memory}): {spark_seconds:.1f} s = "
            f"{spark_seconds / duck_seconds:.2f}x DuckDB's; peak GB "
            + ", ".join(f"{k} {v:.2f}" for k, v in peak.items()),
            flush=True,
        )
        parity = compare_builds(db, build)
        unequal = [p.table for p in parity if not p.equal]
        rows = {p.table: p.rows[0] for p in parity}
        print(
            f"parity: {len(parity) - len(unequal)} of {len(parity)} tables equal "
            f"(fct_customer_features {rows['fct_customer_features']:,} rows); unequal: {unequal or 'none'}",
            flush=True,
        )
    build = SparkBuild.at(warehouse)

    refs = {"value": args.value_model, "churn": args.churn_model}
    print(f"models: {refs} (None: the champion)", flush=True)
    source = build.exports["ml_scoring_set"]
    n, seconds = duckdb_scoring(source, models, refs)
    duck_rate = n / seconds
    print(f"DuckDB scoring, 3 champions: {n:,} rows in {seconds:.1f} s = {duck_rate:,.0f} rows/s", flush=True)
    from duckdb_clv.spark.session import local_session

    spark = local_session(driver_memory=args.driver_memory)
    spark_scoring(spark, source, models, 2, refs)  # warm-up: JVM, workers, sessions
    for partitions in (1, 2, 4):
        n, seconds, peak = spark_scoring(spark, source, models, partitions, refs)
        print(
            f"Spark scoring, {partitions} partition(s): {n:,} rows in {seconds:.1f} s = {n / seconds:,.0f} rows/s "
            f"({n / seconds / duck_rate:.2f}x DuckDB's); peak GB "
            + ", ".join(f"{k} {v:.2f}" for k, v in peak.items() if k != "dbt"),
            flush=True,
        )
    print(f"machine: {os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
