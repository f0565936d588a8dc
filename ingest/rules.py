"""Parsing and validation rules, as SQL expressions over one staged source column.

Each canonical column gets a parse expression (source value -> canonical type, NULL when it
cannot be parsed) and an ordered list of named row rules. A row is rejected with the first rule
it fails; the rule names are what ``raw.rejected_<table>`` and the docs speak of:

- ``missing_<col>``: a required value is absent or blank;
- ``invalid_<col>``: a value is present but cannot be read as the column's type, is not an
  accepted category, or is out of the column's range;
- ``non_finite_<col>`` / ``negative_<col>``: NaN or infinite / negative amounts;
- ``<col>_too_old`` / ``<col>_in_future``: timestamps outside [min_date, max_date];
- ``duplicate_key`` and ``unknown_<col>`` (a parent key that does not exist) are set-level
  rules applied by the loader; ``malformed_csv_line`` marks lines the CSV reader could not split.
"""

from __future__ import annotations

from dataclasses import dataclass

from duckdb_clv.ingest.mapping import TableMapping
from duckdb_clv.ingest.schema import Column
from duckdb_clv.ingest.sql import lit

TEMPORAL = ("TIMESTAMP", "DATE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
NUMERIC_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "REAL",
)
CURRENCY_NOISE = r"[\s$€£¥]|EUR|USD|GBP|CHF|SEK|DKK|PLN"


@dataclass(frozen=True)
class Bounds:
    """Timestamps outside [min_ts, max_ts] are rejected (SQL timestamp literals)."""

    min_ts: str
    max_ts: str


def _text(src: str) -> str:
    return f"nullif(trim(CAST({src} AS VARCHAR), ' \t\r\n'), '')"


def _is_numeric(source_type: str) -> bool:
    return source_type.upper().startswith(NUMERIC_PREFIXES)


def _number_from_text(text: str, amount_format: str) -> str:
    """Read a decimal number written with an optional currency sign and thousands separators.

    Ambiguous text is refused, never guessed: with ``plain``, a comma is accepted only as a
    thousands separator in groups of three (``1,234.50``); with ``comma_decimal`` the same holds
    for dots (``1.234,50``). ``12,50`` under ``plain`` is therefore invalid, not 1250.
    """
    s = f"regexp_replace({text}, '{CURRENCY_NOISE}', '', 'g')"
    if amount_format == "comma_decimal":
        grouped = rf"regexp_full_match({s}, '[-+]?\d{{1,3}}(\.\d{{3}})+(,\d*)?')"
        cleaned = f"replace(replace({s}, '.', ''), ',', '.')"
        clash = f"contains({s}, '.')"
    else:
        grouped = rf"regexp_full_match({s}, '[-+]?\d{{1,3}}(,\d{{3}})+(\.\d*)?')"
        cleaned = f"replace({s}, ',', '')"
        clash = f"contains({s}, ',')"
    plain_value = f"replace({s}, ',', '.')" if amount_format == "comma_decimal" else s
    return (
        f"CASE WHEN {grouped} THEN TRY_CAST({cleaned} AS DOUBLE) "
        f"WHEN {clash} THEN NULL ELSE TRY_CAST({plain_value} AS DOUBLE) END"
    )


def parse_expr(col: Column, src: str, source_type: str, mapping: TableMapping) -> str:
    """SQL turning source expression ``src`` (of DuckDB type ``source_type``) into the column's type."""
    kind = col.kind
    st = source_type.upper()
    if kind == "id":
        text = _text(src)
        if mapping.id_case == "upper":
            return f"upper({text})"
        if mapping.id_case == "lower":
            return f"lower({text})"
        return text
    if kind == "text":
        return _text(src)
    if kind == "category":
        return f"lower({_text(src)})"
    if kind == "timestamp":
        if st.startswith("TIMESTAMP WITH TIME ZONE") or st == "TIMESTAMPTZ":
            return f"timezone('UTC', {src})"
        if st.startswith(TEMPORAL):
            # Naive stored timestamps are wall-clock times in the mapping's zone.
            return f"timezone('UTC', timezone({lit(mapping.timezone)}, CAST({src} AS TIMESTAMP)))"
        text = _text(src)
        if mapping.date_format:
            parsed = f"try_strptime({text}, {lit(mapping.date_format)})"
            return f"timezone('UTC', timezone({lit(mapping.timezone)}, {parsed}))"
        # The loader sets the session TimeZone to the mapping's zone, so text without an offset
        # is read in that zone and text with one keeps its own.
        return f"timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))"
    if kind in ("amount", "number"):
        if _is_numeric(st):
            return f"CAST({src} AS DOUBLE)"
        return _number_from_text(_text(src), mapping.amount_format)
    if kind == "integer":
        value = f"CAST({src} AS DOUBLE)" if _is_numeric(st) else f"TRY_CAST({_text(src)} AS DOUBLE)"
        return f"CASE WHEN {value} = floor({value}) AND abs({value}) < 9e15 THEN CAST({value} AS BIGINT) END"
    raise ValueError(f"unknown column kind {kind!r}")


def row_rules(col: Column, parsed: str, raw: str, bounds: Bounds) -> list[tuple[str, str]]:
    """(rule name, SQL condition that fails it) for one column, in the order they apply."""
    present = f"({raw} IS NOT NULL AND trim({raw}, ' \t\r\n') <> '')"
    rules: list[tuple[str, str]] = []
    if col.required:
        rules.append((f"missing_{col.name}", f"NOT {present}"))
    rules.append((f"invalid_{col.name}", f"{present} AND {parsed} IS NULL"))
    if col.kind == "timestamp":
        rules.append((f"{col.name}_too_old", f"{parsed} < TIMESTAMP {lit(bounds.min_ts)}"))
        rules.append((f"{col.name}_in_future", f"{parsed} > TIMESTAMP {lit(bounds.max_ts)}"))
    if col.kind == "amount":
        rules.append((f"non_finite_{col.name}", f"NOT isfinite({parsed})"))
        rules.append((f"negative_{col.name}", f"{parsed} < 0"))
    if col.kind in ("number", "integer"):
        rules.append((f"non_finite_{col.name}", f"NOT isfinite(CAST({parsed} AS DOUBLE))"))
        if col.low is not None:
            rules.append((f"invalid_{col.name}", f"{parsed} < {col.low}"))
        if col.high is not None:
            rules.append((f"invalid_{col.name}", f"{parsed} > {col.high}"))
    if col.accepted:
        allowed = ", ".join(lit(v) for v in col.accepted)
        rules.append((f"invalid_{col.name}", f"{parsed} NOT IN ({allowed})"))
    return rules
