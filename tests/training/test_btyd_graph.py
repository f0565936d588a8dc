"""The BG/NBD + Gamma-Gamma ONNX graph computes what the scipy model computes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from duckdb_clv.training.export.onnx_tools import check_domains, compose_graph, run
from duckdb_clv.training.models.btyd import BTYDFit, discounted_clv
from duckdb_clv.udfs.contract import FEATURES


def matrix(x, t_x, t, m) -> np.ndarray:
    X = np.zeros((len(x), len(FEATURES)), dtype=np.float32)
    for name, values in (("frequency", x), ("recency_weeks", t_x), ("t_weeks", t), ("monetary_value", m)):
        X[:, FEATURES.index(name)] = values
    return X


@pytest.fixture(scope="module")
def fit() -> BTYDFit:
    rng = np.random.default_rng(3)
    n = 4_000
    t = rng.uniform(0, 150, n).round(2)
    x = np.minimum(rng.poisson(t / 15), 60).astype(float)
    t_x = np.where(x > 0, (t * rng.uniform(0.2, 1.0, n)).round(2), 0.0)
    m = np.where(x > 0, rng.gamma(4, 20, n).round(2), 0.0)
    return BTYDFit.fit(matrix(x, t_x, t, m), horizon_days=365, churn_window_days=90, fitted_on="2024-12-31")


def test_graph_matches_scipy_including_edge_customers(fit):
    # New customers (T = 0), no repeats, heavy buyers, and a NULL monetary value.
    x = np.array([0, 0, 1, 5, 40, 60, 0, 3], dtype=float)
    t_x = np.array([0, 0, 0.5, 20, 100, 140, 0, 9.5])
    t = np.array([0, 30, 1, 52, 104, 150, 156, 10])
    m = np.array([0, 0, 50, 80, 120, 60, np.nan, 75])
    X = matrix(x, t_x, t, m)
    got = run(fit.graph(), X, "btyd")
    expected = fit.reference_outputs(X)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)
    reference_value = expected[:, 1] * expected[:, 2]
    np.testing.assert_allclose(run(fit.graph(), X, "value").ravel(), reference_value, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(run(fit.graph(), X, "churn").ravel(), expected[:, 3], rtol=2e-6, atol=1e-6)
    # What training feeds the tree models is exactly what the graph serves.
    np.testing.assert_array_equal(fit.outputs(X), got.astype(np.float64))


def test_graph_passes_the_onnx_checker_and_uses_standard_domains(fit):
    # The export step runs the full checker; a graph it refuses never reaches the registry.
    onnx.checker.check_model(fit.graph(), full_check=True)
    check_domains(fit.graph())
    # Composed into a larger model (calibration, fusion, tree inputs), every name is prefixed;
    # the Loop body's reads from the outer graph must follow.
    value = helper.make_tensor_value_info("btyd/value", onnx.TensorProto.FLOAT, ["N", 1])
    composed = compose_graph({"btyd": fit.graph()}, {}, [], [], [value], "composed")
    onnx.checker.check_model(composed, full_check=True)
    X = matrix([0, 3, 40], [0, 9.5, 100], [0, 10, 104], [0, 75, 120])
    np.testing.assert_array_equal(run(composed, X, "btyd/value"), run(fit.graph(), X, "value"))


def test_graph_batch_of_one_and_of_zero_rows(fit):
    X = matrix([2.0], [10.0], [20.0], [40.0])
    assert run(fit.graph(), X, "value").shape == (1, 1)
    assert run(fit.graph(), X[:0], "value").shape == (0, 1)


def test_discounted_clv_at_rate_zero_is_the_undiscounted_expectation(fit):
    x, t_x, t, m = np.array([2.0, 0.0]), np.array([10.0, 0.0]), np.array([20.0, 5.0]), np.array([40.0, 0.0])
    bg, gg = fit.bgnbd, fit.gamma_gamma
    undiscounted = bg.expected_purchases(52, x, t_x, t) * gg.expected_order_value(x, m)
    np.testing.assert_allclose(discounted_clv(bg, gg, x, t_x, t, m, periods=52, rate=0.0), undiscounted, rtol=1e-9)
    discounted = discounted_clv(bg, gg, x, t_x, t, m, periods=52, rate=0.01)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.01**52)
    with pytest.raises(ValueError, match="rate must be >= 0"):
        discounted_clv(bg, gg, x, t_x, t, m, periods=52, rate=-0.1)


def test_fit_refuses_data_without_repeat_buyers():
    X = matrix(np.zeros(50), np.zeros(50), np.linspace(1, 50, 50), np.zeros(50))
    with pytest.raises(Exception, match="Gamma-Gamma needs customers with repeat purchases"):
        BTYDFit.fit(X, 365, 90, "2024-12-31")
