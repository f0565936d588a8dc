"""What each subcommand does, given parsed arguments: call the library, show the outcome."""

from __future__ import annotations

import argparse
from pathlib import Path

from clv import console
from ingest import generate_shop
from ingest.loader import LoadReport, load_files
from ingest.mapping import apply_flags, read_mapping
from ingest.schema import LOAD_ORDER

SHOP_FILES = {t: f"{t}.parquet" for t in LOAD_ORDER}


def cmd_generate(args: argparse.Namespace) -> int:
    """Generate the sample shop."""
    with console.progress_bar(f"Generating {args.customers:,} customers") as update:
        shop = generate_shop(
            args.out, customers=args.customers, seed=args.seed, start=args.start, end=args.end,
            dirty=args.dirty, fmt=args.format, workers=args.workers, progress=update,
        )  # fmt: skip
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
    rows = []
    for f in report.files:
        rules = ", ".join(f"{k} {v:,}" for k, v in sorted(f.rejected_by_rule.items(), key=lambda kv: -kv[1]))
        rows.append([f.table, Path(f.source_file).name, f.rows_read, f.rows_inserted, f.rows_updated,
                     f.rows_unchanged, f.rows_rejected, rules or "-"])  # fmt: skip
    console.table(
        f"Load {report.load_id} into {report.db_path}",
        ["table", "file", "read", "new", "updated", "unchanged", "rejected", "rejected by rule"],
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
    with console.out.status("Loading…"):
        report = load_files(args.db, inputs, mapping, args.min_date, args.max_date, progress=console.out.print)
    print_load_report(report)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample shop and run every stage that exists on it."""
    gen = argparse.Namespace(
        out=args.out, customers=args.customers, seed=args.seed, start=args.start, end=args.end,
        dirty=False, format="parquet", workers=None,
    )  # fmt: skip
    cmd_generate(gen)
    inputs = {t: [str(Path(args.out) / name)] for t, name in SHOP_FILES.items()}
    with console.out.status("Loading the sample shop…"):
        report = load_files(args.db, inputs, progress=console.out.print)
    print_load_report(report)
    console.out.print(
        f'\nThe raw tables are in [bold]{args.db}[/]. Try:\n  duckdb {args.db} -c "select count(*) from raw.orders"'
    )
    return 0
