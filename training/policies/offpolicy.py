"""Off-policy estimates: what a policy would have earned, from the logged campaigns alone.

A user without a simulator sees only the log: who was sent what, and what they then spent. The
log's own policy is not known either, so its propensities are estimated (``fit_propensity``). The
inverse-propensity estimate (IPS) reweights the rows where the log happened to do what the policy
would do; the doubly robust one (DR) starts from an outcome model's prediction for the policy's
action and corrects it by the reweighted residuals of those rows, which keeps it unbiased when
either the propensities or the outcome model are right and makes it far less noisy than IPS.

Both are given as the incremental value of a policy over treating nobody, per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

# Propensities below this are raised to it: one row with a near-zero estimate would otherwise
# carry a weight of thousands. The log's smallest true propensity in the sample shop is 0.02.
MIN_PROPENSITY = 0.01


def fit_propensity(X: np.ndarray, action: np.ndarray, seed: int, max_iter: int = 200) -> HistGradientBoostingClassifier:
    """A multinomial classifier of the logged action given the features (the log's policy, estimated)."""
    model = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, early_stopping=True, validation_fraction=0.15, random_state=seed
    )
    return model.fit(X, action)


def propensities(model: HistGradientBoostingClassifier, X: np.ndarray, n_actions: int) -> np.ndarray:
    """P(action | features) for every action (columns in action order), at least ``MIN_PROPENSITY``."""
    out = np.full((X.shape[0], n_actions), MIN_PROPENSITY)
    out[:, model.classes_.astype(int)] = model.predict_proba(X)
    return np.maximum(out, MIN_PROPENSITY)


@dataclass(frozen=True)
class Estimate:
    """An off-policy estimate of incremental value per customer, with its standard error."""

    value: float
    std_error: float


def _mean(terms: np.ndarray) -> Estimate:
    return Estimate(float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(max(terms.size - 1, 1))))


def ips(choice: np.ndarray, action: np.ndarray, reward: np.ndarray, e: np.ndarray) -> Estimate:
    """Inverse-propensity estimate of ``choice``'s incremental value over doing nothing (action 0)."""
    rows = np.arange(action.size)
    followed = (action == choice) / e[rows, choice]
    untreated = (action == 0) / e[:, 0]
    return _mean((followed - untreated) * reward)


def doubly_robust(
    choice: np.ndarray, action: np.ndarray, reward: np.ndarray, e: np.ndarray, mu: np.ndarray
) -> Estimate:
    """Doubly robust estimate of ``choice``'s incremental value over doing nothing.

    Parameters
    ----------
    choice, action
        The policy's action and the logged one per row (indices, 0 = nothing).
    reward
        The logged outcome net of the logged action's cost.
    e
        Estimated propensities of every action (rows x actions).
    mu
        An outcome model's expected reward of every action (rows x actions), fitted on other rows.
    """
    rows = np.arange(action.size)
    logged = mu[rows, action]
    policy = mu[rows, choice] + (action == choice) / e[rows, choice] * (reward - logged)
    nothing = mu[:, 0] + (action == 0) / e[:, 0] * (reward - logged)
    return _mean(policy - nothing)
