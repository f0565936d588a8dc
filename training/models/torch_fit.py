"""What the torch models share: the features' preparation and seeded training with early stopping."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable

import numpy as np
import onnx
import torch
from torch import nn

from duckdb_clv.training.export.onnx_tools import OPSET
from duckdb_clv.training.models.candidates import FitContext

HEAVY_TAIL = 10.0  # columns whose largest absolute value exceeds this are log-transformed


def feature_preparation(X: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """(log mask, (low, high), mean, std) of the features as the networks prepare them.

    NULLs become 0, heavy-tailed columns go through sign(x) log(1 + |x|); the range and the
    standardization are those of the prepared training rows.
    """
    clean = np.nan_to_num(X, nan=0.0)
    log_mask = np.abs(clean).max(axis=0) > HEAVY_TAIL
    prepared = np.where(log_mask, np.sign(clean) * np.log1p(np.abs(clean)), clean)
    mean, std = prepared.mean(axis=0), prepared.std(axis=0)
    std[std < 1e-6] = 1.0
    return log_mask, (prepared.min(axis=0), prepared.max(axis=0)), mean, std


def seed(ctx: FitContext) -> None:
    """Seed torch and make it deterministic; call before creating the network, whose weights it draws."""
    torch.manual_seed(ctx.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(ctx.threads)


def fit_early_stopping(
    net: nn.Module,
    rows: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    validation_loss: Callable[[], float],
    params: dict[str, object],
    ctx: FitContext,
    name: str,
) -> list[dict[str, float]]:
    """Adam over seeded shuffles of ``rows`` training rows until the validation loss stops improving.

    ``batch_loss`` takes the indices of one batch; ``params`` gives ``learning_rate``,
    ``batch_size``, ``max_epochs`` and ``patience``. The network ends with the weights of its best
    epoch; returns each epoch's validation loss. Call ``seed`` before creating ``net``.
    """
    rng = np.random.default_rng(ctx.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=float(params["learning_rate"]))
    batch, epochs = int(params["batch_size"]), int(params["max_epochs"])
    best, best_state, waited = math.inf, None, 0
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.from_numpy(rng.permutation(rows))
        for start in range(0, rows, batch):
            optimizer.zero_grad()
            loss = batch_loss(order[start : start + batch])
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(validation_loss())
        history.append({"epoch": epoch, "validation_loss": val_loss})
        ctx.log(f"{name} epoch {epoch}/{epochs}: validation loss {val_loss:.4f}")
        if ctx.epochs:
            ctx.epochs(epoch, epochs)
        if val_loss < best - 1e-6:
            best, waited = val_loss, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= int(params["patience"]):
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history


def export(module: nn.Module, examples: dict[str, torch.Tensor]) -> onnx.ModelProto:
    """``module`` as ONNX: inputs named as ``examples`` (their first axis dynamic), output ``raw``."""
    buffer = io.BytesIO()
    names = list(examples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python branches
        torch.onnx.export(
            module,
            tuple(examples.values()),
            buffer,
            dynamo=False,
            input_names=names,
            output_names=["raw"],
            dynamic_axes={n: {0: "N"} for n in [*names, "raw"]},
            opset_version=OPSET,
        )
    return onnx.load_from_string(buffer.getvalue())
