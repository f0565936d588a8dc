"""Spark fixtures: the test shop built by dbt-spark, and one local Spark session for scoring.

The Spark tests need pyspark (the ``spark`` extra) and Java 17. Without them they are skipped,
saying so; with ``CLV_REQUIRE_SPARK=1`` (as ``.ci/run`` sets) a missing Java fails them instead.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import pytest

from duckdb_clv.settings import make_settings
from duckdb_clv.spark.session import java_missing

MISSING = (
    "pyspark is not installed (pip install 'duckdb-clv[spark]')"
    if importlib.util.find_spec("pyspark") is None
    else "no Java (apt-get install openjdk-17-jre-headless)"
    if java_missing()
    else None
)


@pytest.fixture
def spark_available() -> None:
    """Skip (or, with CLV_REQUIRE_SPARK=1, fail) a test that needs Spark when it cannot run."""
    if MISSING is None:
        return
    if os.environ.get("CLV_REQUIRE_SPARK") == "1":
        pytest.fail(f"CLV_REQUIRE_SPARK=1 but {MISSING}")
    pytest.skip(f"Spark tests skipped: {MISSING}")


@pytest.fixture(scope="session")
def spark_built(built, tmp_path_factory: pytest.TempPathFactory):
    """The 3,000-customer test shop (``built``) built again on Spark, with the same vars."""
    from duckdb_clv.spark.build import spark_build

    settings = make_settings(db=str(built.db))
    return spark_build(built.db, tmp_path_factory.mktemp("spark") / "warehouse", settings.feature_vars())


@pytest.fixture(scope="session")
def spark():
    """The test process's Spark session (local[2])."""
    from duckdb_clv.spark.session import local_session

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    session = local_session()
    yield session
    session.stop()


def parquet_files(folder: Path) -> str:
    """The glob DuckDB reads a Spark Parquet folder with."""
    return str(folder / "*.parquet")


# Module mark of the tests that run Spark: they skip, saying why, where it is missing.
needs_spark = pytest.mark.usefixtures("spark_available")
