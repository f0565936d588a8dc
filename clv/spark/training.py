"""Training from a Spark build: its exported ml views as a DuckDB database that ``clv train`` reads.

Training runs on one machine, as ever; what comes from Spark is the data. ``training_database``
copies the build's ``ml_training_set`` and ``ml_decision_set`` (or a sample of their customers, for
a shop too large to fit on one machine), its ``ml_scoring_set`` and cutoffs into a DuckDB file laid
out as ``clv build`` lays them out, so ``clv train --db`` trains and registers from it unchanged;
the champions then score on Spark (``spark.scoring``).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from duckdb_clv.errors import ClvError
from duckdb_clv.spark.build import SparkBuild
from duckdb_clv.udfs.contract import SEQUENCE_COLUMNS, SEQUENCE_TYPE
from duckdb_clv.udfs.staging import staging_path

# Spark writes the weekly histories as plain lists; clv build's views hold them as FLOAT[52].
_HISTORIES = "REPLACE (" + ", ".join(f"{c}::{SEQUENCE_TYPE} AS {c}" for c in SEQUENCE_COLUMNS) + ")"


def training_database(build: SparkBuild, db: str | Path, sample_share: float = 1.0, seed: int = 0) -> int:
    """Write ``db`` from the build's exports; returns the training rows it holds.

    Parameters
    ----------
    build
        A finished Spark build (``spark_build`` or ``SparkBuild.at``).
    db
        The DuckDB file to write; replaced whole (written beside it, then moved into place).
    sample_share
        Share of customers whose training rows are kept (all their cutoffs, so a customer is never
        split between training and evaluation); the scoring rows are all kept.
    seed
        Picks the sample: the same seed and data give the same customers.

    Raises
    ------
    ClvError
        When the share is not in (0, 1] or the sample is empty.
    """
    if not 0 < sample_share <= 1:
        raise ClvError(f"sample share {sample_share} is not in (0, 1]: pass e.g. 0.1 for a tenth of the customers")
    target = Path(db).resolve()
    partial = staging_path(target)
    partial.unlink(missing_ok=True)
    files = {name: str(folder / "*.parquet") for name, folder in build.exports.items()}
    # A customer is in the sample when a hash of its id and the seed falls in the share.
    keep = f"md5_number(customer_id || '/{int(seed)}') % 1000000 < {round(sample_share * 1_000_000)}"
    try:
        with duckdb.connect(str(partial)) as con:
            con.execute("CREATE SCHEMA intermediate")
            cutoffs = "CREATE TABLE intermediate.int_cutoffs AS SELECT * FROM read_parquet(?)"
            con.execute(cutoffs, [files["int_cutoffs"]])
            con.execute(
                f"CREATE TABLE ml_training_set AS SELECT * {_HISTORIES} FROM read_parquet(?) WHERE {keep} "
                "ORDER BY cutoff_date, customer_id",
                [files["ml_training_set"]],
            )
            con.execute(
                f"CREATE TABLE ml_scoring_set AS SELECT * {_HISTORIES} FROM read_parquet(?) ORDER BY customer_id",
                [files["ml_scoring_set"]],
            )
            # The logged campaign decisions the next-best-action policies learn from, of the same
            # customers; Spark writes no file for a shop without campaigns, and training then fits no policy.
            if any(build.exports["ml_decision_set"].glob("*.parquet")):
                con.execute(
                    f"CREATE TABLE ml_decision_set AS SELECT * FROM read_parquet(?) WHERE {keep}",
                    [files["ml_decision_set"]],
                )
            rows = con.execute("SELECT count(*) FROM ml_training_set").fetchone()[0]
            if rows == 0 and sample_share < 1:
                raise ClvError(f"a sample of {sample_share:.2%} of the customers is empty: take a larger share")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return rows
