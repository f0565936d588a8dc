"""The policy table of ``clv evaluate``: the registered policies' recipe judged on the log, and by the simulator.

The registered policies were fitted on every logged decision, so no row is left to judge them
on. Their recipe is judged instead, cross-fitted (``evaluate.policy_values``): the same learners
with the card's settings and seed, fitted on one half of the customers and choosing for the
other. Each choice is valued, as a user without a simulator sees it, by inverse propensity (IPS)
and doubly robust (DR) estimates from the log alone; for a generated sample shop with campaigns
also by the oracle's true counterfactuals, with the oracle policy as the ceiling.

Baselines: nobody treated (the zero every value is measured from), everybody given each action,
a random action to the budget's share, and the score rules users apply today: the log's coupon
(else its first action) to the top decile of the CLV champion's prediction, and to the highest
churn risk of the churn champion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from duckdb_clv.training.dataset import connect
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.policies.decisions import Decisions, read_decisions
from duckdb_clv.training.policies.evaluate import PolicySettings, policy_table, policy_values
from duckdb_clv.training.policies.train import SEQUENTIAL, sample_filter
from duckdb_clv.training.settings import TrainSettings
from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.contract import FEATURES

# A simulator's counterfactuals: for a decision date and a horizon in days, a table of
# customer_id and value_<action> (each action's true expected net value), as the sample shop's
# oracle gives them (``ingest.generator.oracle.action_values``; training never imports ingest,
# so the caller passes it in).
ActionOracle = Callable[[str, int], pa.Table]


def oracle_truth(data: Decisions, values_at: ActionOracle, horizon_days: int) -> np.ndarray:
    """Each row's true expected net value of every action, from the oracle at its decision date (NaN: not covered)."""
    truth = np.full((len(data), len(data.actions)), np.nan)
    for month in np.unique(data.cutoff):
        table = values_at(str(month), horizon_days)
        where = {c: i for i, c in enumerate(table["customer_id"].to_pylist())}
        columns = np.column_stack([table[f"value_{a}"].to_numpy() for a in data.actions])
        rows = np.flatnonzero(data.cutoff == month)
        found = np.array([where.get(c, -1) for c in data.customer_id[rows]])
        truth[rows[found >= 0]] = columns[found[found >= 0]]
    return truth


def champion_scores(models: Path, X: np.ndarray) -> dict[str, np.ndarray]:
    """The value and churn champions' predictions on the contract's columns of ``X``."""
    out = {}
    for task in ("value", "churn"):
        pointer = registry.champion(models, task)
        if pointer is None:
            raise TrainingError(f"no {task} champion in {models}: run `clv train` first")
        model = functions.cache_for(models).get(pointer["name"], pointer["version"], task)
        out[task] = model.run(np.ascontiguousarray(X[:, : len(FEATURES)], dtype=np.float32)).ravel()
    return out


def score_baselines(data: Decisions, models: Path) -> dict[str, tuple]:
    """The score rules: the coupon (else the first action) to the top CLV decile, and to high churn risk."""
    coupons = [i for i, a in enumerate(data.actions) if a.startswith("coupon")]
    action = coupons[0] if coupons else 1
    name = data.actions[action]
    scores = champion_scores(models, data.X)
    return {
        f"{name} to the top decile of predicted CLV": (action, scores["value"], 0.1),
        f"{name} to the highest churn risk": (action, scores["churn"]),
    }


def policy_report(
    db: str | Path,
    models_dir: str | Path,
    values_at: ActionOracle | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """The policy table of the action champion's recipe, cross-fitted on the log (and against the oracle).

    Parameters
    ----------
    db : path
        The built database the policies were trained from.
    models_dir : path
        The registry root; its action, value and churn champions are read.
    values_at : callable, optional
        A simulator's counterfactuals (``ActionOracle``): adds the true values and the oracle policy.
    progress : callable, optional
        Receives a line per step.

    Raises
    ------
    TrainingError
        When there is no action champion, or the log's actions differ from the policy's.
    """
    models_dir = Path(models_dir)
    pointer = registry.champion(models_dir, "action")
    if pointer is None:
        raise TrainingError(f"no action champion in {models_dir}: train on a database with campaign history")
    card = registry.read_card(models_dir, pointer["name"], pointer["version"])
    seed = int(card.get("seed", 0))
    started = time.perf_counter()
    with connect(db) as con:
        where = sample_filter(con, TrainSettings().policy_rows, seed)
        data = read_decisions(con, where)
    if list(data.actions) != card["actions"]:
        raise TrainingError(
            f"the log's actions {list(data.actions)} differ from those {pointer['name']} was trained on "
            f"{card['actions']}: retrain with `clv train`"
        )
    steps = PolicySettings().steps
    if SEQUENTIAL in registry.model_names(models_dir):
        steps = registry.read_card(models_dir, SEQUENTIAL)["model"]["params"].get("steps", steps)
    settings = PolicySettings(steps=int(steps), seed=seed)
    values = policy_values(data, settings, progress)
    fitted = time.perf_counter() - started
    truth = None
    if values_at is not None:
        if progress:
            progress("oracle counterfactuals for every decision month")
        truth = oracle_truth(data, values_at, int(card["action_horizon_days"]))
    rows = policy_table(data, values, truth, score_baselines(data, models_dir))
    return {
        "champion": f"{pointer['name']}/{pointer['version']}",
        "decisions": len(data),
        "months": int(np.unique(data.cutoff).size),
        "sampled": bool(where),
        "action_horizon_days": int(card["action_horizon_days"]),
        "judged": "cross-fitted: the policies' recipe fitted on half of the customers, choosing for the other half",
        "truth": "oracle" if truth is not None else None,
        "seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fitted, 1),
        "table": [asdict(r) for r in rows],
    }
