"""``generate_shop``: simulate the sample shop in chunks and write its files.

Customers are split into fixed-size chunks, each simulated from its own seed derived from the
root seed and the chunk number, so the output depends only on the arguments, never on the
number of worker processes. Chunks are written in order as row groups of one file per table.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from duckdb_clv.ingest.errors import GenerateError
from duckdb_clv.ingest.generator import dirty as faults
from duckdb_clv.ingest.generator.params import ShopParams, ShopSpec
from duckdb_clv.ingest.generator.population import Population, draw_population
from duckdb_clv.ingest.generator.simulate import dropout_days, make_events, make_orders, make_returns, simulate_lives
from duckdb_clv.ingest.generator.tables import (
    campaigns_table,
    customer_ids,
    customers_table,
    events_table,
    ground_truth_table,
    orders_tables,
)

TABLES = ("customers", "orders", "order_items", "returns", "events", "ground_truth")
# Written only by a shop with campaigns (ShopParams.campaign_start).
CAMPAIGNS = "campaigns"
CHUNK_CUSTOMERS = 25_000
FORMATS = ("parquet", "csv")

# Set in the parent before forking; workers read it instead of receiving pickled copies.
_STATE: dict[str, object] = {}


@dataclass(frozen=True)
class GeneratedShop:
    """Where the files went and how many rows each holds."""

    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]


def _simulate_chunk(chunk: int) -> dict[str, pa.Table]:
    spec: ShopSpec = _STATE["spec"]  # type: ignore[assignment]
    pop: Population = _STATE["population"]  # type: ignore[assignment]
    lo = chunk * CHUNK_CUSTOMERS
    part = pop.slice(lo, min(lo + CHUNK_CUSTOMERS, len(pop)))
    rng = np.random.default_rng([spec.seed, 1, chunk])
    ids = customer_ids(lo, len(part), spec.customers)
    lives = simulate_lives(spec, part, rng, np.random.default_rng([spec.seed, 3, chunk]))
    orders, items = make_orders(spec, part, lives, rng)
    returns = make_returns(spec, part, orders, rng)
    events = make_events(spec, part, lives, orders, rng)
    orders_t, items_t, returns_t = orders_tables(spec, chunk, ids, orders, items, returns)
    extra = {CAMPAIGNS: campaigns_table(spec, chunk, ids, lives)} if spec.params.campaign_start else {}
    return extra | {
        "customers": customers_table(spec, part, ids, rng),
        "orders": orders_t,
        "order_items": items_t,
        "returns": returns_t,
        "events": events_table(spec, chunk, ids, events),
        "ground_truth": ground_truth_table(spec, part, ids, lives, dropout_days(part, lives, orders)),
    }


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings: CSV writers and dirty text exports want values."""
    cols = [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(cols, names=table.column_names)


class _Writer:
    """Appends chunks to one file per table, as Parquet row groups or CSV blocks."""

    def __init__(self, out_dir: Path, fmt: str) -> None:
        self.out_dir, self.fmt = out_dir, fmt
        self.parquet: dict[str, pq.ParquetWriter] = {}
        self.csv: dict[str, io.BufferedWriter] = {}
        self.rows: dict[str, int] = {}

    def path(self, name: str) -> Path:
        # Ground truth is not shop data: it stays Parquet (it holds list columns) in every format.
        ext = "parquet" if self.fmt == "parquet" or name == "ground_truth" else "csv"
        return self.out_dir / f"{name}.{ext}"

    def write(self, name: str, table: pa.Table, edit_csv: Callable[[list[bytes]], list[bytes]] | None = None) -> None:
        self.rows[name] = self.rows.get(name, 0) + table.num_rows
        if self.path(name).suffix == ".parquet":
            if name not in self.parquet:
                self.parquet[name] = pq.ParquetWriter(self.path(name), table.schema, compression="zstd")
            self.parquet[name].write_table(table, row_group_size=1_000_000)
            return
        first = name not in self.csv
        if first:
            self.csv[name] = open(self.path(name), "wb")  # noqa: SIM115 - closed in close()
        buf = io.BytesIO()
        pacsv.write_csv(_decoded(table), buf, pacsv.WriteOptions(include_header=first))
        lines = buf.getvalue().splitlines(keepends=True)
        header, body = (lines[:1], lines[1:]) if first else ([], lines)
        if edit_csv is not None:
            body = edit_csv(body)
        self.csv[name].writelines(header + body)

    def close(self) -> None:
        for w in self.parquet.values():
            w.close()
        for f in self.csv.values():
            f.close()


def parse_day(text: str, what: str) -> np.datetime64:
    """A YYYY-MM-DD date, or a GenerateError naming the argument."""
    try:
        return np.datetime64(text, "D")
    except ValueError as err:
        raise GenerateError(f"--{what} must be a date like 2024-01-31, got {text!r}") from err


def generate_shop(
    out_dir: str | os.PathLike[str],
    customers: int = 50_000,
    seed: int = 42,
    start: str = "2022-01-01",
    end: str = "2025-12-31",
    dirty: bool = False,
    fmt: str = "parquet",
    workers: int | None = None,
    params: ShopParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GeneratedShop:
    """Generate the sample shop and write its tables into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for ``customers``, ``orders``, ``order_items``, ``returns``, ``events`` and
        ``ground_truth`` files (and ``campaigns`` when ``params.campaign_start`` is set), plus
        ``shop.json`` (the arguments and model parameters) and, with ``dirty``,
        ``faults.json``. Created if missing; existing files are replaced.
    customers, seed, start, end
        Shop size, root seed and the observed period (``end`` inclusive).
    dirty
        Inject realistic faults into the orders at the rates of ``ingest.generator.dirty``.
    fmt
        ``"parquet"`` or ``"csv"`` (ground truth is always Parquet).
    workers
        Processes to simulate with (default: the CPU count). Does not change the output.
    params
        Model parameters; the defaults describe the documented sample shop.
    progress
        Called with (chunks done, chunks in all) after each chunk is written.

    Returns
    -------
    GeneratedShop
        Paths and row counts per table.
    """
    if customers < 1:
        raise GenerateError(f"--customers must be at least 1, got {customers}")
    if fmt not in FORMATS:
        raise GenerateError(f"--format must be one of {list(FORMATS)}, got {fmt!r}")
    spec = ShopSpec(customers, seed, parse_day(start, "start"), parse_day(end, "end"), params or ShopParams())
    if spec.days < 28:
        raise GenerateError(f"--end must be at least 28 days after --start, got {start} to {end}")
    if spec.params.campaign_start:
        parse_day(spec.params.campaign_start, "campaigns")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = (*TABLES, CAMPAIGNS) if spec.params.campaign_start else TABLES
    for stale in [out / f"{t}.{e}" for t in (*TABLES, CAMPAIGNS) for e in FORMATS] + [out / "faults.json"]:
        stale.unlink(missing_ok=True)

    _STATE["spec"], _STATE["population"] = spec, draw_population(spec)
    n_chunks = -(-customers // CHUNK_CUSTOMERS)
    n_workers = max(1, min(workers or os.cpu_count() or 1, n_chunks))
    writer = _Writer(out, fmt)
    log = faults.FaultLog.empty(csv=fmt == "csv") if dirty else None
    end_us = int((spec.end + 1).astype("datetime64[us]").astype(np.int64))
    try:
        pool = mp.get_context("fork").Pool(n_workers) if n_workers > 1 else None
        chunks = pool.imap(_simulate_chunk, range(n_chunks)) if pool else map(_simulate_chunk, range(n_chunks))
        for i, tables in enumerate(chunks):
            for name in names:
                table = tables[name]
                edit = None
                if dirty and name == "orders":
                    rng = np.random.default_rng([seed, 2, i])
                    table, faulted = faults.dirty_orders(table, customers, end_us, rng, log)
                    if fmt == "csv":
                        edit = _csv_editor(table, faulted, log, rng)
                writer.write(name, table, edit)
            if progress:
                progress(i + 1, n_chunks)
        if pool:
            pool.close()
            pool.join()
    finally:
        writer.close()
        _STATE.clear()

    meta = {
        "customers": customers,
        "seed": seed,
        "start": start,
        "end": end,
        "dirty": dirty,
        "format": fmt,
        "params": spec.params.to_dict(),
        "rows": writer.rows,
    }
    (out / "shop.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if log is not None:
        (out / "faults.json").write_text(json.dumps(log.manifest(), indent=1, sort_keys=True) + "\n")
    files = {t: writer.path(t) for t in names}
    return GeneratedShop(out, files, dict(writer.rows))


def _csv_editor(
    table: pa.Table, faulted: set[str], log: faults.FaultLog, rng: np.random.Generator
) -> Callable[[list[bytes]], list[bytes]]:
    """Malformed-line injection for a dirty orders chunk, sparing rows that already carry a fault."""
    seen: set[str] = set()
    intact: list[str | None] = []
    for oid in table["order_id"].to_pylist():
        intact.append(None if oid in faulted or oid in seen else oid)
        seen.add(oid)
    return lambda lines: faults.malform_csv_lines(lines, intact, rng, log)
