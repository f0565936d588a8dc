"""Options several subcommands share; their ``dest`` names are ``Settings`` fields where they set one."""

from __future__ import annotations

import argparse

from duckdb_clv.settings import Settings
from duckdb_clv.training.settings import DEFAULT_FAMILIES, FAMILIES

DEFAULTS = Settings()


def db(p: argparse.ArgumentParser) -> None:
    """``--db``: the working database."""
    # SUPPRESS lets `clv --db X load` and `clv load --db X` both work without one hiding the other.
    p.add_argument("--db", default=argparse.SUPPRESS, help=f"DuckDB database file (default: {DEFAULTS.db})")


def models_dir(p: argparse.ArgumentParser) -> None:
    """``--models-dir``: the model registry."""
    p.add_argument(
        "--models-dir", default=argparse.SUPPRESS, help=f"model registry folder (default: {DEFAULTS.models_dir})"
    )


def load(p: argparse.ArgumentParser) -> None:
    """The input files, mapping and date bounds of ``clv load`` and ``clv run``."""
    p.add_argument("--orders", action="append", metavar="FILE_OR_GLOB", help="orders file(s); may repeat")
    p.add_argument("--customers", action="append", metavar="FILE_OR_GLOB", help="customers file(s)")
    p.add_argument(
        "--order-items", dest="order_items", action="append", metavar="FILE_OR_GLOB", help="order item file(s)"
    )
    p.add_argument("--returns", action="append", metavar="FILE_OR_GLOB", help="returns/refunds file(s)")
    p.add_argument("--events", action="append", metavar="FILE_OR_GLOB", help="behaviour event file(s)")
    p.add_argument(
        "--campaigns",
        action="append",
        metavar="FILE_OR_GLOB",
        help="campaign history: one row per customer sent an action (see docs/ACTIONS.md)",
    )
    p.add_argument("--mapping", help="YAML file mapping your column names and formats (see docs/LOADING.md)")
    p.add_argument(
        "--map",
        action="append",
        metavar="[TABLE.]COLUMN=SOURCE",
        help="map one column or option, e.g. --map customer_id=cust_no --map orders.date_format=%%d.%%m.%%Y",
    )
    p.add_argument("--min-date", default="1990-01-01", help="reject timestamps before this date (default: 1990-01-01)")
    p.add_argument("--max-date", default=None, help="reject timestamps after this date (default: tomorrow)")
    p.add_argument(
        "--pseudonymize",
        action="store_true",
        help="replace customer ids by a keyed hash (key: $CLV_PSEUDONYM_KEY) and skip name, email, phone, address",
    )


def features(p: argparse.ArgumentParser) -> None:
    """The cutoffs and label windows of the feature layer."""
    p.add_argument("--as-of-date", help="scoring cutoff YYYY-MM-DD (default: the day after the last order)")
    p.add_argument(
        "--training-cutoff",
        dest="training_cutoffs",
        action="append",
        metavar="YYYY-MM-DD",
        help="a training cutoff; may repeat (default: month ends going back from the last fully observed one)",
    )
    p.add_argument(
        "--n-training-cutoffs",
        type=int,
        help=f"number of default training cutoffs (default: {DEFAULTS.n_training_cutoffs})",
    )
    windows(p)


def windows(p: argparse.ArgumentParser) -> None:
    """The label horizon and churn window."""
    p.add_argument("--horizon-days", type=int, help=f"label horizon in days (default: {DEFAULTS.horizon_days})")
    p.add_argument(
        "--churn-window-days", type=int, help=f"churn window in days (default: {DEFAULTS.churn_window_days})"
    )


def training(p: argparse.ArgumentParser) -> None:
    """The training seed and search budget."""
    p.add_argument(
        "--seed",
        type=int,
        help=f"training seed; the same data and seed give the same models (default: {DEFAULTS.seed})",
    )
    p.add_argument("--trials", type=int, help=f"search trials per tree-ensemble family (default: {DEFAULTS.trials})")


def families(p: argparse.ArgumentParser) -> None:
    """``--only``: a subset of the model families."""
    p.add_argument(
        "--only",
        metavar="FAMILIES",
        help=f"comma-separated subset of {','.join(FAMILIES)} (default: {','.join(DEFAULT_FAMILIES)}; "
        "the sequence models lstm and cnn are trained only when named)",
    )


def families_of(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The families ``--only`` names, or None for all."""
    return tuple(f.strip() for f in args.only.split(",")) if args.only else None


def scoring(p: argparse.ArgumentParser) -> None:
    """The value tiers and the discount rate of the scored marts."""
    p.add_argument(
        "--vip-percentile", type=float, help=f"predicted-CLV percentile for VIP (default: {DEFAULTS.vip_percentile})"
    )
    p.add_argument(
        "--regular-percentile", type=float, help=f"percentile for regular (default: {DEFAULTS.regular_percentile})"
    )
    p.add_argument(
        "--discount-rate",
        type=float,
        help=f"annual rate for discounted_clv in customer_scores (default: {DEFAULTS.discount_rate})",
    )
    p.add_argument(
        "--no-drivers",
        dest="explain_drivers",
        action="store_const",
        const=False,
        help="leave customer_scores.top_drivers empty: explaining every customer costs about 100x scoring it",
    )


def published(p: argparse.ArgumentParser) -> None:
    """``--to``: the serving database."""
    p.add_argument("--to", dest="published", help=f"serving database (default: {DEFAULTS.published})")


def report(p: argparse.ArgumentParser) -> None:
    """``--report``: the HTML report."""
    p.add_argument("--report", help=f"HTML report to write (default: {DEFAULTS.report})")


def ground_truth(p: argparse.ArgumentParser) -> None:
    """``--ground-truth``: a generated shop, whose oracle joins the evaluation."""
    p.add_argument("--ground-truth", metavar="SHOP_DIR", help="a generated shop folder: adds the oracle")
