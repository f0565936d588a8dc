"""Sequence models: an LSTM or a 1-D CNN over the weekly history, beside the static features.

Each reads the contract's ``features`` (prepared as the MLP prepares them: NULL to 0, heavy-tailed
columns log-transformed, held within their training range, standardized) through a small
feed-forward branch, and the 52-week history (``history``: rows x weeks x channels, oldest
first) through a recurrent or convolutional branch; the two are joined by a head.

- **LSTM**: one layer over the weeks; its last hidden state summarizes the year.
- **CNN**: two 1-D convolutions over the weeks (the second dilated, so it sees about three months),
  then the mean and the maximum over the year and the mean of the last four weeks.

The history is prepared inside the network too: ``sign(x) log(1 + |x|)`` per value (counts and
amounts are heavy-tailed), standardized per channel and held within its training range, so the
exported graph takes the raw arrays of ``fct_customer_weekly_history``. Value models use the
zero-inflated lognormal loss of ``mlp`` (most customers buy nothing over the horizon); churn
models the cross-entropy. Training is seeded and deterministic, stops early on the validation
loss, and fits on a seeded sample of at most ``max_rows`` training rows (stated in the card).
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.export.onnx_tools import INPUT, compose_graph
from duckdb_clv.training.models.candidates import Candidate, FitContext, target
from duckdb_clv.training.models.mlp import OUTPUT_CAP, _Net, ziln_loss
from duckdb_clv.training.models.torch_fit import export, feature_preparation, fit_early_stopping, seed
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT, SEQUENCE_CHANNELS, SEQUENCE_WEEKS

ARCHITECTURES = ("lstm", "cnn")
SHAPE = (SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS))


def _signed_log(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


class _SequenceNet(nn.Module):
    def __init__(self, static: _Net, history_stats: dict[str, np.ndarray], architecture: str, params: dict, out: int):
        super().__init__()
        self.static = static
        for key in ("mean", "std", "low", "high"):
            self.register_buffer(f"h_{key}", torch.tensor(history_stats[key], dtype=torch.float32))
        self.architecture = architecture
        hidden, channels = int(params["sequence_hidden"]), len(SEQUENCE_CHANNELS)
        if architecture == "lstm":
            self.recurrent = nn.LSTM(channels, hidden, batch_first=True)
            width = hidden
        else:
            self.conv1 = nn.Conv1d(channels, hidden, kernel_size=5, padding=2)
            self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=5, padding=4, dilation=2)
            width = 3 * hidden
        static_width = static.body[-1].out_features
        self.head = nn.Sequential(
            nn.Linear(static_width + width, int(params["head_hidden"])),
            nn.ReLU(),
            nn.Linear(int(params["head_hidden"]), out),
        )

    def prepare_history(self, history: torch.Tensor) -> torch.Tensor:
        h = _signed_log(torch.where(torch.isnan(history), torch.zeros_like(history), history))
        h = torch.minimum(torch.maximum(h, self.h_low), self.h_high)
        return (h - self.h_mean) / self.h_std

    def forward(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        static = torch.relu(self.static(features))
        h = self.prepare_history(history)  # (N, weeks, channels)
        if self.architecture == "lstm":
            _, (last, _) = self.recurrent(h)
            summary = last[-1]
        else:
            x = torch.relu(self.conv1(h.transpose(1, 2)))
            x = torch.relu(self.conv2(x))  # (N, hidden, weeks)
            summary = torch.cat([x.mean(dim=2), x.amax(dim=2), x[:, :, -4:].mean(dim=2)], dim=1)
        return self.head(torch.cat([static, summary], dim=1))


class _Served(nn.Module):
    """The network plus its output transform (ZILN expectation or churn probability)."""

    def __init__(self, net: _SequenceNet, task: str, log_cap: float):
        super().__init__()
        self.net, self.task, self.log_cap = net, task, log_cap

    def forward(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        out = self.net(features, history)
        if self.task == "churn":
            return torch.sigmoid(out)
        p = torch.sigmoid(out[:, 0:1])
        sigma = nn.functional.softplus(out[:, 2:3]) + 1e-3
        return p * torch.exp(torch.clamp(out[:, 1:2] + sigma * sigma / 2, max=self.log_cap))


def _loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if task == "churn":
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], y)
    return ziln_loss(out, y)


def _history_of(data: Dataset) -> np.ndarray:
    if data.history is None:
        raise TrainingError("sequence models need the weekly histories: read the rows with read_rows(history=True)")
    return data.history


class SequenceModel(Candidate):
    """An LSTM or 1-D CNN over the weekly history plus a feed-forward branch over the features."""

    def __init__(self, task: str, architecture: str = "lstm", params: dict[str, object] | None = None) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")
        super().__init__(task, params)
        self.architecture = architecture
        for key, default in (
            ("static_hidden", 64),
            ("sequence_hidden", 32),
            ("head_hidden", 64),
            ("learning_rate", 2e-3),
            ("batch_size", 1024),
            ("max_epochs", 30),
            ("patience", 3),
            ("max_rows", 300_000),
        ):
            self.params.setdefault(key, default)

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.architecture

    @property
    def reads_history(self) -> bool:
        return True

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, train: Dataset, validation: Dataset, ctx: FitContext) -> SequenceModel:
        """Fit on (a seeded sample of) the training rows, stop on validation, then calibrate."""
        limit = int(self.params["max_rows"])
        if len(train) > limit:
            train = train.take(np.sort(np.random.default_rng(ctx.seed).choice(len(train), limit, replace=False)))
        self.training_rows_ = len(train)
        self._fit_net(train, validation, ctx)
        self.calibrate(validation)
        return self

    def _fit_net(self, train: Dataset, validation: Dataset, ctx: FitContext) -> None:
        seed(ctx)
        y = target(train, self.task)
        static = _Net(
            *feature_preparation(train.X), (int(self.params["static_hidden"]),), int(self.params["static_hidden"])
        )
        out = 1 if self.task == "churn" else 3
        net = _SequenceNet(static, _history_stats(_history_of(train)), self.architecture, self.params, out)
        X_t, H_t = torch.from_numpy(np.ascontiguousarray(train.X)), torch.from_numpy(_history_of(train))
        y_t = torch.from_numpy(y.astype(np.float32))
        X_v, H_v = torch.from_numpy(np.ascontiguousarray(validation.X)), torch.from_numpy(_history_of(validation))
        y_v = torch.from_numpy(target(validation, self.task).astype(np.float32))
        self.history_ = fit_early_stopping(
            net,
            len(X_t),
            lambda rows: _loss(self.task, net(X_t[rows], H_t[rows]), y_t[rows]),
            lambda: _loss(self.task, net(X_v, H_v), y_v),
            self.params,
            ctx,
            self.name,
        )
        largest = float(np.max(y)) if self.task == "value" and y.size else 0.0
        self.log_cap_ = math.log(OUTPUT_CAP * largest) if largest > 0 else 30.0
        self.model_ = _Served(net.eval(), self.task, self.log_cap_)
        self.epochs_ = len(self.history_)

    # -- predicting -----------------------------------------------------------------------------
    def _raw(self, X: np.ndarray, history: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        with torch.no_grad():
            features = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
            weeks = torch.from_numpy(np.ascontiguousarray(history, dtype=np.float32))
            return self.model_(features, weeks).numpy()[:, 0].astype(np.float64)

    def predict_rows(self, data: Dataset) -> np.ndarray:
        """Uncalibrated predictions on rows with their histories."""
        return self._raw(data.X, _history_of(data))

    def predict(self, X: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:  # type: ignore[override]
        """Calibrated predictions: what the exported model and the SQL functions return."""
        if history is None:
            raise TrainingError(f"{self.name} reads the weekly history: pass it beside the features")
        return self.calibration_.apply(self._raw(X, history))

    # The Candidate hooks for matrix-only models; a sequence model fits and predicts above.
    def _fit(self, X, y, ctx, val, weight=None) -> None:  # pragma: no cover - never called
        raise TrainingError(f"{self.name} fits on rows with their histories: call fit(train, validation, ctx)")

    def _predict(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - never called
        raise TrainingError(f"{self.name} reads the weekly history: call predict(X, history)")

    # -- export ---------------------------------------------------------------------------------
    def _graph(self, width: int) -> onnx.ModelProto:
        return export(self.model_, {INPUT: torch.zeros(2, width), HISTORY_INPUT: torch.zeros(2, *SHAPE)})

    def to_onnx(self) -> onnx.ModelProto:
        """The calibrated model: inputs ``features`` and ``history``, output named after the task."""
        if not hasattr(self, "calibration_"):
            raise NotFittedError(f"{self.name} is not fitted yet")
        cal_nodes, cal_inits = self.calibration_.nodes("model/raw", self.task, "calibration/")
        output = helper.make_tensor_value_info(self.task, TensorProto.FLOAT, ["N", 1])
        wiring = {"model": {INPUT: INPUT, HISTORY_INPUT: HISTORY_INPUT}}
        return compose_graph(
            {"model": self._graph(len(FEATURES))}, wiring, cal_nodes, cal_inits, [output], self.name, history=True
        )

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out.update(
            architecture=self.architecture,
            epochs=getattr(self, "epochs_", None),
            training_rows=getattr(self, "training_rows_", None),
        )
        if self.task == "value" and hasattr(self, "log_cap_"):
            out["output_cap"] = math.exp(self.log_cap_)
        return out


def _history_stats(history: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel mean, deviation and range of the signed-log history (shapes broadcast to weeks x channels)."""
    logged = np.sign(history) * np.log1p(np.abs(np.nan_to_num(history, nan=0.0)))
    flat = logged.reshape(-1, logged.shape[-1])
    std = flat.std(axis=0)
    std[std < 1e-6] = 1.0
    return {"mean": flat.mean(axis=0), "std": std, "low": flat.min(axis=0), "high": flat.max(axis=0)}
