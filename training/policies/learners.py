"""Action-value learners: the expected net value of every action, per customer.

Both policies share one shape: a *base* model of the value of doing nothing, fitted on the
(plentiful) rows the log left untreated, plus one *ratio* model per action, fitted on the rows
that got it, of how far their outcome lay from the base's prediction relative to it. As in the
X-learner's first stage (Künzel et al., 2019), an arm sent to 4 % of customers is learned as a
departure from a well-estimated baseline, not as a second noisy level; measuring the departure
as a share of the customer's expected value is what makes it learnable at all. A campaign's
effect is a few percent of a heavy-tailed outcome: on the 100k sample shop, offsets in currency
units (shallow trees on the residuals) earned 51 % of the oracle policy's gain, ratios 68-70 %
(docs/ACTIONS.md). The ratio models are very shallow trees, weighted by the expected value, so
that their starting point is the arm's pooled ratio (its total residual over its total base).

- ``ActionValues`` fits once, on the net value over the action horizon: the one-step uplift policy.
- ``fitted_q`` fits it again and again on the value of the step to the next cutoff plus the value
  of the next cutoff's state (fitted Q-iteration): with ``optimal`` the next state is valued at its
  best action (a sequential policy that plans for next month's options), else at doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from duckdb_clv.training.errors import NotFittedError, TrainingError

# The ratio trees: three leaves, thousands of rows per leaf, a slow learning rate.
RATIO_PARAMS = {"max_leaf_nodes": 3, "min_samples_leaf": 3_000, "learning_rate": 0.05, "max_iter": 100}
BASE_PARAMS = {"max_leaf_nodes": 31, "min_samples_leaf": 100, "learning_rate": 0.1, "max_iter": 200}
# An arm needs this many rows for its ratio to be fitted; with fewer it is zero (no effect).
MIN_ARM_ROWS = 200
# Ratios are taken of (base + floor), floor this share of the mean outcome: customers expected to
# spend nothing would otherwise divide by zero, and the floor keeps it free of the currency's unit.
FLOOR_SHARE = 0.02


def _regressor(params: dict, seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss="squared_error",
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        random_state=seed,
        **params,
    )


class ActionValues:
    """Expected net value of each action: a base model (action 0) and one ratio per other action.

    Parameters
    ----------
    n_actions
        Number of actions, "nothing" (index 0) included.
    costs
        Cost of one send of each action; the values returned are net of it.
    seed
        Seed of the trees' early-stopping splits.
    """

    def __init__(self, n_actions: int, costs: np.ndarray, seed: int = 0) -> None:
        self.n_actions = n_actions
        self.costs = costs
        self.seed = seed

    def fit(self, X: np.ndarray, action: np.ndarray, outcome: np.ndarray) -> ActionValues:
        """Fit on logged rows: ``outcome`` is the value before the action's cost (gross of it)."""
        untreated = action == 0
        if untreated.sum() < MIN_ARM_ROWS:
            raise TrainingError(
                f"only {int(untreated.sum())} untreated rows (action 'none'); the policies need at least "
                f"{MIN_ARM_ROWS} customers left untreated in the log to learn what an action adds"
            )
        self.base_ = _regressor(BASE_PARAMS, self.seed).fit(X[untreated], outcome[untreated])
        self.floor_ = float(FLOOR_SHARE * np.abs(outcome).mean()) or 1.0
        self.ratios_: list[HistGradientBoostingRegressor | None] = []
        for a in range(1, self.n_actions):
            arm = action == a
            if arm.sum() < MIN_ARM_ROWS:
                self.ratios_.append(None)
                continue
            base = self.base_.predict(X[arm])
            scale = self.scale(base)
            residual = outcome[arm] - base
            model = _regressor(RATIO_PARAMS, self.seed).fit(X[arm], residual / scale, sample_weight=scale)
            self.ratios_.append(model)
        return self

    def scale(self, base: np.ndarray) -> np.ndarray:
        """What an action's ratio multiplies: the expected value of doing nothing, floored."""
        return np.maximum(base, 0.0) + self.floor_

    def gross(self, X: np.ndarray) -> np.ndarray:
        """Expected value of each action before its cost (rows x actions)."""
        if not hasattr(self, "base_"):
            raise NotFittedError("ActionValues is not fitted yet: call fit first")
        base = self.base_.predict(X)
        scale = self.scale(base)
        out = np.repeat(base[:, None], self.n_actions, axis=1)
        for a, model in enumerate(self.ratios_, start=1):
            if model is not None:
                out[:, a] += model.predict(X) * scale
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Expected value of each action net of its cost (rows x actions)."""
        return self.gross(X) - self.costs[None, :]


def fitted_q(
    X: np.ndarray,
    action: np.ndarray,
    step_value: np.ndarray,
    next_X: np.ndarray,
    has_next: np.ndarray,
    costs: np.ndarray,
    steps: int,
    gamma: float,
    optimal: bool,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ActionValues:
    """Fitted Q-iteration over logged transitions, with the ``ActionValues`` shape at every step.

    Step k fits Q_k(x, a) to the step's net value plus ``gamma`` times Q_{k-1} at the next cutoff's
    state: its best action (``optimal``) or doing nothing. Q_1 is the value of one step; Q_steps
    looks ``steps`` steps ahead. Rows without a next state (the last cutoff) are left out after the
    first step.

    Parameters
    ----------
    X, action, step_value
        The logged rows: features, action index and the step's value before the action's cost.
    next_X, has_next
        The same customer's features at the next cutoff, where ``has_next``.
    """
    if steps < 1:
        raise TrainingError(f"steps must be at least 1, got {steps}")
    q = ActionValues(len(costs), costs, seed).fit(X, action, step_value)
    if progress:
        progress(1, steps)
    rows = np.flatnonzero(has_next)
    for k in range(2, steps + 1):
        ahead = q.predict(next_X[rows])
        future = ahead.max(axis=1) if optimal else ahead[:, 0]
        q = ActionValues(len(costs), costs, seed).fit(X[rows], action[rows], step_value[rows] + gamma * future)
        if progress:
            progress(k, steps)
    return q
