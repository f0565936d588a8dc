"""``compare_builds``: the tables of a Spark build against the same tables of the DuckDB build.

The dbt project builds on both engines from the same shop; this says, table by table and column by
column, where the two disagree. Counts, dates and text must be equal; floating-point columns
within ``REL_TOL`` relative (sums of doubles may be added in another order); weekly arrays equal
element by element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from duckdb_clv.spark.build import SparkBuild

REL_TOL = 1e-9
KEYS = ("customer_id", "cutoff_date")
# (table, DuckDB schema, Spark database, key columns): the features, labels, segments and histories.
TABLES = (
    ("fct_customer_features", "main", "clv", KEYS),
    ("fct_customer_labels", "main", "clv", KEYS),
    ("fct_customer_weekly_history", "main", "clv", KEYS),
    ("fct_customer_treatments", "main", "clv", KEYS),
    ("dim_customers", "main", "clv", ("customer_id",)),
    ("int_rfm_scores", "intermediate", "intermediate", KEYS),
    ("int_btyd_summary_at_cutoffs", "intermediate", "intermediate", KEYS),
    ("int_cutoffs", "intermediate", "intermediate", ("cutoff_date",)),
)
EXPORTS = (("ml_training_set", "main", KEYS), ("ml_scoring_set", "main", KEYS), ("ml_decision_set", "main", KEYS))
FLOATS = frozenset({"DOUBLE", "FLOAT"})


@dataclass
class TableParity:
    """How one table's two builds compare.

    Attributes
    ----------
    table : str
    rows : tuple[int, int]
        Rows in the DuckDB and the Spark build.
    unmatched : int
        Keys present in one build only.
    columns : list[str]
        Columns compared (those of the DuckDB build).
    missing : list[str]
        Columns the Spark build lacks or has in another order.
    differing : dict[str, int]
        Column -> rows whose values disagree (beyond ``REL_TOL`` for floats).
    worst_relative : float
        Largest relative difference of any floating-point value.
    """

    table: str
    rows: tuple[int, int]
    unmatched: int
    columns: list[str]
    missing: list[str] = field(default_factory=list)
    differing: dict[str, int] = field(default_factory=dict)
    worst_relative: float = 0.0

    @property
    def equal(self) -> bool:
        return self.rows[0] == self.rows[1] and not self.unmatched and not self.missing and not self.differing


def _differs(column: str, data_type: str) -> tuple[str, str | None]:
    """SQL counting the rows where the two builds differ in ``column``, and its relative difference (floats)."""
    d, s = f'd."{column}"', f's."{column}"'
    if data_type in FLOATS:
        rel = f"abs({d} - {s}) / greatest(abs({d}), abs({s}), 1e-300)"
        return f"count(*) FILTER (WHERE ({d} IS NULL) <> ({s} IS NULL) OR {rel} > {REL_TOL})", f"max({rel})"
    if data_type.endswith("]"):
        return f"count(*) FILTER (WHERE {d}::FLOAT[] IS DISTINCT FROM {s}::FLOAT[])", None
    return f"count(*) FILTER (WHERE {d} IS DISTINCT FROM {s})", None


def compare_table(
    con: duckdb.DuckDBPyConnection, table: str, duckdb_relation: str, spark_files: str, keys: tuple[str, ...]
) -> TableParity:
    """Compare one table of the attached DuckDB build (``duckdb_relation``) with Spark's Parquet files."""
    described = con.execute(f"DESCRIBE {duckdb_relation}").fetchall()
    columns = [(r[0], r[1]) for r in described]
    spark_columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [spark_files]).fetchall()]
    names = [c for c, _ in columns]
    missing = [c for c in names if c not in spark_columns]
    if not missing and spark_columns != names:
        missing = [f"(order) {', '.join(spark_columns)}"]
    n_duck = con.execute(f"SELECT count(*) FROM {duckdb_relation}").fetchone()[0]
    n_spark = con.execute("SELECT count(*) FROM read_parquet(?)", [spark_files]).fetchone()[0]
    on = " AND ".join(f'd."{k}" = s."{k}"' for k in keys)
    compared = [(c, t) for c, t in columns if c not in keys and c in spark_columns]
    parts = [_differs(c, t) for c, t in compared]
    selects = [count for count, _ in parts] + [rel for _, rel in parts if rel]
    unmatched = con.execute(
        f"SELECT count(*) FROM {duckdb_relation} AS d FULL OUTER JOIN read_parquet(?) AS s ON {on} "
        f'WHERE d."{keys[0]}" IS NULL OR s."{keys[0]}" IS NULL',
        [spark_files],
    ).fetchone()[0]
    row = con.execute(
        f"SELECT {', '.join(selects) or '0'} FROM {duckdb_relation} AS d JOIN read_parquet(?) AS s ON {on}",
        [spark_files],
    ).fetchone()
    counts = row[: len(compared)]
    rels = [r for r in row[len(compared) :] if r is not None]
    return TableParity(
        table,
        (n_duck, n_spark),
        unmatched,
        names,
        missing,
        {c: n for (c, _), n in zip(compared, counts, strict=True) if n},
        max(rels, default=0.0),
    )


def compare_builds(db: str | Path, build: SparkBuild) -> list[TableParity]:
    """Every feature, label, segment and history table, and the exported ml views, of both builds.

    Parameters
    ----------
    db
        The DuckDB database built by ``clv build`` from the same shop (and the same vars).
    build
        What ``spark_build`` returned.
    """
    out = []
    with duckdb.connect() as con:
        con.execute("ATTACH ? AS duck (READ_ONLY)", [str(Path(db).resolve())])
        for table, schema, database, keys in TABLES:
            files = str(build.table(table, database) / "*.parquet")
            out.append(compare_table(con, table, f"duck.{schema}.{table}", files, keys))
        for view, schema, keys in EXPORTS:
            relation = f"duck.{schema}.{view}"
            if not any(build.exports[view].glob("*.parquet")):
                # Spark writes no file for an empty result (ml_decision_set of a shop without campaigns).
                n = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
                out.append(TableParity(view, (n, 0), n, []))
                continue
            out.append(compare_table(con, view, relation, str(build.exports[view] / "*.parquet"), keys))
    return out
