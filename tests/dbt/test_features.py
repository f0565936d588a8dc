"""The feature layer as a user relies on it: right numbers, right grain, contract columns."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import duckdb
import numpy as np
import pytest

from duckdb_clv.udfs import contract


@pytest.fixture(scope="module")
def con(built):
    con = duckdb.connect(str(built.db), read_only=True)
    yield con
    con.close()


def test_default_cutoffs(built):
    # Orders end 2025-12-31: scoring the day after; 12 month ends back from 2024-12-31.
    assert built.result.scoring_cutoff == "2026-01-01"
    assert built.result.training_cutoffs[0] == "2024-01-31"
    assert built.result.training_cutoffs[-1] == "2024-12-31"
    assert len(built.result.training_cutoffs) == 12


def test_views_have_exactly_the_contract_columns(con):
    for view, extra in (("ml_scoring_set", []), ("ml_training_set", list(contract.LABELS))):
        described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {view}").fetchall()]
        history = [(c, contract.SEQUENCE_TYPE) for c in contract.SEQUENCE_COLUMNS]
        expected = list(contract.KEY_COLUMNS) + [(f, "DOUBLE") for f in contract.FEATURES] + history + extra
        assert described == expected, contract.differences([d[0] for d in described[2:]])


def test_training_reads_each_rows_history_beside_its_features(con):
    from duckdb_clv.training.dataset import read_rows

    rows = read_rows(con, "ml_training_set", history=True)
    assert rows.history.shape == (len(rows), contract.SEQUENCE_WEEKS, len(contract.SEQUENCE_CHANNELS))
    assert rows.history.sum() > 0
    for i in np.random.default_rng(0).choice(len(rows), size=20, replace=False):
        stored = con.execute(
            f"SELECT {', '.join(contract.SEQUENCE_COLUMNS)} FROM fct_customer_weekly_history "
            "WHERE customer_id = ? AND cutoff_date = ?",
            [rows.customer_id[i], str(rows.cutoff[i])],
        ).fetchone()
        np.testing.assert_array_equal(rows.history[i], np.array(stored, dtype=np.float32).T)
    # The last 13 weeks' orders agree with the row's own window counts.
    orders = rows.history[:, -13:, contract.SEQUENCE_CHANNELS.index("orders")].sum(axis=1)
    column = contract.FEATURES.index
    assert np.all(orders >= rows.X[:, column("orders_90d")]) and np.all(orders <= rows.X[:, column("orders_180d")])


def test_every_known_customer_once_per_cutoff(con):
    per_cutoff = con.execute(
        """
        SELECT f.cutoff_date, count(*), count(DISTINCT f.customer_id),
               (SELECT count(*) FROM dim_customers d WHERE d.known_since <= f.cutoff_date)
        FROM fct_customer_features f GROUP BY 1
        """
    ).fetchall()
    assert len(per_cutoff) == 13
    assert all(n == distinct == known for _, n, distinct, known in per_cutoff)
    assert con.execute("SELECT count(*) FROM ml_scoring_set").fetchone()[0] == 3_000


def plain_python_features(con, customer: str, cutoff: date) -> dict[str, float]:
    """The same features, computed row by row in Python from the raw tables."""
    orders = con.execute(
        "SELECT order_id, ordered_at::DATE, amount, coalesce(discount, 0) FROM raw.orders WHERE customer_id = ?",
        [customer],
    ).fetchall()
    refunds = dict(
        con.execute(
            "SELECT order_id, sum(refund_amount) FROM raw.returns WHERE returned_at::DATE <= ? GROUP BY 1", [cutoff]
        ).fetchall()
    )
    past = sorted((o for o in orders if o[1] <= cutoff), key=lambda o: o[1])
    days: dict[date, float] = {}
    for _, day, amount, _ in past:
        days[day] = days.get(day, 0.0) + amount
    first, last = min(days), max(days)
    repeat = [v for d, v in days.items() if d != first]
    net = [amount - min(refunds.get(oid, 0.0), amount) for oid, _, amount, _ in past]
    age = [(cutoff - day).days for _, day, _, _ in past]
    sessions = con.execute(
        """
        SELECT event_at::DATE, count(DISTINCT session_id), count(*) FILTER (WHERE event_type = 'page_view')
        FROM raw.events WHERE customer_id = ? AND event_at::DATE <= ? GROUP BY 1
        """,
        [customer, cutoff],
    ).fetchall()
    gaps = [(b - a).days for a, b in zip(sorted(days), sorted(days)[1:], strict=False)]
    return {
        "frequency": len(days) - 1,
        "recency_days": (last - first).days,
        "t_days": (cutoff - first).days,
        "monetary_value": sum(repeat) / len(repeat) if repeat else 0.0,
        "order_count": len(past),
        "total_value_net": sum(net),
        "orders_90d": sum(a < 90 for a in age),
        "value_365d": sum(n for n, a in zip(net, age, strict=True) if a < 365),
        "days_since_last_order": min(age),
        "interpurchase_std_days": statistics.stdev(gaps) if len(gaps) > 1 else 0.0,
        "sessions_30d": sum(s for d, s, _ in sessions if (cutoff - d).days < 30),
        "page_views_90d": sum(p for d, _, p in sessions if (cutoff - d).days < 90),
        "days_since_last_session": (cutoff - max(d for d, _, _ in sessions)).days if sessions else None,
    }


@pytest.mark.parametrize("cutoff", ["2024-06-30", "2026-01-01"])
def test_features_match_a_plain_python_computation(con, cutoff):
    cut = date.fromisoformat(cutoff)
    customers = [
        r[0]
        for r in con.execute(
            """
            SELECT customer_id FROM fct_customer_features WHERE cutoff_date = ? AND order_count > 1
            ORDER BY hash(customer_id) LIMIT 12
            """,
            [cut],
        ).fetchall()
    ]
    assert len(customers) == 12
    for customer in customers:
        expected = plain_python_features(con, customer, cut)
        if expected["days_since_last_session"] is None:
            expected.pop("days_since_last_session")
        cols = ", ".join(expected)
        row = con.execute(
            f"SELECT {cols} FROM fct_customer_features WHERE customer_id = ? AND cutoff_date = ?", [customer, cut]
        ).fetchone()
        got = dict(zip(expected, row, strict=True))
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, abs=1e-6), (customer, name)


def test_labels_match_a_plain_python_computation(con):
    cut = date(2024, 3, 31)
    horizon_end, churn_end = cut + timedelta(days=365), cut + timedelta(days=90)
    rows = con.execute(
        "SELECT customer_id, future_value, future_orders, churned FROM fct_customer_labels WHERE cutoff_date = ? "
        "ORDER BY hash(customer_id) LIMIT 40",
        [cut],
    ).fetchall()
    for customer, value, n_orders, churned in rows:
        orders = con.execute(
            "SELECT order_id, ordered_at::DATE, amount FROM raw.orders WHERE customer_id = ? "
            "AND ordered_at::DATE > ? AND ordered_at::DATE <= ?",
            [customer, cut, horizon_end],
        ).fetchall()
        refund = {
            oid: r
            for oid, r in con.execute(
                "SELECT order_id, sum(refund_amount) FROM raw.returns WHERE returned_at::DATE <= ? GROUP BY 1",
                [horizon_end],
            ).fetchall()
        }
        assert n_orders == len(orders)
        assert value == pytest.approx(sum(a - min(refund.get(o, 0), a) for o, _, a in orders), abs=1e-6)
        assert churned == int(not any(d <= churn_end for _, d, _ in orders))


def test_rfm_segments_cover_the_named_set(con):
    names = {r[0] for r in con.execute("SELECT DISTINCT rfm_segment FROM fct_customer_features").fetchall()}
    assert names <= {
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New",
        "Promising",
        "Need Attention",
        "At Risk",
        "Can't Lose",
        "Hibernating",
        "Lost",
    }
    assert len(names) >= 7


def test_no_personal_data_reaches_the_marts(con):
    for table in ("fct_customer_features", "dim_customers", "ml_scoring_set", "ml_training_set"):
        cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        assert not cols & {"name", "email", "phone", "address"}, table
