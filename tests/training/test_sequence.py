"""The LSTM and 1-D CNN over weekly histories: fitted on the sample shop, exported, served in SQL."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest

from duckdb_clv import udfs
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.export.parity import export_checked
from duckdb_clv.training.export.registry import register
from duckdb_clv.training.models.candidates import FitContext
from duckdb_clv.training.models.sequence import SequenceModel
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import spec_hash

QUICK = {"max_epochs": 3, "sequence_hidden": 8, "static_hidden": 16, "head_hidden": 16}


@pytest.fixture(scope="module")
def rows(built):
    with duckdb.connect(str(built.db), read_only=True) as con:
        data = read_rows(con, "ml_training_set", history=True)
        scoring = read_rows(con, "ml_scoring_set", history=True)
    cutoffs = sorted(set(data.cutoff))
    return data.at(tuple(cutoffs[:-2])), data.at(cutoffs[-2]), data.at(cutoffs[-1]), scoring


@pytest.fixture(scope="module")
def fitted(rows):
    train, validation, _, _ = rows
    return {
        (arch, task): SequenceModel(task, arch, QUICK).fit(train, validation, FitContext(seed=0))
        for arch in ("lstm", "cnn")
        for task in ("value", "churn")
    }


@pytest.mark.parametrize("arch", ["lstm", "cnn"])
@pytest.mark.parametrize("task", ["value", "churn"])
def test_each_sequence_model_exports_with_parity_and_learns_from_the_history(fitted, rows, arch, task):
    model = fitted[(arch, task)]
    _, _, test, _ = rows
    exported, figures = export_checked(model, test.X, history=test.history)
    assert figures["max_error"] <= figures["tolerance"]
    assert [i.name for i in exported.graph.input] == ["features", "history"]
    assert 1 <= model.epochs_ <= QUICK["max_epochs"] and model.describe()["training_rows"] > 0
    predicted = model.predict(test.X, test.history)
    assert np.all(np.isfinite(predicted)) and (task == "value" or np.all((predicted >= 0) & (predicted <= 1)))
    # The same features with an empty year score differently: the history is an input.
    emptied = model.predict(test.X, np.zeros_like(test.history))
    assert np.mean(np.abs(emptied - predicted)) > 1e-4 * max(1.0, float(np.mean(np.abs(predicted))))


def test_the_same_rows_and_seed_give_the_same_model(rows, fitted):
    train, validation, test, _ = rows
    again = SequenceModel("value", "cnn", QUICK).fit(train, validation, FitContext(seed=0))
    np.testing.assert_array_equal(
        again.predict(test.X, test.history), fitted[("cnn", "value")].predict(test.X, test.history)
    )


def test_rows_without_histories_are_refused_with_the_fix(rows):
    train, validation, _, _ = rows
    bare = train.take(np.arange(len(train)))
    bare = type(bare)(**{**bare.__dict__, "history": None})
    with pytest.raises(TrainingError, match="read_rows\\(history=True\\)"):
        SequenceModel("churn", "lstm", QUICK).fit(bare, validation, FitContext(seed=0))


def test_a_registered_lstm_scores_in_sql_as_it_predicts(fitted, rows, trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    model = fitted[("lstm", "value")]
    _, _, _, scoring = rows
    exported, figures = export_checked(model, scoring.X, history=scoring.history)
    card = register(
        models, exported, {"name": model.name, "task": "value", "model": model.describe(), "parity": figures}
    )
    assert card["spec_hash"] == spec_hash(history=True)
    registry.promote(models, "value", model.name)
    with udfs.connect(trained.built.db, models) as con:
        got = dict(con.execute("SELECT customer_id, predict_clv(s) FROM ml_scoring_set s").fetchall())
    expected = model.predict(scoring.X, scoring.history)
    served = np.array([got[c] for c in scoring.customer_id])
    np.testing.assert_allclose(served, expected, rtol=1e-3, atol=1e-3 * float(np.mean(np.abs(expected))))
