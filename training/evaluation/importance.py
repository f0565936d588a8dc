"""Permutation feature importance of a served (ONNX) model.

Importance is measured on the model users get, the registered ONNX graph, and on the test cutoff:
shuffle one feature's column across customers, score again, and record how much the task's primary
metric falls. A feature the model ignores scores 0; one it leans on scores a large drop. A sequence
model's weekly history is shuffled as one block (``weekly_history``): whole histories change
customers, as the features do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from duckdb_clv.training.evaluation.metrics import normalized_gini
from duckdb_clv.training.export.onnx_tools import INPUT, session
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT


@dataclass(frozen=True)
class Importance:
    """The fall of the primary metric when one feature is shuffled (mean and spread over repeats)."""

    feature: str
    drop: float
    std: float


def _metric(task: str) -> Callable[[np.ndarray, np.ndarray], float]:
    if task == "value":
        return normalized_gini
    if task == "churn":
        from sklearn.metrics import roc_auc_score

        return lambda y, p: float(roc_auc_score(y, p))
    raise ValueError(f"permutation importance needs a value or churn model, got task {task!r}")


def permutation_importance(
    model: bytes,
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    rows: int = 2000,
    repeats: int = 2,
    seed: int = 0,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
    history: np.ndarray | None = None,
) -> list[Importance]:
    """Importance of every feature of the contract, largest drop first.

    Parameters
    ----------
    model : bytes
        The ONNX model, as registered.
    task : {"value", "churn"}
        Its task: the metric is the normalized Gini for value and ROC-AUC for churn.
    X, y : numpy arrays
        Test features (float32, contract order) and the actual value or churn label.
    rows : int
        Rows sampled (seeded) to keep the cost at ``rows * features * repeats`` predictions.
    repeats : int
        Shuffles per feature; the drop is their mean.
    seed : int
        Seed of the sample and the shuffles: the same inputs give the same importances.
    threads : int
        onnxruntime threads.
    progress : callable, optional
        Called with (features done, features in total).
    history : numpy array, optional
        The rows' weekly histories, for a model that reads them: shuffled as one more input,
        ``weekly_history``.
    """
    if X.shape[1] != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} feature columns, got {X.shape[1]}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    metric = _metric(task)
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(X.shape[0], size=min(rows, X.shape[0]), replace=False))
    sample = np.ascontiguousarray(X[take], dtype=np.float32)
    truth = np.asarray(y, dtype=np.float64)[take]
    weeks = None if history is None else np.ascontiguousarray(history[take], dtype=np.float32)
    sess = session(model, threads)

    def score(matrix: np.ndarray, histories: np.ndarray | None = weeks) -> float:
        feed = {INPUT: matrix} if histories is None else {INPUT: matrix, HISTORY_INPUT: histories}
        return metric(truth, sess.run([task], feed)[0].ravel().astype(np.float64))

    base = score(sample)
    out = []
    shuffled = sample.copy()
    for j, name in enumerate(FEATURES):
        drops = []
        for _ in range(repeats):
            shuffled[:, j] = sample[rng.permutation(sample.shape[0]), j]
            drops.append(base - score(shuffled))
        shuffled[:, j] = sample[:, j]
        out.append(Importance(name, float(np.mean(drops)), float(np.std(drops))))
        if progress is not None:
            progress(j + 1, len(FEATURES))
    if weeks is not None:
        drops = [base - score(sample, weeks[rng.permutation(len(weeks))]) for _ in range(repeats)]
        out.append(Importance("weekly_history", float(np.mean(drops)), float(np.std(drops))))
    return sorted(out, key=lambda imp: (-imp.drop, imp.feature))
