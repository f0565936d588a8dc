"""Finding and inspecting input files before anything touches the database.

Everything that can be checked from the files alone — they exist, their format, their header,
that every required column is there — is checked here, so that a bad file fails fast with one
line and the database is never opened for writing.
"""

from __future__ import annotations

import csv
import glob
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckdb_clv.ingest.errors import LoadError
from duckdb_clv.ingest.mapping import TableMapping
from duckdb_clv.ingest.schema import TableSpec
from duckdb_clv.ingest.sql import lit

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = ",;\t|"
# Fields up to this size are read; a longer line is rejected as malformed, not a crash.
MAX_LINE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One input file: its format, columns and types, and the CSV dialect."""

    path: Path
    fmt: str  # "csv" or "parquet"
    columns: tuple[str, ...]
    types: dict[str, str]
    delimiter: str = ","
    encoding: str = "utf-8"

    def read_sql(self, rejects: str) -> str:
        """A SELECT of every column plus ``ordinality`` (CSV: record number) or ``_line`` (Parquet: row).

        For CSV, ``rejects`` names the temp table that collects the lines DuckDB cannot split.
        (``ignore_errors`` is not the same: with strict mode it stops at the first bad line.)
        """
        path = lit(str(self.path))
        if self.fmt == "parquet":
            return f"SELECT *, file_row_number + 1 AS _line FROM read_parquet({path}, file_row_number = true)"
        cols = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in self.columns) + "}"
        return (
            f"SELECT * FROM read_csv({path}, columns = {cols}, header = true, auto_detect = false, "
            f"delim = {lit(self.delimiter)}, quote = '\"', escape = '\"', encoding = {lit(self.encoding)}, "
            f"strict_mode = true, store_rejects = true, rejects_table = {lit(rejects)}, "
            f"rejects_scan = {lit(rejects + '_scan')}, max_line_size = {MAX_LINE_BYTES}) WITH ORDINALITY"
        )


def resolve(pattern: str, table: str) -> list[Path]:
    """Files matching a path or glob, sorted; a LoadError if there are none."""
    matches = sorted(Path(p) for p in glob.glob(str(Path(pattern).expanduser())))
    files = [p for p in matches if p.is_file()]
    if not files:
        raise LoadError(f"no file matches {pattern!r} for --{table.replace('_', '-')}: check the path or glob")
    return files


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise LoadError(f"{path}: unknown file type; use .csv, .tsv, .txt (optionally .gz) or .parquet")


def _csv_header(path: Path, mapping: TableMapping) -> tuple[tuple[str, ...], str]:
    codec = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16"}[mapping.encoding]
    opener = __import__("gzip").open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(65536)
        text = head.decode(codec, errors="strict" if mapping.encoding != "utf-8" else "replace")
    except (OSError, UnicodeDecodeError) as err:
        raise LoadError(f"{path}: cannot be read as {mapping.encoding} ({err}): set encoding in the mapping") from err
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise LoadError(f"{path}: the file is empty; a CSV file needs a header line naming its columns")
    delimiter = mapping.delimiter or max(DELIMITERS, key=first.count)
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    names = tuple(h.strip() for h in header)
    if len(set(n.lower() for n in names)) != len(names) or any(not n for n in names):
        raise LoadError(f"{path}: the header has empty or repeated column names {list(names)}: name each column once")
    return names, delimiter


def inspect(path: Path, mapping: TableMapping) -> SourceFile:
    """Read a file's header (CSV) or schema (Parquet)."""
    fmt = _format_of(path)
    if fmt == "csv":
        names, delimiter = _csv_header(path, mapping)
        return SourceFile(path, "csv", names, dict.fromkeys(names, "VARCHAR"), delimiter, mapping.encoding)
    with duckdb.connect() as con:
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
        except duckdb.Error as err:
            msg = str(err).splitlines()[0]
            raise LoadError(f"{path}: not a readable Parquet file ({msg})") from err
    return SourceFile(path, "parquet", tuple(r[0] for r in rows), {r[0]: r[1] for r in rows})


def bind_columns(spec: TableSpec, src: SourceFile, mapping: TableMapping) -> dict[str, str | None]:
    """Which source column feeds each canonical column (None: absent).

    Mapped names must exist in the file; other canonical columns are matched by name, ignoring
    case and spaces. A required column that ends up absent is a LoadError saying how to map it.
    """
    by_lower = {c.strip().lower(): c for c in src.columns}
    bound: dict[str, str | None] = {}
    for col in spec.columns:
        wanted = mapping.columns.get(col.name)
        if wanted is not None:
            found = wanted if wanted in src.columns else by_lower.get(wanted.strip().lower())
            if found is None:
                raise LoadError(
                    f"{src.path}: the mapping says {spec.name}.{col.name} comes from column {wanted!r}, "
                    f"but the file has {list(src.columns)}: fix the mapping"
                )
            bound[col.name] = found
        else:
            bound[col.name] = by_lower.get(col.name)
        if col.required and bound[col.name] is None:
            raise LoadError(
                f"{src.path}: {spec.name} needs a column {col.name!r} but the file has {list(src.columns)}: "
                f"map it with '{col.name}: <your column>' under '{spec.name}:' in the mapping file "
                f"(--mapping) or --map {spec.name}.{col.name}=<your column>"
            )
    return bound
