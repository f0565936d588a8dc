"""TreeSHAP from the exported ONNX file equals the shap package on the fitted scikit-learn model.

Every tree family we export goes through its real candidate class and export (thresholds made
exact, node covers written), then ``udfs.explain.TreeExplainer`` reads the model from its bytes,
as the SQL functions do, and its Shapley values are compared with ``shap.TreeExplainer``.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from duckdb_clv.training.models.btyd_dates import RefittedBTYD
from duckdb_clv.training.models.btyd_graph import BTYD_OUTPUTS
from duckdb_clv.training.models.candidates import FitContext
from duckdb_clv.training.models.trees import HGB, Forest
from duckdb_clv.udfs import explain, treeshap
from duckdb_clv.udfs.contract import FEATURES
from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.models import LoadedModel
from tests.training.test_anchoring import _customers, _dataset

shap = pytest.importorskip("shap")

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def data():
    """Customers at one cutoff with BG/NBD summaries and missing values in a few features."""
    rng = np.random.default_rng(5)
    rows = _customers(5_000, 0.1, 9)
    for name in ("sessions_30d", "sessions_90d", "days_since_last_session"):
        column = rng.gamma(2.0, 5.0, len(rows)).astype(np.float32)
        column[rng.random(len(rows)) < 0.15] = np.nan  # missing values take each split's default branch
        rows[:, FEATURES.index(name)] = column
    train, validation = _dataset([("2023-01-31", rows[:4_000])]), _dataset([("2023-01-31", rows[4_000:])])
    refitted = RefittedBTYD.fit(
        _dataset([("2023-01-31", rows)]), rows[:2_000], np.datetime64("2024-01-01").item(), 365, 90
    )
    for part in (train, validation):
        x = part.X
        signal = np.nan_to_num(x[:, FEATURES.index("sessions_30d")]) + 20 * x[:, FEATURES.index("discount_share")]
        part.value[:] = rng.gamma(2.0, 1.0 + signal)
        part.churned[:] = (rng.random(len(x)) < 1 / (1 + np.exp(-(signal - 10) / 4))).astype(np.int8)
    return train, validation, FitContext(seed=0, btyd=refitted)


CASES = {
    "hgb_poisson_with_btyd": lambda: HGB("value", {"loss": "poisson", "max_iter": 40}, btyd_features=True),
    "hgb_tweedie_anchored": lambda: HGB("value", {"loss": "tweedie", "max_iter": 40}, anchored=True),
    "hgb_squared_error": lambda: HGB("value", {"loss": "squared_error", "max_iter": 40, "max_leaf_nodes": 63}),
    "hgb_churn": lambda: HGB("churn", {"max_iter": 40}),
    "rf_value": lambda: Forest("value", {"n_estimators": 15, "max_depth": 10, "min_samples_leaf": 20}),
    "rf_churn_with_btyd": lambda: Forest("churn", {"n_estimators": 15, "max_depth": 10}, btyd_features=True),
}


def _loaded(candidate) -> LoadedModel:
    data = candidate.to_onnx().SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    card = {"model": candidate.describe()}
    return LoadedModel(candidate.name, "v1", candidate.task, card, session, data)


def _shap_reference(candidate, inputs: np.ndarray) -> np.ndarray:
    values = shap.TreeExplainer(candidate.model_).shap_values(inputs)
    return values[:, :, 1] if values.ndim == 3 else values


@pytest.mark.parametrize("case", list(CASES))
def test_tree_contributions_equal_the_shap_package_and_add_up_to_the_prediction(case, data):
    train, validation, ctx = data
    candidate = CASES[case]().fit(train, validation, ctx)
    model = _loaded(candidate)
    explainer = explain.explainer_for(model)
    assert isinstance(explainer, explain.TreeExplainer)
    X = validation.X[:400]
    if candidate.family == "rf":
        # Features are never missing in the marts. A forest fitted on missing values learns where to
        # send them, which its ONNX export does not carry (documented in docs/SCORING.md); compare
        # the two explainers where they explain the same function.
        X = X[~np.isnan(X).any(axis=1)]
    X = np.ascontiguousarray(X[:300])
    inputs, phi = explainer.tree_values(X)
    theirs = _shap_reference(candidate, inputs)
    np.testing.assert_allclose(phi, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
    out = explainer.explain(X)
    served = model.run(X).ravel().astype(np.float64)
    on_scale = served if model.task == "value" else np.log(served) - np.log1p(-served)
    np.testing.assert_allclose(out.base + out.contributions.sum(axis=1), out.prediction, rtol=1e-9)
    np.testing.assert_allclose(out.prediction, on_scale, rtol=1e-4, atol=1e-4)
    if candidate.btyd_features:
        assert out.inputs[len(FEATURES) : len(FEATURES) + 4] == explain.DERIVED_INPUTS
        # The derived inputs carry real weight: the trees split on them.
        assert np.abs(out.contributions[:, len(FEATURES) : len(FEATURES) + 4]).sum() > 0


def test_derived_inputs_are_named_in_the_graphs_order():
    # The graph appends btyd_<quantity>; the explanations say which model gives each quantity.
    assert len(explain.DERIVED_INPUTS) == len(BTYD_OUTPUTS)
    for ours, graph in zip(explain.DERIVED_INPUTS, BTYD_OUTPUTS, strict=True):
        assert ours.endswith(graph.removeprefix("btyd_"))


def test_a_tree_model_exported_without_covers_is_refused_with_the_fix(data):
    train, validation, ctx = data
    candidate = HGB("churn", {"max_iter": 5}).fit(train, validation, ctx)
    graph = candidate.to_onnx()
    for node in graph.graph.node:
        for attribute in node.attribute:
            if attribute.name == "nodes_hitrates":  # what skl2onnx writes: 1 for every node
                count = len(attribute.floats)
                del attribute.floats[:]
                attribute.floats.extend([1.0] * count)
    data_bytes = graph.SerializeToString()
    session = ort.InferenceSession(data_bytes, providers=["CPUExecutionProvider"])
    model = LoadedModel("churn_hgb", "v9", "churn", {"model": candidate.describe()}, session, data_bytes)
    with pytest.raises(UdfError, match=r"no node covers.*retrain"):
        explain.TreeExplainer(model)


def test_hand_computed_shapley_values_of_one_small_tree():
    """One split on x0 (cover 10 -> 4 left, 6 right), the right child split on x1 (6 -> 3, 3)."""
    from duckdb_clv.udfs.onnx_graph import Node

    node = Node(
        "TreeEnsembleRegressor",
        ["x"],
        ["y"],
        {
            "nodes_treeids": np.zeros(5, np.int64),
            "nodes_nodeids": np.arange(5),
            "nodes_featureids": np.array([0, 0, 1, 0, 0]),
            "nodes_values": np.array([0.5, 0, 0.5, 0, 0]),
            "nodes_modes": ["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"],
            "nodes_truenodeids": np.array([1, 0, 3, 0, 0]),
            "nodes_falsenodeids": np.array([2, 0, 4, 0, 0]),
            "nodes_hitrates": np.array([10.0, 4, 6, 3, 3]),
            "target_ids": np.zeros(3, np.int64),
            "target_nodeids": np.array([1, 3, 4]),
            "target_treeids": np.zeros(3, np.int64),
            "target_weights": np.array([1.0, 2.0, 4.0]),
        },
    )
    ensemble = treeshap.parse(node, 2)
    # E[f] = 0.4 * 1 + 0.3 * 2 + 0.3 * 4 = 2.2. For x = (1, 1) (leaf 4, value 4): with x0 known,
    # E[f | x0] = 3; with x1 known, E[f | x1] = 0.4 * 1 + 0.6 * 4 = 2.8. Shapley: phi0 = ((3 - 2.2) + (4 - 2.8)) / 2
    # = 1.0, phi1 = ((2.8 - 2.2) + (4 - 3)) / 2 = 0.8.
    assert ensemble.base == pytest.approx(2.2)
    phi = treeshap.shap_values(ensemble, np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(phi, [[1.0, 0.8]], rtol=1e-6)
    # A missing x0 takes the false branch (missing_value_tracks_true is 0): the same as x0 = 1.
    np.testing.assert_allclose(treeshap.shap_values(ensemble, np.array([[np.nan, 1.0]])), phi, rtol=1e-6)


def test_rows_split_across_threads_give_the_same_values(data):
    train, validation, ctx = data
    candidate = CASES["hgb_churn"]().fit(train, validation, ctx)
    explainer = explain.TreeExplainer(_loaded(candidate))
    inputs = explainer.session.run([explainer.tree_input], {"features": np.ascontiguousarray(validation.X)})[0]
    alone = treeshap.shap_values(explainer.ensemble, inputs, threads=1)
    together = treeshap.shap_values(explainer.ensemble, inputs, threads=3)
    assert len(inputs) >= 3 * treeshap.MIN_ROWS_PER_THREAD
    np.testing.assert_array_equal(alone, together)
