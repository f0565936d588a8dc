"""Who the customers are: acquisition dates, demographics and latent traits.

Drawn once for the whole shop from the root seed, before any chunked simulation, so that the
population does not depend on how the work is split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duckdb_clv.ingest.generator.actions import draw_deal_sensitivity
from duckdb_clv.ingest.generator.params import (
    AGE_BANDS,
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    GENDERS,
    HOUR_DEMAND,
    ShopSpec,
    day_season,
    weights,
)


@dataclass(frozen=True)
class Population:
    """Per-customer arrays, indexed by customer number (0-based, in acquisition order)."""

    acquired_day: np.ndarray  # float64 days since spec.start, time of day included
    channel: np.ndarray  # int8 index into CHANNELS
    country: np.ndarray  # int8 index into COUNTRIES
    age_band: np.ndarray  # int8 index into AGE_BANDS
    gender: np.ndarray  # int8 index into GENDERS
    favourite_category: np.ndarray  # int8 index into CATEGORIES
    rate: np.ndarray  # purchases per day while active, at engagement 0 and average season
    dropout_p: np.ndarray  # chance of leaving after a purchase, at engagement 0
    spend_rate: np.ndarray  # nu: order value ~ Gamma(spend_shape, 1/nu)
    return_propensity: np.ndarray  # chance that an order is returned
    session_rate: np.ndarray  # browsing sessions per week at engagement 0
    engagement_start: np.ndarray  # log-engagement level at acquisition
    engagement_drift: np.ndarray  # weekly fade of the engagement target (0 for most)
    deal_sensitivity: np.ndarray  # how strongly a coupon raises the purchase rate

    def __len__(self) -> int:
        return len(self.acquired_day)

    def slice(self, lo: int, hi: int) -> Population:
        """The customers ``lo`` to ``hi - 1``."""
        return Population(**{k: v[lo:hi] for k, v in self.__dict__.items()})


def sample_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day as a fraction of a day, following the shop's hourly traffic curve."""
    hour = rng.choice(24, size=n, p=np.array(HOUR_DEMAND) / np.sum(HOUR_DEMAND))
    return (hour + rng.random(n)) / 24.0


def acquisition_days(spec: ShopSpec, rng: np.random.Generator) -> np.ndarray:
    """Acquisition times in growing cohorts: daily intake grows exponentially and peaks in Q4.

    With ``acquisition_window_days`` set, the same curve is confined to the period's first days;
    with ``acquisition_change_start`` set, intake is multiplied by ``acquisition_change_factor`` from
    that day.
    """
    window = spec.params.acquisition_window_days
    days = min(window, spec.days) if window > 0 else spec.days
    t = np.arange(days)
    intake = np.exp(np.log1p(spec.params.cohort_growth_per_year) * t / 365.25)
    intake *= day_season(spec.start, days, spec.params.seasonal)
    if spec.params.acquisition_change_start:
        changes = np.datetime64(spec.params.acquisition_change_start, "D")
        intake *= np.where(
            spec.start + t.astype("timedelta64[D]") >= changes, spec.params.acquisition_change_factor, 1.0
        )
    day = rng.choice(days, size=spec.customers, p=intake / intake.sum())
    return np.sort(day + sample_hours(rng, spec.customers))


def draw_population(spec: ShopSpec) -> Population:
    """Draw every customer's acquisition time, demographics and latent traits.

    Demographics carry weak, realistic signal: channel shifts the purchase rate and dropout,
    age band and country shift spend. The latent engagement start level correlates with the
    purchase rate, so engaged customers also buy more. Deal sensitivity (the response to coupons)
    depends on channel, age band and, inversely, the purchase rate.
    """
    p = spec.params
    rng = np.random.default_rng([spec.seed, 0])
    n = spec.customers
    acquired = acquisition_days(spec, rng)
    channel = rng.choice(len(CHANNELS), size=n, p=weights(CHANNELS)).astype(np.int8)
    country = rng.choice(len(COUNTRIES), size=n, p=weights(COUNTRIES, 2)).astype(np.int8)
    age = rng.choice(len(AGE_BANDS), size=n, p=weights(AGE_BANDS)).astype(np.int8)
    gender = rng.choice(len(GENDERS), size=n, p=weights(GENDERS)).astype(np.int8)
    favourite = rng.choice(len(CATEGORIES), size=n, p=weights(CATEGORIES)).astype(np.int8)

    channel_rate = np.array([c[2] for c in CHANNELS])[channel]
    channel_dropout = np.array([c[3] for c in CHANNELS])[channel]
    age_spend = np.array([a[2] for a in AGE_BANDS])[age]
    age_rate = np.array([a[3] for a in AGE_BANDS])[age]
    country_spend = np.array([c[3] for c in COUNTRIES])[country]
    category_returns = np.array([c[2] for c in CATEGORIES])[favourite]

    base_rate = rng.gamma(p.rate_shape_r, p.rate_scale, size=n)
    rate = base_rate * channel_rate * age_rate
    dropout_p = np.clip(rng.beta(p.dropout_a, p.dropout_b, size=n) * channel_dropout, 0.005, 0.98)
    # A higher nu means smaller orders, so spend multipliers divide it.
    spend_rate = rng.gamma(p.spend_q, 1.0 / p.spend_gamma, size=n) / (age_spend * country_spend)
    return_propensity = np.clip(rng.beta(p.return_a, p.return_b, size=n) * category_returns, 0, 0.9)
    session_rate = rng.gamma(p.session_shape, p.session_scale, size=n)

    log_rate = np.log(base_rate)
    z_rate = (log_rate - log_rate.mean()) / (log_rate.std() + 1e-12)
    engagement_start = p.engagement_rate_loading * z_rate + p.engagement_sd0 * rng.standard_normal(n)
    fades = rng.random(n) < p.fading_share
    engagement_drift = np.where(fades, rng.exponential(p.fading_drift_mean, size=n), 0.0)
    # Drawn from a stream of its own, so shops without campaigns are the same as before it existed.
    deal_sensitivity = draw_deal_sensitivity(channel, age, z_rate, p, np.random.default_rng([spec.seed, 4]))

    return Population(
        acquired_day=acquired,
        channel=channel,
        country=country,
        age_band=age,
        gender=gender,
        favourite_category=favourite,
        rate=rate,
        dropout_p=dropout_p,
        spend_rate=spend_rate,
        return_propensity=return_propensity,
        session_rate=session_rate,
        engagement_start=engagement_start,
        engagement_drift=engagement_drift,
        deal_sensitivity=deal_sensitivity,
    )
