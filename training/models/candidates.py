"""What every candidate model shares: fit on training rows, calibrate on validation, export to ONNX.

A candidate is one model for one task (``value``: expected net value over the horizon; ``churn``:
probability of no order within the churn window). Its exported graph takes the contract's
``features`` and has one output named after the task, calibrated, so that the SQL functions can
serve any candidate the same way. Candidates that take the BG/NBD outputs as extra inputs carry
the baseline's graph inside their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.errors import NotFittedError
from duckdb_clv.training.export.onnx_tools import INPUT, compose_graph, rename_output
from duckdb_clv.training.models.btyd import BTYDFit
from duckdb_clv.training.models.btyd_graph import BTYD_OUTPUTS
from duckdb_clv.training.models.calibration import Platt, ValueScale
from duckdb_clv.udfs.contract import FEATURES

TASKS = ("value", "churn")


@dataclass
class FitContext:
    """Settings shared by every fit in one training run."""

    seed: int = 0
    threads: int = 2
    btyd: BTYDFit | None = None
    log: Callable[[str], None] = lambda _message: None
    epochs: Callable[[int, int], None] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def target(data: Dataset, task: str) -> np.ndarray:
    """The label a task learns."""
    return data.value if task == "value" else data.churned.astype(np.float64)


class Candidate(ABC):
    """One model for one task.

    Subclasses implement ``_fit``, ``_predict`` (uncalibrated, on the matrix the model reads) and
    ``_graph`` (ONNX taking ``features`` of that width, one output ``raw`` of shape N x 1).
    """

    family: str = ""

    def __init__(self, task: str, params: dict[str, object] | None = None, btyd_features: bool = False) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        self.task = task
        self.params = dict(params or {})
        self.btyd_features = btyd_features

    @property
    def name(self) -> str:
        return f"{self.task}_{self.family}"

    # -- the parts subclasses write ---------------------------------------------------------------
    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray, ctx: FitContext, val: tuple[np.ndarray, np.ndarray]) -> None: ...

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _graph(self, width: int) -> onnx.ModelProto: ...

    # -- shared behaviour --------------------------------------------------------------------------
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        if not self.btyd_features:
            return X
        return np.hstack([X, self.btyd_.outputs(X).astype(np.float32)])

    def fit(self, train: Dataset, validation: Dataset, ctx: FitContext) -> Candidate:
        """Fit on the training rows (validation rows only for early stopping), then calibrate."""
        if self.btyd_features:
            if ctx.btyd is None:
                raise ValueError("btyd_features needs the fitted BG/NBD baseline in the fit context")
            self.btyd_ = ctx.btyd
        val = (self._inputs(validation.X), target(validation, self.task))
        self._fit(self._inputs(train.X), target(train, self.task), ctx, val)
        self.calibrate(validation)
        return self

    def calibrate(self, validation: Dataset) -> None:
        """Fit the calibration map on the validation cutoff."""
        raw = self.predict_raw(validation.X)
        y = target(validation, self.task)
        self.calibration_ = ValueScale.fit(raw, y) if self.task == "value" else Platt.fit(raw, y)
        self.validation_raw_ = raw  # the evaluation and the fusion reuse them instead of predicting again

    def validation_predictions(self) -> np.ndarray:
        """Calibrated predictions on the validation cutoff, as made while calibrating."""
        if not hasattr(self, "validation_raw_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        return self.calibration_.apply(self.validation_raw_)

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated predictions from the contract's feature matrix."""
        return np.asarray(self._predict(self._inputs(X)), dtype=np.float64).ravel()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Calibrated predictions: what the exported model and the SQL functions return."""
        if not hasattr(self, "calibration_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        return self.calibration_.apply(self.predict_raw(X))

    def to_onnx(self) -> onnx.ModelProto:
        """The calibrated model as one ONNX graph: input ``features``, output named after the task."""
        if not hasattr(self, "calibration_"):
            raise NotFittedError(f"{self.name} is not fitted yet")
        inner = self._graph(len(FEATURES) + (len(BTYD_OUTPUTS) if self.btyd_features else 0))
        parts: dict[str, onnx.ModelProto] = {}
        wiring: dict[str, dict[str, str]] = {}
        nodes: list[onnx.NodeProto] = []
        if self.btyd_features:
            parts["btyd"] = self.btyd_.graph()
            nodes.append(helper.make_node("Concat", [INPUT, "btyd/btyd"], ["augmented"], axis=1))
            wiring["model"] = {INPUT: "augmented"}
        parts["model"] = inner
        cal_nodes, cal_inits = self.calibration_.nodes("model/raw", self.task, "calibration/")
        output = helper.make_tensor_value_info(self.task, TensorProto.FLOAT, ["N", 1])
        return compose_graph(parts, wiring, nodes + cal_nodes, cal_inits, [output], self.name)

    def describe(self) -> dict[str, object]:
        """Parameters and calibration for the model card."""
        return {
            "family": self.family,
            "params": self.params,
            "btyd_features": self.btyd_features,
            "calibration": self.calibration_.as_dict() if hasattr(self, "calibration_") else None,
            # The budgeted search's trials on validation, when this model came out of one.
            "search": getattr(self, "search_", None),
        }


def single_output(model: onnx.ModelProto, output: str) -> onnx.ModelProto:
    """A converter's graph reduced to one output renamed ``raw``."""
    return rename_output(model, output, "raw")
