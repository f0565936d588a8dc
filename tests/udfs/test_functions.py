"""The SQL functions on a real database and registry: binding by name, champions, NULLs, errors."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest

from duckdb_clv import udfs
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.training.models.btyd import BGNBD, BGNBDParams
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.contract import FEATURES
from tests.conftest import onnx_scores


@pytest.fixture(scope="module")
def con(trained):
    connection = udfs.connect(trained.built.db, trained.models)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def scoring(con):
    return read_rows(con, "ml_scoring_set")


def scores(con, sql: str) -> np.ndarray:
    return np.array([r[0] for r in con.execute(sql).fetchall()], dtype=np.float64)


def test_predict_clv_equals_onnxruntime_on_the_same_rows(con, scoring, trained):
    got = scores(con, "SELECT predict_clv(s) FROM ml_scoring_set s ORDER BY cutoff_date, customer_id")
    np.testing.assert_array_equal(got, onnx_scores(trained, "value", scoring.X))
    churn = scores(con, "SELECT churn_score(s) FROM ml_scoring_set s ORDER BY cutoff_date, customer_id")
    assert np.all((churn >= 0) & (churn <= 1))
    np.testing.assert_array_equal(churn, onnx_scores(trained, "churn", scoring.X))


def test_features_bind_by_name_whatever_the_order_and_extra_columns_are_ignored(con):
    reversed_cols = ", ".join(reversed(FEATURES))
    shuffled_sql = (
        f"SELECT predict_clv(s) FROM (SELECT 'x' AS note, 42 AS extra, {reversed_cols}, customer_id, cutoff_date "
        "FROM ml_scoring_set) s ORDER BY cutoff_date, customer_id"
    )
    shuffled = scores(con, shuffled_sql)
    plain = scores(con, "SELECT predict_clv(s) FROM ml_scoring_set s ORDER BY cutoff_date, customer_id")
    np.testing.assert_array_equal(shuffled, plain)


def test_a_model_and_version_can_be_chosen_in_sql(con, scoring, trained):
    got = scores(
        con, "SELECT predict_clv(s, model := 'value_btyd/v1') FROM ml_scoring_set s ORDER BY cutoff_date, customer_id"
    )
    np.testing.assert_array_equal(got, onnx_scores(trained, "value", scoring.X, "value_btyd"))
    assert con.execute("SELECT clv_model('value', model := 'value_btyd')").fetchall()[0][0] == "value_btyd/v1"
    champion = registry.champion(trained.models, "value")
    assert con.execute("SELECT clv_model('value')").fetchall()[0][0] == f"{champion['name']}/{champion['version']}"


def test_a_model_file_changed_after_training_is_refused_at_load(trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    # Not the champion: connecting loads the champion, and here the query itself must fail.
    name = next(n for n in ("value_rf", "value_mlp") if n != registry.champion(models, "value")["name"])
    path = models / name / "v1" / "model.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    with udfs.connect(trained.built.db, models) as con, pytest.raises(duckdb.Error, match="sha256"):
        con.execute(f"SELECT predict_clv(s, model := '{name}') FROM ml_scoring_set s LIMIT 1").fetchall()


def test_btyd_functions_match_the_fitted_model(con, trained):
    card = registry.read_card(trained.models, "value_btyd")
    bg = BGNBD()
    bg.params_ = BGNBDParams(**card["model"]["params"]["bgnbd"])
    x, t_x, t = np.array([0.0, 2.0, 7.0]), np.array([0.0, 10.0, 40.0]), np.array([5.0, 20.0, 60.0])
    got = con.execute(
        "SELECT p_alive(x, r, t), expected_purchases(x, r, t, 52) FROM (VALUES (0, 0, 5), (2, 10, 20), (7, 40, 60)) "
        "v(x, r, t) ORDER BY x"
    ).fetchall()
    np.testing.assert_allclose([g[0] for g in got], bg.p_alive(x, t_x, t), rtol=1e-9)
    np.testing.assert_allclose([g[1] for g in got], bg.expected_purchases(52, x, t_x, t), rtol=1e-8)
    assert con.execute("SELECT p_alive(NULL, 1, 2)").fetchall() == [(None,)]
    with pytest.raises(duckdb.Error, match="recency must not exceed T"):
        con.execute("SELECT p_alive(1, 30, 20)").fetchall()


def test_discounted_clv(con):
    assert con.execute("SELECT discounted_clv([100, 50, 20], 0.1)").fetchall()[0][0] == pytest.approx(147.26, abs=5e-3)
    # At rate 0 it is the plain sum; the first period is already discounted once.
    assert con.execute("SELECT discounted_clv([1.5, 2], 0), discounted_clv([110], 0.1)").fetchall() == [
        (3.5, pytest.approx(100.0))
    ]


def test_registration_refuses_a_champion_that_does_not_match_its_card(trained, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(trained.models, models)
    champion = registry.champion(models, "churn")
    path = models / champion["name"] / champion["version"] / "model.onnx"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # truncated
    with pytest.raises(udfs.errors.RegistryError, match=rf"{champion['name']} {champion['version']}.*sha256"):
        udfs.connect(trained.built.db, models)
