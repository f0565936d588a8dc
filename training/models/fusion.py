"""A fused value model: a weighted mean of the best value models, the BG/NBD baseline included.

Each part is already calibrated; the weights are proportional to 1 / validation MAE, so a part that
predicts the validation cutoff better counts for more. The parts' ONNX graphs become one graph
(every part reads the same ``features``, and the sequence models among them the same ``history``),
ending in the weighted sum.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.export.onnx_tools import compose_graph, const
from duckdb_clv.training.models.calibration import ValueScale
from duckdb_clv.training.models.candidates import Candidate, FitContext, target
from duckdb_clv.training.models.intervals import fit_intervals


class Fused(Candidate):
    """Weighted mean of fitted value candidates."""

    family = "fused"

    def __init__(self, parts: list[Candidate], validation_mae: list[float]) -> None:
        super().__init__("value", {"parts": [p.name for p in parts]})
        if len(parts) < 2 or len(parts) != len(validation_mae):
            raise ValueError("fusion needs at least two parts, each with its validation MAE")
        if any(p.task != "value" for p in parts):
            raise ValueError("only value models can be fused")
        inverse = 1 / np.asarray(validation_mae, dtype=np.float64)
        self.parts = parts
        self.weights = inverse / inverse.sum()
        self.params["weights"] = {p.name: float(w) for p, w in zip(parts, self.weights, strict=True)}

    def fit(self, train: Dataset, validation: Dataset, ctx: FitContext) -> Fused:
        # The parts are fitted already; only the overall level is checked on validation, from the
        # validation predictions the parts made while calibrating.
        raw = sum(w * p.validation_predictions() for p, w in zip(self.parts, self.weights, strict=True))
        self.calibration_ = ValueScale.fit(raw, target(validation, "value"))
        self.intervals_ = fit_intervals(self.calibration_.apply(raw), target(validation, "value"))
        self.validation_raw_ = raw
        return self

    @property
    def reads_btyd(self) -> bool:
        # The parts read what they need themselves.
        return False

    @property
    def holds_level(self) -> bool:
        return all(p.holds_level for p in self.parts)

    @property
    def reads_history(self) -> bool:
        # A sequence model among the parts: the fused graph takes the weekly history too.
        return any(p.reads_history for p in self.parts)

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> None:
        raise NotImplementedError("Fused is fitted from fitted parts")

    def predict_raw(
        self, X: np.ndarray, btyd: np.ndarray | None = None, history: np.ndarray | None = None
    ) -> np.ndarray:
        return sum(w * p.predict(X, history) for p, w in zip(self.parts, self.weights, strict=True))

    def predict(self, X: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Calibrated predictions; ``history`` goes to the parts that read it."""
        return self.calibration_.apply(self.predict_raw(X, history=history))

    def predict_rows(self, data: Dataset) -> np.ndarray:
        return sum(
            w * p.calibration_.apply(p.predict_rows(data)) for p, w in zip(self.parts, self.weights, strict=True)
        )

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_raw(X)

    def _graph(self, width: int) -> onnx.ModelProto:
        parts = {f"part{i}": p.to_onnx() for i, p in enumerate(self.parts)}
        nodes, inits, terms = [], [], []
        for i, w in enumerate(self.weights):
            inits.append(const(f"w{i}", float(w)))
            nodes.append(helper.make_node("Mul", [f"part{i}/value", f"w{i}"], [f"term{i}"]))
            terms.append(f"term{i}")
        nodes.append(helper.make_node("Sum", terms, ["raw"]))
        output = helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["N", 1])
        return compose_graph(parts, {}, nodes, inits, [output], "fused_parts", history=self.reads_history)

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["parts"] = [
            {"name": p.name, "weight": float(w), **p.describe()} for p, w in zip(self.parts, self.weights, strict=True)
        ]
        return out
