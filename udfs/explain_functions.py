"""The Arrow UDF kernel behind ``explain_clv`` and ``explain_churn``.

It receives a chunk's features as the scoring kernels do (``udfs.functions``), explains every row
with the model's explainer (``udfs.explain``) and returns one struct per row:

    model, method, scale, base, prediction,
    contributions: list of {feature, value, contribution}, largest absolute contribution first,
    rest: the sum of the contributions left out by ``top_k``,

so that ``base + sum(contributions) + rest = prediction`` on the stated scale.
"""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.explain import explainer_for
from duckdb_clv.udfs.functions import ARGUMENTS, _models_for, check_histories, inputs

DEFAULT_TOP_K = 3
CONTRIBUTION = pa.struct([("feature", pa.string()), ("value", pa.float64()), ("contribution", pa.float64())])
RESULT = pa.struct(
    [
        ("model", pa.string()),
        ("method", pa.string()),
        ("scale", pa.string()),
        ("base", pa.float64()),
        ("prediction", pa.float64()),
        ("contributions", pa.list_(CONTRIBUTION)),
        ("rest", pa.float64()),
    ]
)
RESULT_SQL = (
    "STRUCT(model VARCHAR, method VARCHAR, scale VARCHAR, base DOUBLE, prediction DOUBLE, "
    "contributions STRUCT(feature VARCHAR, value DOUBLE, contribution DOUBLE)[], rest DOUBLE)"
)


def _top_k(values: pa.Array) -> np.ndarray:
    k = pc.fill_null(values, DEFAULT_TOP_K).to_numpy(zero_copy_only=False).astype(np.int64)
    if np.any(k < 0):
        raise UdfError(f"top_k must be 0 or more (the number of contributions to list), got {int(k[k < 0][0])}")
    return k


def _rows(model_ref: str, explanation, k: np.ndarray, present: np.ndarray) -> dict[str, pa.Array]:
    n, width = explanation.contributions.shape
    phi = explanation.contributions
    k = np.where(present, np.minimum(k, width), 0)
    order = np.argsort(-np.abs(phi), axis=1, kind="stable")
    keep = np.arange(width)[None, :] < k[:, None]
    rows = np.repeat(np.arange(n), k)
    cols = order[keep]
    listed = phi[rows, cols]
    values = explanation.values[rows, cols]
    items = pa.StructArray.from_arrays(
        [
            pa.array(np.asarray(explanation.inputs, dtype=object)[cols], type=pa.string()),
            pa.array(values, mask=np.isnan(values), type=pa.float64()),
            pa.array(listed, type=pa.float64()),
        ],
        fields=list(CONTRIBUTION),
    )
    offsets = np.concatenate([[0], np.cumsum(k)]).astype(np.int32)
    left_out = np.ones((n, width), dtype=bool)
    left_out[rows, cols] = False
    return {
        "model": pa.array([model_ref] * n, type=pa.string()),
        "method": pa.array([explanation.method] * n, type=pa.string()),
        "scale": pa.array([explanation.scale] * n, type=pa.string()),
        "base": pa.array(np.full(n, explanation.base)),
        "prediction": pa.array(explanation.prediction),
        "contributions": pa.ListArray.from_arrays(pa.array(offsets), items),
        "rest": pa.array(np.where(left_out, phi, 0.0).sum(axis=1)),
    }


def explain_kernel(task: str):
    """Kernel for ``_clv_explain_<task>(model, top_k, present, features...)``."""

    def kernel(refs: pa.Array, top_k: pa.Array, present: pa.Array, *columns: pa.Array) -> pa.Array:
        n = len(refs)
        if n == 0:
            return pa.array([], type=RESULT)
        k = _top_k(top_k)
        valid = np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
        X, history_columns = inputs(columns)
        parts: list[tuple[np.ndarray | None, dict[str, pa.Array]]] = []
        for model, rows in _models_for(task, refs):
            explainer = explainer_for(model)
            # NULL feature rows are left out of the work and come back NULL.
            index = np.flatnonzero(valid if rows is None else rows & valid)
            explanation = explainer.explain(
                np.ascontiguousarray(X[index]), check_histories(model, history_columns, index)
            )
            picked = _rows(model.ref, explanation, k[index], np.ones(len(index), bool))
            parts.append((index, picked))
        return _assemble(n, parts)

    names = ["refs", "top_k", "present", *(f"f{j}" for j in range(ARGUMENTS))]
    kernel.__signature__ = inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_ONLY) for p in names])
    return kernel


def _assemble(n: int, parts: list[tuple[np.ndarray, dict[str, pa.Array]]]) -> pa.Array:
    """One struct per input row, NULL where no part explained the row."""
    index = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    tables = [pa.table(p[1]) for p in parts if len(p[0])]
    if not tables:
        return pa.nulls(n, type=RESULT)
    table = pa.concat_tables(tables)
    # Place each explained row at its position; the others take a NULL slot.
    position = np.full(n, -1, dtype=np.int64)
    position[index] = np.arange(len(index))
    taken = table.take(pa.array(np.where(position >= 0, position, 0)))
    arrays = [taken.column(name).combine_chunks() for name in RESULT.names]
    return pa.StructArray.from_arrays(arrays, fields=list(RESULT), mask=pa.array(position < 0))
