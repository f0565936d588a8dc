"""``clv report``: the self-contained HTML report."""

from __future__ import annotations

import argparse

from duckdb_clv import console, pipeline
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.settings import Settings


def print_report(result: object) -> None:
    """Where the report is and how many charts it has."""
    console.out.print(f"Report with {result.images} charts: {result.path} (open it in a browser)")


def _report(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        oracle = pipeline.sample_shop_oracle(settings, args.ground_truth) if args.ground_truth else None
        print_report(pipeline.report(settings, oracle, progress))
    return 0


def _report_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.report(p)
    opt.ground_truth(p)


REPORT = Command(
    "report",
    help="write a self-contained HTML report: accuracy charts, feature importance, scored customers",
    description="Score the registered models on the test cutoff and write one HTML file with plots inline: "
    "cumulative gain with each model's normalized Gini, deciles, churn ROC and calibration, permutation "
    "importance of the champions, the predicted-CLV distribution, tiers, segments, an RFM heatmap and the "
    "model cards. The customer sections read customer_scores (run `clv score` first).",
    arguments=_report_arguments,
    handler=_report,
)

COMMANDS = (REPORT,)
