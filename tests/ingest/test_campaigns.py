"""Campaigns in the sample shop: the logged policy, the response model and the oracle's counterfactuals."""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckdb_clv.ingest import GenerateError, generate_shop
from duckdb_clv.ingest.generator import ShopParams
from duckdb_clv.ingest.generator.actions import (
    ACTION_COST,
    ACTION_NAMES,
    COUPON,
    logging_policy,
    logging_propensities,
)
from duckdb_clv.ingest.generator.oracle import action_values, oracle
from duckdb_clv.ingest.loader import load_files
from tests.conftest import write
from tests.ingest.test_oracle import FLAT, write_truth

CAMPAIGNS = replace(ShopParams(), campaign_start="2023-01-01")


@pytest.fixture(scope="module")
def campaign_shop(tmp_path_factory):
    return generate_shop(tmp_path_factory.mktemp("campaigns"), customers=8_000, seed=9, workers=2, params=CAMPAIGNS)


@pytest.fixture(scope="module")
def con(campaign_shop):
    con = duckdb.connect()
    for t, path in campaign_shop.files.items():
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    return con


def test_a_shop_without_campaigns_writes_no_campaign_file(shop):
    assert "campaigns" not in shop.files and not (shop.out_dir / "campaigns.parquet").exists()
    truth = pq.read_table(shop.files["ground_truth"], columns=["deal_sensitivity"])
    assert truth["deal_sensitivity"].null_count == 0


def test_campaigns_follow_the_documented_calendar_and_costs(campaign_shop, con):
    assert campaign_shop.rows["campaigns"] > 10_000
    months, first_day, nine = con.execute(
        "SELECT count(DISTINCT date_trunc('month', sent_at)), bool_and(day(sent_at) = 1),"
        " bool_and(hour(sent_at) = 9 AND minute(sent_at) = 0) FROM campaigns"
    ).fetchone()
    assert (months, first_day, nine) == (36, True, True)  # 2023-01 to 2025-12
    costs = dict(con.execute("SELECT action, min(cost) || '/' || max(cost) FROM campaigns GROUP BY 1").fetchall())
    assert costs == {a: f"{c}/{c}" for a, c in zip(ACTION_NAMES[1:], ACTION_COST[1:], strict=True)}
    late, repeated, ids = con.execute(
        """
        SELECT count(*) FILTER (WHERE g.acquired_at >= c.sent_at::DATE),
               count(*) - count(DISTINCT (c.customer_id, date_trunc('month', c.sent_at))),
               count(DISTINCT campaign_id)
        FROM campaigns c JOIN ground_truth g USING (customer_id)
        """
    ).fetchone()
    assert late == 0  # only customers acquired before the decision date are sent anything
    assert repeated == 0  # at most one action per customer and month
    assert ids == 36 * 3


def test_the_logged_policy_is_mostly_random_and_partly_a_winback_rule(con):
    # Recency as the analyst sees it: days from the last order before the decision date.
    rows = con.execute(
        """
        WITH decisions AS (SELECT DISTINCT sent_at::DATE AS d FROM campaigns),
        eligible AS (
            SELECT d, g.customer_id,
                   d - max(o.ordered_at::DATE) AS recency
            FROM decisions JOIN ground_truth g ON g.acquired_at < d
            JOIN orders o ON o.customer_id = g.customer_id AND o.ordered_at < d
            GROUP BY d, g.customer_id
        )
        SELECT recency BETWEEN 70 AND 115 AS lapsing, coalesce(c.action, 'none') AS action, count(*)
        FROM eligible e LEFT JOIN campaigns c ON c.customer_id = e.customer_id AND c.sent_at::DATE = e.d
        WHERE recency BETWEEN 70 AND 115 OR recency > 200
        GROUP BY ALL
        """
    ).fetchall()
    share = {}
    for lapsing in (True, False):
        total = sum(n for lp, _, n in rows if lp == lapsing)
        share[lapsing] = {a: sum(n for lp, b, n in rows if lp == lapsing and b == a) / total for a in ACTION_NAMES}
    others = logging_propensities(np.array([100]), CAMPAIGNS)[0]
    for a, p in zip(ACTION_NAMES, others, strict=True):
        assert share[False][a] == pytest.approx(p, abs=0.01)
    assert share[True]["coupon_10"] > 0.45  # the win-back coupon, on top of the random share


@pytest.mark.fast
def test_logging_policy_draws_its_propensities():
    weeks = np.repeat([3, 10], 50_000)
    drawn = logging_policy(weeks, CAMPAIGNS, np.random.default_rng(0))
    for w in (3, 10):
        freq = np.bincount(drawn[weeks == w], minlength=len(ACTION_NAMES)) / 50_000
        np.testing.assert_allclose(freq, logging_propensities(np.array([w]), CAMPAIGNS)[0], atol=0.006)


def test_a_coupon_takes_at_least_ten_percent_off_every_order_in_its_window(con):
    # The window: three weeks from the first simulation week (weeks start on 2022-01-01's weekday)
    # beginning on or after the decision date.
    low, inside = con.execute(
        """
        WITH coupons AS (
            SELECT customer_id, sent_at::DATE AS d,
                   DATE '2022-01-01' + CAST(ceil((sent_at::DATE - DATE '2022-01-01') / 7) * 7 AS INT) AS w0
            FROM campaigns WHERE action = 'coupon_10'
        )
        SELECT count(*) FILTER (WHERE o.discount < 0.1 * (o.amount + o.discount) - 0.011), count(*)
        FROM coupons c JOIN orders o ON o.customer_id = c.customer_id
         AND o.ordered_at >= c.w0 AND o.ordered_at < c.w0 + 21
        """
    ).fetchone()
    assert inside > 200 and low == 0


def flat_customer(**kw) -> dict:
    return {"id": "c", "acquired": "2024-01-10", "rate": 0.01, "p": 1e-12, "nu": 0.05} | kw


@pytest.mark.fast
def test_action_values_by_hand(tmp_path):
    params = replace(FLAT, campaign_start="2024-01-01")
    write_truth(tmp_path, [flat_customer(), flat_customer(id="gone", dropout="2024-02-01")], params)
    truth = pq.read_table(tmp_path / "ground_truth.parquet")
    pq.write_table(truth.append_column("deal_sensitivity", pa.array([1.0, 1.0])), tmp_path / "ground_truth.parquet")
    out = action_values(tmp_path, "2024-03-31", horizon_days=100, n_sims=40_000, seed=3).to_pylist()
    got = {r["customer_id"]: r for r in out}
    # 100 days at 0.01 orders a day of mean value 3 / 0.05 = 60; the window is the first 21 days.
    rest = 79 * 0.01 * 60
    expected = {
        "none": 100 * 0.01 * 60,
        "email": 21 * 0.0105 * 60 + rest - 0.05,
        "coupon_10": 21 * 0.01 * (1 + 0.9 * 1.0) * 60 * 1.05 * 0.9 + rest - 0.20,
        "vip": 21 * 0.011 * 60 * 1.10 + rest - 12.0,
    }
    for action, value in expected.items():
        assert got["c"][f"value_{action}"] == pytest.approx(value, rel=0.015), action
        assert got["gone"][f"value_{action}"] == -ACTION_COST[ACTION_NAMES.index(action)]


@pytest.fixture(scope="module")
def values(campaign_shop):
    return action_values(campaign_shop.out_dir, "2024-12-31", horizon_days=365, n_sims=60, seed=0)


def test_doing_nothing_is_the_plain_oracle(campaign_shop, values):
    plain = oracle(campaign_shop.out_dir, "2024-12-31", horizon_days=365, n_sims=60, seed=0)
    assert values["customer_id"].equals(plain["customer_id"])
    np.testing.assert_array_equal(values["value_none"].to_numpy(), plain["expected_value"].to_numpy())


def test_customers_differ_in_their_best_action(campaign_shop, values):
    active = values["active"].to_numpy()
    v = np.stack([values[f"value_{a}"].to_numpy() for a in ACTION_NAMES], axis=1)[active]
    best = np.bincount(v.argmax(axis=1), minlength=len(ACTION_NAMES)) / active.sum()
    # Some buy anyway (nothing is best), some respond to each action.
    assert (best > 0.03).all(), dict(zip(ACTION_NAMES, best.round(3), strict=True))
    # Coupons move the deal-sensitive: uplift rises with the latent sensitivity.
    truth = pq.read_table(campaign_shop.files["ground_truth"], columns=["customer_id", "deal_sensitivity"])
    sensitivity = dict(zip(truth["customer_id"].to_pylist(), truth["deal_sensitivity"].to_pylist(), strict=True))
    s = np.array([sensitivity[c] for c in np.array(values["customer_id"].to_pylist())[active]])
    coupon_uplift = v[:, COUPON] - v[:, 0]
    low, high = np.quantile(s, [0.25, 0.75])
    assert coupon_uplift[s > high].mean() > 5 * coupon_uplift[s < low].mean() > 0
    # Email annoys some active customers: negative uplift for a visible share.
    assert ((v[:, 1] - v[:, 0]) < 0).mean() > 0.1


def test_bad_campaign_start_is_refused(tmp_path):
    with pytest.raises(GenerateError, match="--campaigns must be a date"):
        generate_shop(tmp_path, customers=100, params=replace(ShopParams(), campaign_start="soon"))


def test_shop_json_records_the_campaign_parameters(campaign_shop):
    meta = json.loads((campaign_shop.out_dir / "shop.json").read_text())
    assert meta["params"]["campaign_start"] == "2023-01-01"
    assert meta["rows"]["campaigns"] == campaign_shop.rows["campaigns"]


def test_clv_load_campaigns_validates_them_like_every_table(campaign_shop, tmp_path):
    db = tmp_path / "clv.duckdb"
    report = load_files(db, {t: [str(campaign_shop.files[t])] for t in ("customers", "orders", "campaigns")})
    sent = next(f for f in report.files if f.table == "campaigns")
    assert sent.rows_inserted == sent.rows_read == campaign_shop.rows["campaigns"]
    bad = write(
        tmp_path / "crm_export.csv",
        "customer_id,sent_at,action,cost\n"
        "C0000001,2024-02-01 09:00,Email,0.05\n"
        "NOBODY,2024-02-01 09:00,email,0.05\n"
        "C0000001,,coupon_10,0.20\n"
        "C0000002,2024-02-01 09:00,,0.20\n"
        "C0000002,2024-02-01 09:00,vip,-3\n",
    )
    report = load_files(db, {"campaigns": [str(bad)]})
    f = report.files[0]
    assert (f.rows_read, f.rows_inserted, f.rows_rejected) == (5, 1, 4)
    assert f.rejected_by_rule == {
        "unknown_customer_id": 1,
        "missing_sent_at": 1,
        "missing_action": 1,
        "negative_cost": 1,
    }
    with duckdb.connect(str(db), read_only=True) as con:
        # No id column: the key is derived from the row; actions are lower-cased like every category.
        row = con.execute(
            "SELECT action, treatment_id IS NOT NULL FROM raw.campaigns WHERE _source_file LIKE '%crm_export.csv'"
        ).fetchall()
        assert row == [("email", True)]
        assert con.execute("SELECT count(*) FROM raw.rejected_campaigns").fetchone()[0] == 4
