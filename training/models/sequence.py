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
exported graph takes the raw arrays of ``fct_customer_weekly_history``. Churn models learn with
the cross-entropy. Value models come in two forms:

- **anchored** (the training run's choice whenever the BG/NBD baseline is fitted): like the
  anchored Tweedie trees, the network reads the BG/NBD outputs beside the features and predicts a
  multiplier f of the BG/NBD + Gamma-Gamma expectation b; the loss is the Poisson deviance of b * f
  on the value (zero-heavy targets included). Served with b from the scoring-date fit, its level
  follows the customer base (``Candidate.holds_level``), so it competes for champion and fusion.
- **ZILN**: the zero-inflated lognormal loss of ``mlp`` (most customers buy nothing over the
  horizon), when there is no BG/NBD fit to anchor on.

Training is seeded and deterministic, stops early on the validation loss, and fits on a seeded
sample of at most ``max_rows`` training rows (stated in the card). The early-stopping loss is
measured on a seeded sample of at most ``early_stop_rows`` validation rows (a full pass over a
larger shop's validation customers every epoch could cost more than the epoch); calibration and
champion selection use them all.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import torch
from torch import nn

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.export.onnx_tools import INPUT
from duckdb_clv.training.models.candidates import Candidate, FitContext, anchor, target
from duckdb_clv.training.models.mlp import OUTPUT_CAP, _Net, ziln_loss
from duckdb_clv.training.models.torch_fit import export, feature_preparation, fit_early_stopping, seed
from duckdb_clv.udfs.contract import HISTORY_INPUT, SEQUENCE_CHANNELS, SEQUENCE_WEEKS

ARCHITECTURES = ("lstm", "cnn")
SHAPE = (SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS))
PREDICT_CHUNK = 65_536


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
    """The network plus its output transform (churn probability, anchored multiplier or ZILN expectation)."""

    def __init__(self, net: _SequenceNet, task: str, log_cap: float, anchored: bool = False):
        super().__init__()
        self.net, self.task, self.log_cap, self.anchored = net, task, log_cap, anchored

    def forward(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        out = self.net(features, history)
        if self.task == "churn":
            return torch.sigmoid(out)
        if self.anchored:
            return torch.exp(torch.clamp(out, max=self.log_cap))
        p = torch.sigmoid(out[:, 0:1])
        sigma = nn.functional.softplus(out[:, 2:3]) + 1e-3
        return p * torch.exp(torch.clamp(out[:, 1:2] + sigma * sigma / 2, max=self.log_cap))


def _loss(task: str, out: torch.Tensor, y: torch.Tensor, log_anchor: torch.Tensor | None = None) -> torch.Tensor:
    if task == "churn":
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], y)
    if log_anchor is not None:
        # Half the Poisson deviance of mu = b * exp(out) on the value (0 for a perfect prediction).
        log_mu = log_anchor + out[:, 0]
        return torch.mean(torch.exp(log_mu) - y * log_mu + torch.xlogy(y, y) - y)
    return ziln_loss(out, y)


def _chunked_loss(
    task: str,
    net: nn.Module,
    X: torch.Tensor,
    history: torch.Tensor,
    y: torch.Tensor,
    log_anchor: torch.Tensor | None,
) -> float:
    """The mean loss over all rows, computed PREDICT_CHUNK rows at a time (the one-pass mean, up to rounding)."""
    total = 0.0
    for start in range(0, len(X), PREDICT_CHUNK):
        part = slice(start, start + PREDICT_CHUNK)
        anchor_part = None if log_anchor is None else log_anchor[part]
        total += float(_loss(task, net(X[part], history[part]), y[part], anchor_part)) * len(y[part])
    return total / max(len(X), 1)


def _history_of(data: Dataset) -> np.ndarray:
    if data.history is None:
        raise TrainingError("sequence models need the weekly histories: read the rows with read_rows(history=True)")
    return data.history


class SequenceModel(Candidate):
    """An LSTM or 1-D CNN over the weekly history plus a feed-forward branch over the features."""

    # An anchored sequence model's loss is the Poisson deviance of b * f (``Candidate.anchor_power``).
    anchor_power = 1.0

    def __init__(
        self,
        task: str,
        architecture: str = "lstm",
        params: dict[str, object] | None = None,
        anchored: bool = False,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")
        self.architecture = architecture
        super().__init__(task, params, anchored=anchored)
        for key, default in (
            ("static_hidden", 64),
            ("sequence_hidden", 32),
            ("head_hidden", 64),
            ("learning_rate", 2e-3),
            ("batch_size", 1024),
            ("max_epochs", 30),
            ("patience", 3),
            ("max_rows", 300_000),
            ("early_stop_rows", 100_000),
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
        if self.reads_btyd:
            if ctx.btyd is None:
                raise ValueError(f"{self.name} needs the fitted BG/NBD baseline in the fit context")
            self.btyd_ = ctx.btyd
        self._fit_net(train, validation, ctx)
        self.calibrate(validation)
        return self

    def _tensors(self, data: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The network's inputs for ``data`` (features with the BG/NBD outputs when it reads them), and log b."""
        btyd = self._btyd_at(data)
        X = torch.from_numpy(np.ascontiguousarray(self._inputs(data.X, btyd), dtype=np.float32))
        log_anchor = torch.from_numpy(np.log(anchor(btyd)).astype(np.float32)) if self.anchored else None
        return X, torch.from_numpy(_history_of(data)), log_anchor

    def _fit_net(self, train: Dataset, validation: Dataset, ctx: FitContext) -> None:
        seed(ctx)
        y = target(train, self.task)
        X_t, H_t, b_t = self._tensors(train)
        stop_limit = int(self.params["early_stop_rows"])
        if len(validation) > stop_limit:
            picked = np.random.default_rng(ctx.seed + 1).choice(len(validation), stop_limit, replace=False)
            validation = validation.take(np.sort(picked))
        self.early_stop_rows_ = len(validation)
        X_v, H_v, b_v = self._tensors(validation)
        static = _Net(
            *feature_preparation(X_t.numpy()), (int(self.params["static_hidden"]),), int(self.params["static_hidden"])
        )
        out = 1 if self.task == "churn" or self.anchored else 3
        net = _SequenceNet(static, _history_stats(H_t.numpy()), self.architecture, self.params, out)
        y_t = torch.from_numpy(y.astype(np.float32))
        y_v = torch.from_numpy(target(validation, self.task).astype(np.float32))
        self.history_ = fit_early_stopping(
            net,
            len(X_t),
            lambda rows: _loss(self.task, net(X_t[rows], H_t[rows]), y_t[rows], None if b_t is None else b_t[rows]),
            lambda: _chunked_loss(self.task, net, X_v, H_v, y_v, b_v),
            self.params,
            ctx,
            self.name,
        )
        if self.anchored:
            # The multiplier stays below OUTPUT_CAP times the largest training ratio of value to b.
            largest = float(np.max(y / np.exp(b_t.numpy().astype(np.float64)))) if y.size else 0.0
        else:
            largest = float(np.max(y)) if self.task == "value" and y.size else 0.0
        self.log_cap_ = math.log(OUTPUT_CAP * largest) if largest > 0 else 30.0
        self.model_ = _Served(net.eval(), self.task, self.log_cap_, self.anchored)
        self.epochs_ = len(self.history_)

    # -- predicting -----------------------------------------------------------------------------
    def _raw(self, X: np.ndarray, history: np.ndarray, btyd: np.ndarray | None) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        features = torch.from_numpy(np.ascontiguousarray(self._inputs(X, btyd), dtype=np.float32))
        weeks = torch.from_numpy(np.ascontiguousarray(history, dtype=np.float32))
        out = np.empty(len(features), dtype=np.float64)
        # In chunks: the recurrent branch's activations for all of a large shop's rows at once
        # would take several GB.
        with torch.no_grad():
            for start in range(0, len(features), PREDICT_CHUNK):
                part = slice(start, start + PREDICT_CHUNK)
                out[part] = self.model_(features[part], weeks[part]).numpy()[:, 0]
        return out * anchor(btyd) if self.anchored else out

    def predict_rows(self, data: Dataset) -> np.ndarray:
        """Uncalibrated predictions on rows with their histories (each with the BG/NBD fit of its cutoff)."""
        return self._raw(data.X, _history_of(data), self._btyd_at(data))

    def predict(self, X: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Calibrated predictions on scoring-date rows: what the exported model and the SQL functions return."""
        if history is None:
            raise TrainingError(f"{self.name} reads the weekly history: pass it beside the features")
        if not hasattr(self, "calibration_"):
            raise NotFittedError(f"{self.name} is not fitted yet: call fit(train, validation, ctx) first")
        btyd = self.btyd_.outputs(X) if self.reads_btyd else None
        return self.calibration_.apply(self._raw(X, history, btyd))

    # The Candidate hooks for matrix-only models; a sequence model fits and predicts above.
    def _fit(self, X, y, ctx, val, weight=None) -> None:  # pragma: no cover - never called
        raise TrainingError(f"{self.name} fits on rows with their histories: call fit(train, validation, ctx)")

    def _predict(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - never called
        raise TrainingError(f"{self.name} reads the weekly history: call predict(X, history)")

    # -- export ---------------------------------------------------------------------------------
    # ``Candidate.to_onnx`` composes it: inputs ``features`` and ``history``, the BG/NBD graph and
    # the anchor when the model reads them, the calibration, one output named after the task.
    def _graph(self, width: int) -> onnx.ModelProto:
        return export(self.model_, {INPUT: torch.zeros(2, width), HISTORY_INPUT: torch.zeros(2, *SHAPE)})

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out.update(
            architecture=self.architecture,
            epochs=getattr(self, "epochs_", None),
            training_rows=getattr(self, "training_rows_", None),
            early_stop_rows=getattr(self, "early_stop_rows_", None),
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
