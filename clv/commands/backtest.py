"""``clv backtest``: the whole pipeline as of earlier dates, scored against what then happened."""

from __future__ import annotations

import argparse

from duckdb_clv import console
from duckdb_clv.backtest import DEFAULT_ORIGINS, backtest
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.commands.models import print_evaluation
from duckdb_clv.settings import Settings


def print_backtest(result: dict) -> None:
    """Per origin: the metrics tables, the aggregate forecast and, with an oracle, the Gini gap closed."""
    for origin in result["origins"]:
        where = (
            f"at origin {origin['origin']}, {result['horizon_days']} days ahead "
            f"({origin['rows']:,} customers known at the origin)"
        )
        print_evaluation(origin, where)
        revenue, active = origin["forecast"]["revenue"], origin["forecast"]["active_customers"]
        line = f"Forecast from {origin['origin']}: revenue {revenue.get('predicted', float('nan')):,.0f} predicted"
        line += f" vs {revenue['realised']:,.0f} realised"
        line += f" (x{revenue['ratio']:.3f})" if "ratio" in revenue else ""
        line += f"; active customers {active.get('predicted', float('nan')):,.0f} vs {active['realised']:,}"
        line += f" (x{active['ratio']:.3f})" if "ratio" in active else ""
        console.out.print(line)
        if origin.get("gini_gap_closed") is not None:
            console.out.print(
                f"The value champion closes {origin['gini_gap_closed']:.0%} of the normalized-Gini gap "
                "between BG/NBD and the oracle."
            )
        for note in origin["notes"]:
            console.out.print(f"[yellow]{note}[/]")
    if result.get("work"):
        console.out.print(f"Working copies kept in {result['work']}")


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        result = backtest(
            settings,
            args.origins,
            args.n_origins,
            opt.families_of(args),
            args.ground_truth,
            progress,
            keep_work=args.keep_work,
        )
    print_backtest(result)
    console.out.print(f"Full results: {settings.backtest}")
    return 0


def _backtest_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    p.add_argument(
        "--origin",
        dest="origins",
        action="append",
        metavar="YYYY-MM-DD",
        help="a forecast origin; may repeat (default: the latest whose horizon is fully observed, and "
        f"up to {DEFAULT_ORIGINS - 1} more a quarter apart)",
    )
    p.add_argument(
        "--n-origins", type=int, default=DEFAULT_ORIGINS, help=f"default origins at most (default: {DEFAULT_ORIGINS})"
    )
    opt.windows(p)
    opt.training(p)
    opt.families(p)
    opt.ground_truth(p)
    p.add_argument("--out", dest="backtest", help=f"JSON results (default: {opt.DEFAULTS.backtest})")
    p.add_argument(
        "--keep-work",
        action="store_true",
        help="keep each origin's database and model registry (beside --db, in .backtest-*) to inspect its cards",
    )


BACKTEST = Command(
    "backtest",
    help="what the tool would have said at earlier dates, against what then happened",
    description="For each forecast origin, copy the data as it stood at the end of that day, run the whole "
    "pipeline on the copy (features, training, selection, calibration), score the customers known then, and "
    "compare with what they did over the next horizon: the metrics of `clv evaluate`, plus predicted and "
    "realised revenue and active customers. Nothing dated after an origin is in its copy. The database is "
    "left as it is.",
    arguments=_backtest_arguments,
    handler=_backtest,
)

COMMANDS = (BACKTEST,)
