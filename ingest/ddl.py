"""DDL of schema ``raw``: the canonical tables, their rejected twins and the load log."""

from __future__ import annotations

import duckdb

from duckdb_clv.ingest.schema import SQL_TYPES, TABLES, Column
from duckdb_clv.ingest.sql import ident

META_COLUMNS = "_load_id BIGINT, _source_file VARCHAR, _source_line BIGINT"


def sql_type(col: Column) -> str:
    """The DuckDB type of a canonical column."""
    return SQL_TYPES[col.kind]


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw`` and its tables where missing (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for spec in TABLES.values():
        cols = ", ".join(f"{ident(c.name)} {sql_type(c)}" for c in spec.columns)
        extra = ", _derived BOOLEAN" if spec.name == "customers" else ""
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{spec.name} ({cols}, {META_COLUMNS}{extra})")
        raw_cols = ", ".join(f"{ident(c.name)} VARCHAR" for c in spec.columns)
        con.execute(
            f"CREATE TABLE IF NOT EXISTS raw.rejected_{spec.name} ("
            f"{META_COLUMNS}, rule VARCHAR, raw_line VARCHAR, {raw_cols}, rejected_at TIMESTAMP)"
        )
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS raw.load_log (
            load_id BIGINT, table_name VARCHAR, source_file VARCHAR,
            rows_read BIGINT, rows_loaded BIGINT, rows_inserted BIGINT, rows_updated BIGINT,
            rows_unchanged BIGINT, rows_rejected BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP
        )
        """
    )
