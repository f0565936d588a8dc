"""Spark sessions: the environment of the dbt profile's ``spark`` target, and a local session for scoring.

The dbt project's ``profiles.yml`` (target ``spark``) reads ``CLV_SPARK_*`` variables, which
``session_env`` sets for a warehouse folder: dbt-spark then starts pyspark inside the dbt process
with those settings. ``local_session`` is the scoring side's session (no metastore needed).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from duckdb_clv.errors import ClvError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The Spark database of the marts (the profile's schema; staging and intermediate keep their names).
SCHEMA = "clv"
DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "4g"
# Shuffles of the feature build: a few per core, not Spark's 200 (tiny tasks on one machine).
DEFAULT_SHUFFLE_PARTITIONS = 8


def require_spark() -> None:
    """Fail in one line when pyspark, dbt-spark or Java is missing.

    Raises
    ------
    ClvError
        Naming what to install.
    """
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise ClvError("Spark support is not installed: install it with `pip install 'duckdb-clv[spark]'`")
    if java_missing():
        raise ClvError(
            "Spark needs Java 17 and none was found: install it with `apt-get install openjdk-17-jre-headless` "
            "(or set JAVA_HOME)"
        )


def java_missing() -> bool:
    """True when neither ``JAVA_HOME`` nor the ``PATH`` has a ``java``."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return False
    return shutil.which("java") is None


def session_env(
    warehouse: str | Path,
    master: str = DEFAULT_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS,
) -> dict[str, str]:
    """The environment the dbt profile's ``spark`` target reads, for ``warehouse``.

    ``PYSPARK_PYTHON`` names this interpreter, so Spark's Python workers import the same
    installation (onnxruntime and the registry code in ``mapInArrow``).
    """
    return {
        "CLV_SPARK_WAREHOUSE": str(Path(warehouse).resolve()),
        "CLV_SPARK_SCHEMA": SCHEMA,
        "CLV_SPARK_MASTER": master,
        "CLV_SPARK_DRIVER_MEMORY": driver_memory,
        "CLV_SPARK_SHUFFLE_PARTITIONS": str(shuffle_partitions),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def local_session(master: str = DEFAULT_MASTER, driver_memory: str = DEFAULT_DRIVER_MEMORY) -> SparkSession:
    """A Spark session for scoring (``master``: ``local[2]`` is two cores of this machine), quiet, in UTC.

    Returns the running session when there is one (Spark allows one per process), so a caller
    inside an existing Spark application scores on its cluster.

    Parameters
    ----------
    master
        Spark master URL, used when no session is running yet.
    driver_memory
        JVM heap of the driver (with ``local[n]``, the executors run inside it).
    """
    require_spark()
    for key in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        os.environ.setdefault(key, sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("duckdb-clv").master(master)
    for key, value in {
        "spark.driver.memory": driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
    }.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
