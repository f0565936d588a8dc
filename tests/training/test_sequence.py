"""The LSTM and 1-D CNN over weekly histories: fitted on the sample shop, exported, served in SQL."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from duckdb_clv import udfs
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.evaluation.holdout import score_test_cutoff
from duckdb_clv.training.evaluation.importance import permutation_importance
from duckdb_clv.training.export.onnx_tools import run as run_onnx
from duckdb_clv.training.export.parity import export_checked
from duckdb_clv.training.export.registry import register
from duckdb_clv.training.models import sequence
from duckdb_clv.training.models.btyd_dates import RefittedBTYD
from duckdb_clv.training.models.candidates import FitContext, anchor
from duckdb_clv.training.models.sequence import SequenceModel
from duckdb_clv.training.pipeline import TrainSettings
from duckdb_clv.training.settings import FAMILIES, SEQUENCE_FAMILIES
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_CHANNELS, SEQUENCE_WEEKS, spec_hash
from tests.conftest import sequence_settings

SEQUENCE_RUN = sequence_settings()

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


@pytest.fixture(scope="module")
def refitted(built):
    """BG/NBD + Gamma-Gamma at every cutoff and at the scoring date, as a training run fits them."""
    with duckdb.connect(str(built.db), read_only=True) as con:
        data = read_rows(con, "ml_training_set")
        scoring = read_rows(con, "ml_scoring_set")
    return RefittedBTYD.fit(data, scoring.X, scoring.cutoff[0].item(), 365, 90)


@pytest.mark.parametrize("arch", ["lstm", "cnn"])
def test_an_anchored_sequence_model_serves_a_multiple_of_the_scoring_date_expectation(rows, refitted, arch):
    train, validation, _, scoring = rows
    model = SequenceModel("value", arch, QUICK, anchored=True).fit(train, validation, FitContext(seed=0, btyd=refitted))
    card = model.describe()
    assert card["anchored_on_btyd"] and card["level_follows_btyd_at_scoring"] and card["btyd_features"]
    exported, figures = export_checked(model, scoring.X, history=scoring.history)
    assert figures["max_error"] <= figures["tolerance"]
    assert [i.name for i in exported.graph.input] == ["features", "history"]
    served = run_onnx(exported, scoring.X, "value", history=scoring.history).ravel()
    np.testing.assert_allclose(served, model.predict(scoring.X, scoring.history), rtol=1e-4, atol=1e-3)
    # What is served is the network's multiplier of the BG/NBD expectation fitted at the scoring date:
    # customers the baseline expects nothing of get (almost) nothing.
    expected = anchor(refitted.outputs(scoring.X))
    ratio = served / expected
    assert np.all(np.isfinite(ratio)) and np.all(ratio > 0)
    lowest = expected < np.quantile(expected, 0.1)
    assert served[lowest].mean() < 0.2 * served.mean()


def test_churn_sequence_models_cannot_be_anchored():
    with pytest.raises(ValueError, match="churn_lstm cannot be anchored"):
        SequenceModel("churn", "lstm", anchored=True)


def test_the_same_rows_and_seed_give_the_same_model(rows, fitted):
    train, validation, test, _ = rows
    again = SequenceModel("value", "cnn", QUICK).fit(train, validation, FitContext(seed=0))
    np.testing.assert_array_equal(
        again.predict(test.X, test.history), fitted[("cnn", "value")].predict(test.X, test.history)
    )


def test_chunked_prediction_and_a_sampled_early_stopping_set_change_nothing_else(rows, fitted, monkeypatch):
    train, validation, test, _ = rows
    model = fitted[("lstm", "value")]
    whole = model.predict(test.X, test.history)
    monkeypatch.setattr(sequence, "PREDICT_CHUNK", 97)
    np.testing.assert_allclose(model.predict(test.X, test.history), whole, rtol=1e-5)
    # Early stopping on a seeded sample of the validation rows; calibration still sees them all.
    limit = len(validation) // 3
    sampled = SequenceModel("churn", "cnn", {**QUICK, "early_stop_rows": limit}).fit(
        train, validation, FitContext(seed=0)
    )
    assert sampled.describe()["early_stop_rows"] == limit < len(validation)
    assert fitted[("cnn", "churn")].describe()["early_stop_rows"] == len(validation)
    probabilities = sampled.predict(test.X, test.history)
    assert roc_auc_score(test.churned, probabilities) > 0.8


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


# -- as candidates of a training run (the run is conftest's ``sequence_run``) ----------------------


def test_sequence_models_are_trained_only_when_asked_for():
    assert not set(SEQUENCE_FAMILIES) & set(TrainSettings().families)
    assert set(SEQUENCE_FAMILIES) <= set(FAMILIES)


def test_a_training_run_registers_sequence_models_with_their_history_input(sequence_run):
    root, result = sequence_run
    names = {c["name"] for c in result.cards}
    assert {"value_lstm", "value_cnn", "churn_lstm", "churn_cnn", "value_btyd", "value_fused"} <= names
    for name in ("value_lstm", "value_cnn", "churn_lstm", "churn_cnn"):
        card = registry.read_card(root, name, "v1")
        assert card["history_input"]["shape"] == ["N", SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS)]
        assert np.asarray(card["explanation"]["history_baseline"]).shape == (SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS))
        # Fitted on the sequence sample of the training rows only, stopped early on validation.
        assert card["model"]["training_rows"] == min(SEQUENCE_RUN.sequence_rows, card["training_rows"]["train"])
        assert 1 <= card["model"]["epochs"] <= SEQUENCE_RUN.max_epochs
        assert card["parity"]["max_error"] <= card["parity"]["tolerance"]
        # Value models are anchored on BG/NBD, so they compete for the value champion and fusion.
        assert card["model"]["level_follows_btyd_at_scoring"] is name.startswith("value_")
    assert "history_baseline" not in registry.read_card(root, "value_btyd", "v1")["explanation"]
    fused = registry.read_card(root, "value_fused", "v1")
    assert {"value_lstm", "value_cnn"} <= set(fused["model"]["params"]["parts"])
    assert "history_input" in fused  # its graph carries the sequence parts


def test_the_evaluation_scores_sequence_models_on_their_histories(sequence_run, built):
    root, _ = sequence_run
    scores = score_test_cutoff(built.db, root)
    assert scores.data.history is not None and len(scores.data.history) == len(scores.data)
    scored = {m.name: m for m in scores.models}
    for name in ("value_lstm", "value_fused"):
        assert np.all(np.isfinite(scored[name].predicted)) and np.all(scored[name].predicted >= 0)
    # What the registry serves reproduces the card's own test figures (churn models read no BG/NBD
    # fit, whose date differs between the card's figures and the served graph).
    for name in ("churn_lstm", "churn_cnn"):
        auc = roc_auc_score(scores.data.churned, scored[name].predicted)
        assert auc == pytest.approx(scored[name].card["metrics"]["test"]["roc_auc"], abs=1e-4)
    importances = permutation_importance(
        scored["churn_cnn"].onnx, "churn", scores.data.X, scores.data.churned, rows=300, history=scores.data.history
    )
    assert "weekly_history" in {i.feature for i in importances} and len(importances) == len(FEATURES) + 1


def test_a_fused_model_with_sequence_parts_is_explained_in_sql(sequence_run, built):
    root, _ = sequence_run
    with udfs.connect(built.db, root) as con:
        rows = con.execute(
            "SELECT predict_clv(s, model := 'value_fused'), explain_clv(s, model := 'value_fused') "
            "FROM (SELECT * FROM ml_scoring_set ORDER BY customer_id LIMIT 3) s"
        ).fetchall()
    for predicted, explained in rows:
        assert explained["prediction"] == pytest.approx(predicted, rel=1e-3, abs=1e-3)
        total = explained["base"] + sum(c["contribution"] for c in explained["contributions"]) + explained["rest"]
        assert total == pytest.approx(predicted, rel=1e-3, abs=1e-3)
