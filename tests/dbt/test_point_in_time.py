"""Point in time and incremental builds: the future never leaks, and increments equal rebuilds."""

from __future__ import annotations

import duckdb
import pytest

from duckdb_clv.build import build_features
from duckdb_clv.errors import ClvError
from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.settings import make_settings
from tests.conftest import FIXED_CUTOFFS, SHOP_TABLES, copy_db, write

FIXED = make_settings(**FIXED_CUTOFFS).feature_vars()


def table(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_future_orders_and_events_change_labels_but_never_features(built_fixed, tmp_path):
    db = copy_db(built_fixed.db, tmp_path / "pit.duckdb")  # built with FIXED
    features = "SELECT * FROM fct_customer_features WHERE cutoff_date = DATE '2024-06-30' ORDER BY customer_id"
    history = "SELECT * FROM fct_customer_weekly_history WHERE cutoff_date = DATE '2024-06-30' ORDER BY customer_id"
    labels = "SELECT * FROM fct_customer_labels WHERE cutoff_date = DATE '2024-06-30' ORDER BY customer_id"
    before_f, before_h, before_l = table(db, features), table(db, history), table(db, labels)
    customers = [r[0] for r in table(db, "SELECT customer_id FROM dim_customers ORDER BY customer_id LIMIT 50")]
    # Their orders in the 52 weeks before the next cutoff, which the burst falls into.
    next_quarter = (
        "SELECT customer_id, list_sum(orders_weekly) FROM fct_customer_weekly_history "
        "WHERE cutoff_date = DATE '2024-09-30' AND customer_id IN (SELECT customer_id FROM dim_customers "
        "ORDER BY customer_id LIMIT 50) ORDER BY customer_id"
    )
    before_next = dict(table(db, next_quarter))
    # A burst of activity for 50 customers right after the cutoff (and after every other cutoff's day).
    orders = "order_id,customer_id,ordered_at,amount\n" + "".join(
        f"FUT{i},{c},2024-07-0{1 + i % 9} 12:00:00,{100 + i}\n" for i, c in enumerate(customers)
    )
    events = "event_id,customer_id,event_at,event_type\n" + "".join(
        f"FUTE{i},{c},2024-07-02 10:00:00,page_view\n" for i, c in enumerate(customers)
    )
    load_files(
        db, {"orders": [str(write(tmp_path / "o.csv", orders))], "events": [str(write(tmp_path / "e.csv", events))]}
    )
    build_features(db, FIXED, full_refresh=True)
    assert table(db, features) == before_f
    assert table(db, history) == before_h
    # The burst was read: each customer's history at the next cutoff holds its one new order.
    after_next = dict(table(db, next_quarter))
    assert {c: after_next[c] - before_next.get(c, 0) for c in customers} == dict.fromkeys(customers, 1)
    after_l = table(db, labels)
    assert after_l != before_l
    changed = {r[0] for r in after_l} - {r[0] for r in before_l} | {
        a[0] for a, b in zip(after_l, before_l, strict=True) if a != b
    }
    assert changed == set(customers)


def split_shop(shop, where: str, folder, con) -> dict[str, list[str]]:
    """Copy of the shop's files holding only the rows that satisfy ``where`` on their date."""
    folder.mkdir(parents=True, exist_ok=True)
    date_of = {
        "customers": "signup_at",
        "orders": "ordered_at",
        "returns": "returned_at",
        "events": "event_at",
    }
    out = {}
    for t in SHOP_TABLES:
        path = folder / f"{t}.parquet"
        src = f"read_parquet('{shop.files[t]}')"
        if t == "order_items":
            orders = f"read_parquet('{shop.files['orders']}')"
            query = f"SELECT i.* FROM {src} i JOIN {orders} o USING (order_id) WHERE {where.format(d='o.ordered_at')}"
        else:
            query = f"SELECT * FROM {src} WHERE {where.format(d=date_of[t])}"
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
        out[t] = [str(path)]
    return out


def test_incremental_build_equals_a_full_rebuild(built, tmp_path):
    con = duckdb.connect()
    early = split_shop(built.shop, "{d} < TIMESTAMP '2025-07-01'", tmp_path / "early", con)
    late = split_shop(built.shop, "{d} >= TIMESTAMP '2025-07-01'", tmp_path / "late", con)
    incremental = tmp_path / "incremental.duckdb"
    load_files(incremental, early)
    first = build_features(incremental)
    assert first.scoring_cutoff == "2025-07-01"
    load_files(incremental, late)
    second = build_features(incremental)
    assert second.scoring_cutoff == "2026-01-01"
    assert set(second.training_cutoffs) - set(first.training_cutoffs)  # new month ends arrived
    full = built.db  # the session's build: everything loaded at once, built in one go
    for relation in ("fct_customer_features", "fct_customer_weekly_history", "fct_customer_labels"):
        query = f"SELECT * FROM {relation} ORDER BY cutoff_date, customer_id"
        assert table(incremental, query) == table(full, query), relation


def test_a_young_shop_with_orders_alone_builds_its_scoring_cutoff_with_zero_filled_behaviour(tmp_path):
    # Two thin inputs in one build: a history shorter than the horizon (no training cutoff fits),
    # and orders without customers, events or returns (behaviour is zeros, tenure the fallback).
    shop = generate_shop(tmp_path / "young", customers=300, seed=4, start="2025-06-01", end="2025-12-31")
    db = tmp_path / "young.duckdb"
    load_files(db, {"orders": [str(shop.files["orders"])]})
    result = build_features(db)
    assert result.training_cutoffs == []
    assert any("No training cutoffs" in m for m in result.messages)
    assert table(db, "SELECT count(*) FROM ml_training_set") == [(0,)]
    ((ordered,),) = table(db, "SELECT count(DISTINCT customer_id) FROM raw.orders")
    rows = table(db, "SELECT count(*), sum(sessions_90d), sum(page_views_30d), min(channel_direct) FROM ml_scoring_set")
    assert rows == [(ordered, 0.0, 0.0, 0.0)] and ordered > 150
    tenure_is_fallback = table(
        db, "SELECT count(*) FROM fct_customer_features WHERE days_since_last_session <> tenure_days"
    )
    assert tenure_is_fallback == [(0,)]


def test_build_errors_are_one_line_with_the_fix(tmp_path):
    with pytest.raises(ClvError, match=r"no database at .*clv load"):
        build_features(tmp_path / "missing.duckdb")
    with pytest.raises(ClvError, match="horizon_days must be a whole number of at least 1, got -5"):
        make_settings(horizon_days=-5)
    with pytest.raises(ClvError, match="as_of_date must be a date like 2024-12-31, got 'next week'"):
        make_settings(as_of_date="next week")
