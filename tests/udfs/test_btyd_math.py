"""The numpy-only BG/NBD closed forms used in SQL agree with scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1 as scipy_hyp2f1

from udfs import btyd_math


def test_series_matches_scipy_over_the_range_customers_reach():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, 500).astype(float)
    t = rng.uniform(0, 200, 500)
    z = 52 / (0.9 + t + 52)
    a, b, c = 0.3 + x, 5.2 + x, 1.04 + 5.2 + x - 1
    np.testing.assert_allclose(btyd_math.hyp2f1(a, b, c, z), scipy_hyp2f1(a, b, c, z), rtol=1e-9)


def test_summary_rules_are_enforced_with_a_readable_message():
    with pytest.raises(ValueError, match="recency must not exceed T"):
        btyd_math.check_summary(np.array([1.0]), np.array([5.0]), np.array([4.0]))
    with pytest.raises(ValueError, match="whole number"):
        btyd_math.check_summary(np.array([1.5]), np.array([1.0]), np.array([4.0]))
