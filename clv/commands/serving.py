"""``clv score``, ``clv publish``, ``clv web`` and ``clv sql``: scored marts, the serving database, its
scoring page, SQL with the functions."""

from __future__ import annotations

import argparse

import duckdb

from duckdb_clv import console, pipeline
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.score import ScoreResult
from duckdb_clv.settings import Settings


def print_score(result: ScoreResult) -> None:
    """How many customers were scored, and by which model versions."""
    console.out.print(
        f"Scored {result.customers:,} customers into customer_scores and segment_summary with "
        f"{result.value_model}, {result.churn_model} and {result.segment_model}."
    )
    history = "appended to" if result.recorded else "already in (same scoring date and models; nothing added to)"
    console.out.print(f"This run is {history} score_history, which holds {result.history_runs:,} scoring runs.")
    if result.drift:
        counts = ", ".join(f"{result.drift.get(s, 0)} {s}" for s in ("alert", "warning", "ok"))
        console.out.print(f"Drift since the models were trained (monitor_drift, seasonal and scoring): {counts}.")
    for line in result.unavailable:
        console.out.print(f"Unavailable: {line}.")
    for line in result.warnings:
        console.out.print(f"dbt warns: {line}")


def _score(_args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        print_score(pipeline.score(settings, progress))
    return 0


def _score_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.scoring(p)


SCORE = Command(
    "score",
    help="score every customer in SQL with the champion models (dbt: customer_scores, segment_summary, score_history)",
    description="Run `dbt build --select tag:scores`: customer_scores (predicted CLV, churn probability, "
    "P(alive), segment, value tier, RFM segment, model versions) and segment_summary, with their tests; the run "
    "is appended to score_history unless a run with the same scoring date and model versions is there, and its "
    "drift against the models' reference statistics to monitor_drift. "
    "The scoring functions come from the duckdb_clv.udfs.dbt_plugin plugin of the dbt profile.",
    arguments=_score_arguments,
    handler=_score,
)


def print_published(rows: dict[str, int], published: str) -> None:
    """The tables of the serving database and how to read it."""
    console.table(
        f"Published {published} (read-only use: BI tools, clv sql --db {published})",
        ["table", "rows"],
        [[t, n] for t, n in rows.items()],
    )


def print_highlights(published: str) -> None:
    """Top customers, valuable customers at risk, and tier and segment sizes from the published file."""
    with duckdb.connect(published, read_only=True) as con:
        for title, sql in (
            (
                "Top 10 customers by predicted CLV",
                "SELECT customer_id, round(predicted_clv, 2), round(churn_probability, 3), value_tier, rfm_segment "
                "FROM customer_scores ORDER BY predicted_clv DESC, customer_id LIMIT 10",
            ),
            (
                "High-value customers at risk (VIP, churn probability >= 0.5)",
                "SELECT customer_id, round(predicted_clv, 2), round(churn_probability, 3), rfm_segment "
                "FROM customer_scores WHERE value_tier = 'VIP' AND churn_probability >= 0.5 "
                "ORDER BY predicted_clv DESC, customer_id LIMIT 10",
            ),
            (
                "Segments and tiers",
                "SELECT segment, value_tier, customers, round(mean_predicted_clv, 2), round(mean_churn_probability, 3) "
                "FROM segment_summary ORDER BY segment, value_tier",
            ),
        ):
            result = con.execute(sql)
            columns = [d[0] for d in result.description]
            console.table(title, columns, [list(r) for r in result.fetchall()])


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        rows = pipeline.publish(settings, progress, sql_models=args.with_sql_models)
    print_published(rows, settings.published)
    return 0


def _publish_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    opt.published(p)
    p.add_argument(
        "--with-sql-models",
        action="store_true",
        help="also write the champions as SQL macros (predict_clv, churn_score, ...) that any DuckDB client "
        "can call without Python; see docs/SCORING.md",
    )


PUBLISH = Command(
    "publish",
    help="copy the scored marts into a separate read-only serving database, swapped in atomically",
    description="BI tools read the serving file, so builds never wait for them: customer_scores, "
    "segment_summary, fct_customer_features and dim_customers are copied into a new file, which replaces "
    "the old one in one rename.",
    arguments=_publish_arguments,
    handler=_publish,
)


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    from duckdb_clv.sql import sql_session

    return sql_session(settings.db, args.sql_command, settings.models_dir)


def _sql_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.models_dir(p)
    p.add_argument("-c", "--command", dest="sql_command", help="the SQL to run (default: read stdin, or prompt)")


SQL = Command(
    "sql",
    help="run SQL on the database: -c, statements on stdin, or a prompt",
    description="Open the database read-only and run SQL: one statement with -c, every statement piped "
    "on stdin, or an interactive prompt (end statements with ';').",
    epilog='Example: clv sql -c "select rfm_segment, count(*) from fct_customer_features '
    "where cutoff_role = 'scoring' group by 1\"",
    arguments=_sql_arguments,
    handler=_sql,
)


def _web(args: argparse.Namespace, settings: Settings) -> int:
    from duckdb_clv.web_page import write_page

    with console.stage_progress() as progress:
        progress(pipeline.Step("web page", 0, 1, args.web_folder))
        page = write_page(settings.published, args.web_folder, args.vendor)
        progress(pipeline.Step("web page", 1, 1, args.web_folder))
    where = "copied into vendor/" if page.libraries == "local" else f"loaded from {page.libraries}"
    console.out.print(
        f"Wrote {page.folder}: {page.customers:,} customers' rows ({page.rows_table}) and the compiled champions; "
        f"DuckDB-WASM {where}.\nServe it with any static server, for example: "
        f"python -m http.server --directory {page.folder} 8000, then open http://localhost:8000/"
    )
    return 0


def _web_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="published", help="the database `clv publish --with-sql-models` wrote (default: its --to)"
    )
    p.add_argument("--out", dest="web_folder", default="build/web", help="folder to write (default: build/web)")
    p.add_argument(
        "--vendor",
        help="an npm node_modules folder with @duckdb/duckdb-wasm (`make web-deps`), copied so the page works "
        "offline (default: the page loads DuckDB-WASM from the jsDelivr CDN)",
    )


WEB = Command(
    "web",
    help="write a static page that scores customers in the browser (DuckDB-WASM and the compiled macros)",
    description="From a database published with --with-sql-models: a folder with index.html, the compiled "
    "champions and the scoring date's feature rows (clv.duckdb, in a storage format DuckDB-WASM reads). Any "
    "static file server hosts it; a user picks a customer, edits features and sees the what-if scores. "
    "See docs/SCORING.md.",
    arguments=_web_arguments,
    handler=_web,
)

COMMANDS = (SCORE, PUBLISH, WEB, SQL)
