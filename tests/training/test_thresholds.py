"""Tree splits keep their side in ONNX: float64 thresholds written as float32 move no row.

The fault: skl2onnx rounds a HistGradientBoosting threshold to the nearest float32. When the two
training values a threshold sits between are neighbouring float32 numbers, the midpoint is a tie
and can round up onto the upper value, which then goes left in ONNX and right in scikit-learn.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType

from duckdb_clv.training.dataset import connect, read_rows
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.export.onnx_tools import TARGET_OPSET
from duckdb_clv.training.export.thresholds import floor32, make_exact, sklearn_thresholds
from duckdb_clv.training.models.calibration import Platt, ValueScale
from duckdb_clv.training.models.candidates import FitContext
from duckdb_clv.training.models.trees import HGB, Forest


@pytest.mark.fast
def test_floor32_is_the_largest_float32_not_above():
    rng = np.random.default_rng(0)
    t = np.concatenate([rng.normal(0, 1e6, 5_000), rng.random(5_000), [0.0, -0.0, 1.5, 1e39, -1e39]])
    f = floor32(t)
    assert f.dtype == np.float32
    assert np.all(f.astype(np.float64) <= t)
    finite = np.isfinite(t) & (np.abs(t) < 3e38)
    above = np.nextafter(f[finite], np.float32(np.inf))
    assert np.all(above.astype(np.float64) > t[finite])
    assert floor32(np.inf) == np.inf and floor32(-np.inf) == -np.inf


def _neighbours(n: int) -> np.ndarray:
    """``n`` consecutive float32 numbers above 1: every pair is a rounding tie for its midpoint."""
    out = [np.float32(1.0)]
    for _ in range(n - 1):
        out.append(np.nextafter(out[-1], np.float32(2.0)))
    return np.array(out, dtype=np.float32)


@pytest.fixture(scope="module")
def crowded():
    """A feature whose values are neighbouring float32 numbers, alternating between two targets."""
    rng = np.random.default_rng(1)
    values = np.repeat(_neighbours(200), 20)
    X = np.column_stack([values, rng.random((values.size, 3))]).astype(np.float32)
    y = (np.arange(values.size) // 20 % 2) * 100.0 + 1.0 + rng.random(values.size)
    return X, y


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.fast
@pytest.mark.parametrize(
    "candidate",
    [
        HGB("value", {"loss": "poisson", "max_iter": 30}),
        HGB("value", {"loss": "squared_error", "max_iter": 30}),
        HGB("churn", {"max_iter": 30}),
        Forest("value", {"n_estimators": 5, "min_samples_leaf": 5}),
    ],
    ids=lambda c: c.name,
)
def test_exported_trees_agree_on_crowded_values_where_plain_rounding_does_not(crowded, candidate):
    X, y = crowded
    candidate._fit(X, y if candidate.task == "value" else (y > 50).astype(float), FitContext(), (X, y))
    candidate.calibration_ = ValueScale(1.0) if candidate.task == "value" else Platt(1.0, 0.0)
    expected = candidate._predict(X)
    actual = _session(candidate._graph(X.shape[1])).run(["raw"], {"features": X})[0].ravel()
    assert np.max(np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))) < 1e-5
    if isinstance(candidate, HGB) and candidate.task == "value":
        # The fault is real: skl2onnx's own rounding sends rows the other way.
        plain = to_onnx(
            candidate.model_,
            initial_types=[("features", FloatTensorType([None, X.shape[1]]))],
            target_opset=TARGET_OPSET,
        )
        raw = _session(plain).run(None, {"features": X})[0].ravel()
        assert np.max(np.abs(raw - candidate.model_._raw_predict(X).ravel())) > 0.1


def _reaching(nodes: np.ndarray, X: np.ndarray, target: int) -> int | None:
    """The first row of ``X`` whose path through one HistGradientBoosting tree passes ``target``."""
    at = np.zeros(len(X), dtype=np.int64)
    while True:
        hit = np.flatnonzero(at == target)
        if hit.size:
            return int(hit[0])
        live = nodes["is_leaf"][at] == 0
        if not live.any():
            return None
        f, t = nodes["feature_idx"][at], nodes["num_threshold"][at]
        value = X[np.arange(len(X)), f].astype(np.float64)
        left = np.where(np.isnan(value), nodes["missing_go_to_left"][at] == 1, value <= t)
        at = np.where(live, np.where(left, nodes["left"][at], nodes["right"][at]), at)


def test_split_boundaries_of_a_model_fitted_on_a_generated_shop(built):
    """Rows placed exactly on a split's float32 boundary take scikit-learn's side in ONNX."""
    with connect(built.db) as con:
        rows = read_rows(con)
    X, y = rows.X[:20_000], rows.value[:20_000]
    model = HGB("value", {"loss": "poisson", "max_iter": 40})
    model._fit(X, y, FitContext(), (X, y))
    model.calibration_ = ValueScale(1.0)
    # For each split whose nearest float32 lies above its float64 threshold: a real row that
    # reaches it, with the split's feature set to that nearest float32. scikit-learn sends it
    # right; a threshold rounded to nearest sends it left.
    probes = []
    for (tree, node), (feature, threshold) in sklearn_thresholds(model.model_).items():
        nearest = np.float32(threshold)
        if np.isfinite(nearest) and float(nearest) > threshold:
            row = _reaching(model.model_._predictors[tree][0].nodes, X, node)
            if row is not None:
                probes.append(X[row].copy())
                probes[-1][feature] = nearest
    assert len(probes) >= 2, "the shop should give splits whose float32 rounding moves a boundary row"
    probes = np.array(probes, dtype=np.float32)
    served = _session(model._graph(X.shape[1])).run(["raw"], {"features": probes})[0].ravel()
    expected = model._predict(probes)
    assert np.max(np.abs(served - expected) / np.maximum(1.0, expected)) < 1e-5
    plain = to_onnx(
        model.model_, initial_types=[("features", FloatTensorType([None, X.shape[1]]))], target_opset=TARGET_OPSET
    )
    rounded = np.exp(_session(plain).run(None, {"features": probes})[0].ravel())
    assert np.sum(np.abs(rounded - expected) / np.maximum(1.0, expected) > 1e-3) >= 1


@pytest.mark.fast
def test_a_numbering_that_does_not_line_up_is_refused(crowded):
    X, y = crowded
    model = HGB("value", {"loss": "poisson", "max_iter": 5})
    model._fit(X, y, FitContext(), (X, y))
    converted = to_onnx(
        model.model_, initial_types=[("features", FloatTensorType([None, X.shape[1]]))], target_opset=TARGET_OPSET
    )
    splits = sklearn_thresholds(model.model_)
    shifted = {(tree + 1, node): split for (tree, node), split in splits.items()}
    with pytest.raises(TrainingError, match="no twin in the fitted trees"):
        make_exact(converted, shifted)
