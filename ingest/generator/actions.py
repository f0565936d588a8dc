"""Campaign actions: what each costs, how each customer responds, and the shop's own policy.

Shared by the generator, which applies the actions its logging policy chose while it simulates
the weeks, and by the oracle, which plays out a customer's future under every action from a
decision date. Both run this one response model, so the oracle's counterfactual values are those
of the model that made the data.

An action works for ``campaign_window_weeks`` weeks from the first simulation week that starts
on or after the decision date: it multiplies the purchase rate (coupons by an amount that grows
with the customer's latent deal sensitivity), the order value and the chance of leaving, and it
moves engagement once, which then reverts at the usual pace, so its effect outlasts the window.
A campaign-induced purchase does not raise the chance of leaving: the per-order dropout is divided
by the rate multiplier, which keeps the expected number of purchase-triggered departures as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duckdb_clv.ingest.generator.params import ACTIONS, AGE_DEAL_SHIFT, CHANNEL_DEAL_SHIFT, ShopParams

ACTION_NAMES: tuple[str, ...] = tuple(a[0] for a in ACTIONS)
ACTION_COST = np.array([a[1] for a in ACTIONS])
_RATE_LIFT = np.array([a[2] for a in ACTIONS])
_DEAL_LIFT = np.array([a[3] for a in ACTIONS])
_PRICE = np.array([a[4] for a in ACTIONS])
_SPEND = np.array([a[5] for a in ACTIONS])
_DROPOUT = np.array([a[6] for a in ACTIONS])
_ENGAGEMENT = np.array([a[7] for a in ACTIONS])
EMAIL = ACTION_NAMES.index("email")
COUPON = ACTION_NAMES.index("coupon_10")
VIP = ACTION_NAMES.index("vip")


@dataclass(frozen=True)
class Response:
    """Multipliers in force during an action's window, per customer (1 where none is)."""

    rate: np.ndarray  # purchase intensity
    purchase_dropout: np.ndarray  # chance of leaving after a purchase
    hazard: np.ndarray  # weekly hazard of leaving without a purchase trigger
    spend: np.ndarray  # order value before discount
    min_discount: np.ndarray  # discount every order gets at least (the coupon's 10 %)


def response(action: np.ndarray, deal_sensitivity: np.ndarray) -> Response:
    """The multipliers of ``action`` (indices into ``ACTIONS``) for customers of this sensitivity."""
    rate = 1.0 + _RATE_LIFT[action] + _DEAL_LIFT[action] * deal_sensitivity
    dropout = _DROPOUT[action]
    return Response(
        rate=rate,
        purchase_dropout=dropout / rate,
        hazard=dropout,
        spend=_SPEND[action],
        min_discount=1.0 - _PRICE[action],
    )


def engagement_change(action: np.ndarray, engagement: np.ndarray, params: ShopParams) -> np.ndarray:
    """The one-off move of log-engagement an action causes; email annoys the disengaged."""
    change = _ENGAGEMENT[action]
    annoyed = (action == EMAIL) & (engagement < params.email_annoyance_level)
    return np.where(annoyed, params.email_annoyance, change)


def draw_deal_sensitivity(
    channel: np.ndarray, age_band: np.ndarray, z_rate: np.ndarray, params: ShopParams, rng: np.random.Generator
) -> np.ndarray:
    """Latent deal sensitivity: log-normal, higher for bargain-led channels, the young and rare buyers."""
    mean = (
        params.deal_sensitivity_mean_log
        + np.array(CHANNEL_DEAL_SHIFT)[channel]
        + np.array(AGE_DEAL_SHIFT)[age_band]
        - params.deal_sensitivity_rate_loading * z_rate
    )
    return np.exp(mean + params.deal_sensitivity_sd * rng.standard_normal(channel.shape))


def decision_days(start: np.datetime64, n_days: int, params: ShopParams) -> np.ndarray:
    """Days after ``start`` of the monthly decision dates (first of the month) inside the period."""
    if not params.campaign_start:
        return np.zeros(0, dtype=np.int64)
    first = np.datetime64(params.campaign_start, "M")
    last = (start + np.timedelta64(n_days - 1, "D")).astype("datetime64[M]")
    months = np.arange(first, last + 1)
    days = (months.astype("datetime64[D]") - start).astype(np.int64)
    return days[(days > 0) & (days < n_days)]


def effect_week(decision_day: int) -> int:
    """The first simulation week starting on or after a decision date: where its effect begins."""
    return -(-decision_day // 7)


def winback_due(weeks_since_order: np.ndarray, params: ShopParams) -> np.ndarray:
    """Whether the naive win-back rule targets a customer, from whole weeks since its last order."""
    lo, hi = params.campaign_winback_weeks
    return (weeks_since_order >= lo) & (weeks_since_order <= hi)


def logging_propensities(weeks_since_order: np.ndarray, params: ShopParams) -> np.ndarray:
    """The true chance of each action (columns in ``ACTIONS`` order) under the shop's own policy."""
    random_shares = np.array(params.campaign_random_shares)
    due = winback_due(weeks_since_order, params)
    out = np.empty((weeks_since_order.size, len(ACTIONS)))
    out[:, 1:] = random_shares
    rest = 1.0 - params.campaign_winback_share
    out[due, 1:] = rest * random_shares
    out[due, COUPON] += params.campaign_winback_share
    out[:, 0] = 1.0 - out[:, 1:].sum(axis=1)
    return out


def logging_policy(weeks_since_order: np.ndarray, params: ShopParams, rng: np.random.Generator) -> np.ndarray:
    """Draw the shop's own action for each customer (int8 indices into ``ACTIONS``)."""
    cdf = np.cumsum(logging_propensities(weeks_since_order, params), axis=1)
    u = rng.random(weeks_since_order.size)
    return np.minimum((u[:, None] >= cdf).sum(axis=1), len(ACTIONS) - 1).astype(np.int8)
