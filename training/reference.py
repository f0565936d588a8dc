"""Reference distributions for drift monitoring, stored in every model card.

Each feature, and the model's output, is summarised by decile bins of its non-missing values and
the share of rows in each, plus its missing share. The bins follow DuckDB's
``histogram(x, boundaries)``: a value falls in the first bin whose upper edge is at least the
value, the last bin is open above, so ``monitor_drift`` counts a scoring run's values into exactly
these bins in SQL. Two baselines are kept (docs/MONITORING.md):

- ``training``: the training rows, every training cutoff pooled, what the model learnt from;
- ``scoring``: the customers at the scoring cutoff of the training run, what it was put to work
  on. Later scoring runs are compared with this one by PSI: the gap between the training
  cutoffs and the scoring date moves some features even in a shop where nothing changed.

Alerts come from a third, seasonal comparison (``seasonal_reference``): a shop's features swing
with the season and drift as its base ages, so a fixed distribution cannot tell a shock from
January. Each run's feature means are compared with the same customers' shop one year earlier
(the latest training cutoff of the run's build), and that year-over-year change with the one at
training time; the shift is what changed in the shop's dynamics since the model was trained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from duckdb_clv.udfs.contract import BEHAVIOUR_METRICS, BEHAVIOUR_WINDOWS

QUANTILES = np.linspace(0.1, 0.9, 9)
MAX_ROWS = 200_000  # rows summarised per baseline; a seeded random sample beyond

# Features measured in calendar time from a past event to the cutoff: they grow by a year every
# year, so their year-over-year change is a difference (in reference standard deviations); the
# others are rates, counts and amounts that scale with the shop's activity, so theirs is a ratio
# (log of the ratio of means). Features that can be negative compare by difference too.
DIFFERENCE_FEATURES = frozenset(
    {
        "recency_days",
        "t_days",
        "recency_weeks",
        "t_weeks",
        "days_since_last_order",
        "tenure_days",
        "days_since_last_session",
        "spend_trend_90d",
        "engagement_trend_30d",
    }
)

# The features whose seasonal shift can alert: the shop's activity over windows of 30 days or
# more, its trends, and the recency of the last order and session. These are flows, for which the
# same season a year apart is a like-for-like comparison. The others warn at most: lifetime
# aggregates (frequency, holiday_spend_share, interpurchase gaps, tenure) are stocks whose
# year-over-year ratio moves with the base's age mix even when nothing changes, and 7-day windows
# swing with holidays that fall on other days each year. Measured on the 50,000-customer steady
# shop over 12 monthly runs (docs/MONITORING.md): holiday_spend_share reached 0.38 and the 7-day
# behaviour windows 0.31-0.50, while every alerting feature stayed within 0.13.
ALERTING_FEATURES = frozenset(
    {f"{kind}_{w}d" for kind in ("orders", "value") for w in (30, 90, 180, 365)}
    | {f"{m}_{w}d" for m in BEHAVIOUR_METRICS for w in BEHAVIOUR_WINDOWS if w >= 30}
    | {"spend_trend_90d", "engagement_trend_30d", "days_since_last_order", "days_since_last_session"}
)


# Columns the seasonal comparison derives from the features: the number of customers acquired in
# the last 30 days (tenure under 30 days), a flow that a change of acquisition moves at once while
# the tenure distribution only drifts. A count, not a share of the base: the base's own growth
# slows as it ages, which would move a share in a steady shop. monitor_drift computes the same
# expression in SQL (``seasonal_derived`` there); keep the two in step.
NEW_CUSTOMER_DAYS = 30
DERIVED = {"new_customers_30d": "tenure_days"}


def distribution(values: np.ndarray) -> dict[str, object]:
    """Decile edges of the non-missing values, each bin's share of them, and the missing share.

    ``shares`` has one more entry than ``edges``: bins (-inf, e0], (e0, e1], ..., (e_last, inf).
    Tied quantiles give one edge, so a column of few distinct values gets a bin per value.
    """
    values = np.asarray(values, dtype=np.float64)
    present = values[np.isfinite(values)]
    missing = 1.0 - present.size / values.size if values.size else 0.0
    if present.size == 0:
        # One bin that no value reaches: the missing share says it all.
        return {"edges": [], "shares": [1.0], "missing_share": missing, "rows": int(values.size)}
    # float32 storage: the edges must compare the same way to the values DuckDB reads.
    edges = np.unique(np.quantile(present, QUANTILES).astype(np.float32).astype(np.float64))
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
    return {
        "edges": [float(e) for e in edges],
        "shares": [round(float(c), 8) for c in counts / present.size],
        "missing_share": float(missing),
        "rows": int(values.size),
    }


def feature_reference(X: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, object]]:
    """The distribution of every feature column of ``X``, by name.

    Callers pass a sample of at most ``MAX_ROWS`` rows (``dataset.sample_rows``), the same rows
    they summarise the models' outputs on.
    """
    return {name: distribution(X[:, j]) for j, name in enumerate(names)}


def moments(values: np.ndarray) -> dict[str, float | None]:
    """Mean, variance and count of the non-missing values (the seasonal comparison's inputs)."""
    present = np.asarray(values, dtype=np.float64)
    present = present[np.isfinite(present)]
    if present.size == 0:
        return {"mean": None, "variance": None, "rows": 0}
    return {
        "mean": float(present.mean()),
        "variance": float(present.var(ddof=1)) if present.size > 1 else 0.0,
        "rows": int(present.size),
    }


def seasonal_reference(
    scoring_X: np.ndarray,
    year_before_X: np.ndarray,
    names: Sequence[str],
    scoring_date: dt.date,
    year_before_date: dt.date,
) -> dict[str, object]:
    """Feature moments at the training run's scoring cutoff and at its latest training cutoff.

    ``monitor_drift`` compares a later run's year-over-year change with this one. All rows are
    used (means are cheap), not a sample, so a run on the same data reproduces them exactly.

    Parameters
    ----------
    scoring_X, year_before_X : ndarray of shape (n_customers, n_features)
        Every customer at the scoring cutoff, and every customer at the latest training cutoff.
    names : sequence of str
        The feature names, in column order.
    scoring_date, year_before_date : date
        The two cutoffs; the monitor only compares runs whose gap is about a year as well.

    Returns
    -------
    dict
        ``{"scoring_date", "year_before_date", "features": {name: {"kind", "alerts", "scoring",
        "year_before"}}}``, every feature and, when both cutoffs have some, the derived
        ``new_customers_30d``, where ``kind`` is ``difference`` or ``ratio``, ``alerts`` whether its shift may alert
        (``ALERTING_FEATURES``) or only warn, and each side holds ``moments``.
    """
    features: dict[str, object] = {}
    for j, name in enumerate(names):
        now, before = moments(scoring_X[:, j]), moments(year_before_X[:, j])
        means = (now["mean"], before["mean"])
        signed = None in means or min(means) <= 0
        kind = "difference" if name in DIFFERENCE_FEATURES or signed else "ratio"
        features[name] = {"kind": kind, "alerts": name in ALERTING_FEATURES, "scoring": now, "year_before": before}
    tenure = list(names).index(DERIVED["new_customers_30d"])
    counts = [int((X[:, tenure] < NEW_CUSTOMER_DAYS).sum()) for X in (scoring_X, year_before_X)]
    if min(counts) > 0:
        # A count as one Poisson observation: mean and variance the count, so the delta method's
        # variance of its log is 1 / count.
        now, before = ({"mean": float(c), "variance": float(c), "rows": 1} for c in counts)
        features["new_customers_30d"] = {"kind": "ratio", "alerts": True, "scoring": now, "year_before": before}
    return {
        "scoring_date": scoring_date.isoformat(),
        "year_before_date": year_before_date.isoformat(),
        "features": features,
    }


def explanation_baseline(X: np.ndarray, names: Sequence[str]) -> dict[str, float | None]:
    """Each feature's median over the training rows: the typical customer that path attributions start from.

    ``udfs.explain`` attributes a network's or the BG/NBD model's prediction by walking from this
    row to the customer's; None for a feature with no value at all (the model sees it missing).
    """
    out: dict[str, float | None] = {}
    for j, name in enumerate(names):
        present = X[:, j][np.isfinite(X[:, j])]
        out[name] = float(np.median(present)) if present.size else None
    return out


def history_baseline(history: np.ndarray) -> list[list[float]]:
    """Each week's and channel's median over the training rows: the typical weekly history (weeks x channels).

    A sequence model's explanation moves the history as one input, from this one to the customer's.
    """
    return np.nanmedian(history, axis=0).astype(np.float64).round(6).tolist()
