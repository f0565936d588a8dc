"""``clv spark-build``, ``clv spark-train-set``, ``clv spark-score``: the project on Apache Spark (docs/SCALE.md)."""

from __future__ import annotations

import argparse
import time

from duckdb_clv import console
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.settings import Settings

DEFAULT_WAREHOUSE = "build/spark"


def _master(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master", default="local[2]", help="Spark master URL (default: local[2], two cores here)")
    p.add_argument("--driver-memory", default="4g", help="the Spark driver's heap (default: 4g)")


def _warehouse(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warehouse", default=DEFAULT_WAREHOUSE, help=f"Spark warehouse folder (default: {DEFAULT_WAREHOUSE})"
    )


def _spark_build(args: argparse.Namespace, settings: Settings) -> int:
    from duckdb_clv.pipeline import Step
    from duckdb_clv.spark.build import spark_build

    started = time.perf_counter()
    with console.stage_progress() as progress:
        build = spark_build(
            settings.db,
            args.warehouse,
            settings.feature_vars(),
            master=args.master,
            driver_memory=args.driver_memory,
            progress=lambda done, total, name: progress(Step("build", done, total, name)),
        )
    result = build.result
    console.out.print(
        f"Built on Spark in {time.perf_counter() - started:.0f} s: scoring cutoff {result.scoring_cutoff} and "
        f"{len(result.training_cutoffs)} training cutoffs, {result.nodes} dbt nodes, under {build.warehouse}."
    )
    for name, folder in build.exports.items():
        console.out.print(f"  {name}: {folder}")
    return 0


def _spark_build_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.features(p)
    _warehouse(p)
    _master(p)


def _spark_train_set(args: argparse.Namespace, settings: Settings) -> int:
    from duckdb_clv.spark.build import SparkBuild
    from duckdb_clv.spark.training import training_database

    rows = training_database(SparkBuild.at(args.warehouse), settings.db, args.sample_share, args.seed)
    console.out.print(
        f"Wrote {rows:,} training rows ({args.sample_share:.0%} of the customers) and the scoring rows to "
        f"{settings.db}; train with `clv train --db {settings.db}`."
    )
    return 0


def _spark_train_set_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    _warehouse(p)
    p.add_argument(
        "--sample-share", type=float, default=1.0, help="share of customers to train on, 0 to 1 (default: 1, all)"
    )
    p.add_argument("--seed", type=int, default=0, help="picks the sampled customers (default: 0)")


def _spark_score(args: argparse.Namespace, settings: Settings) -> int:
    from duckdb_clv.spark.scoring import score_parquet

    started = time.perf_counter()
    rows = score_parquet(
        args.input,
        args.output,
        settings.models_dir,
        args.partitions,
        master=args.master,
        driver_memory=args.driver_memory,
    )
    console.out.print(
        f"Scored {rows:,} rows on Spark in {time.perf_counter() - started:.1f} s: {args.output} "
        "(predicted_clv, churn_probability, segment)."
    )
    return 0


def _spark_score_arguments(p: argparse.ArgumentParser) -> None:
    opt.models_dir(p)
    p.add_argument(
        "--in", dest="input", required=True, help="Parquet file or folder with the contract's feature columns"
    )
    p.add_argument("--out", dest="output", required=True, help="Parquet folder to write (replaced)")
    p.add_argument("--partitions", type=int, help="Spark partitions to score in (default: as read)")
    _master(p)


SPARK_BUILD = Command(
    "spark-build",
    help="build the dbt feature layer on Apache Spark (dbt-spark) from a loaded database",
    description="Copy the shop tables of a database loaded by `clv load` (without personal columns) into a Spark "
    "warehouse as Parquet and run the same dbt project there with dbt-spark: the same features, labels and "
    "segments as `clv build`. The ml views are exported as Parquet for `clv spark-train-set` and `clv spark-score`. "
    "Needs `pip install 'duckdb-clv[spark]'` and Java 17.",
    arguments=_spark_build_arguments,
    handler=_spark_build,
)
SPARK_TRAIN_SET = Command(
    "spark-train-set",
    help="write a Spark build's training rows (or a sample) to a database `clv train` reads",
    description="Copy ml_training_set (a seeded sample of its customers with --sample-share), ml_scoring_set and "
    "the cutoffs from a Spark build's exports into --db, laid out as `clv build` lays them out.",
    arguments=_spark_train_set_arguments,
    handler=_spark_train_set,
)
SPARK_SCORE = Command(
    "spark-score",
    help="score a Parquet file of feature rows on Spark with the registry's champions",
    description="Read rows with the feature contract's columns (ml_scoring_set as `clv spark-build` exports it), "
    "run the champion models in every Spark executor (mapInArrow, onnxruntime) and write the rows with "
    "predicted_clv, churn_probability and segment as Parquet.",
    arguments=_spark_score_arguments,
    handler=_spark_score,
)

COMMANDS = (SPARK_BUILD, SPARK_TRAIN_SET, SPARK_SCORE)
