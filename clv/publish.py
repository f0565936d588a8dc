"""``publish``: copy the marts BI tools read into a separate serving database, swapped in atomically.

DuckDB allows one writing process or many reading processes on a file, never both; a BI tool
holding the working database open would block every build. The serving file is written under a
temporary name beside its final place, checkpointed and synced, then renamed over the old one.
Readers that already hold the old file keep reading it whole; new connections see the new one;
no reader ever sees a half-written file or rows from two model versions.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError
from duckdb_clv.udfs.staging import staging_path, sweep

PUBLISHED = (
    "customer_scores",
    "campaign_plan",
    "segment_summary",
    "segment_profiles",
    "score_history",
    "model_importance",
    "monitor_drift",
    "monitor_accuracy",
    "fct_customer_features",
    "dim_customers",
)


def publish(
    db: str | Path, target: str | Path, tables: tuple[str, ...] = PUBLISHED, statements: tuple[str, ...] = ()
) -> dict[str, int]:
    """Write ``tables`` of ``db`` into ``target`` atomically; returns rows per table.

    ``statements`` run in the new file after the tables are copied (the compiled models' macros):
    a failing one leaves the old file in place, like every other failure.
    """
    source, target = Path(db).resolve(), Path(target).resolve()
    if source == target:
        raise ClvError("the published database must be a different file from the working database")
    if not source.exists():
        raise ClvError(f"no database at {source}: run `clv load`, `clv build`, `clv train` and `clv score` first")
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep(target.parent, target.name)  # staging files of publishes killed before their rename
    staging = staging_path(target)
    rows: dict[str, int] = {}
    try:
        with duckdb.connect(str(staging)) as con:
            con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
            listed = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' AND table_schema = 'main'"
            ).fetchall()
            present = {name for (name,) in listed}
            missing = [t for t in tables if t not in present]
            if missing:
                raise ClvError(f"{source} has no {', '.join(missing)}: run `clv score` before publishing")
            for table in tables:
                con.execute(f"CREATE TABLE main.{table} AS SELECT * FROM src.main.{table}")
                rows[table] = con.execute(f"SELECT count(*) FROM main.{table}").fetchall()[0][0]
            con.execute(
                "CREATE TABLE main.clv_publication AS SELECT ?::TIMESTAMPTZ AS published_at, ? AS source_db, "
                "(SELECT any_value(value_model) FROM main.customer_scores) AS value_model",
                [dt.datetime.now(dt.UTC), str(source)],
            )
            con.execute("DETACH src")
            for statement in statements:
                con.execute(statement)
            con.execute("CHECKPOINT")
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, target)
    except duckdb.Error as err:
        raise ClvError(f"publishing failed, {target} is unchanged: {str(err).splitlines()[0]}") from err
    finally:
        staging.unlink(missing_ok=True)
        Path(f"{staging}.wal").unlink(missing_ok=True)
    return rows
