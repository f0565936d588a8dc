"""``clv monitor``: the drift warnings and alerts of the latest scoring runs, for people and schedulers."""

from __future__ import annotations

import argparse

from duckdb_clv import console
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.monitor import LEVELS, drift_findings
from duckdb_clv.settings import Settings


def _monitor(args: argparse.Namespace, settings: Settings) -> int:
    report = drift_findings(settings.db, args.runs)
    console.out.print(f"{report.runs:,} scoring runs with drift measured in {settings.db}; the newest {report.shown}:")
    if report.findings:
        console.table(
            "Drift warnings and alerts, newest run first (monitor_drift, scoring baseline)",
            ["scoring date", "models", "column", "psi", "ks", "missing change", "status"],
            [
                [
                    str(f.as_of_date),
                    f.models,
                    f.column,
                    f"{f.psi:.3f}",
                    f"{f.ks_distance:.3f}",
                    f"{f.missing_share_change:+.3f}",
                    f.status,
                ]
                for f in report.findings
            ],
        )
    else:
        console.out.print("No drift warnings or alerts: every column's PSI is at or below the warning threshold.")
    if args.fail_on:
        failing = report.newest_at_least(args.fail_on)
        if failing:
            console.err.print(
                f"the newest scoring run has {len(failing)} column(s) at {args.fail_on} or worse "
                f"({', '.join(f.column for f in failing[:5])}{', ...' if len(failing) > 5 else ''})"
            )
            return 1
    return 0


def _arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    p.add_argument("--runs", type=int, default=3, help="how many of the newest scoring runs to show (default 3)")
    p.add_argument(
        "--fail-on",
        choices=LEVELS,
        help="exit 1 when the newest run has a column at this level or worse (for schedulers)",
    )


MONITOR = Command(
    "monitor",
    help="show drift warnings and alerts of the latest scoring runs (monitor_drift)",
    description="List the columns whose population stability index against the model cards' reference warns "
    "(above 0.1) or alerts (above 0.2), newest scoring run first. Works on the working or the published "
    "database. See docs/MONITORING.md.",
    arguments=_arguments,
    handler=_monitor,
)

COMMANDS = (MONITOR,)
