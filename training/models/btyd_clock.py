"""Operational time for BG/NBD: the shop's weekly purchase rate, read back from a cutoff.

BG/NBD assumes every customer buys at a constant rate while alive. A shop's rate is not
constant: the Christmas weeks run at one and a half times the summer's, and a shock can halve
everyone's purchases for a season. Measured in calendar weeks, a customer silent through a slow
season looks like one that has left, and a cutoff just after the peak sees everyone as keen; the
fit's error then depends on the date it is made, so a correction learnt at one cutoff does not
carry to the scoring date (#14: the steady shop's BG/NBD over-predicted the next year's purchases
by 15 % at a September cutoff and by 49 % at a December one).

So time is measured as the shop's purchasing runs: week j back from the cutoff lasts ``r_j``
operational weeks, where ``r_j`` is the shop-wide purchase rate of that week relative to the
last year's mean. The rate is estimated from the shop's repeat purchases per week against those
the fitted model expects from the customers alive then (known from their first purchases), and
the fit is repeated in the new time until the rates settle. Customer summaries are then read in
operational time: T' = R(T), t_x' = R(T) - R(T - t_x), with R(u) the operational weeks in the last
u calendar weeks. The future is taken to run at the last year's mean rate, so horizons stay in
calendar weeks. Everything reads only purchases on or before the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import hyp2f1

if TYPE_CHECKING:  # btyd.py imports this module
    from duckdb_clv.training.models.btyd import BGNBD, BGNBDParams

# Weeks of history a rate is normalised over, the most recent first.
YEAR_WEEKS = 52
MIN_WEEKS = 13
# Pseudo-purchases added to each week's actual and expected counts: a week with few purchases
# (a young or small shop) keeps a rate near 1 instead of swinging on a handful of orders.
SMOOTHING = 20.0
RATE_BOUNDS = (0.05, 20.0)
MAX_ROUNDS = 8
SETTLED = 0.01  # largest change of a busy week's log-rate between rounds at which the estimate stops


@dataclass(frozen=True)
class ShopClock:
    """Operational weeks per calendar week, back from a cutoff (``rates[0]`` is the newest week).

    ``ShopClock.calendar()`` (no rates) leaves time as it is.
    """

    rates: tuple[float, ...] = ()

    @classmethod
    def calendar(cls) -> ShopClock:
        return cls(())

    def elapsed(self, weeks_back: np.ndarray) -> np.ndarray:
        """R(u): operational weeks in the last ``u`` calendar weeks before the cutoff.

        Piecewise linear in u; beyond the oldest week the oldest week's rate continues.
        """
        u = np.asarray(weeks_back, dtype=np.float64)
        if not self.rates:
            return u
        rates = np.asarray(self.rates)
        start = np.concatenate([[0.0], np.cumsum(rates)])
        week = np.clip(np.floor(u), 0, rates.size - 1).astype(np.int64)
        return start[week] + (u - week) * rates[week]

    def summary(self, t_x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t_x', T'): recency and age in operational weeks, for ages ``t`` back from the cutoff."""
        age = self.elapsed(t)
        return np.minimum(age - self.elapsed(np.maximum(t - t_x, 0.0)), age), age

    def describe(self) -> dict[str, object]:
        return {"unit": "week", "rates_back_from_cutoff": [round(r, 6) for r in self.rates]}


def _new_customer_purchases(p: BGNBDParams, t: np.ndarray) -> np.ndarray:
    """Expected repeat purchases in (0, t] of a customer acquired at 0 (t in operational weeks)."""
    t = np.maximum(t, 0.0)
    tail = (p.alpha / (p.alpha + t)) ** p.r * hyp2f1(p.r, p.b, p.a + p.b - 1, t / (p.alpha + t))
    return (p.a + p.b - 1) / (p.a - 1) * (1 - tail)


# Points per operational week at which the new-customer curve is computed; between them it is
# interpolated. The curve is smooth and concave, so this changes a week's expectation by far less
# than its purchases' own noise, at a hundredth of the cost of the series at every age and week.
CURVE_POINTS_PER_WEEK = 4


def expected_weekly(p: BGNBDParams, clock: ShopClock, ages: np.ndarray, counts: np.ndarray, weeks: int) -> np.ndarray:
    """Repeat purchases the fit expects in each week back, from customers of the given ages.

    ``ages`` are distinct ages (calendar weeks since first purchase) and ``counts`` how many
    customers have each: each contributes its expected purchases between the week's two edges.
    """
    age_op = clock.elapsed(ages)
    grid = np.linspace(0.0, float(age_op.max()), int(age_op.max() * CURVE_POINTS_PER_WEEK) + 2)
    curve = _new_customer_purchases(p, grid)
    edges = np.arange(weeks + 1, dtype=np.float64)[:, None]
    # Operational weeks from each age's first purchase to each week edge (0 before it was acquired).
    since = age_op[None, :] - clock.elapsed(np.minimum(edges, ages[None, :]))
    bought = np.interp(since, grid, curve)
    return (bought[:-1] - bought[1:]) @ counts


def estimate_clock(
    x: np.ndarray,
    t_x: np.ndarray,
    t: np.ndarray,
    repeats_by_week: np.ndarray,
    fit: Callable[..., BGNBD],
) -> tuple[ShopClock, BGNBD]:
    """The shop's weekly rates back from the cutoff, and the BG/NBD fit in that time.

    Parameters
    ----------
    x, t_x, t : ndarray
        Every customer's BTYD summary at the cutoff, calendar weeks.
    repeats_by_week : ndarray
        The shop's repeat purchases (purchase days after a customer's first) in each week back
        from the cutoff, newest first, covering at least the oldest customer's age.
    fit : callable
        Fits BG/NBD on a summary (x, t_x, T), optionally starting from given parameters.

    Returns
    -------
    clock, bgnbd
        The rates, normalised to a mean of 1 over the last year (or the whole history when
        shorter), and the fit on the summary read in them. A history under ``MIN_WEEKS`` keeps
        calendar time: too few weeks to tell a rate from noise.
    """
    weeks = int(np.ceil(t.max())) if t.size else 0
    calendar = fit(x, t_x, t)
    if weeks < MIN_WEEKS or repeats_by_week.size < weeks:
        return ShopClock.calendar(), calendar
    ages, counts = np.unique(t, return_counts=True)
    actual = repeats_by_week[:weeks]
    clock, model = ShopClock.calendar(), calendar
    log_rates = np.zeros(weeks)
    for _round in range(MAX_ROUNDS):
        expected = expected_weekly(model.params_, clock, ages, counts, weeks)
        step = np.log((actual + SMOOTHING) / (expected + SMOOTHING))
        new = np.clip(log_rates + step, *np.log(RATE_BOUNDS))
        new -= np.log(np.mean(np.exp(new[:YEAR_WEEKS])))
        # Weeks with few purchases (a shop's first weeks) move slowly under the smoothing and
        # matter as little: the rates have settled when the busy weeks have.
        busy = actual + expected > SMOOTHING
        settled = not busy.any() or np.max(np.abs(new - log_rates)[busy]) < SETTLED
        log_rates = new
        clock = ShopClock(tuple(float(r) for r in np.exp(log_rates)))
        model = fit(x, *clock.summary(t_x, t), model.params_)
        if settled:
            break
    return clock, model
