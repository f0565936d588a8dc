"""Which parts the fused value model takes: the best learnt models, and BG/NBD only when it helps on validation."""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv.training.dataset import Dataset
from duckdb_clv.training.pipeline import _fuse
from duckdb_clv.training.settings import TrainSettings

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


class _Fitted:
    """A fitted value model as the fusion sees it: its calibrated validation predictions."""

    task = "value"
    holds_level = True
    reads_history = False

    def __init__(self, name: str, predictions: np.ndarray):
        self.name, self.family, self.predictions = name, name.split("_", 1)[1], predictions

    def validation_predictions(self) -> np.ndarray:
        return self.predictions

    def describe(self) -> dict:
        return {"family": self.family}


def _validation(value: np.ndarray) -> Dataset:
    n = len(value)
    return Dataset(
        X=np.zeros((n, 1), np.float32),
        value=value,
        orders=np.zeros(n),
        churned=np.zeros(n, np.int8),
        cutoff=np.full(n, np.datetime64("2024-01-01")),
        customer_id=np.array([str(i) for i in range(n)], dtype=object),
    )


def test_the_baseline_is_left_out_when_it_lowers_the_validation_gini():
    rng = np.random.default_rng(0)
    value = rng.gamma(0.3, 300.0, 5_000)
    learnt = [_Fitted(name, value * rng.lognormal(0, 0.3, value.size)) for name in ("value_lstm", "value_cnn")]
    baseline = _Fitted("value_btyd", rng.permutation(value))  # knows the level, not who spends it
    fused = _fuse([*learnt, baseline], _validation(value), _validation(value), TrainSettings())
    assert fused.params["parts"] == ["value_lstm", "value_cnn"]


def test_the_baseline_joins_when_it_raises_the_validation_gini():
    rng = np.random.default_rng(1)
    value = rng.gamma(0.3, 300.0, 5_000)
    # The learnt models share one error the baseline does not make.
    shared = rng.lognormal(0, 0.8, value.size)
    learnt = [_Fitted(name, value * shared * rng.lognormal(0, 0.1, value.size)) for name in ("value_lstm", "value_cnn")]
    baseline = _Fitted("value_btyd", value * rng.lognormal(0, 0.4, value.size))
    fused = _fuse([*learnt, baseline], _validation(value), _validation(value), TrainSettings())
    assert set(fused.params["parts"]) == {"value_btyd", "value_lstm", "value_cnn"}


def test_one_learnt_model_is_fused_with_the_baseline():
    rng = np.random.default_rng(2)
    value = rng.gamma(0.3, 300.0, 2_000)
    learnt = _Fitted("value_hgb_tweedie", value * rng.lognormal(0, 0.3, value.size))
    baseline = _Fitted("value_btyd", rng.permutation(value))
    fused = _fuse([learnt, baseline], _validation(value), _validation(value), TrainSettings())
    assert fused.params["parts"] == ["value_hgb_tweedie", "value_btyd"]
