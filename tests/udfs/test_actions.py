"""`recommend_action`, `action_cost`, customer_scores' next best action and the campaign_plan mart."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import onnxruntime as ort
import pytest

from duckdb_clv import udfs
from duckdb_clv.build import build_features
from duckdb_clv.settings import make_settings
from duckdb_clv.udfs import registry

ACTIONS = ["none", "coupon_10", "email", "vip"]


def by_hand(models, con) -> dict[str, tuple[str, object]]:
    """Each scoring customer's recommendation, computed from the registered file with onnxruntime alone.

    The uplift is a difference of float32 action values: it is compared to within float32's
    precision of those values (another session may sum the trees in another order).
    """
    pointer = registry.champion(models, "action")
    card = registry.read_card(models, pointer["name"], pointer["version"])
    names = [f["name"] for f in card["features"]]
    rows = con.execute(f"SELECT customer_id, {', '.join(names)} FROM ml_action_scoring_set").fetchnumpy()
    X = np.column_stack([np.asarray(rows[n], dtype=np.float32) for n in names])
    path = models / pointer["name"] / pointer["version"] / "model.onnx"
    values = ort.InferenceSession(str(path)).run(["action"], {"features": X})[0].astype(np.float64)
    uplift = values[:, 1:] - values[:, [0]]
    best, arg = uplift.max(axis=1), uplift.argmax(axis=1) + 1
    tolerance = 1e-6 * np.abs(values).max(axis=1) + 1e-9
    return {
        c: (card["actions"][a], pytest.approx(b, abs=t)) if b > 0 else ("none", 0.0)
        for c, a, b, t in zip(rows["customer_id"], arg, best, tolerance, strict=True)
    }


def test_recommend_action_is_the_best_action_by_the_policy_s_values(trained_campaigns):
    models = trained_campaigns.models
    with udfs.connect(trained_campaigns.built.db, models) as con:
        expected = by_hand(models, con)
        got = con.execute(
            "SELECT customer_id, r.action, r.expected_uplift FROM "
            "(SELECT customer_id, recommend_action(s) AS r FROM ml_action_scoring_set s)"
        ).fetchall()
    assert len(got) == len(expected)
    for customer, action, uplift in got:
        assert (action, uplift) == expected[customer]
    mix = {a for _, a, _ in got}
    assert len(mix) >= 2 and mix <= set(ACTIONS)


def test_a_budget_share_treats_that_share_of_the_customers_best_first(trained_campaigns):
    with udfs.connect(trained_campaigns.built.db, trained_campaigns.models) as con:
        rows = con.execute(
            "SELECT r.expected_uplift, r5.action <> 'none', r20.action <> 'none', r20.action = r.action FROM "
            "(SELECT recommend_action(s) AS r, recommend_action(s, budget_share := 0.05) AS r5, "
            "recommend_action(s, budget_share := 0.2) AS r20 FROM ml_action_scoring_set s)"
        ).fetchall()
    uplift = np.array([r[0] for r in rows])
    five, twenty = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    positive = (uplift > 0).mean()
    # The card's percentiles come from these very customers: the shares are met up to ties.
    assert twenty.mean() == pytest.approx(min(0.2, positive), abs=0.01)
    assert five.mean() == pytest.approx(min(0.05, positive), abs=0.01)
    assert not (five & ~twenty).any() and all(r[3] for r in rows if r[2])
    # Those treated are the best: every treated customer's uplift beats every untreated one's.
    assert uplift[twenty].min() >= uplift[~twenty].max()


def test_bad_calls_fail_with_a_line_that_names_the_fix(trained_campaigns):
    with udfs.connect(trained_campaigns.built.db, trained_campaigns.models) as con:
        for share in ("0", "1.5", "'nan'::double"):
            with pytest.raises(duckdb.Error, match="budget_share must be above 0 and at most 1"):
                con.sql(f"SELECT recommend_action(s, budget_share := {share}) FROM ml_action_scoring_set s").fetchall()
        # A feature row without the campaign history: DuckDB names the missing key while binding.
        with pytest.raises(duckdb.BinderException, match="treatments_90d"):
            con.execute("SELECT recommend_action(s) FROM ml_scoring_set s").fetchall()
        with pytest.raises(duckdb.Error, match="'sms' is not one of the policy's actions"):
            con.execute("SELECT action_cost('sms')").fetchall()
        assert con.execute("SELECT action_cost('vip'), action_cost('none'), action_cost(NULL)").fetchone() == (
            12.0,
            0.0,
            None,
        )
        # A NULL feature row has no recommendation; another policy version with the same inputs serves.
        got = con.execute(
            "SELECT (SELECT recommend_action(CASE WHEN false THEN s END) FROM ml_action_scoring_set s LIMIT 1) "
            "IS NULL, "
            "(SELECT count(*) FROM ml_action_scoring_set s WHERE recommend_action(s, model := 'action_fitted_q') "
            "IS NOT NULL), clv_model('action', model := 'action_fitted_q')"
        ).fetchone()
        assert got[0] is True and got[1] > 0 and got[2] == "action_fitted_q/v1"


def test_without_a_policy_recommend_action_says_how_to_get_one(trained):
    no_policy = pytest.raises(duckdb.Error, match="clv load --campaigns")
    with udfs.connect(trained.built.db, trained.models) as con, no_policy:
        con.execute("SELECT recommend_action(s) FROM ml_action_scoring_set s").fetchall()


def test_customer_scores_and_the_campaign_plan_follow_the_policy(scored_campaigns, trained_campaigns):
    db, models, _ = scored_campaigns
    with udfs.connect(db, models) as con:
        expected = by_hand(models, con)
        scores = con.execute("SELECT customer_id, next_best_action, expected_uplift, action_model FROM customer_scores")
        scores = scores.fetchall()
        plan = con.execute(
            "SELECT priority, customer_id, action, expected_uplift, action_cost, cumulative_cost FROM campaign_plan "
            "ORDER BY priority"
        ).fetchall()
    assert len(scores) == len(expected)
    for customer, action, uplift, model in scores:
        assert (action, uplift) == expected[customer]
        assert model == "action_uplift/v1"
    ranked = sorted(((-u, c) for c, a, u, _ in scores if a != "none"))
    # Default budget: a fifth of the customers scored, best first, each with its action's cost.
    assert len(plan) == min(math.floor(0.2 * len(scores)), len(ranked))
    assert [r[1] for r in plan] == [c for _, c in ranked[: len(plan)]]
    assert [r[0] for r in plan] == list(range(1, len(plan) + 1))
    costs = dict(zip(ACTIONS, [0.0, 0.2, 0.05, 12.0], strict=True))
    assert all(r[4] == pytest.approx(costs[r[2]]) for r in plan)
    assert np.allclose(np.cumsum([r[4] for r in plan]), [r[5] for r in plan])


def test_a_cost_budget_stops_the_plan_before_it_is_spent(scored_campaigns):
    db, models, _ = scored_campaigns
    budget = 150.0
    variables = make_settings().scoring_vars() | {"campaign_budget_cost": budget, "next_best_action": True}
    build_features(db, variables, select="campaign_plan", models_dir=models)
    with duckdb.connect(str(db), read_only=True) as con:
        plan = con.execute("SELECT count(*), max(cumulative_cost) FROM campaign_plan").fetchone()
        following = con.execute(
            "SELECT sum(c) FROM (SELECT c FROM (SELECT expected_uplift, customer_id, "
            "CASE next_best_action WHEN 'vip' THEN 12.0 WHEN 'coupon_10' THEN 0.2 ELSE 0.05 END AS c "
            "FROM customer_scores WHERE next_best_action <> 'none') "
            "ORDER BY expected_uplift DESC, customer_id LIMIT ?)",
            [plan[0] + 1],
        ).fetchone()[0]
    assert plan[0] > 0 and plan[1] <= budget < following


def test_without_a_policy_the_scores_have_no_action_and_the_plan_is_empty(scored):
    db, _, _ = scored
    with duckdb.connect(str(db), read_only=True) as con:
        nulls = con.execute(
            "SELECT count(*), count(next_best_action), count(expected_uplift), count(action_model) FROM customer_scores"
        ).fetchone()
        assert nulls[0] > 0 and nulls[1:] == (0, 0, 0)
        assert con.execute("SELECT count(*) FROM campaign_plan").fetchone()[0] == 0
