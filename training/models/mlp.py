"""A torch MLP for either task, and the zero-inflated lognormal (ZILN) value model.

ZILN (Wang, Liu and Miao, 2019) has one network predict three numbers per customer: the logit of
P(any purchase in the horizon), and the mean and scale of log(value) given a purchase. Its loss is
the cross-entropy of purchase/no purchase plus the lognormal negative log-likelihood of the
positive values; its expected value is P(purchase) * exp(mu + sigma^2 / 2).

Inputs are prepared inside the network, so that the exported graph takes the raw ``features``:
NULLs become 0, heavy-tailed columns go through sign(x) * log1p(|x|), every column is held within
the range it had in training, then standardized with training means and deviations. Holding the
range keeps the network from extrapolating, as a tree ensemble does: scored a horizon after its
last training cutoff, customers are older than any it was fitted on, and a network free to follow
its slopes there predicted one young shop's total at 11 million times what followed (#14). The
value output is capped at ``OUTPUT_CAP`` times the largest training label for the same reason.
Training is seeded and deterministic, stops early on the validation loss, and reports each epoch.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import torch
from torch import nn

from duckdb_clv.training.models.candidates import Candidate, FitContext
from duckdb_clv.training.models.torch_fit import export, feature_preparation, fit_early_stopping, seed

OUTPUT_CAP = 10.0  # a customer's predicted value stays below this many times the largest training label


class _Net(nn.Module):
    def __init__(
        self,
        log_mask: np.ndarray,
        bounds: tuple[np.ndarray, np.ndarray],
        mean: np.ndarray,
        std: np.ndarray,
        hidden: tuple[int, ...],
        out: int,
    ):
        super().__init__()
        self.register_buffer("log_mask", torch.tensor(log_mask, dtype=torch.bool))
        self.register_buffer("low", torch.tensor(bounds[0], dtype=torch.float32))
        self.register_buffer("high", torch.tensor(bounds[1], dtype=torch.float32))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        layers: list[nn.Module] = []
        width = len(mean)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, out))
        self.body = nn.Sequential(*layers)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.where(torch.isnan(x), torch.zeros_like(x), x)
        x = torch.where(self.log_mask, torch.sign(x) * torch.log1p(torch.abs(x)), x)
        x = torch.minimum(torch.maximum(x, self.low), self.high)
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(x))


class _Served(nn.Module):
    """The network plus its output transform: what is exported and what ``predict`` returns."""

    def __init__(self, net: _Net, kind: str, log_cap: float = 30.0):
        super().__init__()
        self.net, self.kind, self.log_cap = net, kind, log_cap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.kind == "churn":
            return torch.sigmoid(out)
        if self.kind == "ziln":
            # In double: onnxruntime's float sigmoid is an approximation off by up to 1.5e-7, which
            # for a small purchase probability times a large spend is a 1e-4 relative error in the
            # value (and keeps the model from compiling to SQL within 1e-5); its double one is exact.
            p = torch.sigmoid(out[:, 0:1].double()).float()
            sigma = nn.functional.softplus(out[:, 2:3]) + 1e-3
            return p * torch.exp(torch.clamp(out[:, 1:2] + sigma * sigma / 2, max=self.log_cap))
        return torch.exp(torch.clamp(out, max=self.log_cap))


def ziln_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of purchase / no purchase + lognormal NLL of the positive values (mean per row)."""
    positive = (y > 0).float()
    classification = nn.functional.binary_cross_entropy_with_logits(out[:, 0], positive, reduction="none")
    mu, sigma = out[:, 1], nn.functional.softplus(out[:, 2]) + 1e-3
    log_y = torch.log(torch.clamp(y, min=1e-6))
    nll = log_y + torch.log(sigma) + 0.5 * math.log(2 * math.pi) + 0.5 * ((log_y - mu) / sigma) ** 2
    return (classification + positive * nll).mean()


def _loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "ziln":
        return ziln_loss(out, y)
    if kind == "churn":
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], y)
    return nn.functional.poisson_nll_loss(out[:, 0], y, log_input=True)


class MLP(Candidate):
    """A feed-forward network: ``head`` 'plain' (Poisson value or churn logit) or 'ziln' (value only)."""

    def __init__(self, task: str, params: dict[str, object] | None = None, btyd_features: bool = False) -> None:
        super().__init__(task, params, btyd_features)
        self.params.setdefault("head", "plain")
        self.params.setdefault("hidden", [128, 64])
        self.params.setdefault("learning_rate", 1e-3)
        self.params.setdefault("batch_size", 2048)
        self.params.setdefault("max_epochs", 40)
        self.params.setdefault("patience", 4)
        if self.params["head"] not in ("plain", "ziln"):
            raise ValueError(f"head must be 'plain' or 'ziln', got {self.params['head']!r}")
        if self.params["head"] == "ziln" and task != "value":
            raise ValueError("the ZILN head predicts value; use head='plain' for churn")

    @property
    def family(self) -> str:  # type: ignore[override]
        return "ziln" if self.params["head"] == "ziln" else "mlp"

    @property
    def _kind(self) -> str:
        return "ziln" if self.params["head"] == "ziln" else ("churn" if self.task == "churn" else "value")

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        ctx: FitContext,
        val: tuple[np.ndarray, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> None:
        # Never anchored (anchor_power is None), so never weighted.
        seed(ctx)
        log_mask, bounds, mean, std = feature_preparation(X)
        out = 3 if self._kind == "ziln" else 1
        net = _Net(log_mask, bounds, mean, std, tuple(int(h) for h in self.params["hidden"]), out)
        X_t, y_t = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y.astype(np.float32))
        X_v, y_v = torch.from_numpy(np.ascontiguousarray(val[0])), torch.from_numpy(val[1].astype(np.float32))
        self.history_ = fit_early_stopping(
            net,
            len(X_t),
            lambda rows: _loss(self._kind, net(X_t[rows]), y_t[rows]),
            lambda: _loss(self._kind, net(X_v), y_v),
            self.params,
            ctx,
            self.name,
        )
        largest = float(np.max(y)) if self._kind != "churn" and y.size else 0.0
        self.log_cap_ = math.log(OUTPUT_CAP * largest) if largest > 0 else 30.0
        self.model_ = _Served(net.eval(), self._kind, self.log_cap_)
        self.epochs_ = len(self.history_)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()[:, 0]

    def _graph(self, width: int) -> onnx.ModelProto:
        return export(self.model_, {"features": torch.zeros(2, width)})

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["epochs"] = getattr(self, "epochs_", None)
        if self.task == "value" and hasattr(self, "log_cap_"):
            out["output_cap"] = math.exp(self.log_cap_)
        return out
