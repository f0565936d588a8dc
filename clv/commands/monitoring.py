"""``clv monitor``: the drift warnings and alerts of the latest scoring runs, for people and schedulers."""

from __future__ import annotations

import argparse

from duckdb_clv import console
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.monitor import LEVELS, drift_findings, run_accuracy
from duckdb_clv.settings import Settings


def _monitor(args: argparse.Namespace, settings: Settings) -> int:
    report = drift_findings(settings.db, args.runs)
    console.out.print(f"{report.runs:,} scoring runs with drift measured in {settings.db}; the newest {report.shown}:")
    if report.findings:
        console.table(
            "Drift warnings and alerts, newest run first (monitor_drift)",
            ["scoring date", "models", "baseline", "column", "seasonal shift (z)", "psi", "missing change", "status"],
            [
                [
                    str(f.as_of_date),
                    f.models,
                    f.baseline,
                    f.column,
                    "" if f.shift is None else f"{f.shift:+.3f} ({f.shift_z:+.1f})",
                    "" if f.psi is None else f"{f.psi:.3f}",
                    "" if f.missing_share_change is None else f"{f.missing_share_change:+.3f}",
                    f.status,
                ]
                for f in report.findings
            ],
        )
    else:
        console.out.print("No drift warnings or alerts: every column is within the thresholds (docs/MONITORING.md).")
    accuracy = run_accuracy(settings.db, args.runs)
    if accuracy:
        console.table(
            "How the runs turned out so far (monitor_accuracy; blank until the window has elapsed)",
            ["scoring date", "horizon seen", "total ratio", "to-date ratio", "gini", "churn AUC", "churn rate"],
            [
                [
                    str(a.as_of_date),
                    f"{a.horizon_share:.0%}",
                    _figure(a.total_ratio),
                    _figure(a.to_date_ratio),
                    _figure(a.normalized_gini),
                    _figure(a.roc_auc),
                    "" if a.churn_rate is None else f"{a.churn_rate:.1%} (predicted {a.predicted_churn_rate:.1%})",
                ]
                for a in accuracy
            ],
        )
    if args.fail_on:
        failing = report.newest_at_least(args.fail_on)
        if failing:
            console.err.print(
                f"the newest scoring run has {len(failing)} column(s) at {args.fail_on} or worse "
                f"({', '.join(f.column for f in failing[:5])}{', ...' if len(failing) > 5 else ''})"
            )
            return 1
    return 0


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


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
    description="List the columns that warn or alert, newest scoring run first: a seasonal shift (the "
    "year-over-year change of a feature against the one at training time) above 0.15 warns and above 0.3 "
    "alerts; a population stability index against the training run's customers above 0.2 warns and above 0.5 "
    "alerts. Works on the working or the published database. See docs/MONITORING.md.",
    arguments=_arguments,
    handler=_monitor,
)

COMMANDS = (MONITOR,)
