"""Mapping a user's files onto the canonical schema: column names, formats, dialect.

A mapping file (YAML) has one section per table. A section lists canonical columns and the
source column each comes from, plus options::

    orders:
      customer_id: cust_no
      ordered_at: purchase_date
      amount: total
      date_format: "%d.%m.%Y"
      amount_format: comma_decimal

The column entries may also sit under ``columns:``. A mapping with no table section applies to
orders, so a plain transactions file needs just three lines. Unmapped columns are matched by
name, ignoring case and surrounding spaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from duckdb_clv.ingest.errors import LoadError
from duckdb_clv.ingest.schema import TABLES

AMOUNT_FORMATS = ("plain", "comma_decimal")
ID_CASES = ("upper", "lower", "preserve")
OPTIONS = ("date_format", "amount_format", "delimiter", "encoding", "timezone", "id_case")
ENCODINGS = ("utf-8", "latin-1", "utf-16")


@dataclass(frozen=True)
class TableMapping:
    """How the files of one table map onto its canonical columns.

    Attributes
    ----------
    columns
        Canonical column name -> source column name, for columns whose names differ.
    date_format
        strptime format for text timestamps (None: ISO 8601, with or without time zone).
    amount_format
        ``plain`` (``1,234.50``) or ``comma_decimal`` (``1.234,50``); currency signs and codes
        are stripped in both.
    delimiter
        CSV delimiter (None: detected from the header).
    encoding
        CSV encoding: ``utf-8`` (a byte-order mark is fine), ``latin-1`` or ``utf-16``.
    timezone
        Zone of timestamps written without an offset; all are stored as naive UTC.
    id_case
        Ids are trimmed, then ``upper``- or ``lower``-cased, or kept (``preserve``).
    """

    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    amount_format: str = "plain"
    delimiter: str | None = None
    encoding: str = "utf-8"
    timezone: str = "UTC"
    id_case: str = "upper"


Mapping = dict[str, TableMapping]


def _table_section(table: str, section: object, source: str) -> TableMapping:
    if not isinstance(section, dict):
        raise LoadError(f"{source}: the '{table}' section must be a mapping of column: source_column")
    entries = dict(section)
    columns = entries.pop("columns", {}) or {}
    if not isinstance(columns, dict):
        raise LoadError(f"{source}: '{table}.columns' must be a mapping of column: source_column")
    options = {k: entries.pop(k) for k in OPTIONS if k in entries}
    columns = {**columns, **entries}
    spec = TABLES[table]
    for canonical, src in columns.items():
        if canonical not in spec.names:
            raise LoadError(
                f"{source}: {table} has no column {canonical!r}; its columns are {spec.names} "
                f"and the options are {list(OPTIONS)}"
            )
        if not isinstance(src, str) or not src.strip():
            raise LoadError(f"{source}: {table}.{canonical} must name a source column, got {src!r}")
    mapping = TableMapping(columns={k: str(v) for k, v in columns.items()})
    return with_options(mapping, options, f"{source}: {table}")


def with_options(mapping: TableMapping, options: dict[str, object], where: str) -> TableMapping:
    """``mapping`` with validated options applied."""
    checks = {"amount_format": AMOUNT_FORMATS, "id_case": ID_CASES, "encoding": ENCODINGS}
    for name, value in options.items():
        if name in checks and value not in checks[name]:
            raise LoadError(f"{where}: {name} must be one of {list(checks[name])}, got {value!r}")
        if name == "delimiter" and (not isinstance(value, str) or len(value) != 1):
            raise LoadError(f"{where}: delimiter must be a single character, got {value!r}")
        if name in ("date_format", "timezone") and not isinstance(value, str):
            raise LoadError(f"{where}: {name} must be text, got {value!r}")
    return replace(mapping, **options)  # type: ignore[arg-type]


def parse_mapping(data: object, source: str = "mapping") -> Mapping:
    """Turn the parsed YAML of a mapping file into a ``Mapping`` (table -> TableMapping)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError(f"{source}: expected table sections such as 'orders:', got {type(data).__name__}")
    if not any(k in TABLES for k in data):
        # No section at all: the whole mapping describes the orders file.
        return {"orders": _table_section("orders", data, source)}
    unknown = [k for k in data if k not in TABLES]
    if unknown:
        raise LoadError(f"{source}: unknown table section(s) {unknown}; tables are {list(TABLES)}")
    return {table: _table_section(table, section, source) for table, section in data.items()}


def read_mapping(path: str | Path) -> Mapping:
    """Read a YAML mapping file."""
    p = Path(path)
    if not p.is_file():
        raise LoadError(f"mapping file {p} does not exist: pass the path of a YAML file to --mapping")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise LoadError(f"mapping file {p} is not valid YAML ({first}): fix its syntax") from err
    return parse_mapping(data, str(p))


def apply_flags(mapping: Mapping, flags: list[str]) -> Mapping:
    """Add ``--map [table.]column=source`` flags (no table means orders) to ``mapping``."""
    out = dict(mapping)
    for flag in flags:
        target, sep, src = flag.partition("=")
        if not sep or not target.strip() or not src.strip():
            raise LoadError(f"--map expects table.column=source_column, got {flag!r}")
        table, dot, column = target.strip().rpartition(".")
        table = table if dot else "orders"
        if table not in TABLES:
            raise LoadError(f"--map {flag!r}: unknown table {table!r}; tables are {list(TABLES)}")
        base = out.get(table, TableMapping())
        if column in OPTIONS:
            out[table] = with_options(base, {column: src.strip()}, f"--map {flag!r}")
            continue
        if column not in TABLES[table].names:
            raise LoadError(f"--map {flag!r}: {table} has no column {column!r}; its columns are {TABLES[table].names}")
        out[table] = replace(base, columns={**base.columns, column: src.strip()})
    return out
