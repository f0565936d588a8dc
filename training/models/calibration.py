"""Calibration on the validation cutoff, in numpy and as ONNX nodes that end an exported graph.

Models are trained on earlier cutoffs, where customers are younger on average than at the scoring
cutoff; the shift shows as a total predicted / total actual ratio away from 1. Value models are
rescaled so that their validation total matches the actual total, and churn probabilities are
recalibrated with Platt scaling on the validation labels (a monotone map: rankings are unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper
from scipy.optimize import minimize

from duckdb_clv.training.export.onnx_tools import const

EPS = 1e-6


@dataclass(frozen=True)
class ValueScale:
    """Multiply value predictions by ``scale`` (and floor them at 0)."""

    scale: float

    @classmethod
    def fit(cls, predicted: np.ndarray, actual: np.ndarray) -> ValueScale:
        total = float(np.sum(predicted))
        return cls(float(np.sum(actual)) / total if total > 0 else 1.0)

    def apply(self, predicted: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(predicted, dtype=np.float64) * self.scale, 0.0)

    def nodes(self, raw: str, out: str, prefix: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
        scale, zero = f"{prefix}scale", f"{prefix}zero"
        return (
            [
                helper.make_node("Mul", [raw, scale], [f"{prefix}scaled"]),
                helper.make_node("Max", [f"{prefix}scaled", zero], [out]),
            ],
            [const(scale, self.scale), const(zero, 0.0)],
        )

    def as_dict(self) -> dict[str, float]:
        return {"method": "scale", "scale": self.scale}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Platt:
    """p' = sigmoid(slope * logit(p) + intercept), fitted by maximum likelihood."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, predicted: np.ndarray, actual: np.ndarray) -> Platt:
        z, y = _logit(predicted), np.asarray(actual, dtype=np.float64)

        def loss(w: np.ndarray) -> float:
            s = w[0] * z + w[1]
            return float(np.mean(np.logaddexp(0, s) - y * s))

        result = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B")
        slope, intercept = result.x
        # A non-positive slope would reverse the ranking; keep the model as it is instead.
        return cls(float(slope), float(intercept)) if slope > 0 else cls(1.0, 0.0)

    def apply(self, predicted: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.slope * _logit(predicted) + self.intercept)))

    def nodes(self, raw: str, out: str, prefix: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
        n = prefix
        nodes = [
            helper.make_node("Cast", [raw], [f"{n}p64"], to=onnx.TensorProto.DOUBLE),
            helper.make_node("Clip", [f"{n}p64", f"{n}lo", f"{n}hi"], [f"{n}clipped"]),
            helper.make_node("Sub", [f"{n}one", f"{n}clipped"], [f"{n}q"]),
            helper.make_node("Div", [f"{n}clipped", f"{n}q"], [f"{n}odds"]),
            helper.make_node("Log", [f"{n}odds"], [f"{n}logit"]),
            helper.make_node("Mul", [f"{n}logit", f"{n}slope"], [f"{n}scaled"]),
            helper.make_node("Add", [f"{n}scaled", f"{n}intercept"], [f"{n}shifted"]),
            helper.make_node("Sigmoid", [f"{n}shifted"], [f"{n}p"]),
            helper.make_node("Cast", [f"{n}p"], [out], to=onnx.TensorProto.FLOAT),
        ]
        inits = [
            const(f"{n}lo", EPS, np.float64),
            const(f"{n}hi", 1 - EPS, np.float64),
            const(f"{n}one", 1.0, np.float64),
            const(f"{n}slope", self.slope, np.float64),
            const(f"{n}intercept", self.intercept, np.float64),
        ]
        return nodes, inits

    def as_dict(self) -> dict[str, float]:
        return {"method": "platt", "slope": self.slope, "intercept": self.intercept}
