"""The BG/NBD + Gamma-Gamma baseline as a candidate like any other: calibrated, exported, registered.

No labels are needed, so it is refitted wherever it is used (``btyd_dates``): on each training
cutoff's customers for the rows of that cutoff, and on the scoring cutoff's customers as served.
Its validation predictions, and so its calibration, come from the fit at the validation cutoff:
the same procedure one step earlier.
"""

from __future__ import annotations

import numpy as np
import onnx

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.models.candidates import Candidate, FitContext, single_output


class Baseline(Candidate):
    """BG/NBD expected value (value task) or P(no purchase in the churn window) (churn task)."""

    family = "btyd"

    @property
    def reads_btyd(self) -> bool:
        return True

    @property
    def holds_level(self) -> bool:
        return True

    def _inputs(self, X: np.ndarray, btyd: np.ndarray | None) -> np.ndarray:
        # The model is its BG/NBD outputs.
        return btyd

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> None:
        if ctx.btyd is None:
            raise TrainingError("the BG/NBD baseline must be fitted before its candidates (FitContext.btyd)")

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return X[:, 1] * X[:, 2] if self.task == "value" else X[:, 3]

    def _graph(self, width: int) -> onnx.ModelProto:
        return single_output(self.btyd_.serving.graph(), self.task)

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["params"] = self.btyd_.describe()
        return out
