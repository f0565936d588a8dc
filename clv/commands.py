"""What each subcommand does, given parsed arguments: call the library, show the outcome."""

from __future__ import annotations

import argparse
from pathlib import Path

from clv import console
from clv.build import BuildResult, build_features, dbt_vars
from ingest import generate_shop
from ingest.generator.params import ShopParams
from ingest.generator.scenarios import scenario
from ingest.loader import LoadReport, load_files
from ingest.mapping import apply_flags, read_mapping
from ingest.pseudonymize import from_environment
from ingest.schema import LOAD_ORDER

SHOP_FILES = {t: f"{t}.parquet" for t in LOAD_ORDER}


def shop_shape(args: argparse.Namespace) -> tuple[int, str, str, ShopParams | None]:
    """Customers, start, end and parameters: the flags, else the scenario's own, else the documented shop."""
    from clv.cli import SHOP_CUSTOMERS, SHOP_END, SHOP_START

    chosen = scenario(args.scenario) if getattr(args, "scenario", None) else None

    def pick(flag: object, own: object, default: object) -> object:
        return flag if flag is not None else own if own is not None else default

    customers = pick(args.customers, chosen and chosen.customers, SHOP_CUSTOMERS)
    start = pick(args.start, chosen and chosen.start, SHOP_START)
    end = pick(args.end, chosen and chosen.end, SHOP_END)
    return customers, start, end, chosen.shop_params() if chosen else None


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate the sample shop."""
    customers, start, end, params = shop_shape(args)
    with console.progress_bar(f"Generating {customers:,} customers") as update:
        shop = generate_shop(
            args.out,
            customers=customers,
            seed=args.seed,
            start=start,
            end=end,
            dirty=args.dirty,
            fmt=args.format,
            workers=args.workers,
            params=params,
            progress=update,
        )
    console.table(
        f"Sample shop in {shop.out_dir}",
        ["table", "rows", "file"],
        [[t, shop.rows[t], str(p)] for t, p in shop.files.items()],
    )
    if args.dirty:
        console.out.print(f"Injected faults are listed in {shop.out_dir / 'faults.json'}")
    return 0


def print_load_report(report: LoadReport) -> None:
    """The per-file counts of a load, with the rules that rejected rows."""
    per_table: dict[str, int] = {}
    for f in report.files:
        per_table[f.table] = per_table.get(f.table, 0) + 1
    rows = []
    for f in report.files:
        rules = ", ".join(f"{k} {v:,}" for k, v in sorted(f.rejected_by_rule.items(), key=lambda kv: -kv[1]))
        name = f.table if per_table[f.table] == 1 else f"{f.table} ({Path(f.source_file).name})"
        rows.append(
            [name, f.rows_read, f.rows_inserted, f.rows_updated, f.rows_unchanged, f.rows_rejected, rules or "-"]
        )
    console.table(
        f"Load {report.load_id} into {report.db_path}",
        ["table", "read", "new", "updated", "same", "rejected", "rejected by rule"],
        rows,
    )
    totals = report.totals()
    console.out.print(
        f"read {totals['rows_read']:,} = loaded {totals['rows_loaded']:,} + rejected {totals['rows_rejected']:,}"
        + (f"; {report.derived_customers:,} customers derived from orders" if report.derived_customers else "")
    )
    if totals["rows_rejected"]:
        console.out.print("Rejected rows, with their rule, file and line, are in raw.rejected_<table>.")


def cmd_load(args: argparse.Namespace) -> int:
    """Load files into schema raw."""
    mapping = read_mapping(args.mapping) if args.mapping else {}
    mapping = apply_flags(mapping, args.map or [])
    inputs = {t: getattr(args, t) for t in LOAD_ORDER if getattr(args, t)}
    pseudonymizer = from_environment() if args.pseudonymize else None
    with console.out.status("Loading…"):
        report = load_files(
            args.db,
            inputs,
            mapping,
            args.min_date,
            args.max_date,
            progress=console.out.print,
            pseudonymizer=pseudonymizer,
        )
    print_load_report(report)
    return 0


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


def cmd_build(args: argparse.Namespace) -> int:
    """Build the dbt feature layer."""
    variables = dbt_vars(
        args.as_of_date, args.training_cutoffs, args.horizon_days, args.churn_window_days, args.n_training_cutoffs
    )
    with console.progress_bar("dbt build") as update:
        result = build_features(
            args.db,
            variables,
            full_refresh=args.full_refresh,
            select=args.select,
            progress=lambda done, total, _name: update(done, total),
        )
    print_build_result(result, args.db)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run SQL on the database."""
    from clv.sql import sql_session

    return sql_session(args.db, args.sql_command, args.models_dir)


def print_highlights(published: str) -> None:
    """Top customers, valuable customers at risk, and tier and segment sizes from the published file."""
    import duckdb

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


def cmd_score(args: argparse.Namespace) -> int:
    """Build the scored marts with dbt."""
    from clv.score import score_customers

    with console.progress_bar("Scoring customers (dbt build --select tag:scores)") as update:
        result = score_customers(
            args.db,
            args.models_dir,
            args.vip_percentile,
            args.regular_percentile,
            args.discount_rate,
            progress=lambda done, total, _name: update(done, total),
        )
    console.out.print(
        f"Scored {result['customers']:,} customers into customer_scores and segment_summary with "
        f"{result['value_model']}, {result['churn_model']} and {result['segment_model']}."
    )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Copy the scored marts into the serving database."""
    from clv.publish import publish

    with console.out.status(f"Publishing to {args.published}…"):
        rows = publish(args.db, args.published)
    console.table(
        f"Published {args.published} (read-only use: BI tools, clv sql --db {args.published})",
        ["table", "rows"],
        [[t, n] for t, n in rows.items()],
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report."""
    from training.html_report import write_report

    with console.out.status("Writing the report…") as status:
        result = write_report(
            args.db,
            args.models_dir,
            args.report,
            ground_truth=args.ground_truth,
            progress=lambda step: status.update(f"Report: {step}…"),
        )
    console.out.print(f"Report with {result.images} charts: {result.path} (open it in a browser)")
    return 0


def _model_to_report(args: argparse.Namespace, ground_truth: str | None) -> None:
    """Build, train, evaluate, score, publish and report: the stages after loading, shared by run and demo."""
    from clv.models import cmd_evaluate, cmd_train

    def option(name: str) -> object:
        # Options a command does not have (clv demo has few) keep the project's defaults.
        return getattr(args, name, None)

    cmd_build(
        argparse.Namespace(
            db=args.db,
            full_refresh=False,
            select=None,
            **{
                name: option(name)
                for name in (
                    "as_of_date",
                    "training_cutoffs",
                    "horizon_days",
                    "churn_window_days",
                    "n_training_cutoffs",
                )
            },
        )
    )
    cmd_train(argparse.Namespace(db=args.db, models_dir=args.models_dir, seed=args.seed, trials=args.trials, only=None))
    # A history too short for a time split trains the baseline alone: it scores, but there is no
    # test cutoff to evaluate or report on, so those two stages are skipped, not failed.
    evaluable = _has_test_cutoff(Path(args.models_dir))
    if evaluable:
        cmd_evaluate(
            argparse.Namespace(
                db=args.db,
                models_dir=args.models_dir,
                ground_truth=ground_truth,
                out=str(Path(args.db).parent / "evaluation.json"),
            )
        )
    cmd_score(
        argparse.Namespace(
            db=args.db,
            models_dir=args.models_dir,
            **{name: option(name) for name in ("vip_percentile", "regular_percentile", "discount_rate")},
        )
    )
    cmd_publish(args)
    print_highlights(args.published)
    if evaluable:
        cmd_report(
            argparse.Namespace(db=args.db, models_dir=args.models_dir, report=args.report, ground_truth=ground_truth)
        )
    else:
        console.out.print(
            "[yellow]Skipped the evaluation and the report: the history is too short for a test cutoff, so the "
            "champions were fitted without one. Every customer is scored; retrain once more history arrives.[/]"
        )


def _has_test_cutoff(models_dir: Path) -> bool:
    """Whether the value champion was trained with a time split (and so has a test cutoff)."""
    from udfs import registry

    pointer = registry.champion(models_dir, "value")
    card = registry.read_card(models_dir, pointer["name"], pointer["version"]) if pointer else {}
    return bool(card.get("cutoffs", {}).get("test"))


def _try_next(args: argparse.Namespace) -> None:
    console.out.print(
        "\nTry next:\n"
        f'  clv sql --db {args.published} -c "select customer_id, predicted_clv, churn_probability, value_tier '
        'from customer_scores order by predicted_clv desc limit 20"\n'
        f'  clv sql --db {args.db} -c "select customer_id, predict_clv(s) as clv, churn_score(s) as churn '
        'from ml_scoring_set s order by clv desc limit 5"\n'
        # A history too short for a test cutoff skips the report (see _model_to_report).
        "  clv models list" + (f"\n  open {args.report}" if Path(args.report).exists() else "")
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Load the user's files and run every stage on them."""
    cmd_load(args)
    _model_to_report(args, ground_truth=None)
    _try_next(args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample shop and run every stage on it."""
    gen = argparse.Namespace(
        out=args.out,
        customers=args.customers,
        seed=args.seed,
        start=args.start,
        end=args.end,
        dirty=False,
        format="parquet",
        workers=None,
        scenario=None,
    )
    cmd_generate(gen)
    inputs = {t: [str(Path(args.out) / name)] for t, name in SHOP_FILES.items()}
    with console.out.status("Loading the sample shop…"):
        report = load_files(args.db, inputs, progress=console.out.print)
    print_load_report(report)
    # The shop's seed made the data; training keeps its own default seed, so that a different
    # shop seed changes the data and nothing else.
    stages = argparse.Namespace(**{**vars(args), "seed": 0})
    _model_to_report(stages, ground_truth=args.out)
    _try_next(args)
    return 0
