"""BG/NBD + Gamma-Gamma: recovers known parameters, matches closed forms, refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.models.btyd import BGNBD, BGNBDParams, GammaGamma, GammaGammaParams

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

TRUE = {"r": 0.6, "alpha": 4.0, "a": 0.8, "b": 2.5}


def simulate_bgnbd(n: int, seed: int, calibration: np.ndarray, holdout: float = 0.0):
    """BTYD summary over (0, T] and repeat purchases in (T, T + holdout] for known parameters."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], size=n)
    p = rng.beta(TRUE["a"], TRUE["b"], size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > calibration[i] + holdout:
                break
            if t <= calibration[i]:
                x[i] += 1
                t_x[i] = t
            else:
                future[i] += 1
            alive = rng.random() >= p[i]  # leaves after this purchase with probability p
    return x, t_x, calibration, future


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(0)
    return simulate_bgnbd(30_000, seed=1, calibration=rng.uniform(26, 78, size=30_000), holdout=39.0)


@pytest.fixture(scope="module")
def fitted(simulated):
    x, t_x, t, _ = simulated
    return BGNBD().fit(x, t_x, t)


def test_recovers_the_parameters_it_was_simulated_with(fitted):
    got = fitted.params_
    assert got.r == pytest.approx(TRUE["r"], rel=0.1)
    assert got.alpha == pytest.approx(TRUE["alpha"], rel=0.15)
    assert got.a == pytest.approx(TRUE["a"], rel=0.25)
    assert got.b == pytest.approx(TRUE["b"], rel=0.3)


def test_holdout_purchases_are_predicted_in_total(simulated, fitted):
    x, t_x, t, future = simulated
    predicted = fitted.expected_purchases(39.0, x, t_x, t)
    assert predicted.sum() == pytest.approx(future.sum(), rel=0.05)
    # and by group: heavy buyers are expected to buy more than one-time buyers
    assert predicted[x >= 5].mean() > 3 * predicted[x == 0].mean()


def test_new_customer_expectation_matches_simulation():
    model = BGNBD()
    model.params_ = BGNBDParams(**TRUE)
    x, *_ = simulate_bgnbd(40_000, seed=3, calibration=np.full(40_000, 52.0))
    assert model.expected_purchases_new(52.0) == pytest.approx(x.mean(), rel=0.03)


def test_p_alive_hand_computed():
    model = BGNBD()
    model.params_ = BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=1.0)
    # x = 1, t_x = 1, T = 2: odds of having left = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) = 2.25
    got = model.p_alive([1, 0], [1, 0], [2, 5])
    assert got[0] == pytest.approx(1 / 3.25)
    assert got[1] == 1.0  # no repeat purchase: BG/NBD has had no chance to see a dropout


def test_gamma_gamma_recovers_its_parameters():
    rng = np.random.default_rng(5)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, size=20_000)
    x = rng.integers(1, 12, size=20_000)
    mean_value = np.array([rng.gamma(p, 1 / n_, size=k).mean() for n_, k in zip(nu, x, strict=True)])
    model = GammaGamma().fit(x, mean_value)
    assert model.params_.p == pytest.approx(p, rel=0.1)
    assert model.params_.q == pytest.approx(q, rel=0.15)
    assert model.params_.v == pytest.approx(v, rel=0.2)
    # The conditional expectation shrinks a one-order customer towards the population mean.
    population = model.params_.p * model.params_.v / (model.params_.q - 1)
    one, many = model.expected_order_value([1, 50], [500.0, 500.0])
    assert population < one < many < 500.0


def test_gamma_gamma_is_the_same_fit_in_any_currency():
    # p and q have no unit and v is a money scale: amounts in cents or in millions must give the
    # same p and q and a v scaled with them (the penalty once pulled v towards 0 in large units).
    rng = np.random.default_rng(9)
    nu = rng.gamma(4.0, 1 / 15.0, size=5_000)
    x = rng.integers(1, 8, size=5_000)
    mean_value = np.array([rng.gamma(6.0, 1 / n_, size=k).mean() for n_, k in zip(nu, x, strict=True)])
    base = GammaGamma(penalizer=1e-4).fit(x, mean_value).params_
    for factor in (1e-2, 1e5):
        scaled = GammaGamma(penalizer=1e-4).fit(x, mean_value * factor).params_
        assert scaled.p == pytest.approx(base.p, rel=1e-4)
        assert scaled.q == pytest.approx(base.q, rel=1e-4)
        assert scaled.v == pytest.approx(base.v * factor, rel=1e-4)


def test_gamma_gamma_closed_form():
    model = GammaGamma()
    model.params_ = GammaGammaParams(p=2.0, q=3.0, v=10.0)
    # population mean 2 * 10 / 2 = 10; weight for x = 2 is 4 / (4 + 2) = 2/3 -> 10/3 + 2/3 * 40 = 30
    assert model.expected_order_value([2], [40.0])[0] == pytest.approx(30.0)


def test_fits_are_deterministic(simulated):
    x, t_x, t, _ = simulated
    a = BGNBD().fit(x[:5_000], t_x[:5_000], t[:5_000]).params_
    b = BGNBD().fit(x[:5_000], t_x[:5_000], t[:5_000]).params_
    assert a == b


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [1], [3, 4], "one value per customer"),
        ([1], [5], [3], "recency exceeds T"),
        ([-1], [0], [3], "frequency has 1 negative"),
        ([1.5], [1], [3], "whole numbers"),
        ([np.nan], [1], [3], "NaN or infinite"),
        ([0], [2], [3], "recency must be 0"),
        ([], [], [], "no customers"),
    ],
)
def test_bad_summaries_are_refused(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BGNBD().fit(frequency, recency, T)


def test_unfitted_and_degenerate_models_say_what_to_do():
    with pytest.raises(NotFittedError, match="call fit"):
        BGNBD().p_alive([1], [1], [2])
    with pytest.raises(NotFittedError, match="call fit"):
        GammaGamma().expected_order_value([1], [10.0])
    with pytest.raises(TrainingError, match="needs customers with repeat purchases"):
        GammaGamma().fit([0, 0, 1], [0, 0, 5.0])
