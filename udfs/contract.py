"""The feature contract: the ordered features every model consumes, defined once.

The dbt views ``ml_training_set`` and ``ml_scoring_set`` must have exactly these columns (after
their key columns), training builds its matrix in this order, every ONNX model takes them as its
``features`` input in this order, and model cards carry the spec hash. A mismatch anywhere is
refused with a message naming the differing features. This module imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json

# 2 added the weekly history (an optional second model input); models reading only the
# features keep version 1's spec hash, so they go on serving.
CONTRACT_VERSION = 2

# Categories one-hot encoded the same way for every model; other values encode as all zeros.
CHANNELS = ("organic_search", "paid_search", "paid_social", "email", "referral", "affiliate", "direct")
REGIONS = (
    "Central Europe",
    "Western Europe",
    "UK and Ireland",
    "Southern Europe",
    "Nordics",
    "Eastern Europe",
    "North America",
)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("female", "male", "non_binary", "undisclosed")

BTYD = ("frequency", "recency_days", "t_days", "recency_weeks", "t_weeks", "monetary_value")
ORDERS = (
    "days_since_last_order",
    "order_count",
    "total_value_net",
    "mean_value_net",
    "max_value_net",
    "std_value_net",
    "return_rate",
    "discount_share",
    "orders_30d",
    "orders_90d",
    "orders_180d",
    "orders_365d",
    "value_30d",
    "value_90d",
    "value_180d",
    "value_365d",
    "interpurchase_mean_days",
    "interpurchase_std_days",
    "spend_trend_90d",
    "tenure_days",
    "holiday_spend_share",
    "category_breadth",
)
BEHAVIOUR_METRICS = (
    "sessions",
    "page_views",
    "product_views",
    "searches",
    "add_to_carts",
    "checkout_starts",
    "cart_abandonment_rate",
    "dwell_minutes",
    "reviews",
    "mean_rating",
    "wishlist_adds",
)
BEHAVIOUR_WINDOWS = (7, 30, 90)
BEHAVIOUR = (
    *(f"{m}_{w}d" for w in BEHAVIOUR_WINDOWS for m in BEHAVIOUR_METRICS),
    "engagement_trend_30d",
    "days_since_last_session",
)
RFM = ("rfm_recency_score", "rfm_frequency_score", "rfm_monetary_score")

# Weekly histories (dbt mart fct_customer_weekly_history): for each customer and cutoff, one
# fixed-size array per channel over the SEQUENCE_WEEKS weeks up to the cutoff day, oldest first;
# week k of the array holds the days SEQUENCE_WEEKS - 1 - k full weeks before the cutoff's week,
# whose last day is the cutoff. Column name: f"{channel}_weekly".
SEQUENCE_WEEKS = 52
SEQUENCE_CHANNELS = ("orders", "net_value", "returns", "sessions", "product_views", "add_to_carts")
SEQUENCE_COLUMNS = tuple(f"{c}_weekly" for c in SEQUENCE_CHANNELS)
SEQUENCE_TYPE = f"FLOAT[{SEQUENCE_WEEKS}]"
# A sequence model's second ONNX input: float (rows, SEQUENCE_WEEKS, channels), oldest week first.
HISTORY_INPUT = "history"


def slug(value: str) -> str:
    """Column-name form of a category value: ``UK and Ireland`` -> ``uk_and_ireland``, ``65+`` -> ``65_plus``.

    The dbt macro ``slug`` applies the same three replacements; keep them in step.
    """
    return value.lower().replace(" ", "_").replace("-", "_").replace("+", "_plus")


ATTRIBUTES = (
    tuple(f"channel_{slug(v)}" for v in CHANNELS)
    + tuple(f"region_{slug(v)}" for v in REGIONS)
    + tuple(f"age_{slug(v)}" for v in AGE_BANDS)
    + tuple(f"gender_{slug(v)}" for v in GENDERS)
)

FEATURES: tuple[str, ...] = BTYD + ORDERS + BEHAVIOUR + RFM + ATTRIBUTES
FEATURE_TYPE = "DOUBLE"  # every feature, in DuckDB; models take float32
KEY_COLUMNS = (("customer_id", "VARCHAR"), ("cutoff_date", "DATE"))
LABELS = (("future_value", "DOUBLE"), ("future_orders", "BIGINT"), ("churned", "INTEGER"))


def spec_hash(features: tuple[str, ...] = FEATURES, history: bool = False) -> str:
    """sha256 of the ordered feature names and types; travels in ONNX metadata and model cards.

    ``history``: the spec of a model that also reads the weekly history (its channels, in order,
    and its length). Without it the payload is exactly contract version 1's, so models trained
    before the history existed keep their hash.
    """
    spec: dict[str, object] = {"version": 1, "features": [[f, FEATURE_TYPE] for f in features]}
    if history:
        spec["history"] = {"input": HISTORY_INPUT, "weeks": SEQUENCE_WEEKS, "channels": list(SEQUENCE_CHANNELS)}
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


def differences(actual: list[str] | tuple[str, ...], expected: tuple[str, ...] = FEATURES) -> str:
    """Human-readable difference between a column list and the contract ('' when equal)."""
    missing = [f for f in expected if f not in actual]
    extra = [f for f in actual if f not in expected]
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    if not parts and tuple(actual) != tuple(expected):
        first = next(i for i, (a, e) in enumerate(zip(actual, expected, strict=True)) if a != e)
        parts.append(f"order differs from position {first}: {actual[first]!r} where {expected[first]!r} belongs")
    return "; ".join(parts)
