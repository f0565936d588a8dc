"""Shift scenarios: the customer base changes as documented, and the oracle follows it."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from duckdb_clv.ingest import generate_shop
from duckdb_clv.ingest.generator import oracle
from duckdb_clv.ingest.generator.scenarios import SCENARIOS, scenario
from tests.conftest import oracle_against_what_happened

SHIFTS = ("steady", "closed-cohort", "slowing", "shock")
CUSTOMERS = 8_000


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    """Every shift scenario at the same size and seed, over the documented period."""
    root = tmp_path_factory.mktemp("shifts")
    return {
        name: generate_shop(root / name, customers=CUSTOMERS, seed=5, params=scenario(name).shop_params(), workers=2)
        for name in SHIFTS
    }


def _one(sql: str) -> tuple:
    with duckdb.connect() as con:
        return con.execute(sql).fetchone()


def test_the_shift_scenarios_are_offered():
    assert set(SHIFTS) <= set(SCENARIOS)


def test_a_closed_cohort_acquires_in_its_first_months_only(shops):
    truth = shops["closed-cohort"].files["ground_truth"]
    first, last = _one(f"SELECT min(acquired_at), max(acquired_at) FROM read_parquet('{truth}')")
    assert (last - first).days < 120
    steady = shops["steady"].files["ground_truth"]
    (late,) = _one(f"SELECT count(*) FROM read_parquet('{steady}') WHERE acquired_at >= DATE '2023-01-01'")
    assert late > CUSTOMERS / 2  # the documented shop keeps acquiring


def test_slowing_acquisition_falls_year_after_year(shops):
    truth = shops["slowing"].files["ground_truth"]
    per_year = duckdb.sql(
        f"SELECT year(acquired_at), count(*) FROM read_parquet('{truth}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    counts = [n for _, n in per_year]
    assert len(counts) == 4 and all(b < 0.6 * a for a, b in itertools.pairwise(counts))


def test_an_acquisition_drop_cuts_new_customers_from_its_date(tmp_path):
    params = scenario("acquisition-drop").shop_params()
    shop = generate_shop(tmp_path / "shop", customers=CUSTOMERS, seed=5, params=params, workers=2)
    steady = generate_shop(tmp_path / "steady", customers=CUSTOMERS, seed=5, workers=2)

    def acquired(truth, start: str, end: str) -> int:
        where = f"acquired_at >= DATE '{start}' AND acquired_at < DATE '{end}'"
        return _one(f"SELECT count(*) FROM read_parquet('{truth}') WHERE {where}")[0]

    # Against the same shop without the drop: the three months after 2024-06-01 bring a third
    # as many customers relative to the three months before (every day's share is rescaled).
    ratios = [
        acquired(g.files["ground_truth"], "2024-06-01", "2024-09-01")
        / acquired(g.files["ground_truth"], "2024-03-01", "2024-06-01")
        for g in (shop, steady)
    ]
    assert ratios[0] / ratios[1] == pytest.approx(1 / 3, rel=0.15)


def _orders_between(shop, start: str, end: str) -> int:
    orders = shop.files["orders"]
    (n,) = _one(
        f"SELECT count(*) FROM read_parquet('{orders}') "
        f"WHERE ordered_at >= DATE '{start}' AND ordered_at < DATE '{end}'"
    )
    return n


def test_a_shock_halves_purchases_then_leaves_them_lower(shops):
    # Same seed, same customers: only the purchase rates from 2024-06-01 differ from the steady shop
    # (the days drawn for each order within its week move a handful of orders across a boundary).
    steady, shock = shops["steady"], shops["shock"]
    before = _orders_between(shock, "2023-01-01", "2024-06-01") / _orders_between(steady, "2023-01-01", "2024-06-01")
    assert before == pytest.approx(1.0, abs=0.002)
    during = _orders_between(shock, "2024-06-01", "2024-08-31") / _orders_between(steady, "2024-06-01", "2024-08-31")
    after = _orders_between(shock, "2025-01-01", "2026-01-01") / _orders_between(steady, "2025-01-01", "2026-01-01")
    # Fewer purchases also mean fewer purchase-triggered dropouts, so the ratios sit a little above
    # the rate multipliers (0.5 and 0.8).
    assert 0.45 < during < 0.65
    assert 0.75 < after < 0.95


@pytest.mark.parametrize(
    ("name", "cutoff"), [("closed-cohort", "2024-06-30"), ("slowing", "2024-12-31"), ("shock", "2024-03-31")]
)
def test_the_oracle_follows_each_shift(shops, name, cutoff):
    # The shock's cutoff is before it: the oracle must simulate the shock in the customers' futures.
    shop = shops[name]
    pred = oracle(shop.out_dir, cutoff, horizon_days=365, n_sims=60, seed=0)
    predicted, actual, _, _ = oracle_against_what_happened(shop, pred, cutoff)
    assert predicted == pytest.approx(actual, rel=0.1)
