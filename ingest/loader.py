"""``load_files``: validated, idempotent, all-or-nothing loading into DuckDB schema ``raw``.

A load runs in one transaction. For each table, in parent-to-child order, every file is staged
with its parsed values and raw text; rows failing a named rule go to ``raw.rejected_<table>``
with their raw values, file and line; the rest are upserted by key (a reload of the same rows
changes nothing). ``raw.load_log`` gets one row per file with rows read, loaded and rejected,
and the load refuses to commit unless read = loaded + rejected for every file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from duckdb_clv.ingest import ddl
from duckdb_clv.ingest.errors import LoadError
from duckdb_clv.ingest.mapping import Mapping, TableMapping
from duckdb_clv.ingest.pseudonymize import Pseudonymizer, check_database
from duckdb_clv.ingest.resources import memory_limit
from duckdb_clv.ingest.rules import Bounds, parse_expr, row_rules
from duckdb_clv.ingest.schema import LOAD_ORDER, TABLES, TableSpec
from duckdb_clv.ingest.sources import SourceFile, bind_columns, inspect, resolve
from duckdb_clv.ingest.sql import ident, lit

DERIVED_SOURCE = "(derived from orders)"


@dataclass
class FileReport:
    """Outcome of loading one file."""

    table: str
    source_file: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        """Rows of the file that are in the raw table after the load (new, updated or already there)."""
        return self.rows_inserted + self.rows_updated + self.rows_unchanged


@dataclass
class LoadReport:
    """Outcome of one ``load_files`` call."""

    load_id: int
    db_path: Path
    files: list[FileReport]
    derived_customers: int = 0

    def totals(self) -> dict[str, int]:
        """Rows read, loaded and rejected over all files."""
        return {
            "rows_read": sum(f.rows_read for f in self.files),
            "rows_loaded": sum(f.rows_loaded for f in self.files),
            "rows_rejected": sum(f.rows_rejected for f in self.files),
        }


Progress = Callable[[str], None]


def _plan(inputs: dict[str, list[str]], mapping: Mapping) -> dict[str, list[tuple[SourceFile, dict[str, str | None]]]]:
    """Resolve, inspect and bind every input file before the database is touched."""
    plan: dict[str, list[tuple[SourceFile, dict[str, str | None]]]] = {}
    for table in LOAD_ORDER:
        patterns = inputs.get(table) or []
        tm = mapping.get(table, TableMapping())
        entries = []
        for pattern in patterns:
            for path in resolve(pattern, table):
                src = inspect(path, tm)
                entries.append((src, bind_columns(TABLES[table], src, tm)))
        if entries:
            plan[table] = entries
    return plan


def _stage(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    entries: list[tuple[SourceFile, dict[str, str | None]]],
    tm: TableMapping,
    pseudonymizer: Pseudonymizer | None = None,
) -> None:
    """View ``stage`` (every source row: parsed values, raw text, file, line) and table ``malformed``.

    Nothing per row is materialised: the view reads the files each time it is scanned, so a
    load needs memory for its hash tables, not for copies of the data.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE malformed (_file VARCHAR, _line BIGINT, raw_line VARCHAR)")
    parts = []
    for i, (src, bound) in enumerate(entries):
        name = f"src_{spec.name}_{i}"
        if src.fmt == "csv":
            rejects = f"rejects_{spec.name}_{i}"
            # First pass: which lines cannot be split. DuckDB numbers lines by record (header = 1);
            # WITH ORDINALITY counts only records that parsed, so each record's line adds back the
            # rejected lines before it (the ASOF join below).
            con.execute(f"SELECT count(*) FROM ({src.read_sql(rejects)})")
            # A pseudonymized load keeps a malformed line as its file and number: its text holds the real id.
            text = "NULL" if pseudonymizer else "first(csv_line ORDER BY column_idx)"
            con.execute(f"INSERT INTO malformed SELECT {lit(str(src.path))}, line, {text} FROM {rejects} GROUP BY line")
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE steps_{name} AS
                WITH bad AS (SELECT DISTINCT line FROM {rejects}),
                ranked AS (SELECT line - 1 - row_number() OVER (ORDER BY line) AS good_before,
                                  row_number() OVER (ORDER BY line) AS bad_so_far FROM bad)
                SELECT good_before, max(bad_so_far) AS bad_so_far FROM ranked GROUP BY 1
                """
            )
            source = (
                # Later scans skip the same lines; their reject rows go to a scratch table.
                f"(SELECT s.*, s.ordinality + 1 + coalesce(st.bad_so_far, 0) AS _line "
                f"FROM ({src.read_sql(rejects + '_again')}) s "
                f"ASOF LEFT JOIN steps_{name} st ON s.ordinality > st.good_before)"
            )
        else:
            source = f"({src.read_sql(name)})"
        select = []
        for c in spec.columns:
            col = bound.get(c.name)
            if col is None or (pseudonymizer and c.pii):
                select += [
                    f"CAST(NULL AS {ddl.sql_type(c)}) AS {ident(c.name)}",
                    f"NULL::VARCHAR AS {ident(c.name + '__raw')}",
                ]
                continue
            ref = f"s.{ident(col)}"
            parsed, raw = parse_expr(c, ref, src.types[col], tm), f"CAST({ref} AS VARCHAR)"
            if pseudonymizer and c.name == "customer_id":
                parsed, raw = pseudonymizer.sql(parsed), pseudonymizer.sql(raw)
            select += [f"{parsed} AS {ident(c.name)}", f"{raw} AS {ident(c.name + '__raw')}"]
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS "
                f"SELECT {', '.join(select)}, {lit(str(src.path))} AS _file, s._line AS _line FROM {source} AS s"
            )
            # The parsers are try_* functions, so only a format that cannot be applied at all
            # raises, when bound or on the first row: one row is enough to find out.
            con.execute(f"SELECT * FROM {name} LIMIT 1").fetchall()
        except duckdb.Error as err:
            raise LoadError(f"{src.path}: could not be read ({str(err).splitlines()[0]}): check the mapping") from err
        parts.append(f"SELECT * FROM {name}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW stage AS {' UNION ALL '.join(parts)}")


def _rule_case(spec: TableSpec, bound_key: bool, bounds: Bounds) -> str:
    whens = []
    for c in spec.columns:
        parsed, raw = ident(c.name), ident(c.name + "__raw")
        if c.name == spec.key and bound_key:
            whens.append((f"missing_{c.name}", f"{parsed} IS NULL"))
        whens += row_rules(c, parsed, raw, bounds)
    return "CASE " + " ".join(f"WHEN {cond} THEN {lit(rule)}" for rule, cond in whens) + " END"


def _check(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, bound_key: bool, bounds: Bounds, enforce_parents: bool
) -> None:
    """View ``checked``: staged rows with their final key and the first rule they fail (or NULL).

    Repeated keys are found with a hash aggregate (which spills to disk) and only those rows are
    numbered, instead of sorting every row of a large file.
    """
    key = ident(spec.key)
    if bound_key:
        key_expr = key
    else:
        # No id column: the key is a hash of the row's values plus its occurrence number, so a
        # reload finds the same keys and identical rows within a file are all kept.
        parts = ", ".join(
            f"coalesce(CAST({ident(c.name)} AS VARCHAR), '\\N')" for c in spec.columns if c.name != spec.key
        )
        key_expr = f"substr(md5(concat_ws('|', {parts})), 1, 20)"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW ruled AS "
        f"SELECT * EXCLUDE ({key}), {_rule_case(spec, bound_key, bounds)} AS _row_rule, {key_expr} AS _key FROM stage"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE repeated AS
        SELECT _key, min({'f': _file, 'l': _line}) AS first FROM ruled
        WHERE _row_rule IS NULL GROUP BY _key HAVING count(*) > 1
        """
    )
    joins, rules = [], []
    if bound_key:
        final_key = "r._key"
        joins.append("LEFT JOIN repeated rep ON rep._key = r._key")
        rules.append("WHEN rep._key IS NOT NULL AND {'f': r._file, 'l': r._line} <> rep.first THEN 'duplicate_key'")
    else:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE occurrences AS
            SELECT r._file, r._line, row_number() OVER (PARTITION BY r._key ORDER BY r._file, r._line) AS occ
            FROM ruled r SEMI JOIN repeated USING (_key) WHERE r._row_rule IS NULL
            """
        )
        final_key = "r._key || '-' || coalesce(o.occ, 1)"
        joins.append("LEFT JOIN occurrences o ON o._file = r._file AND o._line = r._line")
    if enforce_parents:
        for i, (col, parent) in enumerate(spec.parents):
            pkey = ident(TABLES[parent].key)
            joins.append(f"LEFT JOIN raw.{parent} p{i} ON p{i}.{pkey} = r.{ident(col)}")
            rules.append(f"WHEN p{i}.{pkey} IS NULL THEN {lit('unknown_' + col)}")
    rule = f"coalesce(r._row_rule, CASE {' '.join(rules)} END)" if rules else "r._row_rule"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW checked AS
        SELECT r.* EXCLUDE (_row_rule, _key), {final_key} AS {key}, {rule} AS _rule
        FROM ruled r {" ".join(joins)}
        """
    )


def _upsert(con: duckdb.DuckDBPyConnection, spec: TableSpec, load_id: int, reports: dict[str, FileReport]) -> None:
    """Insert new keys, replace changed rows, leave identical ones; counts go into ``reports``."""
    key = ident(spec.key)
    table = f"raw.{spec.name}"
    cols = ", ".join(ident(n) for n in spec.names)
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchone()[0]:
        same = " AND ".join(f"c.{ident(n)} IS NOT DISTINCT FROM t.{ident(n)}" for n in spec.names)
        matched = f"FROM checked c JOIN {table} t ON t.{key} = c.{key} WHERE c._rule IS NULL"
        for f, is_same, n in con.execute(f"SELECT c._file, {same}, count(*) {matched} GROUP BY ALL").fetchall():
            if is_same:
                reports[f].rows_unchanged += n
            else:
                reports[f].rows_updated += n
        con.execute(f"CREATE OR REPLACE TEMP TABLE changed_keys AS SELECT c.{key} {matched} AND NOT ({same})")
        con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM changed_keys)")
    extra = ", false" if spec.name == "customers" else ""
    con.execute(
        f"INSERT INTO {table} SELECT {cols}, {load_id}, _file, _line{extra} "
        f"FROM checked c WHERE c._rule IS NULL AND c.{key} NOT IN (SELECT {key} FROM {table})"
    )


def _record_rejects(con: duckdb.DuckDBPyConnection, spec: TableSpec, load_id: int, files: list[str]) -> None:
    """Replace the files' earlier rejects with this load's: the table shows each file's current faults."""
    table = f"raw.rejected_{spec.name}"
    con.execute(f"DELETE FROM {table} WHERE _source_file IN ({', '.join(lit(f) for f in files)})")
    raw_cols = ", ".join(ident(n) for n in spec.names)
    raw_vals = ", ".join(ident(n + "__raw") for n in spec.names)
    now = "timezone('UTC', now())"
    con.execute(
        f"INSERT INTO {table} (_load_id, _source_file, _source_line, rule, raw_line, {raw_cols}, rejected_at) "
        f"SELECT {load_id}, _file, _line, _rule, NULL, {raw_vals}, {now} FROM checked WHERE _rule IS NOT NULL"
    )
    con.execute(
        f"INSERT INTO {table} (_load_id, _source_file, _source_line, rule, raw_line, rejected_at) "
        f"SELECT {load_id}, _file, _line, 'malformed_csv_line', raw_line, {now} FROM malformed"
    )


def _count(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> dict[str, FileReport]:
    """Rows read and rejected (by rule) per file, from one scan of ``checked``."""
    reports = {f: FileReport(table, f) for f in files}
    counts = con.execute(
        "SELECT _file, _rule, count(*) FROM checked GROUP BY ALL "
        "UNION ALL SELECT _file, 'malformed_csv_line', count(*) FROM malformed GROUP BY ALL"
    ).fetchall()
    for f, rule, n in counts:
        reports[f].rows_read += n
        if rule is not None:
            reports[f].rejected_by_rule[rule] = reports[f].rejected_by_rule.get(rule, 0) + n
            reports[f].rows_rejected += n
    return reports


def _reconcile(con: duckdb.DuckDBPyConnection, spec: TableSpec, load_id: int, reports: dict[str, FileReport]) -> None:
    """New rows per file = what this load inserted minus the replaced ones; then read = loaded + rejected."""
    inserted = dict(
        con.execute(
            f"SELECT _source_file, count(*) FROM raw.{spec.name} WHERE _load_id = ? GROUP BY 1", [load_id]
        ).fetchall()
    )
    for f, r in reports.items():
        r.rows_inserted = inserted.get(f, 0) - r.rows_updated
        if r.rows_read != r.rows_loaded + r.rows_rejected:
            raise LoadError(
                f"{r.source_file}: {r.rows_read} rows read but {r.rows_loaded} loaded + {r.rows_rejected} rejected; "
                "nothing was loaded (this is a bug, please report it)"
            )


def _derive_customers(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """Customers known only from their orders get a row with just their id."""
    before = con.execute("SELECT count(*) FROM raw.customers").fetchone()[0]
    con.execute(
        f"""
        INSERT INTO raw.customers (customer_id, _load_id, _source_file, _source_line, _derived)
        SELECT DISTINCT o.customer_id, {load_id}, {lit(DERIVED_SOURCE)}, NULL, true
        FROM raw.orders o ANTI JOIN raw.customers c ON c.customer_id = o.customer_id
        """
    )
    return con.execute("SELECT count(*) FROM raw.customers").fetchone()[0] - before


def _log(con: duckdb.DuckDBPyConnection, load_id: int, reports: list[FileReport], started: dt.datetime) -> None:
    for r in reports:
        con.execute(
            "INSERT INTO raw.load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                load_id,
                r.table,
                r.source_file,
                r.rows_read,
                r.rows_loaded,
                r.rows_inserted,
                r.rows_updated,
                r.rows_unchanged,
                r.rows_rejected,
                started,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ],
        )


def load_files(
    db_path: str | Path,
    inputs: dict[str, list[str]],
    mapping: Mapping | None = None,
    min_date: str = "1990-01-01",
    max_date: str | None = None,
    progress: Progress | None = None,
    pseudonymizer: Pseudonymizer | None = None,
) -> LoadReport:
    """Load CSV or Parquet files into schema ``raw`` of a DuckDB database, all or nothing.

    Parameters
    ----------
    db_path
        The DuckDB database file; created (with its folder) if missing.
    inputs
        Table name (``orders``, ``customers``, ``order_items``, ``returns``, ``events``) ->
        paths or globs. Orders alone are enough; customers are then derived from them.
    mapping
        Column mapping and formats per table (``ingest.mapping``).
    min_date, max_date
        Timestamps outside this range are rejected; ``max_date`` defaults to tomorrow (UTC).
    progress
        Called with a short message as each file and table is done.
    pseudonymizer
        Replace customer ids by keyed hashes and skip personal columns (``ingest.pseudonymize``).

    Returns
    -------
    LoadReport
        Per-file counts; also stored in ``raw.load_log``.

    Raises
    ------
    LoadError
        On anything that stops the load; the database is then left exactly as it was.
    """
    unknown = [t for t in inputs if t not in TABLES]
    if unknown:
        raise LoadError(f"unknown table(s) {unknown}; tables are {list(TABLES)}")
    if not any(inputs.values()):
        raise LoadError("nothing to load: pass at least --orders FILE")
    mapping = mapping or {}
    for name, value in (("min_date", min_date), ("max_date", max_date)):
        if value is not None:
            try:
                dt.datetime.fromisoformat(value)
            except ValueError as err:
                raise LoadError(f"--{name.replace('_', '-')} must be a date like 2024-12-31, got {value!r}") from err
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    bounds = Bounds(min_date, max_date or tomorrow.isoformat())
    plan = _plan(inputs, mapping)

    db = Path(db_path)
    existed = db.exists()
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db))
    except duckdb.Error as err:
        raise LoadError(f"cannot open {db} ({str(err).splitlines()[0]}): close other programs using it") from err
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        # Row order in raw tables carries no meaning; not preserving it saves memory on big loads.
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = {lit(memory_limit())}")
        con.execute("BEGIN TRANSACTION")
        ddl.create_raw_schema(con)
        check_database(con, pseudonymizer)
        load_id = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM raw.load_log").fetchone()[0]
        reports: list[FileReport] = []
        derived = 0
        for table in LOAD_ORDER:
            if table not in plan:
                continue
            spec, entries = TABLES[table], plan[table]
            tm = mapping.get(table, TableMapping())
            # Text timestamps without an offset are read in the mapping's zone when the views are
            # scanned, so the session zone holds for all of this table's work.
            con.execute(f"SET TimeZone = {lit(tm.timezone)}")
            _stage(con, spec, entries, tm, pseudonymizer)
            bound_key = all(b.get(spec.key) is not None for _, b in entries)
            enforce = table != "orders" or "customers" in plan or _has_real_customers(con)
            _check(con, spec, bound_key, bounds, enforce)
            files = [str(src.path) for src, _ in entries]
            counted = _count(con, table, files)
            _record_rejects(con, spec, load_id, files)
            _upsert(con, spec, load_id, counted)
            _reconcile(con, spec, load_id, counted)
            reports += counted.values()
            con.execute("SET TimeZone = 'UTC'")
            if table == "orders":
                derived = _derive_customers(con, load_id)
            if progress:
                progress(f"{table}: {len(files)} file(s) loaded")
        _log(con, load_id, reports, started)
        con.execute("COMMIT")
    except BaseException as err:
        con.execute("ROLLBACK")
        con.close()
        if not existed:
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        if isinstance(err, duckdb.Error):
            raise LoadError(f"load failed and was rolled back: {str(err).splitlines()[0]}") from err
        raise
    con.close()
    return LoadReport(load_id, db, reports, derived)


def _has_real_customers(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM raw.customers WHERE NOT _derived").fetchone()[0])
