"""Action-value learners on logs whose true effects are known: uplift and fitted Q-iteration."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.errors import NotFittedError, TrainingError
from duckdb_clv.training.policies.learners import ActionValues, fitted_q
from duckdb_clv.training.policies.offpolicy import doubly_robust, ips

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

COSTS = np.array([0.0, 1.0, 5.0])


def logged(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A randomized log: action 1 pays for x0 > 0, action 2 for large x1; noise far above the effects."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    action = rng.choice(3, size=n, p=[0.7, 0.15, 0.15])
    effect = np.column_stack([np.zeros(n), 4.0 * (X[:, 0] > 0), 3.0 * np.maximum(X[:, 1], 0) ** 2])
    outcome = 20 + 5 * X[:, 2] + effect[np.arange(n), action] + rng.normal(scale=15, size=n)
    return X, action, outcome, effect - COSTS


def test_action_values_find_who_each_action_pays_for():
    X, action, outcome, _ = logged(60_000, 0)
    model = ActionValues(3, COSTS, seed=0).fit(X, action, outcome)
    Xt, _, _, truth = logged(5_000, 1)
    values = model.predict(Xt)
    uplift = values[:, 1:] - values[:, [0]]
    true_uplift = truth[:, 1:] - truth[:, [0]]
    chosen = np.where(uplift.max(1) > 0, uplift.argmax(1) + 1, 0)
    best = np.where(true_uplift.max(1) > 0, true_uplift.argmax(1) + 1, 0)
    earned = truth[np.arange(5_000), chosen] - truth[:, 0]
    ceiling = truth[np.arange(5_000), best] - truth[:, 0]
    assert earned.mean() > 0.7 * ceiling.mean()
    # Costs are netted out: the expensive action is worth it only where x1 is large.
    assert (chosen[Xt[:, 1] < 0] != 2).mean() > 0.95


def test_an_arm_too_small_gets_no_offset_and_no_untreated_rows_is_refused():
    X, action, outcome, _ = logged(20_000, 2)
    action = np.where(action == 2, 0, action)
    action[:50] = 2  # 50 rows of action 2: too few to learn from
    model = ActionValues(3, COSTS).fit(X, action, outcome)
    values = model.predict(X[:10])
    np.testing.assert_allclose(values[:, 2], values[:, 0] - COSTS[2])
    with pytest.raises(TrainingError, match="untreated rows"):
        ActionValues(3, COSTS).fit(X, np.ones_like(action), outcome)
    with pytest.raises(NotFittedError):
        ActionValues(3, COSTS).predict(X)


def test_fitted_q_plans_for_next_months_options():
    # Action 1 costs now and earns nothing this step, but puts the customer in a state where the
    # next step pays 10 more. One step ahead it looks like a loss; two steps ahead it pays.
    rng = np.random.default_rng(3)
    n = 40_000
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[:, 2] = 0.0
    action = rng.choice(2, size=n, p=[0.6, 0.4])
    next_X = X.copy()
    next_X[:, 2] = (action == 1).astype(np.float32)
    step = 5 + rng.normal(scale=2, size=n)
    # Rows whose state has the flag on (the next step's rows) earn 10 more.
    Xs = np.concatenate([X, next_X])
    actions = np.concatenate([action, rng.choice(2, size=n, p=[0.6, 0.4])])
    steps = np.concatenate([step, 5 + 10 * next_X[:, 2] + rng.normal(scale=2, size=n)])
    following = np.concatenate([np.arange(n, 2 * n), np.full(n, -1)])
    costs = np.array([0.0, 3.0])
    has_next = following >= 0
    nxt = Xs[np.maximum(following, 0)]
    myopic = fitted_q(Xs, actions, steps, nxt, has_next, costs, steps=1, gamma=1.0, optimal=True)
    planned = fitted_q(Xs, actions, steps, nxt, has_next, costs, steps=2, gamma=1.0, optimal=True)
    probe = X[:1_000]
    assert (myopic.predict(probe).argmax(1) == 0).mean() > 0.95
    assert (planned.predict(probe).argmax(1) == 1).mean() > 0.95
    assert planned.predict(probe)[:, 1].mean() == pytest.approx(5 - 3 + 5 + 10, abs=1.0)


def test_off_policy_estimates_recover_a_known_policy_value():
    X, action, outcome, true_net = logged(200_000, 4)
    reward = outcome - COSTS[action]
    e = np.tile([0.7, 0.15, 0.15], (action.size, 1))
    choice = np.where(X[:, 0] > 0, 1, 0)
    truth = (true_net[np.arange(action.size), choice] - true_net[:, 0]).mean()
    mu = ActionValues(3, COSTS, seed=0).fit(X[:100_000], action[:100_000], outcome[:100_000]).predict(X)
    rest = slice(100_000, None)
    est_ips = ips(choice[rest], action[rest], reward[rest], e[rest])
    est_dr = doubly_robust(choice[rest], action[rest], reward[rest], e[rest], mu[rest])
    assert est_dr.value == pytest.approx(truth, abs=3 * est_dr.std_error)
    assert est_ips.value == pytest.approx(truth, abs=3 * est_ips.std_error)
    assert est_dr.std_error < 0.7 * est_ips.std_error  # the outcome model takes out the explained part


def test_a_budget_treats_the_best_customers_of_each_month_and_only_where_it_pays():
    from duckdb_clv.training.policies.evaluate import choose

    month = np.repeat(np.array(["2024-01-31", "2024-02-29"], dtype="datetime64[D]"), 10)
    uplift = np.column_stack([np.arange(20, dtype=float) - 5, np.full(20, 1.5)])
    chosen = choose(uplift, month, 0.3)
    # Three per month: in January rows 7-9 (best uplift 2-4 from action 1); in February rows 17-19.
    np.testing.assert_array_equal(np.flatnonzero(chosen), [7, 8, 9, 17, 18, 19])
    assert set(chosen[chosen > 0]) == {1}
    # Nothing worth more than doing nothing: nobody is treated, whatever the budget.
    assert not choose(-np.abs(uplift) - 1, month, 1.0).any()


def test_the_onnx_graph_gives_the_learner_s_action_values():
    from duckdb_clv.training.policies.export import export_checked

    X, action, outcome, _ = logged(30_000, 5)
    action[(action == 2)] = 0
    action[:40] = 2  # too few: this arm's column is the base minus its cost
    model = ActionValues(3, COSTS, seed=0).fit(X, action, outcome)
    graph, figures = export_checked(model, X[:5_000], "policy_test")
    assert figures["rows"] == 5_000 * 3 and figures["max_error"] <= figures["tolerance"]
    assert [o.name for o in graph.graph.output] == ["action"]
    assert graph.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 4
