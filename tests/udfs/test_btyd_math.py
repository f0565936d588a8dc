"""The numpy-only BG/NBD closed forms used in SQL agree with scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1 as scipy_hyp2f1

from duckdb_clv.udfs import btyd_math

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


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


def test_each_value_is_independent_of_the_others_in_the_array():
    # A slow-converging element (z near 1) must not add terms to the fast ones: bit-identical.
    a, b, c = np.array([3.3, 0.3]), np.array([8.2, 5.2]), np.array([9.24, 5.24])
    z = np.array([0.2, 0.98])
    together = btyd_math.hyp2f1(a, b, c, z)
    alone = [btyd_math.hyp2f1(a[i : i + 1], b[i : i + 1], c[i : i + 1], z[i : i + 1])[0] for i in range(2)]
    assert together.tolist() == alone
