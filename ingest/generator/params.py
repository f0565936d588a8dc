"""Parameters of the sample-shop generative model.

Every number that shapes the synthetic shop lives here, in one frozen dataclass, so that the
generator, the oracle and the documentation (``docs/SAMPLE_SHOP.md``) speak of the same model.
Rates are per day unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# Catalogues: (name, weight, purchase-rate multiplier, dropout multiplier) and friends. The
# multipliers are deliberately small: demographics should carry a weak, realistic signal.
CHANNELS: tuple[tuple[str, float, float, float], ...] = (
    ("organic_search", 0.26, 1.00, 1.00),
    ("paid_search", 0.20, 0.95, 1.05),
    ("paid_social", 0.17, 0.80, 1.25),
    ("email", 0.08, 1.15, 0.85),
    ("referral", 0.09, 1.25, 0.80),
    ("affiliate", 0.08, 0.85, 1.15),
    ("direct", 0.12, 1.10, 0.90),
)
# (country, region, weight, spend multiplier)
COUNTRIES: tuple[tuple[str, str, float, float], ...] = (
    ("DE", "Central Europe", 0.22, 1.00),
    ("AT", "Central Europe", 0.04, 1.05),
    ("CH", "Central Europe", 0.03, 1.30),
    ("FR", "Western Europe", 0.12, 0.95),
    ("NL", "Western Europe", 0.07, 1.00),
    ("BE", "Western Europe", 0.03, 0.95),
    ("GB", "UK and Ireland", 0.12, 1.05),
    ("IE", "UK and Ireland", 0.02, 1.05),
    ("ES", "Southern Europe", 0.07, 0.85),
    ("IT", "Southern Europe", 0.07, 0.90),
    ("SE", "Nordics", 0.04, 1.10),
    ("DK", "Nordics", 0.03, 1.10),
    ("PL", "Eastern Europe", 0.05, 0.75),
    ("US", "North America", 0.07, 1.15),
    ("CA", "North America", 0.02, 1.05),
)
# (age band, weight, spend multiplier, purchase-rate multiplier)
AGE_BANDS: tuple[tuple[str, float, float, float], ...] = (
    ("18-24", 0.14, 0.75, 1.05),
    ("25-34", 0.28, 0.95, 1.05),
    ("35-44", 0.23, 1.10, 1.00),
    ("45-54", 0.17, 1.15, 0.95),
    ("55-64", 0.11, 1.10, 0.95),
    ("65+", 0.07, 1.00, 0.90),
)
GENDERS: tuple[tuple[str, float], ...] = (
    ("female", 0.52),
    ("male", 0.42),
    ("non_binary", 0.01),
    ("undisclosed", 0.05),
)
# (category, weight, return multiplier)
CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("apparel", 0.20, 2.0),
    ("shoes", 0.09, 2.2),
    ("accessories", 0.08, 1.0),
    ("beauty", 0.10, 0.4),
    ("home", 0.10, 0.8),
    ("kitchen", 0.07, 0.7),
    ("electronics", 0.09, 1.1),
    ("books", 0.06, 0.3),
    ("toys", 0.06, 0.6),
    ("sports", 0.07, 1.0),
    ("garden", 0.04, 0.6),
    ("grocery", 0.04, 0.1),
)

# Campaign actions (docs/SAMPLE_SHOP.md#campaigns): (name, cost per customer sent, purchase-rate
# lift, lift per unit of deal sensitivity, price paid as a share of the list price, order-value
# multiplier, dropout multiplier, engagement change). ``none`` first: it is the control.
ACTIONS: tuple[tuple[str, float, float, float, float, float, float, float], ...] = (
    ("none", 0.00, 0.00, 0.0, 1.00, 1.00, 1.00, 0.00),
    ("email", 0.05, 0.05, 0.0, 1.00, 1.00, 1.00, 0.25),
    ("coupon_10", 0.20, 0.00, 0.9, 0.90, 1.05, 1.00, 0.05),
    ("vip", 12.00, 0.10, 0.0, 1.00, 1.10, 0.35, 0.35),
)
# Deal sensitivity shifts by acquisition channel and age band (log scale), in catalogue order:
# bargain-led channels and young customers respond to coupons most.
CHANNEL_DEAL_SHIFT: tuple[float, ...] = (-0.1, 0.2, 0.4, 0.0, -0.3, 0.5, -0.3)
AGE_DEAL_SHIFT: tuple[float, ...] = (0.3, 0.15, 0.0, -0.1, -0.15, -0.2)

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "checkout_start",
    "wishlist_add",
    "review",
)

# Month-of-year demand (January first); normalised to mean one in ``season_multiplier``.
MONTH_DEMAND: tuple[float, ...] = (0.85, 0.82, 0.92, 0.95, 0.98, 0.93, 0.88, 0.90, 0.98, 1.05, 1.38, 1.45)
# Monday first: shoppers buy more on Sunday evening and Monday.
WEEKDAY_DEMAND: tuple[float, ...] = (1.12, 0.98, 0.95, 0.94, 0.92, 0.93, 1.16)
HOUR_DEMAND: tuple[float, ...] = (
    0.3,
    0.15,
    0.1,
    0.08,
    0.08,
    0.15,
    0.35,
    0.6,
    0.8,
    0.9,
    1.0,
    1.05,
    1.1,
    1.05,
    1.0,
    1.0,
    1.05,
    1.15,
    1.35,
    1.6,
    1.75,
    1.6,
    1.1,
    0.6,
)


@dataclass(frozen=True)
class ShopParams:
    """Distribution parameters of the sample shop (rates per day unless named otherwise)."""

    # Acquisition: yearly growth of the number of new customers per day; a window > 0 days puts
    # every acquisition in the period's first that many days instead (one launch campaign).
    cohort_growth_per_year: float = 0.45
    acquisition_window_days: int = 0
    # A change of acquisition: from acquisition_change_start (a date; empty for none) the daily
    # intake of new customers is multiplied by acquisition_change_factor.
    acquisition_change_start: str = ""
    acquisition_change_factor: float = 1.0
    # A shock: from shock_start (a date; empty for none) purchase rates of every customer are
    # multiplied by shock_depth for shock_weeks weeks, then by shock_recovery from then on.
    shock_start: str = ""
    shock_weeks: int = 0
    shock_depth: float = 1.0
    shock_recovery: float = 1.0
    # Buy-till-you-die purchasing: lambda ~ Gamma(r, 1/alpha) per day, p ~ Beta(a, b).
    rate_shape_r: float = 0.85
    rate_scale: float = 0.045 / 0.85
    dropout_a: float = 1.1
    dropout_b: float = 4.2
    # Spend (Gamma-Gamma): order value ~ Gamma(spend_shape, 1/nu), nu ~ Gamma(q, 1/gamma).
    spend_shape: float = 3.0
    spend_q: float = 4.0
    spend_gamma: float = 66.0
    # Engagement: log-scale Ornstein-Uhlenbeck walk per week with a customer-specific downward
    # drift of its target for a share of customers; it scales activity and drives dropout.
    engagement_sd0: float = 0.35
    engagement_rate_loading: float = 0.35
    engagement_reversion: float = 0.15
    engagement_noise: float = 0.22
    fading_share: float = 0.45
    fading_drift_mean: float = 0.02
    purchase_engagement_loading: float = 0.6
    dropout_engagement_loading: float = 1.3
    weekly_hazard: float = 0.003
    hazard_engagement_loading: float = 1.5
    # Browsing: sessions per week at engagement 0 ~ Gamma(shape, scale); dead customers browse
    # at a small residual fraction of that rate.
    session_shape: float = 2.0
    session_scale: float = 0.07 / 2.0
    residual_session_share: float = 0.03
    # Orders: items, discounts, returns.
    extra_items_mean: float = 0.7
    discount_share: float = 0.12
    discount_share_black_friday: float = 0.38
    discount_share_december: float = 0.2
    return_a: float = 1.2
    return_b: float = 13.0
    full_refund_share: float = 0.65
    return_delay_days: tuple[float, float] = (3.0, 30.0)
    review_share: float = 0.1
    favourite_category_share: float = 0.55
    # Campaigns: from campaign_start (a date; empty for none) the shop decides on the first day of
    # every month, for each customer acquired before it, whether to send one of ACTIONS. Its own
    # (logging) policy: a win-back coupon with probability campaign_winback_share to customers
    # whose last order was campaign_winback_weeks whole weeks before, else email, coupon_10 and
    # vip at random with campaign_random_shares. An action works for campaign_window_weeks.
    campaign_start: str = ""
    campaign_random_shares: tuple[float, float, float] = (0.10, 0.06, 0.04)
    campaign_winback_share: float = 0.5
    campaign_winback_weeks: tuple[int, int] = (8, 17)
    campaign_window_weeks: int = 3
    # Deal sensitivity ~ LogNormal(mean_log + channel and age shifts - loading * z(log rate), sd):
    # frequent buyers buy anyway, so a coupon moves them least.
    deal_sensitivity_mean_log: float = -0.9
    deal_sensitivity_sd: float = 0.7
    deal_sensitivity_rate_loading: float = 0.25
    # Email annoys customers whose engagement is below this level: their engagement falls instead.
    email_annoyance_level: float = -0.3
    email_annoyance: float = -0.45
    # False flattens the month and weekday demand curves (hand-checkable tests use it).
    seasonal: bool = True

    def to_dict(self) -> dict[str, object]:
        """Return the parameters as a JSON-serialisable dict."""
        return asdict(self)


@dataclass(frozen=True)
class ShopSpec:
    """What to generate: size, seed and period (``end`` inclusive), plus the model parameters."""

    customers: int
    seed: int
    start: np.datetime64
    end: np.datetime64
    params: ShopParams = field(default_factory=ShopParams)

    @property
    def days(self) -> int:
        """Length of the observed period in days, both ends included."""
        return int((self.end - self.start).astype("timedelta64[D]").astype(int)) + 1

    @property
    def weeks(self) -> int:
        """Number of simulation weeks covering the period."""
        return -(-self.days // 7)


def weights(table: tuple[tuple, ...], column: int = 1) -> np.ndarray:
    """Normalised sampling weights from one column of a catalogue table."""
    w = np.array([row[column] for row in table], dtype=np.float64)
    return w / w.sum()


def day_season(start: np.datetime64, n_days: int, seasonal: bool = True) -> np.ndarray:
    """Demand multiplier for each day from ``start``: month-of-year times weekday, mean ~1."""
    if not seasonal:
        return np.ones(n_days)
    days = start + np.arange(n_days).astype("timedelta64[D]")
    month = days.astype("datetime64[M]").astype(int) % 12
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    month_w = np.array(MONTH_DEMAND) / np.mean(MONTH_DEMAND)
    weekday_w = np.array(WEEKDAY_DEMAND) / np.mean(WEEKDAY_DEMAND)
    return month_w[month] * weekday_w[weekday]


def demand_shift(start: np.datetime64, n_days: int, params: ShopParams) -> np.ndarray:
    """The shock's multiplier of purchase rates for each day from ``start``: 1 without a shock."""
    if not params.shock_start:
        return np.ones(n_days)
    days = start + np.arange(n_days).astype("timedelta64[D]")
    begins = np.datetime64(params.shock_start, "D")
    ends = begins + np.timedelta64(7 * params.shock_weeks, "D")
    return np.where(days < begins, 1.0, np.where(days < ends, params.shock_depth, params.shock_recovery))


def week_season(start: np.datetime64, n_weeks: int, params: ShopParams) -> np.ndarray:
    """Mean daily purchase multiplier of each simulation week from ``start``: season times shock.

    The generator and the oracle both take their weekly rates from here, so a shock in the
    future of a cutoff is in the oracle's simulated futures too.
    """
    days = day_season(start, n_weeks * 7, params.seasonal) * demand_shift(start, n_weeks * 7, params)
    return days.reshape(n_weeks, 7).mean(axis=1)


def discount_probability(days: np.ndarray, start: np.datetime64, params: ShopParams) -> np.ndarray:
    """Chance that an order placed ``days`` after ``start`` carries a discount."""
    dates = start + np.floor(days).astype("timedelta64[D]")
    month = dates.astype("datetime64[M]").astype(int) % 12
    day_of_month = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    prob = np.full(days.shape, params.discount_share)
    prob[(month == 10) & (day_of_month >= 22)] = params.discount_share_black_friday
    prob[(month == 11) & (day_of_month <= 24)] = params.discount_share_december
    return prob


# Discount depth is one of these fractions, equally likely.
DISCOUNT_LEVELS = np.array([0.1, 0.15, 0.2, 0.25, 0.3])
