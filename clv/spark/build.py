"""``spark_build``: the dbt project on Spark, from a DuckDB database's validated shop tables.

``clv load`` validates the raw files into a DuckDB database as ever; ``spark_build`` writes its
shop tables (without personal columns) as Parquet into the Spark warehouse, where the project's
on-run-start hook registers them as database ``raw``, then runs ``dbt build --target spark``. The
marts are Parquet tables under ``<warehouse>/warehouse``; the ml views and the cutoffs are exported
as Parquet folders under ``<warehouse>/exports`` for training (``spark.training``) and ``clv spark-score``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckdb_clv.build import BuildResult, Progress, check_database, run_dbt_build
from duckdb_clv.errors import ClvError
from duckdb_clv.spark.session import DEFAULT_DRIVER_MEMORY, DEFAULT_MASTER, SCHEMA, require_spark, session_env

# The shop's tables as the dbt sources read them; campaigns only where loaded.
SHOP_TABLES = ("customers", "orders", "order_items", "returns", "events", "campaigns")
# Never copied to the warehouse: the staging models do not read them, and a cluster should not hold them.
PERSONAL_COLUMNS = frozenset({"name", "email", "phone", "address", "_source_file", "_source_line"})
# What the on-run-end hook writes as Parquet folders under <warehouse>/exports (macros/spark_io.sql).
EXPORTED = ("ml_training_set", "ml_scoring_set", "ml_decision_set", "int_cutoffs")


@dataclass
class SparkBuild:
    """Where a Spark build put things.

    Attributes
    ----------
    result : BuildResult
        dbt's nodes, messages and warnings, and the cutoffs built.
    warehouse : Path
        The Spark warehouse folder (tables, metastore, dbt's logs).
    exports : dict[str, Path]
        The ml views and ``int_cutoffs`` as Parquet folders (``EXPORTED``).
    """

    result: BuildResult
    warehouse: Path
    exports: dict[str, Path]

    @classmethod
    def at(cls, warehouse: str | Path) -> SparkBuild:
        """The build whose warehouse is ``warehouse`` (what an earlier ``spark_build`` wrote), for reading.

        Raises
        ------
        ClvError
            When the folder holds no finished build.
        """
        home = Path(warehouse).resolve()
        build = cls(BuildResult(nodes=0), home, {name: home / "exports" / name for name in EXPORTED})
        absent = [name for name, folder in build.exports.items() if not (folder / "_SUCCESS").exists()]
        if absent:
            raise ClvError(
                f"{home} holds no finished Spark build ({', '.join(absent)} missing): "
                f"run `clv spark-build --warehouse {home}` first"
            )
        _read_cutoffs(build)
        return build

    def table(self, name: str, schema: str = SCHEMA) -> Path:
        """The Parquet folder of a table the build wrote (``schema`` ``staging``/``intermediate`` for those layers)."""
        return self.warehouse / "warehouse" / f"{schema}.db" / name


def stage_raw_tables(db: Path, folder: Path) -> dict[str, str]:
    """Write the database's shop tables to ``folder/<table>/`` as Parquet; returns table -> folder.

    Personal columns stay behind (``PERSONAL_COLUMNS``); every row goes, as ``clv load`` kept it.
    """
    staged: dict[str, str] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        listed = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'")
        present = {r[0] for r in listed.fetchall()}
        for table in SHOP_TABLES:
            if table not in present:
                continue
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if r[0] not in PERSONAL_COLUMNS
            ]
            target = folder / table
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            listed = ", ".join(f'"{c}"' for c in columns)
            con.execute(f"COPY (SELECT {listed} FROM raw.{table}) TO '{target / 'part-0.parquet'}' (FORMAT parquet)")
            staged[table] = str(target)
    return staged


def spark_build(
    db_path: str | Path,
    warehouse: str | Path,
    variables: dict[str, object] | None = None,
    master: str = DEFAULT_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    progress: Progress | None = None,
) -> SparkBuild:
    """Build the dbt project on Spark (dbt-spark, session method) from ``db_path``'s shop tables.

    Parameters
    ----------
    db_path
        A DuckDB database loaded by ``clv load`` (its schema ``raw``).
    warehouse
        Folder for the Spark warehouse; created if missing. Each build rebuilds every table.
    variables
        dbt vars, as ``build_features`` takes them (``Settings.feature_vars``).
    master, driver_memory
        The Spark master (``local[2]``: two cores here) and the driver's heap.
    progress
        Called with (nodes done, nodes in all, node name) as each dbt node finishes.

    Raises
    ------
    ClvError
        When Spark support or Java is missing, the database is not loaded, or a model or test fails.
    """
    require_spark()
    db = Path(db_path).resolve()
    check_database(db)
    home = Path(warehouse).resolve()
    home.mkdir(parents=True, exist_ok=True)
    exports = home / "exports"
    # An earlier build's exports go first: a build that fails is never taken for a finished one.
    shutil.rmtree(exports, ignore_errors=True)
    tables = stage_raw_tables(db, home / "raw")
    spark_vars = {**(variables or {}), "spark_raw_tables": tables, "spark_export_dir": str(exports)}
    result = run_dbt_build(
        home / "dbt", session_env(home, master, driver_memory), spark_vars, target="spark", progress=progress
    )
    build = SparkBuild(result, home, {name: exports / name for name in EXPORTED})
    _read_cutoffs(build)
    return build


def _read_cutoffs(build: SparkBuild) -> None:
    folder = build.table("int_cutoffs", "intermediate")
    if not folder.is_dir():
        raise ClvError(f"the Spark build wrote no int_cutoffs under {folder.parent}: see {build.warehouse}/dbt/logs")
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT cutoff_date, cutoff_role FROM read_parquet(?) ORDER BY 1", [str(folder / "*.parquet")]
        ).fetchall()
    build.result.training_cutoffs = [str(d) for d, role in rows if role == "training"]
    build.result.scoring_cutoff = next((str(d) for d, role in rows if role == "scoring"), None)
