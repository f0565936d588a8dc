"""``score_dataframe``: the registry's champions over a Spark DataFrame, in ``mapInArrow``.

The driver resolves and verifies the models (the registry checks of ``udfs``: card, checksum,
spec hash, the ONNX guard) before any task runs; each executor's Python worker then loads the same
verified files once (``udfs.functions.cache_for``: one session per model per worker process, kept
while Spark reuses the worker) and scores each Arrow batch in one onnxruntime call per model.
Features are bound by name, so the DataFrame's other columns and their order do not matter; they
pass through unchanged. Scores equal the DuckDB functions' (``predict_clv``, ``churn_score``,
``customer_segment``) on the same rows: the same matrix reaches the same session.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from duckdb_clv.errors import ClvError
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS
from duckdb_clv.udfs.functions import cache_for, check_histories, columns_matrix

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Output column -> the task whose champion fills it, as customer_scores names them.
SCORES = {"predicted_clv": "value", "churn_probability": "churn", "segment": "segment"}


def resolve_models(models_dir: str | Path, refs: dict[str, str | None] | None = None) -> dict[str, str]:
    """Task -> 'name/version' of the model each score uses, verified; the champions unless ``refs`` names one.

    Raises
    ------
    RegistryError
        When a task has no champion, a named model is missing, or a file fails the registry's checks.
    """
    cache = cache_for(Path(models_dir).resolve())
    out = {}
    for task in SCORES.values():
        name, version = cache.resolve(task, (refs or {}).get(task))
        cache.get(name, version, task)  # verifies the card and the file, and opens the session
        out[task] = f"{name}/{version}"
    return out


def _score_batches(root: str, models: dict[str, str], reads_history: bool):
    """The function ``mapInArrow`` runs on each executor: batches in, the same batches plus scores out."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cache = cache_for(root)
        loaded = {task: cache.get(*ref.split("/"), task) for task, ref in models.items()}
        for batch in batches:
            features = tuple(batch.column(name) for name in FEATURES)
            X = columns_matrix(features)
            histories = tuple(batch.column(name) for name in SEQUENCE_COLUMNS) if reads_history else ()
            everyone = np.ones(batch.num_rows, dtype=bool)
            columns = list(batch.columns)
            for task in SCORES.values():
                model = loaded[task]
                history = check_histories(model, histories, everyone) if model.reads_history else None
                out = model.run(X, history).ravel()
                columns.append(pa.array(out.astype(np.int64 if task == "segment" else np.float64)))
            yield pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, *SCORES])

    return score


def score_dataframe(
    df: DataFrame, models_dir: str | Path, refs: dict[str, str | None] | None = None, partitions: int | None = None
) -> DataFrame:
    """``df`` with ``predicted_clv``, ``churn_probability`` and ``segment`` from the registry's models.

    Parameters
    ----------
    df
        Rows with the contract's feature columns (``udfs.contract.FEATURES``), found by name; the
        weekly histories too when a champion is a sequence model. A NULL feature is unknown (NaN to
        the model), as in the SQL functions.
    models_dir
        The model registry; every executor must be able to read it at the same path.
    refs
        Task -> model ('name' or 'name/vN') instead of the champion, as the SQL functions' ``model :=``.
    partitions
        Repartition ``df`` into this many partitions first (one task each); default as it comes.

    Raises
    ------
    ClvError
        When a feature column is missing or not numeric, or the DataFrame already has a score column.
    RegistryError
        When the registry cannot serve a model (checked on the driver, before any task runs).
    """
    from pyspark.sql import functions, types

    root = str(Path(models_dir).resolve())
    models = resolve_models(root, refs)
    cache = cache_for(root)
    reads_history = any(cache.get(*ref.split("/")).reads_history for ref in models.values())
    needed = (*FEATURES, *(SEQUENCE_COLUMNS if reads_history else ()))
    dtypes = dict(df.dtypes)
    missing = [name for name in needed if name not in dtypes]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ClvError(
            f"the DataFrame lacks {len(missing)} feature column(s) the models read ({shown}): "
            "score rows of ml_scoring_set (or the same columns)"
        )
    clashing = [name for name in SCORES if name in dtypes]
    if clashing:
        raise ClvError(f"the DataFrame already has {', '.join(clashing)}: drop or rename it before scoring")
    numeric = ("double", "float", "int", "bigint", "smallint", "tinyint", "boolean")
    odd = [name for name in FEATURES if not (dtypes[name] in numeric or dtypes[name].startswith("decimal"))]
    if odd:
        raise ClvError(f"feature {odd[0]!r} is {dtypes[odd[0]]}, not a number: cast it to double before scoring")
    # The features as doubles, as the SQL functions read them; every other column as it is.
    casts = {name: functions.col(name).cast("double") for name in FEATURES if dtypes[name] != "double"}
    if reads_history:
        casts |= {
            name: functions.col(name).cast("array<float>")
            for name in SEQUENCE_COLUMNS
            if dtypes[name] != "array<float>"
        }
    source = df.withColumns(casts) if casts else df
    if partitions:
        source = source.repartition(partitions)
    schema = types.StructType(
        [
            *source.schema.fields,
            types.StructField("predicted_clv", types.DoubleType()),
            types.StructField("churn_probability", types.DoubleType()),
            types.StructField("segment", types.LongType()),
        ]
    )
    with warnings.catch_warnings():
        # pyspark 4.3 warns of pandas 3 on every mapInArrow, which uses Arrow, not pandas.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        return source.mapInArrow(_score_batches(root, models, reads_history), schema)


def score_parquet(
    source: str | Path,
    destination: str | Path,
    models_dir: str | Path,
    partitions: int | None = None,
    master: str = "local[2]",
    driver_memory: str = "4g",
) -> int:
    """Score the rows of a Parquet file or folder on Spark and write them, with their scores, as Parquet.

    Parameters
    ----------
    source
        Parquet with the contract's feature columns (``ml_scoring_set`` as ``spark_build`` exports it).
    destination
        Parquet folder to write; replaced only once every row is scored (written beside it first).
    models_dir, partitions
        As ``score_dataframe``.
    master, driver_memory
        For the Spark session, when none is running.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    ClvError
        When the input is missing or lacks feature columns, or ``partitions`` is below 1.
    """
    import shutil

    from duckdb_clv.spark.session import local_session
    from duckdb_clv.udfs.staging import staging_path

    if partitions is not None and partitions < 1:
        raise ClvError(f"--partitions must be at least 1, got {partitions}")
    source, destination = Path(source).resolve(), Path(destination).resolve()
    if not source.exists():
        raise ClvError(f"no Parquet at {source}: pass the file or folder `clv spark-build` exported")
    spark = local_session(master, driver_memory)
    scored = score_dataframe(spark.read.parquet(str(source)), models_dir, partitions=partitions)
    partial = staging_path(destination)
    try:
        scored.write.parquet(str(partial))
        rows = spark.read.parquet(str(partial)).count()
        if destination.exists():
            shutil.rmtree(destination)
        partial.rename(destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return rows
