"""The campaign history in the feature layer: per-action features point in time, and the decision set."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from duckdb_clv.build import build_features
from duckdb_clv.errors import ClvError
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.settings import make_settings
from tests.conftest import copy_db, write

CUTOFF = "2024-06-30"


def rows(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_treatment_features_count_what_was_sent_and_answered(built_campaigns):
    # The same numbers from raw.campaigns and raw.orders directly, for every customer at one cutoff.
    expected = f"""
        WITH c AS (SELECT customer_id, sent_at, sent_at::DATE AS d, action FROM raw.campaigns),
        answered AS (
            SELECT c.customer_id, c.d, c.action,
                   EXISTS (SELECT 1 FROM raw.orders o WHERE o.customer_id = c.customer_id
                           AND o.ordered_at >= c.sent_at AND o.ordered_at::DATE < c.d + 28) AS answered
            FROM c
        )
        SELECT customer_id,
               count(*) FILTER (WHERE d > DATE '{CUTOFF}' - 90) AS n90,
               count(*) FILTER (WHERE d > DATE '{CUTOFF}' - 365) AS n365,
               count(*) FILTER (WHERE action = 'vip' AND d > DATE '{CUTOFF}' - 365) AS vip,
               coalesce(avg(answered::INT) FILTER (WHERE action = 'coupon_10' AND d > DATE '{CUTOFF}' - 365
                                                   AND d <= DATE '{CUTOFF}' - 28), 0) AS coupon_rate,
               DATE '{CUTOFF}' - max(d) AS since
        FROM answered WHERE d <= DATE '{CUTOFF}' GROUP BY 1 ORDER BY 1
    """
    got = f"""
        SELECT customer_id, treatments_90d, treatments_365d, sent_vip_365d, answer_rate_coupon_10_365d,
               days_since_treatment
        FROM fct_customer_treatments WHERE cutoff_date = DATE '{CUTOFF}' AND customer_id IN
            (SELECT customer_id FROM raw.campaigns WHERE sent_at::DATE <= DATE '{CUTOFF}') ORDER BY 1
    """
    want, have = rows(built_campaigns.db, expected), rows(built_campaigns.db, got)
    assert len(want) > 1_000
    assert [r[0] for r in have] == [r[0] for r in want]
    np.testing.assert_allclose(
        np.array([r[1:] for r in have], dtype=float), np.array([r[1:] for r in want], dtype=float), rtol=1e-12
    )
    never = rows(
        built_campaigns.db,
        f"SELECT count(*), bool_and(treatments_365d = 0 AND days_since_treatment = t.tenure_days)"
        f" FROM fct_customer_treatments JOIN fct_customer_features t USING (customer_id, cutoff_date)"
        f" WHERE cutoff_date = DATE '{CUTOFF}' AND customer_id NOT IN"
        f" (SELECT customer_id FROM raw.campaigns WHERE sent_at::DATE <= DATE '{CUTOFF}')",
    )[0]
    assert never[0] > 100 and never[1]


def test_sends_and_orders_after_a_cutoff_never_change_its_treatment_features(built_campaigns, tmp_path):
    db = copy_db(built_campaigns.db, tmp_path / "pit.duckdb")
    at_cutoff = f"SELECT * FROM fct_customer_treatments WHERE cutoff_date = DATE '{CUTOFF}' ORDER BY customer_id"
    before = rows(db, at_cutoff)
    customers = [r[0] for r in rows(db, "SELECT customer_id FROM dim_customers ORDER BY customer_id LIMIT 40")]
    # A VIP send on the cutoff's next day, answered by an order two days later, for 40 customers.
    sends = "customer_id,sent_at,action,cost\n" + "".join(f"{c},2024-07-01 09:00:00,vip,12\n" for c in customers)
    orders = "order_id,customer_id,ordered_at,amount\n" + "".join(
        f"LATE{i},{c},2024-07-03 12:00:00,50\n" for i, c in enumerate(customers)
    )
    load_files(
        db, {"orders": [str(write(tmp_path / "o.csv", orders))], "campaigns": [str(write(tmp_path / "c.csv", sends))]}
    )
    build_features(db, make_settings(db=str(db)).feature_vars(), full_refresh=True)
    assert rows(db, at_cutoff) == before
    # They were read: a month later the send is in each customer's history.
    later = rows(
        db,
        "SELECT min(days_since_vip), max(days_since_vip) FROM fct_customer_treatments "
        "WHERE cutoff_date = DATE '2024-07-31' AND customer_id IN (SELECT customer_id FROM dim_customers "
        "ORDER BY customer_id LIMIT 40)",
    )
    assert later == [(30.0, 30.0)]


def test_the_decision_set_holds_each_month_the_log_decided(built_campaigns):
    got = rows(
        built_campaigns.db,
        "SELECT cutoff_date, action, count(*) FROM ml_decision_set GROUP BY ALL ORDER BY ALL",
    )
    want = rows(
        built_campaigns.db,
        """
        WITH t AS (SELECT customer_id, cutoff_date FROM ml_training_set),
        s AS (SELECT customer_id, sent_at::DATE AS d, action FROM raw.campaigns)
        SELECT t.cutoff_date, coalesce(s.action, 'none'), count(*)
        FROM t LEFT JOIN s ON s.customer_id = t.customer_id AND s.d = t.cutoff_date + 1
        GROUP BY ALL ORDER BY ALL
        """,
    )
    assert got == want and len({r[0] for r in got}) == 12
    costs = rows(
        built_campaigns.db, "SELECT action, min(action_cost), max(action_cost) FROM ml_decision_set GROUP BY 1"
    )
    assert {a: (lo, hi) for a, lo, hi in costs} == {
        "none": (0.0, 0.0),
        "email": (0.05, 0.05),
        "coupon_10": (0.2, 0.2),
        "vip": (12.0, 12.0),
    }


def test_a_database_loaded_before_campaigns_existed_builds_without_them(built, tmp_path):
    db = copy_db(built.db, tmp_path / "old.duckdb")
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE raw.campaigns")
        con.execute("DROP TABLE raw.rejected_campaigns")
    build_features(db, make_settings(db=str(db)).feature_vars(), select="+ml_decision_set")
    columns = [r[0] for r in rows(db, "DESCRIBE fct_customer_treatments")]
    assert columns == [
        "customer_id",
        "cutoff_date",
        "treatments_90d",
        "treatments_365d",
        "treatment_cost_365d",
        "days_since_treatment",
    ]
    assert rows(db, "SELECT max(treatments_365d) FROM fct_customer_treatments") == [(0.0,)]
    assert rows(db, "SELECT count(*) FROM ml_decision_set") == [(0,)]


def test_actions_whose_column_names_collide_are_refused_with_the_fix(built_campaigns, tmp_path):
    db = copy_db(built_campaigns.db, tmp_path / "clash.duckdb")
    customer = rows(db, "SELECT min(customer_id) FROM dim_customers")[0][0]
    sends = f"customer_id,sent_at,action,cost\n{customer},2024-03-01 09:00,Coupon 10,1\n"
    load_files(db, {"campaigns": [str(write(tmp_path / "c.csv", sends))]})
    with pytest.raises(ClvError, match="'coupon 10' and 'coupon_10' both give the column name 'coupon_10'"):
        build_features(db, make_settings(db=str(db)).feature_vars(), select="+fct_customer_treatments")
