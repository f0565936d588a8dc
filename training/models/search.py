"""Budgeted hyperparameter search on the time split.

Random configurations are drawn (seeded) from a grid; each is fitted on a sample of the training
cutoffs' rows and scored on the validation cutoff with the task's primary metric. The winner is
refitted on all training rows. The test cutoff plays no part.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from duckdb_clv.training.dataset import Dataset, sample_rows
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.evaluation.metrics import churn_metrics, value_metrics
from duckdb_clv.training.failures import one_line
from duckdb_clv.training.models.candidates import Candidate, FitContext, target

PRIMARY = {"value": "normalized_gini", "churn": "roc_auc"}

SPACES: dict[str, dict[str, list[object]]] = {
    "hgb": {
        "learning_rate": [0.05, 0.1],
        "max_leaf_nodes": [15, 31, 63],
        "min_samples_leaf": [20, 100, 400],
        "l2_regularization": [0.0, 1.0],
        "btyd_features": [False, True],
    },
    "rf": {
        "max_depth": [8, 12, 16],
        "min_samples_leaf": [20, 50, 200],
        "max_features": [0.2, 0.4],
    },
}


def primary_score(task: str, actual: np.ndarray, predicted: np.ndarray) -> float:
    """The metric champions and hyperparameters are chosen by (higher is better)."""
    if task == "value":
        return value_metrics(actual, predicted)[PRIMARY["value"]]
    return churn_metrics(actual, predicted, 0.5)[PRIMARY["churn"]]


def configurations(space: dict[str, list[object]], trials: int, seed: int) -> list[dict[str, object]]:
    """``trials`` distinct configurations drawn without replacement from the grid (all of it if smaller)."""
    keys = sorted(space)
    grid = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))]
    if trials >= len(grid):
        return grid
    picks = np.random.default_rng(seed).choice(len(grid), size=trials, replace=False)
    return [grid[i] for i in sorted(picks)]


@dataclass
class Trial:
    params: dict[str, object]
    score: float


def search(
    make: Callable[[dict[str, object], bool], Candidate],
    space: dict[str, list[object]],
    train: Dataset,
    validation: Dataset,
    ctx: FitContext,
    trials: int,
    sample: int,
) -> tuple[dict[str, object], list[Trial]]:
    """The best configuration on validation and every trial's score.

    ``make(params, btyd_features)`` builds an unfitted candidate; ``btyd_features`` in the space is
    passed to it rather than to the estimator.
    """
    rows = sample_rows(len(train), sample, ctx.seed)
    subset = train.take(rows)
    if ctx.btyd is None and "btyd_features" in space:
        # The BG/NBD baseline could not be fitted on this shop: search without its outputs.
        space = {**space, "btyd_features": [False]}
    results = []
    errors: list[str] = []
    for params in configurations(space, trials, ctx.seed):
        settings = {k: v for k, v in params.items() if k != "btyd_features"}
        candidate = make(settings, bool(params.get("btyd_features", False)))
        try:
            score = _trial_score(candidate, subset, validation, ctx)
        except MemoryError:
            raise
        except Exception as err:
            errors.append(one_line(err))
            ctx.log(f"warning: {candidate.name} trial {params} failed and is skipped: {errors[-1]}")
            continue
        results.append(Trial(params, score))
        ctx.log(f"{candidate.name} trial {params}: validation {PRIMARY[candidate.task]} {score:.4f}")
    if not results:
        raise TrainingError(f"every search trial failed, the first with: {errors[0]}")
    best = max(results, key=lambda t: t.score)
    return best.params, results


def _trial_score(candidate: Candidate, subset: Dataset, validation: Dataset, ctx: FitContext) -> float:
    candidate.fit(subset, validation, ctx)
    score = primary_score(candidate.task, target(validation, candidate.task), candidate.validation_predictions())
    if not np.isfinite(score):
        raise TrainingError(f"validation {PRIMARY[candidate.task]} is {score}")
    return score
