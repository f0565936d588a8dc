"""The oracle: exact on hand-computable cases, calibrated on the shop, blind to the future."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckdb_clv.ingest import GenerateError
from duckdb_clv.ingest.generator import ShopParams, oracle
from tests.conftest import oracle_against_what_happened

# A shop with no seasonality, no engagement effects, no hazard, discounts or returns: a customer
# buys as a Poisson process with its rate, so expectations have closed forms.
FLAT = replace(
    ShopParams(),
    seasonal=False,
    engagement_noise=0.0,
    purchase_engagement_loading=0.0,
    dropout_engagement_loading=0.0,
    weekly_hazard=0.0,
    discount_share=0.0,
    discount_share_black_friday=0.0,
    discount_share_december=0.0,
)


def write_truth(folder, rows: list[dict], params: ShopParams = FLAT) -> None:
    ts = pa.timestamp("us")
    table = pa.table(
        {
            "customer_id": [r["id"] for r in rows],
            "acquired_at": pa.array([np.datetime64(r["acquired"], "us") for r in rows], ts),
            "purchase_rate": [r["rate"] for r in rows],
            "dropout_p": [r["p"] for r in rows],
            "spend_rate": [r["nu"] for r in rows],
            "mean_order_value": [params.spend_shape / r["nu"] for r in rows],
            "return_propensity": [0.0 for _ in rows],
            "session_rate": [0.1 for _ in rows],
            "engagement_start": [0.0 for _ in rows],
            "engagement_drift": [0.0 for _ in rows],
            "dropout_at": pa.array([np.datetime64(r["dropout"], "us") if r.get("dropout") else None for r in rows], ts),
            "dropout_cause": [("after_purchase" if r.get("dropout") else None) for r in rows],
            "engagement_week0": pa.array([0 for _ in rows], pa.int32()),
            "engagement": pa.array([[0.0] * 60 for _ in rows], pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, folder / "ground_truth.parquet")
    meta = {"start": "2024-01-01", "end": "2024-12-31", "params": params.to_dict()}
    (folder / "shop.json").write_text(json.dumps(meta))


def test_hand_computable_customers(tmp_path):
    # rate 0.01/day over 100 days: 1 expected order, P(any) = 1 - e^-1; value = 1 * 3 / 0.05 = 60.
    write_truth(
        tmp_path,
        [
            {"id": "loyal", "acquired": "2024-01-10", "rate": 0.01, "p": 1e-12, "nu": 0.05},
            {"id": "gone", "acquired": "2024-01-10", "rate": 0.5, "p": 0.5, "nu": 0.05, "dropout": "2024-02-01"},
            # Leaves right after its next purchase: at most one order, P(order) = 1 - e^-1 again.
            {"id": "last_buy", "acquired": "2024-01-10", "rate": 0.01, "p": 1.0, "nu": 0.05},
            {"id": "future", "acquired": "2024-06-01", "rate": 0.5, "p": 0.1, "nu": 0.05},
        ],
    )
    out = oracle(tmp_path, "2024-03-31", horizon_days=100, n_sims=40_000, seed=3).to_pydict()
    got = dict(
        zip(out["customer_id"], zip(out["expected_value"], out["p_order"], out["active"], strict=True), strict=True)
    )
    assert set(got) == {"loyal", "gone", "last_buy"}  # acquired after the cutoff: unknown yet
    value, p_order, active = got["loyal"]
    assert active
    assert value == pytest.approx(60.0, rel=0.02)
    assert p_order == pytest.approx(1 - math.exp(-1), abs=0.01)
    assert got["gone"] == (0.0, 0.0, False)
    value, p_order, _ = got["last_buy"]
    assert p_order == pytest.approx(1 - math.exp(-1), abs=0.01)
    assert value == pytest.approx(60.0 * (1 - math.exp(-1)), rel=0.02)


def test_never_peeks_at_a_dropout_after_the_cutoff(shop, tmp_path):
    truth = pq.read_table(shop.files["ground_truth"])
    meta = (shop.out_dir / "shop.json").read_text()
    cutoff = np.datetime64("2024-06-30T00:00", "us") + np.timedelta64(1, "D")
    dropout = truth["dropout_at"].to_numpy(zero_copy_only=False)
    later = ~np.isnat(dropout) & (dropout >= cutoff)
    assert later.sum() > 100
    # Move every post-cutoff dropout: the oracle must not notice.
    moved = np.where(later, np.datetime64("2025-11-30", "us"), dropout)
    altered = truth.set_column(
        truth.column_names.index("dropout_at"), "dropout_at", pa.array(moved, pa.timestamp("us"))
    )
    (tmp_path / "shop.json").write_text(meta)
    pq.write_table(altered, tmp_path / "ground_truth.parquet")
    a = oracle(shop.out_dir, "2024-06-30", horizon_days=90, n_sims=20, seed=1)
    b = oracle(tmp_path, "2024-06-30", horizon_days=90, n_sims=20, seed=1)
    assert a.equals(b)


def test_calibrated_against_what_happened(shop):
    cutoff = "2024-12-31"
    pred = oracle(shop.out_dir, cutoff, horizon_days=365, n_sims=100, seed=0)
    predicted, actual, p_mean, bought = oracle_against_what_happened(shop, pred, cutoff)
    assert predicted == pytest.approx(actual, rel=0.08)
    assert p_mean == pytest.approx(bought, abs=0.02)


def test_bad_arguments(shop, tmp_path):
    with pytest.raises(GenerateError, match="cutoff must be a date"):
        oracle(shop.out_dir, "2024-31-12")
    with pytest.raises(GenerateError, match="must be positive"):
        oracle(shop.out_dir, "2024-12-31", horizon_days=0)
    with pytest.raises(GenerateError, match="has no ground truth"):
        oracle(tmp_path, "2024-12-31")
