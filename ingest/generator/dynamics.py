"""One week of a customer's life: the stochastic core shared by the generator and the oracle.

The generator runs these steps once per customer to produce what happened; the oracle runs the
very same steps many times from a customer's state at a cutoff to average over what has not
happened yet. Keeping both on one implementation is what makes the oracle a true ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duckdb_clv.ingest.generator.actions import Response
from duckdb_clv.ingest.generator.params import DISCOUNT_LEVELS, ShopParams


@dataclass(frozen=True)
class WeekOutcome:
    """What a week brought, per customer (or per simulated path)."""

    purchases: np.ndarray  # int64: purchases made this week
    dropped_after_purchase: np.ndarray  # bool: left right after the last of those purchases
    dropped_disengaged: np.ndarray  # bool: left at the end of the week without a purchase trigger


def purchase_dropout_probability(dropout_p: np.ndarray, engagement: np.ndarray, params: ShopParams) -> np.ndarray:
    """Chance of leaving right after a purchase, raised when engagement is low.

    ``1 - (1 - p) ** exp(-k * e)`` keeps the value a probability for every engagement level and
    equals the customer's latent ``p`` at engagement zero.
    """
    tilt = np.exp(-params.dropout_engagement_loading * engagement)
    return 1.0 - np.power(1.0 - dropout_p, tilt)


def purchase_intensity(
    rate: np.ndarray, engagement: np.ndarray, season: np.ndarray | float, params: ShopParams
) -> np.ndarray:
    """Expected purchases per day for an active customer at this engagement and season."""
    return rate * season * np.exp(params.purchase_engagement_loading * engagement)


def step_week(
    rate: np.ndarray,
    dropout_p: np.ndarray,
    engagement: np.ndarray,
    alive: np.ndarray,
    exposure_days: np.ndarray | float,
    season: float,
    params: ShopParams,
    rng: np.random.Generator,
    response: Response | None = None,
) -> WeekOutcome:
    """Draw one week of purchases and dropout for every customer at once.

    Purchases arrive as a Poisson process; after each one the customer may leave (the BG/NBD
    story, with the dropout chance tilted by engagement). Independently, a low-engagement
    customer may quietly leave at the end of the week. With ``n`` purchases drawn and ``g`` the
    trial of the first dropout (geometric), the customer makes ``min(n, g)`` purchases and has
    left after the last of them when ``g <= n``. ``response`` holds the multipliers of campaign
    actions in force this week (``ingest.generator.actions``).
    """
    expected = purchase_intensity(rate, engagement, season, params) * exposure_days
    q = purchase_dropout_probability(dropout_p, engagement, params)
    hazard = params.weekly_hazard * np.exp(-params.hazard_engagement_loading * engagement)
    if response is not None:
        expected = expected * response.rate
        q = q * response.purchase_dropout
        hazard = hazard * response.hazard
    drawn = rng.poisson(expected) * alive
    first_dropout = rng.geometric(np.clip(q, 1e-12, 1.0))
    purchases = np.minimum(drawn, first_dropout)
    dropped_after_purchase = alive & (drawn >= first_dropout)
    leave = 1.0 - np.exp(-hazard * (np.asarray(exposure_days) / 7.0))
    dropped_disengaged = alive & ~dropped_after_purchase & (rng.random(alive.shape) < leave)
    return WeekOutcome(purchases, dropped_after_purchase, dropped_disengaged)


def step_engagement(
    engagement: np.ndarray, target: np.ndarray, params: ShopParams, rng: np.random.Generator
) -> np.ndarray:
    """Move log-engagement one week along its mean-reverting walk towards ``target``."""
    pull = params.engagement_reversion * (target - engagement)
    return engagement + pull + params.engagement_noise * rng.standard_normal(engagement.shape)


def engagement_target(start_level: np.ndarray, drift: np.ndarray, weeks_since_acquisition: np.ndarray) -> np.ndarray:
    """Where a customer's engagement is heading: its start level minus a steady fade."""
    return start_level - drift * weeks_since_acquisition


def expected_net_per_order(
    spend_rate: np.ndarray,
    return_propensity: np.ndarray,
    discount_prob: np.ndarray | float,
    refund_observed_share: np.ndarray | float,
    params: ShopParams,
    response: Response | None = None,
) -> np.ndarray:
    """Expected order value net of discount and of refunds that fall inside the window.

    Gross value is Gamma(shape, 1/nu) with mean ``shape / nu``; the expected discount depth is the
    mean of the discount levels; a returned order refunds all of it with ``full_refund_share``
    and half of it on average otherwise. Under a campaign ``response`` the order value is scaled
    and every order gets at least its minimum discount (codes do not stack; every shop discount
    level is at least the coupon's).
    """
    gross = params.spend_shape / spend_rate
    depth = discount_prob * DISCOUNT_LEVELS.mean()
    if response is not None:
        gross = gross * response.spend
        depth = depth + (1.0 - discount_prob) * response.min_discount
    paid = gross * (1.0 - depth)
    refund_fraction = params.full_refund_share + (1.0 - params.full_refund_share) * 0.5
    returned = np.clip(return_propensity, 0.0, 0.9) * refund_observed_share
    return paid * (1.0 - returned * refund_fraction)
