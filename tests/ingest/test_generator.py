"""The sample shop: deterministic, and realistic in the ways the project's claims rely on."""

from __future__ import annotations

import hashlib
import itertools
import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from duckdb_clv.ingest import GenerateError, generate_shop
from duckdb_clv.ingest.generator import TABLES


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def con(shop):
    con = duckdb.connect()
    for t, path in shop.files.items():
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    return con


def test_same_arguments_give_byte_identical_files_whatever_the_worker_count(tmp_path):
    a = generate_shop(tmp_path / "a", customers=30_000, seed=5, workers=1)
    b = generate_shop(tmp_path / "b", customers=30_000, seed=5, workers=2)
    for t in TABLES:
        assert digest(a.files[t]) == digest(b.files[t]), t
    assert (tmp_path / "a" / "shop.json").read_text() == (tmp_path / "b" / "shop.json").read_text()


def test_dirty_csv_output_is_deterministic_too(tmp_path):
    a = generate_shop(tmp_path / "a", customers=2_000, seed=5, dirty=True, fmt="csv")
    b = generate_shop(tmp_path / "b", customers=2_000, seed=5, dirty=True, fmt="csv", workers=1)
    for t in TABLES:
        assert digest(a.files[t]) == digest(b.files[t]), t
    assert digest(tmp_path / "a" / "faults.json") == digest(tmp_path / "b" / "faults.json")


def test_another_seed_gives_another_shop(tmp_path):
    a = generate_shop(tmp_path / "a", customers=500, seed=1)
    b = generate_shop(tmp_path / "b", customers=500, seed=2)
    assert digest(a.files["orders"]) != digest(b.files["orders"])


def test_row_counts_match_files(shop):
    for t, path in shop.files.items():
        assert pq.ParquetFile(path).metadata.num_rows == shop.rows[t]
    assert shop.rows["customers"] == shop.rows["ground_truth"] == 20_000


def test_many_customers_buy_once_and_a_few_buy_a_lot(con):
    one_time, p99 = con.execute(
        "SELECT avg((n = 1)::INT), quantile_cont(n, 0.99) FROM (SELECT count(*) n FROM orders GROUP BY customer_id)"
    ).fetchone()
    assert 0.25 < one_time < 0.6
    assert p99 >= 20


def test_cohorts_grow_over_the_years(con):
    per_year = [
        n for _, n in con.execute("SELECT year(signup_at) y, count(*) FROM customers GROUP BY 1 ORDER BY 1").fetchall()
    ]
    assert len(per_year) == 4
    assert all(later > earlier for earlier, later in itertools.pairwise(per_year))


def test_november_and_december_peak_and_weekends_differ(con):
    monthly = dict(
        con.execute(
            "SELECT month(ordered_at), count(*) / count(DISTINCT ordered_at::DATE) FROM orders GROUP BY 1"
        ).fetchall()
    )
    baseline = np.mean([monthly[m] for m in range(1, 10)])
    assert monthly[11] > 1.2 * baseline and monthly[12] > 1.2 * baseline
    weekday = dict(con.execute("SELECT dayofweek(ordered_at), count(*) FROM orders GROUP BY 1").fetchall())
    assert weekday[0] > 1.1 * weekday[4]  # Sunday above Thursday


def test_engagement_fades_before_dropout(con):
    # Latent: the engagement path sinks in the weeks before a customer leaves.
    late, early = con.execute(
        """
        SELECT avg(list_avg(engagement[-4:])), avg(list_avg(engagement[-40:-27]))
        FROM ground_truth WHERE dropout_at IS NOT NULL AND len(engagement) > 40
        """
    ).fetchone()
    assert late < early - 0.2
    # Observable: browsing before a disengaged customer's dropout is below its earlier level.
    recent, before = con.execute(
        """
        WITH g AS (SELECT customer_id, dropout_at FROM ground_truth
                   WHERE dropout_cause = 'disengaged' AND dropout_at > acquired_at + INTERVAL 400 DAY)
        SELECT count(*) FILTER (WHERE d BETWEEN 0 AND 89), count(*) FILTER (WHERE d BETWEEN 180 AND 269)
        FROM (SELECT date_diff('day', e.event_at, g.dropout_at) d FROM events e JOIN g USING (customer_id)
              WHERE e.event_type = 'page_view')
        """
    ).fetchone()
    assert recent < 0.9 * before


def test_orders_have_items_returns_and_discounts(con):
    share_returned, share_discounted = con.execute(
        """
        SELECT (SELECT count(DISTINCT order_id) FROM returns) / count(*), avg((discount > 0)::INT) FROM orders
        """
    ).fetchone()
    assert 0.03 < share_returned < 0.2
    assert 0.05 < share_discounted < 0.3
    mismatched = con.execute(
        """
        SELECT count(*) FROM orders o
        JOIN (SELECT order_id, sum(quantity * unit_price) gross FROM order_items GROUP BY 1) i USING (order_id)
        WHERE abs(o.amount + o.discount - i.gross) > 0.011
        """
    ).fetchone()[0]
    assert mismatched == 0
    over_refunded = "SELECT count(*) FROM returns r JOIN orders o USING (order_id) WHERE r.refund_amount > o.amount"
    assert con.execute(over_refunded).fetchone()[0] == 0
    assert con.execute("SELECT count(DISTINCT category) FROM order_items").fetchone()[0] == 12


def test_every_event_type_and_review_ratings(con):
    types = dict(con.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert set(types) == {
        "page_view",
        "product_view",
        "search",
        "add_to_cart",
        "checkout_start",
        "wishlist_add",
        "review",
    }
    assert types["add_to_cart"] > types["checkout_start"] * 1.02  # some carts are abandoned
    lo, hi, nulls = con.execute(
        "SELECT min(rating), max(rating), count(*) FILTER (WHERE rating IS NULL) "
        "FROM events WHERE event_type = 'review'"
    ).fetchone()
    assert (lo, hi, nulls) == (1, 5, 0)


def test_nothing_happens_outside_the_period_or_before_acquisition(con):
    assert con.execute(
        "SELECT max(ordered_at) < TIMESTAMP '2026-01-01', min(ordered_at) >= TIMESTAMP '2022-01-01' FROM orders"
    ).fetchone() == (True, True)
    early = con.execute(
        """
        SELECT count(*) FROM orders o JOIN ground_truth g USING (customer_id) WHERE o.ordered_at < g.acquired_at
        """
    ).fetchone()[0]
    assert early == 0
    late = con.execute(
        "SELECT count(*) FROM orders o JOIN ground_truth g USING (customer_id) WHERE o.ordered_at > g.dropout_at"
    ).fetchone()[0]
    assert late == 0


def test_demographics_carry_a_weak_signal(con):
    by_channel = dict(
        con.execute(
            "SELECT acquisition_channel, avg(purchase_rate) "
            "FROM customers JOIN ground_truth USING (customer_id) GROUP BY 1"
        ).fetchall()
    )
    assert by_channel["referral"] > by_channel["paid_social"] * 1.2
    assert con.execute(
        "SELECT count(DISTINCT region), count(DISTINCT age_band), count(DISTINCT gender) FROM customers"
    ).fetchone() == (7, 6, 4)


def test_ground_truth_describes_every_customer(shop, con):
    meta = json.loads((shop.out_dir / "shop.json").read_text())
    assert meta["customers"] == 20_000 and meta["seed"] == 7
    bad = con.execute(
        """
        SELECT count(*) FROM ground_truth
        WHERE purchase_rate <= 0 OR dropout_p NOT BETWEEN 0 AND 1 OR mean_order_value <= 0
           OR len(engagement) < 1 OR (dropout_at IS NULL) <> (dropout_cause IS NULL)
        """
    ).fetchone()[0]
    assert bad == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "--customers must be at least 1"),
        ({"start": "2024-02-30"}, "--start must be a date"),
        ({"end": "2022-01-10"}, "at least 28 days"),
        ({"fmt": "xlsx"}, "--format must be one of"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(tmp_path, kwargs, message):
    with pytest.raises(GenerateError, match=message):
        generate_shop(tmp_path, **{"customers": 10, **kwargs})
