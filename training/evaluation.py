"""Metrics of a candidate on the validation and test cutoffs, as stored in its card.

Value models also report the test total ratio before calibration, so the age shift between
training and scoring cutoffs stays visible after it is corrected. The churn threshold is the best
F1 on validation, then applied unchanged to test.
"""

from __future__ import annotations

from training.candidates import Candidate, target
from training.dataset import Dataset
from training.metrics import best_f1_threshold, churn_metrics, value_metrics


def candidate_metrics(candidate: Candidate, validation: Dataset, test: Dataset) -> dict[str, dict]:
    """{"validation": metrics, "test": metrics} of a fitted, calibrated candidate."""
    val_pred, test_pred = candidate.predict(validation.X), candidate.predict(test.X)
    if candidate.task == "value":
        out = {"validation": value_metrics(validation.value, val_pred), "test": value_metrics(test.value, test_pred)}
        raw = candidate.predict_raw(test.X)
        out["test"]["total_ratio_uncalibrated"] = float(raw.sum() / test.value.sum()) if test.value.sum() else None
        return out
    threshold = best_f1_threshold(validation.churned, val_pred)
    return {
        "validation": churn_metrics(target(validation, "churn"), val_pred, threshold),
        "test": churn_metrics(target(test, "churn"), test_pred, threshold),
    }
