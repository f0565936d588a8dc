"""A real training run on the small built shop: time split, every model family, ONNX parity,
registry cards, champions, determinism, the evaluation, and the short-history fallback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from duckdb_clv import udfs
from duckdb_clv.cli import main
from duckdb_clv.pipeline import sample_shop_oracle
from duckdb_clv.settings import make_settings
from duckdb_clv.training.dataset import CustomerHoldout, connect, read_rows
from duckdb_clv.training.evaluation.holdout import evaluate_registry
from duckdb_clv.training.export.onnx_tools import run as run_onnx
from duckdb_clv.training.pipeline import TrainSettings, train_models
from duckdb_clv.udfs import registry

# A small budget (as the session fixture `trained` uses): the behaviour under test does not
# depend on how long the models train.
SETTINGS = TrainSettings(seed=0, trials=1, threads=2, max_iter=60, forest_trees=30, max_epochs=6)
EXPECTED = {
    "value_btyd",
    "value_hgb_poisson",
    "value_hgb_tweedie",
    "value_hgb_squared_error",
    "value_rf",
    "value_mlp",
    "value_ziln",
    "value_fused",
    "churn_btyd",
    "churn_hgb",
    "churn_rf",
    "churn_mlp",
    "segment_kmeans",
}


@pytest.fixture(scope="module")
def run(trained):
    return trained.models, trained.result


def test_every_model_family_is_registered_with_a_complete_card(run):
    root, result = run
    assert {c["name"] for c in result.cards} == EXPECTED
    for card in result.cards:
        stored = registry.read_card(root, card["name"], "v1")
        assert stored["horizon_days"] == 365 and stored["churn_window_days"] == 90
        assert stored["sha256"] == registry.sha256_file(root / card["name"] / "v1" / "model.onnx")
        assert stored["parity"]["rows"] > 0
        assert stored["libraries"]["onnxruntime"] != "not installed"
        if card["task"] != "segment":
            assert set(stored["metrics"]) == {"validation", "test"}


def test_the_split_is_by_time_and_test_is_the_latest_fully_observed_cutoff(run, built):
    _, result = run
    cutoffs = result.cards[0]["cutoffs"]
    assert max(cutoffs["train"]) < cutoffs["validation"] < cutoffs["test"]
    assert cutoffs["test"] == max(built.result.training_cutoffs)


def _test_rows(db, card):
    """The card's test rows: its test cutoff, its held-out test customers, with their histories."""
    with connect(db) as con:
        rows = read_rows(con, where=f"cutoff_date = DATE '{card['cutoffs']['test']}'", history=True)
    holdout = CustomerHoldout.from_dict(card["customers"])
    return rows.take(holdout.groups(rows.customer_id) == holdout.TEST)


def test_cards_record_the_held_out_customers_and_their_row_counts(run, built):
    _, result = run
    card = next(c for c in result.cards if c["name"] == "value_hgb_poisson")
    assert card["customers"] == {
        "method": "blake2b(seed:customer_id)",
        "seed": 0,
        "validation_share": 0.15,
        "test_share": 0.15,
    }
    test = _test_rows(built.db, card)
    assert card["training_rows"]["test"] == len(test) > 0
    with connect(built.db) as con:
        every = read_rows(con, where=f"cutoff_date = DATE '{card['cutoffs']['test']}'")
    # About the test share of the customers at the test cutoff, not all of them.
    assert 0.08 < len(test) / len(every) < 0.22


def _reads_btyd(card: dict) -> bool:
    model = card["model"]
    parts = model.get("parts") or []
    reads = model.get("family") == "btyd" or bool(model.get("btyd_features"))
    return reads or any(_reads_btyd({"model": p}) for p in parts)


def test_champions_are_the_best_on_validation(run):
    root, result = run
    for task, metric in (("value", "normalized_gini"), ("churn", "roc_auc")):
        cards = [c for c in result.cards if c["task"] == task]
        if task == "value":
            # Value champions come from the models whose level follows the scoring-date BG/NBD fit.
            cards = [c for c in cards if c["model"]["level_follows_btyd_at_scoring"]]
            assert {c["name"] for c in cards} >= {"value_btyd", "value_hgb_tweedie"}
            assert "value_hgb_poisson" not in {c["name"] for c in cards}
        best = max(cards, key=lambda c: c["metrics"]["validation"][metric])
        assert registry.champion(root, task)["name"] == best["name"]
    assert registry.champion(root, "segment")["name"] == "segment_kmeans"


def test_registered_onnx_files_reproduce_the_cards_test_figures(run, built):
    root, result = run
    test = _test_rows(built.db, result.cards[0])
    for card in result.cards:
        data, _ = registry.verified_model(root, card["name"], "v1")
        model = onnx.load_from_string(data)
        assert {i.domain for i in model.opset_import} <= {"", "ai.onnx.ml"}
        reads_history = "history_input" in card
        assert [i.name for i in model.graph.input] == ["features", "history"][: 1 + reads_history]
        predicted = run_onnx(data, test.X, card["task"], history=test.history if reads_history else None).ravel()
        if _reads_btyd(card):
            # Its graph serves the BG/NBD fit of the scoring date; the card's test figures used the
            # fit at the test cutoff, as a run on that day would have served.
            served = card["model"]["params"] if card["model"]["family"] == "btyd" else None
            assert served is None or served["fitted_on_cutoff"] == card["cutoffs"]["scoring"]
        elif card["task"] == "value":
            assert np.all(predicted >= 0)
            assert predicted.sum() / test.value.sum() == pytest.approx(card["metrics"]["test"]["total_ratio"], rel=1e-4)
        elif card["task"] == "churn":
            assert np.all((predicted >= 0) & (predicted <= 1))


def test_the_same_data_and_seed_give_the_same_models(run, built, tmp_path):
    root, first = run
    again = TrainSettings(**{**SETTINGS.__dict__, "families": ("btyd", "hgb", "rf")})
    second = train_models(built.db, tmp_path / "again", again)
    for card in second.cards:
        a = onnx.load(str(root / card["name"] / "v1" / "model.onnx"))
        b = onnx.load(str(tmp_path / "again" / card["name"] / "v1" / "model.onnx"))
        # Byte-identical graphs; only the metadata (creation time) may differ.
        assert a.graph.SerializeToString() == b.graph.SerializeToString(), card["name"]
        before = next(c for c in first.cards if c["name"] == card["name"])
        assert card["metrics"]["test"] == before["metrics"]["test"]


def test_evaluation_scores_the_registry_beside_the_oracle(run, built, tmp_path):
    root, _ = run
    oracle = sample_shop_oracle(make_settings(models_dir=str(root)), built.shop.out_dir)
    report = evaluate_registry(built.db, root, oracle=oracle, out=tmp_path / "e.json")
    names = {r["model"] for r in report["value"]}
    assert {"oracle", "value_btyd", "value_fused"} <= names
    oracle = next(r for r in report["value"] if r["model"] == "oracle")["metrics"]
    champion = next(r for r in report["value"] if r["champion"])["metrics"]
    # The oracle knows every customer's latent state: no model should rank customers better.
    assert oracle["normalized_gini"] > champion["normalized_gini"]
    assert len(report["targets"]) == 6 and (tmp_path / "e.json").exists()
    # The same held-out test customers the cards' test figures were measured on (less those the
    # oracle does not cover).
    # A model that does not read the BG/NBD outputs scores the same in the registry as in its card.
    card = next(c for c in _run_cards(root) if c["task"] == "value" and not _reads_btyd(c))
    assert report["rows"] + report["rows_without_oracle"] == card["training_rows"]["test"]
    without_oracle = evaluate_registry(built.db, root)
    row = next(r for r in without_oracle["value"] if r["model"] == card["name"])
    in_card = {k: v for k, v in card["metrics"]["test"].items() if k in row["metrics"]}
    # Interval coverage too: the card's calibration, applied to the served predictions.
    intervals, card_intervals = row["metrics"].pop("intervals"), in_card.pop("intervals")
    assert row["metrics"] == pytest.approx(in_card, rel=1e-4, abs=1e-6)
    assert intervals.keys() == card_intervals.keys() == {"0.5", "0.8", "0.9"}
    for level, measured in intervals.items():
        assert measured == pytest.approx(card_intervals[level], rel=1e-4, abs=1e-6)


def _run_cards(root: Path) -> list[dict]:
    return [registry.read_card(root, p.parent.parent.name, "v1") for p in sorted(root.glob("*/v1/model.onnx"))]


def test_models_commands_list_promote_and_roll_back(run, tmp_path, capsys):
    root, _ = run
    copy = tmp_path / "reg"
    shutil.copytree(root, copy)
    assert main(["--models-dir", str(copy), "models", "list"]) == 0
    assert "value_hgb_tweedie" in capsys.readouterr().out
    assert main(["models", "--models-dir", str(copy), "promote", "value", "value_btyd", "v1"]) == 0
    assert registry.champion(copy, "value")["name"] == "value_btyd"
    assert main(["models", "--models-dir", str(copy), "rollback", "value"]) == 0
    assert registry.champion(copy, "value")["name"] == registry.champion(root, "value")["name"]
    assert main(["models", "--models-dir", str(copy), "promote", "churn", "value_btyd"]) == 2
    assert "cannot be the churn champion" in capsys.readouterr().err


def test_train_and_evaluate_say_what_to_run_first(tmp_path, capsys):
    assert main(["train", "--db", str(tmp_path / "none.duckdb"), "--models-dir", str(tmp_path / "m")]) == 2
    assert "run `clv load` and `clv build` first" in capsys.readouterr().err
    assert main(["evaluate", "--db", str(tmp_path / "none.duckdb"), "--models-dir", str(tmp_path / "m")]) == 2
    assert "run `clv train` first" in capsys.readouterr().err


def test_short_history_fits_the_baseline_alone_and_says_so(built_fixed, tmp_path):
    assert len(built_fixed.result.training_cutoffs) == 2  # too few for a time split
    result = train_models(built_fixed.db, tmp_path / "m", SETTINGS)
    assert sorted(c["name"] for c in result.cards) == ["churn_btyd", "segment_kmeans", "value_btyd"]
    assert result.notes[0].startswith("history too short for a validation")
    assert "serving the BG/NBD + Gamma-Gamma baseline alone" in result.notes[0]
    # Refitted on every customer known at the scoring date, which needs no labels.
    card = registry.read_card(tmp_path / "m", "value_btyd", "v1")
    assert card["model"]["params"]["fitted_on_cutoff"] == card["cutoffs"]["scoring"]
    assert card["note"] == result.notes[0]
    assert registry.champion(tmp_path / "m", "value")["name"] == "value_btyd"
    # Segments need no labels, so a short history gets them too and can be scored.
    assert registry.champion(tmp_path / "m", "segment")["name"] == "segment_kmeans"
    assert Path(tmp_path / "m" / "value_btyd" / "v1" / "model.onnx").exists()
    # Without labels there is nothing to calibrate intervals on: NULL, and the scores still come;
    # the baseline is still explained, from the card's typical customer.
    with udfs.connect(built_fixed.db, tmp_path / "m") as con:
        row = con.execute(
            "SELECT predict_clv(s), predict_clv_interval(s), e.base + e.rest + coalesce(list_sum("
            "list_transform(e.contributions, lambda c: c.contribution)), 0) - e.prediction, e.method "
            "FROM (SELECT s, explain_clv(s) AS e FROM ml_scoring_set s LIMIT 50)"
        ).fetchall()
    assert all(r[0] >= 0 and r[1] is None and abs(r[2]) < 1e-9 and r[3] == "path" for r in row)
