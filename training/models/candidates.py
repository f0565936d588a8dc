"""What every candidate model shares: fit on training rows, calibrate on validation, export to ONNX.

A candidate is one model for one task (``value``: expected net value over the horizon; ``churn``:
probability of no order within the churn window). Its exported graph takes the contract's
``features`` and has one output named after the task, calibrated, so that the SQL functions can
serve any candidate the same way. Candidates that take the BG/NBD outputs as extra inputs carry
the baseline's graph inside their own.

An *anchored* value candidate predicts relative to the BG/NBD + Gamma-Gamma expectation b: it
learns f = value / b, weighted so that its loss equals the loss of b * f on the value, and serves
b * f with b from the fit at the scoring cutoff (``btyd_dates``). Its level then moves with the
customer base, which a model of the raw value, fitted on earlier and younger customer bases and
unable to extrapolate, does not do.
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
from duckdb_clv.training.export.onnx_tools import INPUT, compose_graph, const, rename_output
from duckdb_clv.training.models.btyd_dates import RefittedBTYD
from duckdb_clv.training.models.btyd_graph import BTYD_OUTPUTS
from duckdb_clv.training.models.calibration import Platt, ValueScale
from duckdb_clv.training.models.intervals import fit_intervals
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT

TASKS = ("value", "churn")


@dataclass
class FitContext:
    """Settings shared by every fit in one training run."""

    seed: int = 0
    threads: int = 2
    btyd: RefittedBTYD | None = None
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

    Rows come in two kinds: a ``Dataset`` from training cutoffs (``fit``, ``predict_rows``), whose
    BG/NBD outputs come from the fit at each row's cutoff, and a bare matrix of scoring-date rows
    (``predict``), which gets the scoring-date fit, as the exported graph does.
    """

    family: str = ""
    # Tweedie power of the loss an anchored candidate is fitted with: it sets the weights that make
    # the loss of f on value / b equal the loss of b * f on the value.
    anchor_power: float | None = None

    def __init__(
        self,
        task: str,
        params: dict[str, object] | None = None,
        btyd_features: bool = False,
        anchored: bool = False,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        self.task = task
        self.params = dict(params or {})
        if anchored and (task != "value" or self.anchor_power is None):
            raise ValueError(
                f"{self.name} cannot be anchored on the BG/NBD expectation (value_hgb_tweedie and the sequence "
                "value models can)"
            )
        # An anchored model reads the BG/NBD outputs too: its graph carries them anyway.
        self.btyd_features = btyd_features or anchored
        self.anchored = anchored

    @property
    def name(self) -> str:
        return f"{self.task}_{self.family}"

    # -- the parts subclasses write ---------------------------------------------------------------
    @abstractmethod
    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> None: ...

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _graph(self, width: int) -> onnx.ModelProto: ...

    # -- shared behaviour --------------------------------------------------------------------------
    @property
    def reads_btyd(self) -> bool:
        """Whether the model needs the BG/NBD outputs of its rows."""
        return self.btyd_features

    @property
    def holds_level(self) -> bool:
        """Whether the level comes from the BG/NBD fit at the scoring date (an anchored model or the baseline).

        Such a model follows a customer base that has aged, stopped growing or been hit by a shock
        since the last cutoff with complete labels; a model of the raw value keeps the level it
        learnt there.
        """
        return self.anchored

    @property
    def reads_history(self) -> bool:
        """Whether the model reads the weekly histories besides the features (a sequence model)."""
        return False

    def _inputs(self, X: np.ndarray, btyd: np.ndarray | None) -> np.ndarray:
        if not self.btyd_features:
            return X
        return np.hstack([X, btyd.astype(np.float32)])

    def _btyd_at(self, data: Dataset) -> np.ndarray | None:
        return self.btyd_.outputs_at(data) if self.reads_btyd else None

    def fit(self, train: Dataset, validation: Dataset, ctx: FitContext) -> Candidate:
        """Fit on the training rows (validation rows only for early stopping), then calibrate."""
        if self.reads_btyd:
            if ctx.btyd is None:
                raise ValueError(f"{self.name} needs the fitted BG/NBD baseline in the fit context")
            self.btyd_ = ctx.btyd
        train_btyd, val_btyd = self._btyd_at(train), self._btyd_at(validation)
        y, weight = target(train, self.task), None
        if self.anchored:
            expected = anchor(train_btyd)
            y, weight = y / expected, expected ** (2.0 - self.anchor_power)
        val = (self._inputs(validation.X, val_btyd), target(validation, self.task))
        self._fit(self._inputs(train.X, train_btyd), y, ctx, val, weight)
        self.calibrate(validation)
        return self

    def calibrate(self, validation: Dataset) -> None:
        """Fit the calibration map on the validation cutoff."""
        raw = self.predict_rows(validation)
        y = target(validation, self.task)
        self.calibration_ = ValueScale.fit(raw, y) if self.task == "value" else Platt.fit(raw, y)
        if self.task == "value":
            calibrated = self.calibration_.apply(raw)
            self.intervals_ = fit_intervals(calibrated, y)
            # An anchored model's explanations start from the average validation customer's prediction.
            self.explanation_base_ = float(np.mean(calibrated))
        self.validation_raw_ = raw  # the evaluation and the fusion reuse them instead of predicting again

    def validation_predictions(self) -> np.ndarray:
        """Calibrated predictions on the validation cutoff, as made while calibrating."""
        if not hasattr(self, "validation_raw_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        return self.calibration_.apply(self.validation_raw_)

    def predict_raw(self, X: np.ndarray, btyd: np.ndarray | None = None) -> np.ndarray:
        """Uncalibrated predictions from the contract's feature matrix.

        ``btyd``: the rows' BG/NBD outputs; by default the scoring-date fit's, as served.
        """
        if btyd is None and self.reads_btyd:
            btyd = self.btyd_.outputs(X)
        out = np.asarray(self._predict(self._inputs(X, btyd)), dtype=np.float64).ravel()
        return out * anchor(btyd) if self.anchored else out

    def predict_rows(self, data: Dataset) -> np.ndarray:
        """Uncalibrated predictions on training-cutoff rows, each with the BG/NBD fit of its cutoff."""
        return self.predict_raw(data.X, self._btyd_at(data))

    def predict(self, X: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Calibrated predictions on scoring-date rows: what the exported model and the SQL functions return.

        ``history``: the rows' weekly histories, read by sequence models (and ignored by the rest).
        """
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
            parts["btyd"] = self.btyd_.serving.graph()
            nodes.append(helper.make_node("Concat", [INPUT, "btyd/btyd"], ["augmented"], axis=1))
            wiring["model"] = {INPUT: "augmented", **({HISTORY_INPUT: HISTORY_INPUT} if self.reads_history else {})}
        parts["model"] = inner
        raw, inits = "model/raw", []
        if self.anchored:
            nodes += anchor_nodes("btyd/btyd", raw, "anchor/")
            inits += [const("anchor/floor", ANCHOR_FLOOR), *_int64s("anchor/", purchases=1, value=2, end=3, axis=1)]
            raw = "anchor/raw"
        cal_nodes, cal_inits = self.calibration_.nodes(raw, self.task, "calibration/")
        output = helper.make_tensor_value_info(self.task, TensorProto.FLOAT, ["N", 1])
        return compose_graph(
            parts, wiring, nodes + cal_nodes, inits + cal_inits, [output], self.name, history=self.reads_history
        )

    def describe(self) -> dict[str, object]:
        """Parameters and calibration for the model card."""
        return {
            "family": self.family,
            "params": self.params,
            "btyd_features": self.btyd_features,
            "anchored_on_btyd": self.anchored,
            "explanation_base": getattr(self, "explanation_base_", None) if self.anchored else None,
            "level_follows_btyd_at_scoring": self.holds_level,
            "calibration": self.calibration_.as_dict() if hasattr(self, "calibration_") else None,
            "intervals": getattr(self, "intervals_", None),
            # The budgeted search's trials on validation, when this model came out of one.
            "search": getattr(self, "search_", None),
        }


# Anchored models divide by the BG/NBD expectation, so it is floored away from 0.
ANCHOR_FLOOR = 1e-6


def anchor(btyd: np.ndarray) -> np.ndarray:
    """The BG/NBD + Gamma-Gamma expected value of each row: expected purchases times expected order value."""
    return np.maximum(btyd[:, 1] * btyd[:, 2], ANCHOR_FLOOR)


def _int64s(prefix: str, **values: int) -> list[onnx.TensorProto]:
    return [onnx.numpy_helper.from_array(np.array([v], np.int64), prefix + k) for k, v in values.items()]


def anchor_nodes(btyd: str, raw: str, prefix: str) -> list[onnx.NodeProto]:
    """``prefix + "raw"`` = raw * max(btyd[:, 1] * btyd[:, 2], floor): ``anchor`` as ONNX nodes."""
    n = prefix
    return [
        helper.make_node("Slice", [btyd, f"{n}purchases", f"{n}value", f"{n}axis"], [f"{n}expected_purchases"]),
        helper.make_node("Slice", [btyd, f"{n}value", f"{n}end", f"{n}axis"], [f"{n}expected_order_value"]),
        helper.make_node("Mul", [f"{n}expected_purchases", f"{n}expected_order_value"], [f"{n}product"]),
        helper.make_node("Max", [f"{n}product", f"{n}floor"], [f"{n}expected"]),
        helper.make_node("Mul", [raw, f"{n}expected"], [f"{n}raw"]),
    ]


def single_output(model: onnx.ModelProto, output: str) -> onnx.ModelProto:
    """A converter's graph reduced to one output renamed ``raw``."""
    return rename_output(model, output, "raw")
