"""``clv sql``: run SQL against the database, from ``-c``, from stdin, or at a prompt.

The connection is read-only, so a prompt left open never blocks a load or a build for long
(DuckDB allows one writer or many readers). The scoring functions of ``udfs`` (``predict_clv``,
``churn_score``, ...) are registered on it, serving the champions of the model registry.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import duckdb

from duckdb_clv import console, udfs
from duckdb_clv.errors import ClvError

MAX_ROWS = 1_000


def open_database(db: str | Path, models_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection with the scoring functions, or a ClvError saying how to create the database."""
    path = Path(db)
    if not path.exists():
        raise ClvError(f"no database at {path}: create it with `clv load --db {path} --orders FILE` or `clv demo`")
    try:
        return udfs.connect(path, models_dir, read_only=True)
    except duckdb.Error as err:
        raise ClvError(f"cannot open {path} ({str(err).splitlines()[0]}): is a load or build running?") from err


def run_statements(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Run every statement in ``text``, printing the rows of those that return any."""
    for statement in con.extract_statements(text):
        result = con.execute(statement)
        if result.description is None:
            continue
        columns = [d[0] for d in result.description]
        rows = result.fetchmany(MAX_ROWS + 1)
        shown = [list(r) for r in rows[:MAX_ROWS]]
        title = f"{len(shown):,} row(s)" + (f", first {MAX_ROWS:,} shown" if len(rows) > MAX_ROWS else "")
        console.table(title, columns, shown)


def _statements_from_prompt() -> Iterable[str]:
    buffer: list[str] = []
    while True:
        try:
            line = input("clv> " if not buffer else " ...> ")
        except EOFError:
            return
        buffer.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buffer)
            buffer = []


def sql_session(db: str | Path, command: str | None = None, models_dir: str | Path | None = None) -> int:
    """Run ``command``, or stdin when it is not a terminal, or an interactive prompt."""
    con = open_database(db, models_dir)
    try:
        if command is not None or not sys.stdin.isatty():
            try:
                run_statements(con, command if command is not None else sys.stdin.read())
            except duckdb.Error as err:
                return console.fail(str(err).splitlines()[0])
            return 0
        console.out.print(f"Connected to {db} (read-only). End statements with ';', Ctrl-D to leave.")
        for text in _statements_from_prompt():
            try:
                run_statements(con, text)
            except duckdb.Error as err:
                console.fail(str(err).splitlines()[0])
        return 0
    finally:
        con.close()
