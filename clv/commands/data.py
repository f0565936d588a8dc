"""``clv generate`` and ``clv load``: a sample shop, and files into schema ``raw``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from duckdb_clv import console, pipeline
from duckdb_clv.commands import Command
from duckdb_clv.commands import options as opt
from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.generator.params import ShopParams
from duckdb_clv.ingest.generator.scenarios import SCENARIOS, scenario
from duckdb_clv.ingest.loader import LoadReport
from duckdb_clv.ingest.mapping import apply_flags, read_mapping
from duckdb_clv.ingest.pseudonymize import from_environment
from duckdb_clv.ingest.schema import LOAD_ORDER
from duckdb_clv.settings import Settings

DEFAULT_SHOP = "data/sample_shop"
SHOP_CUSTOMERS, SHOP_START, SHOP_END = 50_000, "2022-01-01", "2025-12-31"


def shop_arguments(p: argparse.ArgumentParser) -> None:
    """Size, seed and period of a generated shop (``clv generate``, ``clv demo``)."""
    # Size and period default to None here and are filled in by shop_shape, since a scenario
    # (clv generate --scenario) may bring its own.
    p.add_argument("--customers", type=int, help=f"number of customers (default: {SHOP_CUSTOMERS:,})")
    # The shop's seed makes the data; it is not the training seed (Settings.seed).
    p.add_argument(
        "--seed",
        dest="shop_seed",
        type=int,
        default=42,
        help="random seed; the same arguments give identical files (default: 42)",
    )
    p.add_argument("--start", help=f"first day of the shop's history (default: {SHOP_START})")
    p.add_argument("--end", help=f"last day of the shop's history, inclusive (default: {SHOP_END})")


def shop_shape(args: argparse.Namespace) -> tuple[int, str, str, ShopParams | None]:
    """Customers, start, end and parameters: the flags, else the scenario's own, else the documented shop."""
    chosen = scenario(args.scenario) if getattr(args, "scenario", None) else None

    def pick(flag: object, own: object, default: object) -> object:
        return flag if flag is not None else own if own is not None else default

    customers = pick(args.customers, chosen and chosen.customers, SHOP_CUSTOMERS)
    start = pick(args.start, chosen and chosen.start, SHOP_START)
    end = pick(args.end, chosen and chosen.end, SHOP_END)
    return customers, start, end, chosen.shop_params() if chosen else None


def campaign_start(flag: str | None, start: str) -> str:
    """The first decision month of ``--campaigns``: the flag's date, else a year after the start."""
    if flag:
        return flag
    year, rest = start.split("-", 1)
    return f"{int(year) + 1}-{rest[:2]}-01"


def generate(args: argparse.Namespace, dirty: bool = False, fmt: str = "parquet") -> Path:
    """Write the shop the arguments describe; print its tables; return its folder."""
    customers, start, end, params = shop_shape(args)
    campaigns = getattr(args, "campaigns", None)
    if campaigns is not None:
        params = replace(params or ShopParams(), campaign_start=campaign_start(campaigns, start))
    with console.progress_bar(f"Generating {customers:,} customers") as update:
        shop = generate_shop(
            args.out,
            customers=customers,
            seed=args.shop_seed,
            start=start,
            end=end,
            dirty=dirty,
            fmt=fmt,
            workers=getattr(args, "workers", None),
            params=params,
            progress=update,
        )
    console.table(
        f"Sample shop in {shop.out_dir}",
        ["table", "rows", "file"],
        [[t, shop.rows[t], str(p)] for t, p in shop.files.items()],
    )
    if dirty:
        console.out.print(f"Injected faults are listed in {shop.out_dir / 'faults.json'}")
    return shop.out_dir


def _generate(args: argparse.Namespace, _settings: Settings) -> int:
    generate(args, dirty=args.dirty, fmt=args.format)
    return 0


def _generate_arguments(p: argparse.ArgumentParser) -> None:
    shop_arguments(p)
    p.add_argument("--out", default=DEFAULT_SHOP, help=f"output folder (default: {DEFAULT_SHOP})")
    p.add_argument("--dirty", action="store_true", help="inject realistic faults at documented rates (see faults.json)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format (default: parquet)")
    p.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="an unusual shop shape instead of the documented one: "
        # argparse %-formats help strings, and descriptions speak of percentages.
        + "; ".join(f"{s.name}: {s.description}".replace("%", "%%") for s in SCENARIOS.values())
        + ". A scenario with its own size or period uses it unless --customers, --start or --end is given",
    )
    p.add_argument(
        "--campaigns",
        nargs="?",
        const="",
        metavar="FROM",
        help="also run the shop's monthly campaigns (email, coupon_10, vip) from the month of FROM "
        "(default: a year after --start) and write them to campaigns.<format> (docs/SAMPLE_SHOP.md#campaigns)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="processes to use (default: all cores; output is the same)"
    )


GENERATE = Command(
    "generate",
    help="write a realistic sample shop (customers, orders, items, returns, events, ground truth)",
    description="Simulate an online shop with buy-till-you-die customers, seasonality, browsing "
    "behaviour, returns and discounts; writes one file per table plus the latent ground truth.",
    arguments=_generate_arguments,
    handler=_generate,
)


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


def load_options(args: argparse.Namespace) -> dict[str, object]:
    """``pipeline.load``'s keywords from the ``clv load`` options (also those of ``clv run``)."""
    mapping = apply_flags(read_mapping(args.mapping) if args.mapping else {}, args.map or [])
    return {
        "inputs": {t: getattr(args, t) for t in LOAD_ORDER if getattr(args, t)},
        "mapping": mapping,
        "min_date": args.min_date,
        "max_date": args.max_date,
        "pseudonymizer": from_environment() if args.pseudonymize else None,
    }


def _load(args: argparse.Namespace, settings: Settings) -> int:
    with console.stage_progress() as progress:
        report = pipeline.load(settings, **load_options(args), progress=progress)
    print_load_report(report)
    return 0


def _load_arguments(p: argparse.ArgumentParser) -> None:
    opt.db(p)
    opt.load(p)


LOAD = Command(
    "load",
    help="validate and load CSV/Parquet files into schema raw",
    description="Load orders (required) and optionally customers, order items, returns and events. "
    "Rows failing a rule go to raw.rejected_<table>; counts go to raw.load_log; reloading is idempotent "
    "and a failed load changes nothing.",
    arguments=_load_arguments,
    handler=_load,
)

COMMANDS = (GENERATE, LOAD)
