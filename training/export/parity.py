"""Export with a parity check: the ONNX graph must agree with the in-memory model on test rows.

Tolerances, stated once: value predictions within 1e-3 x max(|value|, 1 % of the mean |value|)
(float32 arithmetic in onnxruntime against float64 in numpy/torch), churn probabilities within
1e-4, and k-means segments identical on at least 99.9% of rows (a float32 distance can break a
near-tie the other way). An export outside them raises, and nothing is registered.

The value floor is relative to the shop's own values, not an absolute 1: float32 rounding is
relative to the magnitudes a graph adds up (a tree ensemble starts from the mean value and adds
hundreds of leaves), so a prediction near zero in a shop whose customers are worth thousands, or
millions in a currency with large units, carries an absolute error that scales with that currency.
"""

from __future__ import annotations

import numpy as np
import onnx

from duckdb_clv.training.export.onnx_tools import check_domains, run
from duckdb_clv.training.failures import ParityError

VALUE_RTOL = 1e-3
# Share of the mean |value| below which value errors are measured against that floor instead.
VALUE_FLOOR_SHARE = 0.01
CHURN_ATOL = 1e-4
SEGMENT_AGREEMENT = 0.999


def parity(task: str, expected: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """The parity figures of one export, raising TrainingError when outside the tolerance."""
    expected = np.asarray(expected).ravel()
    actual = np.asarray(actual).ravel()
    if task == "segment":
        agreement = float(np.mean(expected == actual))
        figures = {"rows": int(expected.size), "agreement": agreement, "tolerance": SEGMENT_AGREEMENT}
        ok = agreement >= SEGMENT_AGREEMENT
    else:
        gap = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        if task == "value":
            floor = VALUE_FLOOR_SHARE * float(np.mean(np.abs(expected))) if expected.size else 0.0
            scale = np.maximum(np.abs(expected), floor if floor > 0 else 1.0)
        else:
            scale = np.ones_like(gap)
        worst = float(np.max(gap / scale)) if gap.size else 0.0
        tolerance = VALUE_RTOL if task == "value" else CHURN_ATOL
        figures = {"rows": int(expected.size), "max_error": worst, "tolerance": tolerance}
        ok = bool(np.all(np.isfinite(actual))) and worst <= tolerance
    if not ok:
        raise ParityError(f"ONNX export of the {task} model disagrees with the trained model: {figures}")
    return figures


def export_checked(
    candidate: object, X: np.ndarray, expected: np.ndarray | None = None, history: np.ndarray | None = None
) -> tuple[onnx.ModelProto, dict[str, float]]:
    """The candidate's ONNX model and its parity figures on ``X`` (float32 rows of the contract).

    ``expected`` is the in-memory model's prediction on ``X`` when the caller has it already;
    ``history``: the rows' weekly histories, for a sequence model.
    """
    model = candidate.to_onnx()
    onnx.checker.check_model(model)
    check_domains(model)
    actual = run(model, X, candidate.task, history=history)
    if expected is None:
        expected = candidate.predict(X) if history is None else candidate.predict(X, history)
    return model, parity(candidate.task, expected, actual)
