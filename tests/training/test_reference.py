"""The reference statistics a model card carries for drift monitoring."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest

from duckdb_clv.training.reference import ALERTING_FEATURES, distribution, seasonal_reference


def test_distribution_bins_follow_duckdb_histogram_and_count_missing_values():
    values = np.array([1.0, 2.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    found = distribution(values)
    assert found["missing_share"] == pytest.approx(1 / 11) and found["rows"] == 11
    # The monitor counts a run into these bins with DuckDB's histogram: the same shares come out,
    # values equal to an edge falling in the bin that edge closes.
    present = values[np.isfinite(values)].tolist()
    [(counted,)] = duckdb.sql(
        f"SELECT histogram(x, {found['edges']}::DOUBLE[]) FROM unnest({present}::DOUBLE[]) AS t(x)"
    ).fetchall()
    counts = [counted.get(edge, 0) for edge in found["edges"]] + [counted.get(float("inf"), 0)]
    assert np.allclose(np.array(counts) / len(present), found["shares"])


def test_seasonal_reference_compares_rates_by_ratio_and_durations_by_difference():
    rng = np.random.default_rng(0)
    names = ["orders_30d", "tenure_days", "spend_trend_90d", "holiday_spend_share", "empty"]
    now = np.column_stack(
        [
            rng.poisson(0.4, 500),
            rng.uniform(0, 900, 500),
            rng.normal(0, 1, 500),
            rng.uniform(0, 1, 500),
            np.full(500, np.nan),
        ]
    )
    before = now[:400] * np.array([0.5, 1.0, 1.0, 1.0, 1.0])
    found = seasonal_reference(now, before, names, dt.date(2026, 1, 1), dt.date(2024, 12, 31))
    assert (found["scoring_date"], found["year_before_date"]) == ("2026-01-01", "2024-12-31")
    features = found["features"]
    assert features["orders_30d"]["kind"] == "ratio" and features["tenure_days"]["kind"] == "difference"
    # A feature whose mean can be negative compares by difference whatever its name.
    assert features["spend_trend_90d"]["kind"] == "difference"
    assert features["orders_30d"]["scoring"] == {
        "mean": now[:, 0].mean(),
        "variance": now[:, 0].var(ddof=1),
        "rows": 500,
    }
    assert features["orders_30d"]["year_before"]["rows"] == 400
    # A column with no values has no moments (the monitor skips it) rather than NaN in the card.
    assert features["empty"]["scoring"] == {"mean": None, "variance": None, "rows": 0}
    # Activity windows alert; lifetime aggregates and ages warn at most.
    assert features["orders_30d"]["alerts"] and not features["holiday_spend_share"]["alerts"]
    assert not features["tenure_days"]["alerts"]
    assert {"orders_90d", "value_30d", "sessions_30d", "days_since_last_order"} <= ALERTING_FEATURES
    assert not {"sessions_7d", "frequency", "holiday_spend_share"} & ALERTING_FEATURES
    # Derived: how many customers were acquired in the last 30 days, from tenure_days, a count.
    new = features["new_customers_30d"]
    assert new["kind"] == "ratio" and new["alerts"]
    count = float(np.sum(now[:, 1] < 30))
    assert new["scoring"] == {"mean": count, "variance": count, "rows": 1}
