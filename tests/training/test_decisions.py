"""Reading the logged decisions: the matrix, the actions and their costs, and each row's next state."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import connect
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.policies.decisions import read_decisions
from duckdb_clv.udfs.contract import FEATURES


def test_decisions_carry_actions_costs_features_and_transitions(built_campaigns):
    with connect(built_campaigns.db) as con:
        data = read_decisions(con)
        logged = con.execute("SELECT count(*), sum(action_horizon_value) FROM ml_decision_set").fetchone()
    assert len(data) == logged[0] and data.horizon_value.sum() == pytest.approx(logged[1])
    assert data.actions == ("none", "coupon_10", "email", "vip")
    np.testing.assert_allclose(data.costs, [0.0, 0.2, 0.05, 12.0])
    assert data.features[: len(FEATURES)] == FEATURES
    assert {"treatments_365d", "answer_rate_coupon_10_365d", "days_since_vip"} <= set(data.features)
    # Every row but those of the last cutoff knows the same customer's row one month on.
    has = data.next_row >= 0
    last = data.cutoff == data.cutoff.max()
    assert has[~last].all() and not has[last].any()
    nxt = data.next_row[has]
    assert (data.customer_id[nxt] == data.customer_id[has]).all()
    assert (data.cutoff[nxt] > data.cutoff[has]).all()
    # A subset keeps the links that stay inside it.
    early = data.take(data.cutoff < np.datetime64("2024-07-01"))
    kept = early.next_row >= 0
    assert (early.customer_id[early.next_row[kept]] == early.customer_id[kept]).all()
    assert not kept[early.cutoff == early.cutoff.max()].any()


def test_a_shop_without_campaigns_has_nothing_to_learn_from(built):
    with connect(built.db) as con, pytest.raises(TrainingError, match="clv load --campaigns"):
        read_decisions(con)
