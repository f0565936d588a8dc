"""Argument parsing for ``clv``; each subcommand is a function in ``clv.commands``."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from clv import __version__, console
from clv.config import Settings, load_settings
from clv.errors import ClvError
from ingest.errors import IngestError
from ingest.generator.scenarios import SCENARIOS
from training.errors import TrainingError
from udfs.errors import UdfError

DEFAULTS = Settings()
DEFAULT_DB = DEFAULTS.db
DEFAULT_SHOP = "data/sample_shop"
SHOP_CUSTOMERS, SHOP_START, SHOP_END = 50_000, "2022-01-01", "2025-12-31"
DEFAULT_MODELS = DEFAULTS.models_dir
DEFAULT_PUBLISHED = DEFAULTS.published
DEFAULT_REPORT = DEFAULTS.report


def _add_db(p: argparse.ArgumentParser) -> None:
    # SUPPRESS lets `clv --db X load` and `clv load --db X` both work without one hiding the other.
    p.add_argument("--db", default=argparse.SUPPRESS, help=f"DuckDB database file (default: {DEFAULT_DB})")


def _add_models_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", default=argparse.SUPPRESS, help=f"model registry folder (default: {DEFAULT_MODELS})")


def _shop_args(p: argparse.ArgumentParser, customers: int) -> None:
    # Size and period default to None here and are filled in by the command, since a scenario
    # (clv generate --scenario) may bring its own.
    p.add_argument("--customers", type=int, help=f"number of customers (default: {customers:,})")
    p.add_argument(
        "--seed", type=int, default=42, help="random seed; the same arguments give identical files (default: 42)"
    )
    p.add_argument("--start", help=f"first day of the shop's history (default: {SHOP_START})")
    p.add_argument("--end", help=f"last day of the shop's history, inclusive (default: {SHOP_END})")


def _load_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--orders", action="append", metavar="FILE_OR_GLOB", help="orders file(s); may repeat")
    p.add_argument("--customers", action="append", metavar="FILE_OR_GLOB", help="customers file(s)")
    p.add_argument(
        "--order-items", dest="order_items", action="append", metavar="FILE_OR_GLOB", help="order item file(s)"
    )
    p.add_argument("--returns", action="append", metavar="FILE_OR_GLOB", help="returns/refunds file(s)")
    p.add_argument("--events", action="append", metavar="FILE_OR_GLOB", help="behaviour event file(s)")
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


def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of-date", help="scoring cutoff YYYY-MM-DD (default: the day after the last order)")
    p.add_argument(
        "--training-cutoff",
        dest="training_cutoffs",
        action="append",
        metavar="YYYY-MM-DD",
        help="a training cutoff; may repeat (default: month ends going back from the last fully observed one)",
    )
    p.add_argument("--n-training-cutoffs", type=int, help="number of default training cutoffs (default: 12)")
    p.add_argument("--horizon-days", type=int, help="label horizon in days (default: 365)")
    p.add_argument("--churn-window-days", type=int, help="churn window in days (default: 90)")


def _train_args(p: argparse.ArgumentParser, trials: int) -> None:
    p.add_argument("--seed", type=int, help="training seed; the same data and seed give the same models (default: 0)")
    p.add_argument("--trials", type=int, help=f"search trials per tree-ensemble family (default: {trials})")


def _score_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vip-percentile", type=float, help="predicted-CLV percentile for VIP (default: 0.95)")
    p.add_argument("--regular-percentile", type=float, help="percentile for regular (default: 0.5)")
    p.add_argument(
        "--discount-rate", type=float, help="annual rate for discounted_clv in customer_scores (default: 0.1)"
    )


def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", dest="published", help=f"serving database (default: {DEFAULT_PUBLISHED})")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report", help=f"HTML report to write (default: {DEFAULT_REPORT})")


def build_parser() -> argparse.ArgumentParser:
    """The full ``clv`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="clv",
        description="Customer lifetime value and churn prediction inside DuckDB.",
        epilog="Start with `clv demo`, or `clv load --orders my_orders.csv` for your own data.",
    )
    parser.add_argument("--version", action="version", version=f"duckdb-clv {__version__}")
    parser.add_argument("--config", help="settings file (default: clv.toml in the working directory, if there is one)")
    _add_db(parser)
    _add_models_dir(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gen = sub.add_parser(
        "generate",
        help="write a realistic sample shop (customers, orders, items, returns, events, ground truth)",
        description="Simulate an online shop with buy-till-you-die customers, seasonality, browsing "
        "behaviour, returns and discounts; writes one file per table plus the latent ground truth.",
    )
    _shop_args(gen, SHOP_CUSTOMERS)
    gen.add_argument("--out", default=DEFAULT_SHOP, help=f"output folder (default: {DEFAULT_SHOP})")
    gen.add_argument(
        "--dirty", action="store_true", help="inject realistic faults at documented rates (see faults.json)"
    )
    gen.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (default: parquet)")
    gen.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="an unusual shop shape instead of the documented one: "
        + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
        + ". A scenario with its own size or period uses it unless --customers, --start or --end is given",
    )
    gen.add_argument(
        "--workers", type=int, default=None, help="processes to use (default: all cores; output is the same)"
    )

    load = sub.add_parser(
        "load",
        help="validate and load CSV/Parquet files into schema raw",
        description="Load orders (required) and optionally customers, order items, returns and events. "
        "Rows failing a rule go to raw.rejected_<table>; counts go to raw.load_log; reloading is idempotent "
        "and a failed load changes nothing.",
    )
    _add_db(load)
    _load_args(load)

    build = sub.add_parser(
        "build",
        help="build the dbt feature layer: point-in-time features, labels, segments",
        description="Run `dbt build` on dbt_project/ against the database: staging, features for the scoring "
        "cutoff and every training cutoff, labels, RFM segments, and their tests. Incremental: cutoffs already "
        "built are kept; use --full-refresh after loading data dated before earlier cutoffs.",
    )
    _add_db(build)
    _build_args(build)
    build.add_argument("--full-refresh", action="store_true", help="rebuild every cutoff")
    build.add_argument("--select", help="dbt selector, to build part of the project")

    train = sub.add_parser(
        "train",
        help="train value and churn models, export them to ONNX and register them",
        description="Read ml_training_set, split by time (earlier cutoffs train, the second latest validates, the "
        "latest tests), fit the BG/NBD baseline, tree ensembles (with a budgeted search), MLPs, ZILN, a fused model "
        "and k-means segments; export each to ONNX with a parity check, register it with a model card, and make the "
        "best on validation the champion of its task.",
    )
    _add_db(train)
    _add_models_dir(train)
    _train_args(train, 4)
    train.add_argument("--only", metavar="FAMILIES", help="comma-separated subset of btyd,hgb,rf,mlp,ziln,fused,kmeans")

    evaluate = sub.add_parser(
        "evaluate",
        help="score the registered models on the test cutoff and compare them",
        description="Score the latest version of every value and churn model with onnxruntime on the test cutoff "
        "and print MAE, RMSE, Spearman, normalized Gini, decile MAPE and total ratio (value), and ROC-AUC, PR-AUC, "
        "Brier, log loss, precision/recall/F1 (churn), beside the BG/NBD baseline and, for a generated shop, "
        "the oracle.",
    )
    _add_db(evaluate)
    _add_models_dir(evaluate)
    evaluate.add_argument("--ground-truth", metavar="SHOP_DIR", help="a generated shop folder: adds the oracle")
    evaluate.add_argument("--out", default="build/evaluation.json", help="JSON report (default: build/evaluation.json)")

    models = sub.add_parser("models", help="list, show, promote or roll back registered models")
    _add_models_dir(models)
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="every model version, its task, validation score and champion mark")
    show = msub.add_parser("show", help="print a model card")
    show.add_argument("name")
    show.add_argument("version", nargs="?", help="e.g. v3 (default: the latest)")
    promote = msub.add_parser("promote", help="make a model version the champion of its task")
    promote.add_argument("task", choices=["value", "churn", "segment"])
    promote.add_argument("name")
    promote.add_argument("version", nargs="?", help="e.g. v3 (default: the latest)")
    rollback = msub.add_parser("rollback", help="point a task's champion back at the previous one")
    rollback.add_argument("task", choices=["value", "churn", "segment"])

    score = sub.add_parser(
        "score",
        help="score every customer in SQL with the champion models (dbt: customer_scores, segment_summary)",
        description="Run `dbt build --select tag:scores`: customer_scores (predicted CLV, churn probability, "
        "P(alive), segment, value tier, RFM segment, model versions) and segment_summary, with their tests. "
        "The scoring functions come from the udfs.dbt_plugin plugin of the dbt profile.",
    )
    _add_db(score)
    _add_models_dir(score)
    _score_args(score)

    publish = sub.add_parser(
        "publish",
        help="copy the scored marts into a separate read-only serving database, swapped in atomically",
        description="BI tools read the serving file, so builds never wait for them: customer_scores, "
        "segment_summary, fct_customer_features and dim_customers are copied into a new file, which replaces "
        "the old one in one rename.",
    )
    _add_db(publish)
    _publish_args(publish)

    sql = sub.add_parser(
        "sql",
        help="run SQL on the database: -c, statements on stdin, or a prompt",
        description="Open the database read-only and run SQL: one statement with -c, every statement piped "
        "on stdin, or an interactive prompt (end statements with ';').",
        epilog='Example: clv sql -c "select rfm_segment, count(*) from fct_customer_features '
        "where cutoff_role = 'scoring' group by 1\"",
    )
    _add_db(sql)
    _add_models_dir(sql)
    sql.add_argument("-c", "--command", dest="sql_command", help="the SQL to run (default: read stdin, or prompt)")

    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report: accuracy charts, feature importance, scored customers",
        description="Score the registered models on the test cutoff and write one HTML file with plots inline: "
        "cumulative gain with each model's normalized Gini, deciles, churn ROC and calibration, permutation "
        "importance of the champions, the predicted-CLV distribution, tiers, segments, an RFM heatmap and the "
        "model cards. The customer sections read customer_scores (run `clv score` first).",
    )
    _add_db(report)
    _add_models_dir(report)
    _report_args(report)
    report.add_argument("--ground-truth", metavar="SHOP_DIR", help="a generated shop folder: adds the oracle")

    run = sub.add_parser(
        "run",
        help="everything on your own data: load, build, train, evaluate, score, publish, report",
        description="Load your files (same options as `clv load`), build the features, train and register the "
        "models, evaluate them on the test cutoff, score every customer in SQL, publish the serving database "
        "and write the HTML report. Settings come from flags, then clv.toml, then the defaults.",
        epilog="Example: clv run --orders 'exports/orders_*.csv' --mapping mapping.yml",
    )
    _add_db(run)
    _add_models_dir(run)
    _load_args(run)
    _build_args(run)
    _train_args(run, 4)
    _score_args(run)
    _publish_args(run)
    _report_args(run)

    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on a generated sample shop",
        description="Generate a sample shop and run every stage on it: load into DuckDB, build the features, "
        "train and register the models, evaluate them against the BG/NBD baseline and the oracle, score every "
        "customer in SQL, publish the serving database and write the HTML report.",
    )
    _add_db(demo)
    _shop_args(demo, SHOP_CUSTOMERS)
    demo.add_argument("--out", default=DEFAULT_SHOP, help=f"where the sample shop files go (default: {DEFAULT_SHOP})")
    _add_models_dir(demo)
    demo.add_argument("--trials", type=int, default=2, help="search trials per tree-ensemble family (default: 2)")
    demo.add_argument(
        "--n-training-cutoffs",
        type=int,
        default=6,
        help="monthly training cutoffs; fewer than a full run's 12 keep the demo within minutes (default: 6)",
    )
    _publish_args(demo)
    _report_args(demo)
    return parser


def apply_settings(args: argparse.Namespace, settings: Settings) -> argparse.Namespace:
    """Fill every option the command line left unset from ``clv.toml`` (or the defaults)."""
    for field in dataclasses.fields(Settings):
        value = getattr(settings, field.name)
        if not hasattr(args, field.name):
            # Options every command shares (--db, --models-dir) are absent when not given.
            if field.name in ("db", "models_dir"):
                setattr(args, field.name, value)
        elif getattr(args, field.name) is None:
            setattr(args, field.name, list(value) if isinstance(value, tuple) else value)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run ``clv``; returns the exit code (0 ok, 2 user error)."""
    from clv import commands, models

    args = build_parser().parse_args(argv)
    handler = {
        "generate": commands.cmd_generate,
        "load": commands.cmd_load,
        "build": commands.cmd_build,
        "train": models.cmd_train,
        "evaluate": models.cmd_evaluate,
        "models": models.cmd_models,
        "score": commands.cmd_score,
        "publish": commands.cmd_publish,
        "sql": commands.cmd_sql,
        "report": commands.cmd_report,
        "run": commands.cmd_run,
        "demo": commands.cmd_demo,
    }[args.command]
    try:
        apply_settings(args, load_settings(args.config))
        return handler(args)
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
