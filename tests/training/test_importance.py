"""Permutation importance of served models: measured on the ONNX graph users get."""

from __future__ import annotations

import pytest

from duckdb_clv.training.dataset import connect, read_rows
from duckdb_clv.training.evaluation.importance import permutation_importance
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES


@pytest.fixture(scope="module")
def test_rows(trained):
    pointer = registry.champion(trained.models, "value")
    card = registry.read_card(trained.models, pointer["name"], pointer["version"])
    with connect(trained.built.db) as con:
        return read_rows(con, where=f"cutoff_date = DATE '{card['cutoffs']['test']}'", history=True)


def _champion(trained, task):
    """The champion's ONNX bytes and whether it reads the weekly history."""
    pointer = registry.champion(trained.models, task)
    model, card = registry.verified_model(trained.models, pointer["name"], pointer["version"])
    return model, "history_input" in card


@pytest.mark.parametrize("task", ["value", "churn"])
def test_shuffling_a_constant_feature_changes_nothing_and_the_top_feature_matters(trained, test_rows, task):
    model, reads_history = _champion(trained, task)
    truth = test_rows.value if task == "value" else test_rows.churned
    X = test_rows.X.copy()
    # A feature with one value for everybody: shuffling it cannot change a single prediction.
    X[:, FEATURES.index("sessions_7d")] = X[0, FEATURES.index("sessions_7d")]
    history = test_rows.history if reads_history else None
    result = permutation_importance(model, task, X, truth, rows=1500, repeats=2, seed=3, history=history)
    # A sequence model's history is shuffled as one more input.
    inputs = [*FEATURES, *(["weekly_history"] if reads_history else [])]
    assert sorted(imp.feature for imp in result) == sorted(inputs)
    by_name = {imp.feature: imp for imp in result}
    assert by_name["sessions_7d"].drop == 0.0 and by_name["sessions_7d"].std == 0.0
    assert result[0].drop > 0.01
    assert [i.drop for i in result] == sorted((i.drop for i in result), reverse=True)


def test_the_same_seed_gives_the_same_importances(trained, test_rows):
    model, reads_history = _champion(trained, "churn")
    history = test_rows.history if reads_history else None
    runs = [
        permutation_importance(
            model, "churn", test_rows.X, test_rows.churned, rows=500, repeats=1, seed=9, history=history
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_a_segment_model_is_refused(trained, test_rows):
    with pytest.raises(ValueError, match="value or churn"):
        permutation_importance(b"", "segment", test_rows.X, test_rows.value)
