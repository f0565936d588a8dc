"""Evaluation metrics on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.evaluation.metrics import (
    best_f1_threshold,
    calibration_table,
    churn_metrics,
    decile_mape,
    gini,
    normalized_gini,
    value_metrics,
)

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def test_gini_of_a_hand_computed_ordering():
    # Two of four customers hold all value (10 and 30). Ordered 30, 10, 0, 0 the Lorenz curve passes
    # (0.25, 0.75), (0.5, 1), (0.75, 1), (1, 1): area 0.09375 + 0.21875 + 0.25 + 0.25 = 0.8125, Gini 0.625.
    actual = np.array([0.0, 0.0, 10.0, 30.0])
    assert gini(actual, actual) == pytest.approx(0.625)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0


def test_a_constant_prediction_scores_zero_gini_whatever_the_row_order():
    actual = np.array([5.0, 0.0, 0.0, 100.0, 1.0])
    assert normalized_gini(actual, np.ones(5)) == pytest.approx(0.0)
    assert normalized_gini(actual[::-1], np.ones(5)) == pytest.approx(0.0)


def test_decile_mape_is_zero_for_exact_predictions_and_sees_level_errors():
    rng = np.random.default_rng(0)
    actual = rng.gamma(0.5, 100, size=1_000) + 1
    assert decile_mape(actual, actual) == pytest.approx(0.0)
    assert decile_mape(actual, actual * 1.2) == pytest.approx(0.2)


def test_value_metrics_report_the_total_ratio():
    m = value_metrics(np.array([10.0, 0.0, 30.0]), np.array([20.0, 0.0, 40.0]))
    assert m["total_ratio"] == pytest.approx(1.5)
    assert m["mae"] == pytest.approx(20 / 3)
    assert m["rmse"] == pytest.approx(np.sqrt(200 / 3))


def test_metrics_refuse_nan_predictions_and_length_mismatch():
    with pytest.raises(ValueError, match="NaN or infinite"):
        value_metrics(np.array([1.0, 2.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="differ in length"):
        value_metrics(np.array([1.0, 2.0]), np.array([1.0]))


def test_churn_metrics_and_the_calibration_table():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    p = np.array([0.1, 0.2, 0.8, 0.9, 0.7, 0.3, 0.6, 0.65])
    m = churn_metrics(y, p, threshold=0.5)
    assert m["roc_auc"] == pytest.approx(15 / 16)
    assert m["precision"] == pytest.approx(4 / 5) and m["recall"] == pytest.approx(1.0)
    table = calibration_table(y, p)
    assert sum(row["customers"] for row in table) == len(y)
    # Flagging 0.6 and above catches every churner with one false alarm (F1 8/9), the best there is.
    threshold = best_f1_threshold(y, p)
    assert 0.3 < threshold <= 0.6
    assert churn_metrics(y, p, threshold)["f1"] == pytest.approx(8 / 9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        churn_metrics(y, p * 2, 0.5)


def test_parity_fails_outside_the_stated_tolerance():
    from duckdb_clv.training.errors import TrainingError
    from duckdb_clv.training.export.parity import parity

    expected = np.array([0.0, 10.0, 1000.0])
    assert parity("value", expected, expected * (1 + 5e-4))["max_error"] <= 1e-3
    with pytest.raises(TrainingError, match="disagrees with the trained model"):
        parity("value", expected, expected * 1.01)
    with pytest.raises(TrainingError, match="disagrees"):
        parity("churn", np.array([0.2, 0.5]), np.array([0.2, 0.5003]))
    with pytest.raises(TrainingError, match="disagrees"):
        parity("value", expected, np.array([0.0, np.nan, 1000.0]))
    assert parity("segment", np.arange(2000) % 3, np.arange(2000) % 3)["agreement"] == 1.0


def test_value_parity_is_the_same_in_any_currency():
    from duckdb_clv.training.errors import TrainingError
    from duckdb_clv.training.export.parity import parity

    # A customer predicted near zero among customers worth thousands: float32 arithmetic on the
    # thousands leaves an absolute error that scales with the currency, not with this prediction.
    expected = np.array([0.6, 5_000.0, 8_000.0, 12_000.0])
    for unit in (1.0, 1e4):
        actual = expected * unit + np.array([0.007, 0.0, 0.0, 0.0]) * unit
        assert parity("value", expected * unit, actual)["max_error"] <= 1e-3
        with pytest.raises(TrainingError, match="disagrees"):
            parity("value", expected * unit, actual + np.array([0.0, 30.0, 0.0, 0.0]) * unit)
    # A shop whose every prediction is zero is measured in absolute terms.
    assert parity("value", np.zeros(3), np.full(3, 1e-4))["max_error"] == pytest.approx(1e-4)
