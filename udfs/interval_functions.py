"""The Arrow UDF kernel behind ``predict_clv_interval(features, level := 0.8 [, model := ...])``.

It scores the chunk as ``predict_clv`` does, then reads the model's calibrated intervals from its
card (``udfs.intervals``): so an interval always belongs to the model version that made the
prediction, and a new champion brings its own.
"""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.functions import ARGUMENTS, _models_for, check_histories, inputs
from duckdb_clv.udfs.intervals import bounds, check_level

DEFAULT_LEVEL = 0.8
RESULT = pa.struct([("lower", pa.float64()), ("upper", pa.float64())])
RESULT_SQL = "STRUCT(lower DOUBLE, upper DOUBLE)"


def _levels(values: pa.Array) -> np.ndarray:
    levels = pc.fill_null(values, DEFAULT_LEVEL).to_numpy(zero_copy_only=False).astype(np.float64)
    for level in np.unique(levels):
        try:
            check_level(float(level))
        except ValueError as err:
            raise UdfError(str(err)) from err
    return levels


def interval_kernel():
    """Kernel for ``_clv_interval_value(model, level, present, features...)``."""

    def kernel(refs: pa.Array, level: pa.Array, present: pa.Array, *columns: pa.Array) -> pa.Array:
        n = len(refs)
        if n == 0:
            return pa.array([], type=RESULT)
        levels = _levels(level)
        X, history_columns = inputs(columns)
        lower, upper = np.empty(n), np.empty(n)
        missing = ~np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
        for model, rows in _models_for("value", refs):
            picked = np.flatnonzero(~missing if rows is None else rows & ~missing)
            spec = model.card.get("model", {}).get("intervals")
            if not spec:
                # Trained without labelled cutoffs to calibrate on (the baseline-only registry of a
                # young shop): its interval is unknown, as a NULL says; scoring goes on.
                missing[picked] = True
                continue
            history = check_histories(model, history_columns, picked)
            prediction = model.run(np.ascontiguousarray(X[picked]), history).ravel().astype(np.float64)
            for value in np.unique(levels[picked]):
                same = levels[picked] == value
                lower[picked[same]], upper[picked[same]] = bounds(spec, prediction[same], float(value))
        return pa.StructArray.from_arrays(
            [pa.array(lower), pa.array(upper)], fields=list(RESULT), mask=pa.array(missing)
        )

    names = ["refs", "level", "present", *(f"f{j}" for j in range(ARGUMENTS))]
    kernel.__signature__ = inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_ONLY) for p in names])
    return kernel
