"""Scoring in SQL: DuckDB functions over the registry's ONNX models, run by onnxruntime.

    from duckdb_clv import udfs
    con = udfs.connect("build/clv.duckdb")            # read-only, functions registered
    con.sql("SELECT customer_id, predict_clv(s), churn_score(s) FROM ml_scoring_set s")

Runtime-only by design: this package imports duckdb, onnxruntime, numpy and pyarrow, never
torch, scikit-learn or pandas (``tests/udfs/test_imports.py`` holds it to that).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.sql import register_functions

DEFAULT_MODELS_DIR = "onnx_models"

__all__ = ["DEFAULT_MODELS_DIR", "connect", "register"]


def register(con: duckdb.DuckDBPyConnection, models_dir: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """Register ``predict_clv``, ``churn_score``, ``customer_segment``, ``segment_name``, ``clv_model``,
    ``p_alive``, ``expected_purchases`` and ``discounted_clv`` (and the explanation and interval
    functions) on a connection.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Any connection or cursor (read-only ones too: the macros are temporary, per connection).
    models_dir : path, optional
        The registry root; default ``$CLV_MODELS_DIR`` or ``onnx_models``.

    Raises
    ------
    udfs.errors.RegistryError
        When a champion's file or feature spec does not match its card.
    """
    root = Path(models_dir or os.environ.get("CLV_MODELS_DIR", DEFAULT_MODELS_DIR)).resolve()
    register_functions(con, root)
    # Check the champions now (sha256 and feature spec against their cards, then load them), so a
    # tampered or stale champion is refused at registration rather than in the middle of a query.
    cache = functions.cache_for(root)
    for task in registry.TASKS:
        pointer = registry.champion(root, task)
        if pointer is not None:
            cache.get(pointer["name"], pointer["version"], task)
    return con


def connect(
    path: str | Path, models_dir: str | Path | None = None, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A connection to ``path`` with the functions registered (read-only unless asked otherwise)."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        return register(con, models_dir)
    except BaseException:
        con.close()
        raise
