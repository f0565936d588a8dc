"""How much a policy earns: cross-fitted on the log, and against the simulator's truth where there is one.

Every decision month is evaluated. Customers are split in two halves by a hash of their id; the
policies, the propensity model and the outcome model are fitted on one half and judged on the
other, then the halves swap, so every logged row is judged by models that never saw it. A budget
is a share of the customers of each month: the policy treats its best-scoring customers up to it,
those whose best action is worth more than doing nothing.

With the sample shop's folder, the true incremental value of each choice comes from the oracle's
counterfactuals (``ingest.generator.oracle.action_values``) at each decision date, over the same
action horizon; the oracle policy, which knows every customer's true response, is the ceiling.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from duckdb_clv.training.policies.decisions import Decisions
from duckdb_clv.training.policies.learners import ActionValues, fitted_q
from duckdb_clv.training.policies.offpolicy import doubly_robust, fit_propensity, ips, propensities

BUDGETS = (0.1, 0.2, 0.5)


@dataclass(frozen=True)
class PolicySettings:
    """How the policies are fitted: one step of the sequential policy per decision interval."""

    steps: int = 3
    gamma: float = 1.0
    seed: int = 0


def halves(customer_id: np.ndarray) -> np.ndarray:
    """0 or 1 per row from a hash of the customer id: a customer's rows all fall in one half."""
    return np.array([zlib.crc32(str(c).encode()) & 1 for c in customer_id], dtype=np.int8)


def choose(uplift: np.ndarray, month: np.ndarray, share: float) -> np.ndarray:
    """Per row, the action index (0: none) a policy picks under a budget of ``share`` of each month.

    ``uplift`` holds the expected incremental value of actions 1.. over doing nothing (rows x
    actions - 1). In each month, customers are ranked by their best uplift; the top ``share`` get
    their best action if it is worth more than nothing.
    """
    out = np.zeros(uplift.shape[0], dtype=np.int64)
    best, arg = uplift.max(axis=1), uplift.argmax(axis=1) + 1
    for m in np.unique(month):
        rows = np.flatnonzero(month == m)
        k = round(share * rows.size)
        # A stable sort: ties keep the rows' order (cutoff, customer), so the choice is reproducible.
        top = rows[np.argsort(-best[rows], kind="stable")[:k]]
        top = top[best[top] > 0]
        out[top] = arg[top]
    return out


def fit_sequential(
    data: Decisions, settings: PolicySettings, progress: Callable[[int, int], None] | None = None
) -> ActionValues:
    """The sequential policy: fitted Q-iteration over the logged monthly transitions, planning for next month's best."""
    return fitted_q(
        data.X,
        data.action,
        data.step_value,
        data.X[np.maximum(data.next_row, 0)],
        data.next_row >= 0,
        data.costs,
        settings.steps,
        settings.gamma,
        optimal=True,
        seed=settings.seed,
        progress=progress,
    )


def policy_values(data: Decisions, settings: PolicySettings, progress: Callable[[str], None] | None = None) -> dict:
    """Cross-fitted action values of both learned policies and the log's propensities.

    The uplift policy's action values double as the outcome model of the doubly robust estimate:
    the same learner on the same rows.
    """
    half = halves(data.customer_id)
    n, k = len(data), len(data.actions)
    out = {name: np.zeros((n, k)) for name in ("uplift", "sequential", "propensity")}
    for h in (0, 1):
        fit, judge = half != h, half == h
        train = data.take(fit)
        Xj = data.X[judge]
        uplift = ActionValues(k, data.costs, settings.seed).fit(train.X, train.action, train.horizon_value)
        out["uplift"][judge] = uplift.predict(Xj)
        out["sequential"][judge] = fit_sequential(train, settings).predict(Xj)
        out["propensity"][judge] = propensities(fit_propensity(train.X, train.action, settings.seed), Xj, k)
        if progress:
            progress(f"policies: half {h + 1} of 2 judged")
    return out


@dataclass
class PolicyRow:
    """One policy at one budget: what it treats and what it earns per customer."""

    policy: str
    budget: str
    treated_share: float
    mix: dict[str, float]
    ips: float
    doubly_robust: float
    dr_std_error: float
    true_value: float | None = None
    share_of_oracle: float | None = None


def policy_table(
    data: Decisions,
    values: dict,
    truth: np.ndarray | None = None,
    baselines: dict[str, tuple] | None = None,
    budgets: tuple[float, ...] = BUDGETS,
    seed: int = 0,
) -> list[PolicyRow]:
    """The policies and baselines at each budget, with IPS, DR and (given ``truth``) true values.

    ``truth`` holds each row's true expected net value of every action (rows x actions), NaN for
    rows the oracle does not cover; such rows are left out of the true values only. ``baselines``
    maps a name to (action index, score[, largest share]).
    """
    reward = data.reward
    e, mu = values["propensity"], values["uplift"]
    month = data.cutoff
    k = len(data.actions)
    choices: dict[tuple[str, str], np.ndarray] = {}
    rng = np.random.default_rng(seed)
    n = len(data)
    for share in budgets:
        label = f"{share:.0%}"
        for name in ("uplift", "sequential"):
            v = values[name]
            choices[(name, label)] = choose(v[:, 1:] - v[:, [0]], month, share)
        for name, (action, ranking, *cap) in (baselines or {}).items():
            # A baseline is an action, a score and optionally its own share at most ("the top
            # decile"): it sends the action to the top of the score.
            u = np.full((n, k - 1), -np.inf)
            u[:, action - 1] = ranking - ranking.min() + 1.0
            choices[(name, label)] = choose(u, month, min([share, *cap]))
        treated = rng.random(n) < share
        choices[("random", label)] = np.where(treated, rng.integers(1, k, size=n), 0)
        if truth is not None:
            gain = truth[:, 1:] - truth[:, [0]]
            choices[("oracle", label)] = choose(np.nan_to_num(gain, nan=-np.inf), month, share)
    for a in range(1, k):
        choices[(f"everybody: {data.actions[a]}", "100%")] = np.full(n, a)
    rows = []
    covered = None if truth is None else ~np.isnan(truth[:, 0])
    for (name, label), choice in choices.items():
        dr = doubly_robust(choice, data.action, reward, e, mu)
        row = PolicyRow(
            policy=name,
            budget=label,
            treated_share=float((choice > 0).mean()),
            mix={data.actions[a]: float((choice == a).mean()) for a in range(1, k)},
            ips=ips(choice, data.action, reward, e).value,
            doubly_robust=dr.value,
            dr_std_error=dr.std_error,
        )
        if truth is not None:
            t = truth[covered]
            c = choice[covered]
            row.true_value = float((t[np.arange(c.size), c] - t[:, 0]).mean())
        rows.append(row)
    if truth is not None:
        ceiling = {r.budget: r.true_value for r in rows if r.policy == "oracle"}
        for r in rows:
            if ceiling.get(r.budget):
                r.share_of_oracle = r.true_value / ceiling[r.budget]
    return rows
