"""Prediction intervals: split conformal per band of the prediction, fitted on validation customers.

What a user relies on: on customers from the same population, an interval at level L holds the
realised value for about L of them, in every band of predicted value, and widens with L.
"""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.models.intervals import LEVELS, coverage, fit_intervals
from duckdb_clv.udfs.intervals import bounds

pytestmark = pytest.mark.fast


def _customers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-heavy values like a shop's: most customers buy nothing, the rest a skewed amount."""
    rng = np.random.default_rng(seed)
    prediction = rng.gamma(0.6, 150.0, n)
    buys = rng.random(n) < prediction / (prediction + 60)
    actual = np.where(buys, rng.gamma(1.5, (prediction + 60) / 1.5), 0.0)
    return prediction, actual


def test_coverage_on_new_customers_is_the_nominal_level_overall_and_per_band():
    spec = fit_intervals(*_customers(20_000, 1))
    prediction, actual = _customers(40_000, 2)
    measured = coverage(spec, prediction, actual)
    for level in LEVELS:
        assert measured[f"{level:g}"]["coverage"] == pytest.approx(level, abs=0.015)
    band = np.searchsorted(spec["edges"], prediction, side="right")
    lower, upper = bounds(spec, prediction, 0.8)
    inside = (actual >= lower) & (actual <= upper)
    for b in range(len(spec["edges"]) + 1):
        assert inside[band == b].mean() == pytest.approx(0.8, abs=0.04), f"band {b}"


def test_intervals_are_nested_non_negative_and_stored_compactly():
    spec = fit_intervals(*_customers(5_000, 3))
    prediction, _ = _customers(2_000, 4)
    previous = None
    for level in (0.3, 0.5, 0.8, 0.9, 0.99):
        lower, upper = bounds(spec, prediction, level)
        assert np.all(lower >= 0) and np.all(upper >= lower)
        if previous is not None:
            assert np.all(lower <= previous[0] + 1e-9) and np.all(upper >= previous[1] - 1e-9)
        previous = (lower, upper)
    assert len(spec["bands"]) == 10 and all(len(b["quantiles"]) == 201 for b in spec["bands"])


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5, float("nan"), float("inf")])
def test_a_level_outside_0_1_is_refused(level):
    spec = fit_intervals(*_customers(1_000, 5))
    with pytest.raises(ValueError, match="level must be a coverage between 0 and 1"):
        bounds(spec, np.array([10.0]), level)


def test_few_validation_customers_give_one_band():
    spec = fit_intervals(*_customers(150, 6))
    assert spec["edges"] == [] and spec["bands"][0]["rows"] == 150
