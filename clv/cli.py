"""``clv``: parse the arguments, select the settings, run the subcommand, print errors as one line.

The subcommands are declared beside their handlers in ``duckdb_clv.commands``; the work is done
by the library (``duckdb_clv.pipeline``), which notebooks and orchestrators call directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from duckdb_clv import __version__, console
from duckdb_clv.commands import (
    Command,
    backtest,
    data,
    features,
    models,
    monitoring,
    options,
    report,
    run,
    serving,
    spark,
)
from duckdb_clv.errors import ClvError
from duckdb_clv.ingest.errors import IngestError
from duckdb_clv.settings import Settings, load_settings
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.udfs.errors import UdfError

COMMANDS: tuple[Command, ...] = (
    *data.COMMANDS,
    *features.COMMANDS,
    *models.COMMANDS,
    *serving.COMMANDS,
    *monitoring.COMMANDS,
    *report.COMMANDS,
    *backtest.COMMANDS,
    *spark.COMMANDS,
    *run.COMMANDS,
)
SETTINGS = tuple(f.name for f in dataclasses.fields(Settings))


def build_parser() -> argparse.ArgumentParser:
    """The full ``clv`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="clv",
        description="Customer lifetime value and churn prediction inside DuckDB.",
        epilog="Start with `clv demo`, or `clv load --orders my_orders.csv` for your own data.",
    )
    parser.add_argument("--version", action="version", version=f"duckdb-clv {__version__}")
    parser.add_argument("--config", help="settings file (default: clv.toml in the working directory, if there is one)")
    options.db(parser)
    options.models_dir(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_to(sub)
    return parser


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings the arguments select: each flag given, then ``clv.toml`` (or ``--config``), then defaults."""
    return load_settings(args.config, **{name: getattr(args, name, None) for name in SETTINGS})


def main(argv: list[str] | None = None) -> int:
    """Run ``clv``; returns the exit code (0 ok, 2 user error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, settings_for(args))
    except (IngestError, ClvError, TrainingError, UdfError) as err:
        return console.fail(str(err))
    except OSError as err:
        # A path the user gave that cannot be read or written (missing folder, no permission, disk full).
        where = f": {err.filename}" if err.filename else ""
        return console.fail(f"{err.strerror or err}{where}; check the path and its permissions")
    except KeyboardInterrupt:
        return console.fail("interrupted; nothing was committed")


if __name__ == "__main__":
    sys.exit(main())
