"""Metrics of a candidate on the validation and test cutoffs, as stored in its card.

Value models also report the test total ratio before calibration, so the age shift between
training and scoring cutoffs stays visible after it is corrected. The churn threshold is the best
F1 on validation, then applied unchanged to test.
"""

from __future__ import annotations

import numpy as np

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.evaluation.metrics import best_f1_threshold, churn_metrics, value_metrics
from duckdb_clv.training.models.candidates import Candidate, target
from duckdb_clv.training.models.intervals import coverage


def candidate_metrics(
    candidate: Candidate, validation: Dataset, test: Dataset, test_raw: np.ndarray
) -> dict[str, dict]:
    """{"validation": metrics, "test": metrics} of a fitted, calibrated candidate.

    ``test_raw`` is the candidate's uncalibrated prediction on the test rows (computed once by
    the caller, which also uses it for the parity check).
    """
    val_pred = candidate.validation_predictions()
    test_pred = candidate.calibration_.apply(test_raw)
    if candidate.task == "value":
        out = {"validation": value_metrics(validation.value, val_pred), "test": value_metrics(test.value, test_pred)}
        total = test.value.sum()
        out["test"]["total_ratio_uncalibrated"] = float(test_raw.sum() / total) if total else None
        if getattr(candidate, "intervals_", None):
            out["test"]["intervals"] = coverage(candidate.intervals_, test_pred, test.value)
        return out
    threshold = best_f1_threshold(validation.churned, val_pred)
    return {
        "validation": churn_metrics(target(validation, "churn"), val_pred, threshold),
        "test": churn_metrics(target(test, "churn"), test_pred, threshold),
    }
