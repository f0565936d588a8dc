"""Parts of training that must bend to small or odd shops: segments and the search."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.models.candidates import FitContext
from duckdb_clv.training.models.search import search
from duckdb_clv.training.models.segments import Segmenter
from duckdb_clv.training.models.trees import HGB
from duckdb_clv.udfs.contract import FEATURES

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def _matrix(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 10.0, size=(rows, len(FEATURES))).astype(np.float32)


def test_a_small_shop_gets_fewer_segments_not_an_error():
    segmenter = Segmenter(seed=0).fit(_matrix(57))
    assert max(segmenter.silhouettes_) == 5  # ten customers a segment at least
    assert sum(p["customers"] for p in segmenter.profiles_) == 57
    with pytest.raises(TrainingError, match="29 customers are too few for 3 segments of at least 10"):
        Segmenter(seed=0).fit(_matrix(29))


def _dataset(rows: int, seed: int) -> Dataset:
    X = _matrix(rows, seed)
    value = X[:, FEATURES.index("total_value_net")].astype(np.float64) * 0.3
    return Dataset(
        customer_id=np.array([f"C{i}" for i in range(rows)]),
        cutoff=np.full(rows, np.datetime64("2024-01-31")),
        X=X,
        value=value,
        orders=np.zeros(rows),
        churned=(value < np.median(value)).astype(np.int8),
    )


def test_a_failing_search_trial_is_skipped_and_the_search_goes_on():
    train, validation = _dataset(600, 1), _dataset(200, 2)
    lines: list[str] = []

    def make(params: dict, btyd: bool) -> HGB:
        if params["max_leaf_nodes"] == 15:
            params = {**params, "learning_rate": -1.0}  # scikit-learn refuses it at fit time
        return HGB("value", {"loss": "poisson", "max_iter": 10, **params}, btyd_features=btyd)

    space = {"max_leaf_nodes": [15, 31], "learning_rate": [0.1]}
    best, trials = search(make, space, train, validation, FitContext(log=lines.append), trials=2, sample=600)
    assert best["max_leaf_nodes"] == 31 and len(trials) == 1
    assert any(line.startswith("warning: value_hgb_poisson trial") and "skipped" in line for line in lines)
    with pytest.raises(TrainingError, match="every search trial failed, the first with"):
        search(make, {"max_leaf_nodes": [15], "learning_rate": [0.1]}, train, validation, FitContext(), 1, 600)
