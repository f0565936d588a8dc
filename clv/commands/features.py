"""``clv build``: the dbt feature layer."""

from __future__ import annotations

import argparse

from duckdb_clv import console, pipeline
from duckdb_clv.build import BuildResult
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.settings import Settings


def print_build_result(result: BuildResult, db: str) -> None:
    """Say what the build produced, including when there is nothing to train on."""
    if result.training_cutoffs:
        console.out.print(
            f"Built features for scoring cutoff {result.scoring_cutoff} and {len(result.training_cutoffs)} "
            f"training cutoffs ({result.training_cutoffs[0]} to {result.training_cutoffs[-1]}) in {db}."
        )
    else:
        console.out.print(
            f"[yellow]No training cutoffs:[/] the history is shorter than the horizon, so only the scoring "
            f"cutoff {result.scoring_cutoff} was built; training will fit the BG/NBD baseline alone."
        )
    console.out.print("Query them: ml_scoring_set, ml_training_set, fct_customer_features, fct_customer_labels.")


def _build(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        result = pipeline.build(settings, full_refresh=args.full_refresh, select=args.select, progress=progress)
    print_build_result(result, settings.db)
    return 0


def _build_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.features(p)
    p.add_argument("--full-refresh", action="store_true", help="rebuild every cutoff")
    p.add_argument("--select", help="dbt selector, to build part of the project")


BUILD = Command(
    "build",
    help="build the dbt feature layer: point-in-time features, labels, segments",
    description="Run `dbt build` on the project's dbt models against the database: staging, features for the "
    "scoring cutoff and every training cutoff, labels, RFM segments, and their tests. Incremental: cutoffs "
    "already built are kept; use --full-refresh after loading data dated before earlier cutoffs.",
    arguments=_build_arguments,
    handler=_build,
)

COMMANDS = (BUILD,)
