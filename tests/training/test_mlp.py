"""The MLP does not extrapolate: inputs held to their training range, value capped."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.export.onnx_tools import run
from duckdb_clv.training.models.candidates import FitContext
from duckdb_clv.training.models.mlp import MLP, OUTPUT_CAP
from duckdb_clv.udfs.contract import FEATURES

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def rows(t_weeks: np.ndarray, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    X = np.zeros((t_weeks.size, len(FEATURES)), dtype=np.float32)
    X[:, FEATURES.index("t_weeks")] = t_weeks
    X[:, FEATURES.index("frequency")] = rng.poisson(t_weeks / 4)
    # Value grows steeply with age: a network left to extrapolate would follow it.
    value = rng.gamma(2.0, np.exp(t_weeks / 8) / 2)
    n = t_weeks.size
    return Dataset(X, value, value / 50, np.zeros(n, np.int8), np.full(n, "2024-01-31", "datetime64[D]"), np.arange(n))


def test_scoring_far_beyond_the_training_range_predicts_the_edge_not_an_extrapolation():
    rng = np.random.default_rng(0)
    train, validation = rows(rng.uniform(0, 20, 4_000), 1), rows(rng.uniform(0, 20, 1_000), 2)
    params = {"hidden": [16], "max_epochs": 30, "patience": 30, "learning_rate": 1e-2}
    model = MLP("value", params).fit(train, validation, FitContext(seed=0))
    older = rows(np.array([20.0, 60.0, 500.0]), 3)
    older.X[:, FEATURES.index("frequency")] = train.X[:, FEATURES.index("frequency")].max()
    predicted = model.predict_raw(older.X)
    # Customers older than any training row score as the oldest did, in torch and in ONNX.
    np.testing.assert_allclose(predicted, predicted[0], rtol=1e-5)
    np.testing.assert_allclose(run(model.to_onnx(), older.X, "value").ravel(), model.predict(older.X), rtol=1e-4)
    assert predicted.max() <= OUTPUT_CAP * train.value.max()
    assert model.describe()["output_cap"] == pytest.approx(OUTPUT_CAP * train.value.max(), rel=1e-9)
