"""Models that read the weekly history: bound by name from the feature row, like the features.

A hand-made sequence model (a linear map of the features plus one of the 52 x 6 history) is
registered through the real export path, so its card and ONNX metadata carry the history's spec
hash; SQL must score it exactly as onnxruntime does on the same rows, refuse a row without a
history with an error naming the columns, and leave the feature-only models as they were.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from duckdb_clv import udfs
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.training.export.registry import register
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import (
    FEATURES,
    HISTORY_INPUT,
    SEQUENCE_CHANNELS,
    SEQUENCE_COLUMNS,
    SEQUENCE_WEEKS,
    spec_hash,
)
from duckdb_clv.udfs.errors import RegistryError

NAME = "value_history_linear"
SHAPE = (SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS))


def _sequence_model() -> onnx.ModelProto:
    """value = features @ a + sum(history * b): every week and channel moves it differently."""
    rng = np.random.default_rng(0)
    a = numpy_helper.from_array(rng.uniform(0, 0.01, (len(FEATURES), 1)).astype(np.float32), "a")
    b = numpy_helper.from_array(rng.uniform(0, 1, (1, *SHAPE)).astype(np.float32), "b")
    axes = numpy_helper.from_array(np.array([1, 2], np.int64), "axes")
    nodes = [
        helper.make_node("MatMul", ["features", "a"], ["static"]),
        helper.make_node("Mul", [HISTORY_INPUT, "b"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "axes"], ["dynamic"], keepdims=0),
        helper.make_node("Unsqueeze", ["dynamic", "one"], ["dynamic2"]),
        helper.make_node("Add", ["static", "dynamic2"], ["value"]),
    ]
    graph = helper.make_graph(
        nodes,
        "history_linear",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)]),
            helper.make_tensor_value_info(HISTORY_INPUT, TensorProto.FLOAT, ["N", *SHAPE]),
        ],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1])],
        [a, b, axes, numpy_helper.from_array(np.array([1], np.int64), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def models(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("history") / "models"
    shutil.copytree(trained.models, root)
    with duckdb.connect(str(trained.built.db), read_only=True) as con:
        rows = read_rows(con, "ml_training_set", history=True)
    card = {
        "name": NAME,
        "task": "value",
        "model": {"family": "history_linear"},
        "explanation": {
            "baseline": {f: float(np.nanmedian(rows.X[:, j])) for j, f in enumerate(FEATURES)},
            "history_baseline": np.median(rows.history, axis=0).ravel().tolist(),
        },
    }
    register(root, _sequence_model(), card)
    return root


@pytest.fixture(scope="module")
def con(trained, models):
    connection = udfs.connect(trained.built.db, models)
    yield connection
    connection.close()


def test_the_card_and_the_spec_hash_name_the_history(models):
    card = registry.read_card(models, NAME)
    assert card["history_input"]["shape"] == ["N", *SHAPE]
    assert card["history_input"]["channels"] == list(SEQUENCE_CHANNELS)
    assert card["spec_hash"] == spec_hash(history=True) != spec_hash()
    registry.promote(models, "value", NAME)  # verified and opened in onnxruntime first
    registry.promote(models, "value", "value_rf")


def test_sql_scores_a_sequence_model_as_onnxruntime_does(con, models, trained):
    got = con.execute(
        f"SELECT customer_id, predict_clv(s, model := '{NAME}') FROM ml_scoring_set s ORDER BY customer_id"
    ).fetchall()
    with duckdb.connect(str(trained.built.db), read_only=True) as plain:
        rows = read_rows(plain, "ml_scoring_set", history=True)
    data = (models / NAME / "v1" / "model.onnx").read_bytes()
    expected = ort.InferenceSession(data).run(["value"], {"features": rows.X, HISTORY_INPUT: rows.history})[0].ravel()
    order = np.argsort(rows.customer_id)
    assert [r[0] for r in got] == list(rows.customer_id[order])
    np.testing.assert_allclose([r[1] for r in got], expected[order], rtol=1e-6)
    # The history moves the score: the same features with an empty history score lower.
    empty = con.execute(
        f"SELECT avg(predict_clv(s, model := '{NAME}')) FROM (SELECT * REPLACE ("
        + ", ".join(
            f"list_resize([]::FLOAT[], {SEQUENCE_WEEKS}, 0)::FLOAT[{SEQUENCE_WEEKS}] AS {c}" for c in SEQUENCE_COLUMNS
        )
        + ") FROM ml_scoring_set) s"
    ).fetchall()[0][0]
    assert empty < np.mean(expected)


def test_a_row_without_the_history_is_refused_for_a_sequence_model_only(con):
    row = "struct_pack(" + ", ".join(f"{f} := s.{f}" for f in FEATURES) + ")"
    with pytest.raises(
        duckdb.Error, match=f"{NAME}/v1 reads the weekly history: pass a feature row that also has orders_weekly"
    ):
        con.execute(f"SELECT predict_clv({row}, model := '{NAME}') FROM ml_scoring_set s LIMIT 3").fetchall()
    # The feature-only models never read it.
    scored = con.execute(f"SELECT count(predict_clv({row}, model := 'value_rf')) FROM ml_scoring_set s").fetchall()
    assert scored[0][0] > 0
    # A NULL feature row is NULL for a sequence model too, not an error.
    assert con.execute(
        f"SELECT predict_clv(CASE WHEN false THEN s END, model := '{NAME}') FROM ml_scoring_set s LIMIT 2"
    ).fetchall() == [(None,), (None,)]


def test_a_sequence_model_is_explained_with_the_history_as_one_input(con):
    got = con.execute(
        "SELECT e.base + list_sum([c.contribution FOR c IN e.contributions]) + e.rest - e.prediction, "
        f"e.prediction - predict_clv(s, model := '{NAME}'), "
        "[c.contribution FOR c IN e.contributions IF c.feature = 'weekly_history'] "
        f"FROM (SELECT s, explain_clv(s, model := '{NAME}', top_k := 200) AS e FROM ml_scoring_set s LIMIT 200)"
    ).fetchall()
    assert max(abs(r[0]) for r in got) < 1e-6
    assert max(abs(r[1]) for r in got) < 1e-3
    assert all(len(r[2]) == 1 for r in got) and any(abs(r[2][0]) > 0 for r in got)


def test_a_sequence_models_card_with_the_feature_only_hash_is_refused(models):
    folder = models / NAME / "v1"
    card = json.loads((folder / "card.json").read_text())
    # The card a feature-only model would have: its hash no longer matches the file's inputs' spec.
    (folder / "card.json").write_text(json.dumps({k: v for k, v in card.items() if k != "history_input"}))
    try:
        with pytest.raises(RegistryError, match="different feature spec"):
            registry.verified_model(models, NAME, "v1")
    finally:
        (folder / "card.json").write_text(json.dumps(card))
