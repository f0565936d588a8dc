"""Segments: PCA before k-means, one exported graph, and names a marketer can read."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from duckdb_clv.training.models import segment_names
from duckdb_clv.training.models.segments import COMPONENTS_OUTPUT, SEGMENT_FEATURES, VARIANCE_SHARE, Segmenter
from duckdb_clv.udfs.contract import FEATURES

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def _customers(rows: int = 3000, seed: int = 0) -> np.ndarray:
    """Three planted groups: recent big spenders, lapsed small buyers, new browsers."""
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.0, size=(rows, len(FEATURES))).astype(np.float32)
    group = rng.integers(0, 3, size=rows)
    column = {f: FEATURES.index(f) for f in SEGMENT_FEATURES}
    plan = {  # feature: level per group
        "days_since_last_order": (10, 700, 60),
        "order_count": (20, 3, 2),
        "orders_365d": (8, 0.2, 2),
        "total_value_net": (2000, 150, 80),
        "mean_value_net": (100, 50, 40),
        "value_365d": (800, 5, 80),
        "tenure_days": (900, 1000, 60),
        "sessions_90d": (5, 0.1, 12),
        "product_views_90d": (20, 0.2, 60),
        "add_to_carts_90d": (3, 0.05, 8),
    }
    for feature, levels in plan.items():
        X[:, column[feature]] = np.asarray(levels, np.float32)[group] * rng.lognormal(0, 0.2, rows)
    return X


def _profile(**traits: float) -> dict[str, float]:
    """A standardized mean profile whose traits take the given values (0 otherwise)."""
    out = dict.fromkeys(SEGMENT_FEATURES, 0.0)
    for trait, value in traits.items():
        features, sign = segment_names.TRAITS[trait]
        for f in features:
            out[f] = sign * value
    return out


@pytest.mark.parametrize(
    ("traits", "name"),
    [
        ({"recency": -1, "spend": 1}, "lapsing big spenders"),
        ({"recency": -1}, "lapsed occasional buyers"),
        ({"frequency": 1, "spend": 1, "tenure": -1}, "loyal high spenders"),
        ({"frequency": 1}, "loyal frequent buyers"),
        ({"tenure": -1, "browsing": 1}, "new and browsing"),
        ({"tenure": -1}, "new customers"),
        ({"spend": 1}, "occasional big spenders"),
        ({"browsing": 1}, "active browsers"),
        ({"frequency": -1, "spend": -1}, "one-off small buyers"),
        ({"frequency": 0.4, "spend": -0.4}, "steady regulars"),
    ],
)
def test_each_rule_names_the_segment_it_describes(traits, name):
    assert segment_names.segment_names([_profile(**traits)]) == [name]


def test_segments_sharing_a_name_are_told_apart_by_spend():
    two = [_profile(recency=-1, spend=-0.2), _profile(recency=-1, spend=0.1)]
    assert segment_names.segment_names(two) == [
        "lapsed occasional buyers (lower spend)",
        "lapsed occasional buyers (higher spend)",
    ]
    three = [_profile(spend=s) for s in (0.0, 0.3, -0.3)]
    assert segment_names.segment_names(three) == [
        "steady regulars (spend rank 2)",
        "steady regulars (spend rank 1)",
        "steady regulars (spend rank 3)",
    ]


def test_planted_groups_are_found_and_named_for_what_they_are():
    X = _customers()
    segmenter = Segmenter(seed=0).fit(X)
    found = sorted((p["name"], p["customers"]) for p in segmenter.profiles_)
    assert [name for name, _ in found] == ["lapsed occasional buyers", "loyal high spenders", "new and browsing"]
    assert all(900 < customers < 1100 for _, customers in found)  # about a third each
    # The kept components are the fewest that reach the stated share of the variance.
    described = segmenter.describe()["pca"]
    cumulative = np.cumsum(described["explained_variance_ratio"])
    kept = described["components"]
    assert cumulative[kept - 1] >= VARIANCE_SHARE > (cumulative[kept - 2] if kept > 1 else 0)
    assert cumulative[-1] == pytest.approx(1.0)


def test_the_exported_graph_segments_and_projects_like_the_fitted_model():
    X = _customers(seed=1)
    segmenter = Segmenter(seed=0).fit(X)
    session = ort.InferenceSession(segmenter.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    segment, components = session.run(["segment", COMPONENTS_OUTPUT], {"features": X})
    assert np.mean(segment.ravel() == segmenter.predict(X)) >= 0.999
    assert components.shape == (len(X), segmenter.describe()["pca"]["components"])
    np.testing.assert_allclose(components, segmenter._components(X), atol=1e-4)


def test_the_same_data_and_seed_give_the_same_segments_and_names():
    X = _customers(seed=2)
    a, b = Segmenter(seed=3).fit(X), Segmenter(seed=3).fit(X)
    assert a.describe() == b.describe()
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
