"""The BG/NBD + Gamma-Gamma baseline as a candidate like any other: calibrated, exported, registered.

It is fitted once per training run, on the BTYD summary of the latest training cutoff (no labels are
needed), and shared with the candidates that take its outputs as extra inputs.
"""

from __future__ import annotations

import numpy as np
import onnx

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.models.btyd import BTYDFit
from duckdb_clv.training.models.candidates import Candidate, FitContext, single_output


class Baseline(Candidate):
    """BG/NBD expected value (value task) or P(no purchase in the churn window) (churn task)."""

    family = "btyd"

    def _fit(self, X: np.ndarray, y: np.ndarray, ctx: FitContext, val: tuple[np.ndarray, np.ndarray]) -> None:
        if ctx.btyd is None:
            raise TrainingError("the BG/NBD baseline must be fitted before its candidates (FitContext.btyd)")
        self.fit_: BTYDFit = ctx.btyd

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.fit_.value(X) if self.task == "value" else self.fit_.churn(X)

    def _graph(self, width: int) -> onnx.ModelProto:
        return single_output(self.fit_.graph(), self.task)

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["params"] = self.fit_.params()
        return out
