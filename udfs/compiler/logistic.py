"""onnxruntime's logistic, as compiled SQL: exact in double, its own approximation in float32."""

from __future__ import annotations

import numpy as np

from duckdb_clv.udfs.compiler.expressions import REAL, Bindings, Value, constant, literal
from duckdb_clv.udfs.onnx_graph import Node


def round32(expression: str) -> str:
    """SQL rounding a DOUBLE expression to float32 and back, as onnxruntime's float tensors hold it."""
    return f"CAST(CAST({expression} AS FLOAT) AS DOUBLE)"


def _f32(value: float) -> str:
    return literal(float(np.float32(value)))


# The rational approximation onnxruntime's float logistic evaluates (Eigen's coefficients), which
# is off the exact logistic by up to 1.5e-7: far from zero that is 1e-4 relative, beyond parity.
_LOGISTIC_P = (
    4.37031012579801e-11,
    1.15627324459942e-07,
    6.08574864600143e-05,
    8.51377133304701e-03,
    2.48287947061529e-01,
)
_LOGISTIC_Q = (
    6.10247389755681e-13,
    5.76102136993427e-09,
    6.29106785017040e-06,
    1.70198817374094e-03,
    1.16817656904453e-01,
    9.93151921023180e-01,
)


def _float_logistic(x: str) -> str:
    """onnxruntime's float Sigmoid step by step in float32, each multiply-add fused (rounded once)."""
    v = f"least(greatest({round32(x)}, -18e0), 18e0)"
    v2 = round32(f"{v} * {v}")
    p = round32(f"{v2} * {_f32(_LOGISTIC_P[0])} + {_f32(_LOGISTIC_P[1])}")
    for c in _LOGISTIC_P[2:]:
        p = round32(f"{p} * {v2} + {_f32(c)}")
    p = round32(f"{p} * {v}")
    q = round32(f"{v2} * {_f32(_LOGISTIC_Q[0])} + {_f32(_LOGISTIC_Q[1])}")
    for c in _LOGISTIC_Q[2:]:
        q = round32(f"{q} * {v2} + {_f32(c)}")
    return f"least(greatest({round32(round32(f'{p} / {q}') + ' + 0.5e0')}, 0e0), 1e0)"


def exact_logistic(x: str) -> str:
    """The exact logistic of a DOUBLE expression (onnxruntime's in double), written so exp never overflows."""
    return f"CASE WHEN {x} >= 0 THEN 1e0 / (1e0 + exp(-{x})) ELSE exp({x}) / (1e0 + exp({x})) END"


def _sigmoid(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    (x,) = inputs
    if not x.is_row:
        return [constant(1 / (1 + np.exp(-np.asarray(x.const))))]
    x = b.bind(x)
    if x.f32:
        return [x.like([_float_logistic(c) for c in x.columns], REAL, True)]
    return [x.like([exact_logistic(c) for c in x.columns], REAL, False)]


HANDLERS = {"Sigmoid": _sigmoid}
