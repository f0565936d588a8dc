"""Operational time: the shop's weekly purchase rate, estimated back from a cutoff, and its use."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import ShopActivity
from duckdb_clv.training.models.btyd import BGNBD
from duckdb_clv.training.models.btyd_clock import MIN_WEEKS, ShopClock, estimate_clock

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def simulate(multiplier: np.ndarray, n: int = 30_000, seed: int = 0, future: np.ndarray | None = None):
    """A BG/NBD shop whose every customer's rate is scaled by ``multiplier`` (one per week, oldest first).

    Returns the summary at the end of the last week (x, t_x, T in weeks), the repeat purchases
    of each week back from it, newest first, and with ``future`` (the multipliers of the weeks
    after it) each customer's purchases in those weeks.
    """
    rng = np.random.default_rng(seed)
    weeks = multiplier.size
    future = np.zeros(0) if future is None else future
    multiplier = np.concatenate([multiplier, future])
    birth = rng.uniform(0, weeks, n)
    rate = rng.gamma(0.9, 1 / 3.0, n)  # r = 0.9, alpha = 3: a purchase every ~3 weeks on average
    # Each customer leaves right after its n-th repeat purchase, n ~ Geometric(p), p ~ Beta(1, 6).
    left_after = rng.geometric(rng.beta(1.0, 6.0, n))
    x = np.zeros(n)
    last = birth.copy()
    by_week = np.zeros(weeks)
    for week in range(weeks):
        exposure = np.clip(week + 1 - np.maximum(birth, week), 0, 1)
        alive = x < left_after
        bought = np.where(alive, np.minimum(rng.poisson(rate * multiplier[week] * exposure), left_after - x), 0)
        x += bought
        last = np.where(bought > 0, np.maximum(birth, week) + exposure * rng.uniform(0.5, 1.0, n), last)
        by_week[week] = bought.sum()
    later = np.zeros(n)
    for week in range(weeks, multiplier.size):
        alive = x + later < left_after
        later += np.where(alive, np.minimum(rng.poisson(rate * multiplier[week]), left_after - x - later), 0)
    return x, last - birth, weeks - birth, by_week[::-1], later


def test_elapsed_is_piecewise_linear_back_from_the_cutoff():
    clock = ShopClock((2.0, 0.5))
    np.testing.assert_allclose(clock.elapsed(np.array([0.0, 1.0, 1.5, 2.0, 3.0])), [0.0, 2.0, 2.25, 2.5, 3.0])
    # A customer first seen 2 weeks back who last bought 1 week back: 0.5 operational weeks between.
    t_x, t = clock.summary(np.array([1.0, 0.0]), np.array([2.0, 2.0]))
    np.testing.assert_allclose(t_x, [0.5, 0.0])
    np.testing.assert_allclose(t, [2.5, 2.5])
    calendar = ShopClock.calendar()
    np.testing.assert_array_equal(calendar.elapsed(np.array([0.3, 7.0])), [0.3, 7.0])


def test_a_planted_shock_is_recovered_and_a_steady_shop_keeps_calendar_rates():
    steady = np.ones(130)
    shocked = steady.copy()
    shocked[100:113] = 0.5  # 13 weeks at half rate, ending 17 weeks before the cutoff
    fit = BGNBD(penalizer=1e-4).fit
    x, t_x, t, weeks, _ = simulate(steady)
    clock, _ = estimate_clock(x, t_x, t, weeks, fit)
    busy = np.asarray(clock.rates[:100])
    assert np.abs(busy - 1).max() < 0.15, busy
    # The shock, then a recovery to 80 %.
    shocked[113:] = 0.8
    x, t_x, t, weeks, _ = simulate(shocked)
    rates = np.asarray(estimate_clock(x, t_x, t, weeks, fit)[0].rates)
    # Back from the cutoff, the shock's weeks are 17 to 29.
    assert rates[19:28].mean() / rates[2:15].mean() == pytest.approx(0.5 / 0.8, abs=0.08)
    assert rates[2:15].mean() / rates[32:60].mean() == pytest.approx(0.8, abs=0.08)


def test_the_forecast_no_longer_depends_on_where_the_cutoff_falls_in_the_season():
    # Eight peak weeks at the end of each year. In calendar weeks, a cutoff right after the peak
    # sees every customer as keen and over-predicts the next year; read in operational time the
    # error is the same at any cutoff, so a correction learnt at one cutoff holds at another.
    def ratios(last_week_of_year: int) -> tuple[float, float]:
        weeks = np.arange(130 + 52) + (last_week_of_year - 129) % 52
        multiplier = np.where(weeks % 52 >= 44, 1.6, 0.9)
        x, t_x, t, by_week, later = simulate(multiplier[:130], seed=2, future=multiplier[130:])
        clock, model = estimate_clock(x, t_x, t, by_week, BGNBD(penalizer=1e-4).fit)
        calendar = BGNBD(penalizer=1e-4).fit(x, t_x, t)
        return (
            calendar.expected_purchases(52, x, t_x, t).sum() / later.sum(),
            model.expected_purchases(52, x, *clock.summary(t_x, t)).sum() / later.sum(),
        )

    calendar, operational = zip(*(ratios(week) for week in (25, 43, 51)), strict=True)
    assert max(calendar) - min(calendar) > 0.15, calendar
    assert max(operational) - min(operational) < 0.03, operational
    assert all(abs(r - 1) < 0.06 for r in operational), operational


def test_a_short_history_keeps_calendar_time():
    x, t_x, t, weeks, _ = simulate(np.ones(MIN_WEEKS - 2), n=3_000)
    clock, _ = estimate_clock(x, t_x, t, weeks, BGNBD(penalizer=1e-4).fit)
    assert clock == ShopClock.calendar()


def test_activity_counts_weeks_back_from_the_cutoff_and_ignores_later_days():
    days = np.array(["2024-12-01", "2024-12-24", "2024-12-25", "2024-12-31", "2025-01-01"], dtype="datetime64[D]")
    activity = ShopActivity(days, np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    # Week 0 is Dec 25 to 31, week 1 Dec 18 to 24; Dec 1 falls in week 4.
    np.testing.assert_array_equal(activity.by_week(np.datetime64("2024-12-31")), [7.0, 2.0, 0.0, 0.0, 1.0])
    assert activity.by_week(np.datetime64("2024-11-30")).size == 0
