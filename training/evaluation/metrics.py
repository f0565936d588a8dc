"""Evaluation metrics for the value and churn tasks.

Value metrics follow the ZILN paper (Wang, Liu and Miao, 2019): the normalized Gini is the Gini of
the model's ordering of customers divided by the Gini of the perfect ordering, and the decile MAPE
compares the predicted and actual totals of each predicted-value decile. Ties in the predictions
are averaged, so a model that predicts one constant scores a Gini of 0, not a lucky ordering.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-7


def _check(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"actual and predicted differ in length: {y.size} and {p.size}")
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{int((~np.isfinite(p)).sum())} predictions are NaN or infinite")
    return y, p


def gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the cumulative-gain (Lorenz) curve of ``actual`` ordered by ``predicted``, descending.

    Customers with tied predictions form one step whose share of value grows linearly, which is the
    average over every order of the ties.
    """
    y, p = _check(actual, predicted)
    total = y.sum()
    if total <= 0:
        return 0.0
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    # Group boundaries of tied predictions: cumulative population and value at the end of each group.
    ends = np.flatnonzero(np.r_[p_sorted[1:] != p_sorted[:-1], True])
    pop = np.r_[0.0, (ends + 1) / y.size]
    gain = np.r_[0.0, np.cumsum(y_sorted)[ends] / total]
    area = np.sum((pop[1:] - pop[:-1]) * (gain[1:] + gain[:-1]) / 2)
    return float(2 * area - 1)


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the model's ordering over the Gini of the perfect ordering (1 = perfect, 0 = random)."""
    best = gini(actual, actual)
    return gini(actual, predicted) / best if best > 0 else 0.0


def decile_mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error of the total value in each decile of predicted value."""
    y, p = _check(actual, predicted)
    order = np.argsort(-p, kind="stable")
    errors = []
    for part in np.array_split(order, 10):
        truth = y[part].sum()
        if part.size and truth > 0:
            errors.append(abs(p[part].sum() - truth) / truth)
    return float(np.mean(errors)) if errors else float("nan")


def value_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, Spearman, normalized Gini, decile MAPE and total predicted / total actual."""
    y, p = _check(actual, predicted)
    rho = spearmanr(y, p).statistic if np.ptp(p) > 0 else 0.0
    return {
        "mae": float(np.mean(np.abs(y - p))),
        "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
        "spearman": float(rho),
        "normalized_gini": normalized_gini(y, p),
        "decile_mape": decile_mape(y, p),
        "total_ratio": float(p.sum() / y.sum()) if y.sum() > 0 else float("nan"),
    }


def best_f1_threshold(churned: np.ndarray, probability: np.ndarray) -> float:
    """The probability threshold with the best F1 (chosen on validation, then applied to test)."""
    y, p = _check(churned, probability)
    candidates = np.unique(np.quantile(p, np.linspace(0.01, 0.99, 99)))
    scores = [_prf(y, p, t)[2] for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def _prf(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float, float]:
    flagged = p >= threshold
    tp = float(np.sum(flagged & (y == 1)))
    precision = tp / max(flagged.sum(), 1)
    recall = tp / max((y == 1).sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def calibration_table(churned: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Rows of (bin range, customers, mean predicted, observed rate) over equal-width probability bins."""
    y, p = _check(churned, probability)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        rows = index == b
        if rows.any():
            table.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "customers": int(rows.sum()),
                    "mean_predicted": float(p[rows].mean()),
                    "observed_rate": float(y[rows].mean()),
                }
            )
    return table


def churn_metrics(churned: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, object]:
    """ROC-AUC, PR-AUC, Brier, log loss, precision/recall/F1 at ``threshold`` and a calibration table."""
    y, p = _check(churned, probability)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("churn probabilities must lie in [0, 1]")
    both = 0 < y.sum() < y.size
    precision, recall, f1 = _prf(y, p, threshold)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])),
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "calibration": calibration_table(y, p),
    }
