"""``clv run`` and ``clv demo``: every stage, on your files or on a generated sample shop."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from duckdb_clv import console, pipeline
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.commands.data import (
    DEFAULT_SHOP,
    SHOP_CUSTOMERS,
    generate,
    load_options,
    print_load_report,
    shop_arguments,
)
from duckdb_clv.commands.features import print_build_result
from duckdb_clv.commands.models import print_evaluation, print_policies, print_training
from duckdb_clv.commands.report import print_report
from duckdb_clv.commands.serving import print_highlights, print_published, print_score
from duckdb_clv.ingest.schema import LOAD_ORDER
from duckdb_clv.settings import Settings

# The demo's defaults keep it within minutes; `clv run` uses the settings' own.
DEMO_TRIALS, DEMO_TRAINING_CUTOFFS = 2, 6


def _printers(settings: Settings) -> dict[str, Callable[[object], None]]:
    """What to print as each stage of ``pipeline.run`` finishes."""

    def published(rows: object) -> None:
        print_published(rows, settings.published)
        print_highlights(settings.published)

    return {
        "load": print_load_report,
        "build": lambda result: print_build_result(result, settings.db),
        "train": lambda result: print_training(result, settings.models_dir),
        "evaluate": lambda report: (
            print_evaluation(report),
            print_policies(report.get("policies")),
            console.out.print(f"Full report: {settings.evaluation}"),
        ),
        "score": print_score,
        "publish": published,
        "report": print_report,
    }


def _run_and_print(settings: Settings, **run_options: object) -> None:
    printers = _printers(settings)
    with console.stage_progress(on_result=lambda stage, result: printers[stage](result)) as progress:
        result = pipeline.run(settings, **run_options, progress=progress)
    if result.report is None:
        console.out.print(
            "[yellow]Skipped the evaluation and the report: the history is too short for a test cutoff, so the "
            "champions were fitted without one. Every customer is scored; retrain once more history arrives.[/]"
        )
    console.out.print(
        "\nTry next:\n"
        f'  clv sql --db {settings.published} -c "select customer_id, predicted_clv, churn_probability, value_tier '
        'from customer_scores order by predicted_clv desc limit 20"\n'
        f'  clv sql --db {settings.db} -c "select customer_id, predict_clv(s) as clv, churn_score(s) as churn '
        'from ml_scoring_set s order by clv desc limit 5"\n'
        "  clv models list" + (f"\n  open {settings.report}" if result.report is not None else "")
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    _run_and_print(settings, **load_options(args))
    return 0


def _run_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.load(p)
    opt.features(p)
    opt.training(p)
    opt.scoring(p)
    opt.published(p)
    opt.report(p)


RUN = Command(
    "run",
    help="everything on your own data: load, build, train, evaluate, score, publish, report",
    description="Load your files (same options as `clv load`), build the features, train and register the "
    "models, evaluate them on the test cutoff, score every customer in SQL, publish the serving database "
    "and write the HTML report. Settings come from flags, then clv.toml, then the defaults.",
    epilog="Example: clv run --orders 'exports/orders_*.csv' --mapping mapping.yml",
    arguments=_run_arguments,
    handler=_run,
)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    shop = generate(args)
    # The campaigns file exists only for a shop generated with campaigns.
    inputs = {t: [str(path)] for t in LOAD_ORDER if (path := Path(shop) / f"{t}.parquet").exists()}
    _run_and_print(settings, inputs=inputs, ground_truth=shop)
    return 0


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    shop_arguments(p)
    p.add_argument("--out", default=DEFAULT_SHOP, help=f"where the sample shop files go (default: {DEFAULT_SHOP})")
    opt.models_dir(p)
    p.add_argument(
        "--trials",
        type=int,
        default=DEMO_TRIALS,
        help=f"search trials per tree-ensemble family (default: {DEMO_TRIALS})",
    )
    p.add_argument(
        "--n-training-cutoffs",
        type=int,
        default=DEMO_TRAINING_CUTOFFS,
        help=f"monthly training cutoffs; fewer than a full run's keep the demo within minutes "
        f"(default: {DEMO_TRAINING_CUTOFFS})",
    )
    opt.published(p)
    opt.report(p)


DEMO = Command(
    "demo",
    help="run the whole pipeline on a generated sample shop",
    description=f"Generate a sample shop ({SHOP_CUSTOMERS:,} customers by default) and run every stage on it: "
    "load into DuckDB, build the features, train and register the models, evaluate them against the BG/NBD "
    "baseline and the oracle, score every customer in SQL, publish the serving database and write the HTML "
    "report.",
    arguments=_demo_arguments,
    handler=_demo,
)

COMMANDS = (RUN, DEMO)
