"""explain_clv and explain_churn on a real database and registry: every model, in SQL.

What a user relies on: the listed contributions, the rest and the base add up to the prediction,
the prediction is what predict_clv / churn_score return (on the stated scale), and each listed
value is the customer's own feature value.
"""

from __future__ import annotations

import numpy as np
import pytest

from duckdb_clv import udfs
from duckdb_clv.udfs import registry
from duckdb_clv.udfs.explain import TREE_FAMILIES

ROWS = "(SELECT * FROM ml_scoring_set ORDER BY customer_id LIMIT 300)"


@pytest.fixture(scope="module")
def con(trained):
    connection = udfs.connect(trained.built.db, trained.models)
    yield connection
    connection.close()


def _models(trained, task: str) -> list[str]:
    names = sorted(p.name for p in trained.models.iterdir() if p.is_dir() and p.name.startswith(f"{task}_"))
    assert names, f"no {task} models trained"
    return names


@pytest.mark.parametrize("task", ["value", "churn"])
def test_every_model_explains_its_own_prediction_exactly(con, trained, task):
    explain, score = ("explain_clv", "predict_clv") if task == "value" else ("explain_churn", "churn_score")
    for name in _models(trained, task):
        family = registry.read_card(trained.models, name, registry.versions(trained.models, name)[-1])["model"][
            "family"
        ]
        got = con.execute(
            "SELECT e.base + coalesce(list_sum(list_transform(e.contributions, lambda c: c.contribution)), 0) "
            f"+ e.rest, "
            f"e.prediction, {score}(s, model := '{name}'), e.method, e.scale, len(e.contributions) "
            f"FROM (SELECT s, {explain}(s, model := '{name}', top_k := 5) AS e FROM {ROWS} s)"
        ).fetchall()
        total, prediction, served = (np.array([r[i] for r in got], dtype=np.float64) for i in range(3))
        np.testing.assert_allclose(total, prediction, rtol=1e-9, atol=1e-9, err_msg=name)
        if task == "churn":
            # Compared as probabilities: a float32 score of exactly 1 has no finite log-odds.
            prediction = 1 / (1 + np.exp(-prediction))
            np.testing.assert_allclose(prediction, served, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_allclose(prediction, served, rtol=1e-4, atol=1e-4, err_msg=name)
        expected = "treeshap" if family in TREE_FAMILIES else "path" if family != "fused" else None
        assert expected is None or {r[3] for r in got} == {expected}, name
        assert {r[4] for r in got} == {"currency" if task == "value" else "log-odds"}
        assert {r[5] for r in got} == {5}


def test_contributions_come_largest_first_and_show_the_customers_values(con):
    rows = con.execute(
        f"SELECT s.frequency, s.recency_weeks, e.contributions FROM "
        f"(SELECT s, explain_clv(s, top_k := 100000) AS e FROM {ROWS} s)"
    ).fetchall()
    for frequency, recency_weeks, contributions in rows:
        sizes = [abs(c["contribution"]) for c in contributions]
        assert sizes == sorted(sizes, reverse=True)
        shown = {c["feature"]: c["value"] for c in contributions}
        assert shown["frequency"] == pytest.approx(frequency, rel=1e-6)
        assert shown["recency_weeks"] == pytest.approx(recency_weeks, rel=1e-6)


def test_a_query_mixing_models_explains_each_row_with_its_own(con, trained):
    names = _models(trained, "value")[:2]
    got = con.execute(
        f"SELECT e.model FROM (SELECT explain_clv(s, model := CASE WHEN row_number() OVER () % 2 = 0 "
        f"THEN '{names[0]}' ELSE '{names[1]}' END) AS e FROM {ROWS} s)"
    ).fetchall()
    assert {r[0].split("/")[0] for r in got} == set(names)


def test_intervals_come_from_the_card_of_the_model_that_predicts(con, trained):
    from duckdb_clv.udfs.intervals import bounds

    for name in ("value_rf", registry.champion(trained.models, "value")["name"]):
        version = registry.versions(trained.models, name)[-1]
        spec = registry.read_card(trained.models, name, version)["model"]["intervals"]
        got = con.execute(
            f"SELECT predict_clv(s, model := '{name}'), i.lower, i.upper, j.lower, j.upper FROM (SELECT s, "
            f"predict_clv_interval(s, model := '{name}') AS i, "
            f"predict_clv_interval(s, level := 0.5, model := '{name}') AS j FROM {ROWS} s)"
        ).fetchall()
        prediction, lower, upper, lower50, upper50 = (np.array([r[i] for r in got]) for i in range(5))
        expected = bounds(spec, prediction, 0.8)
        np.testing.assert_allclose(lower, expected[0], rtol=1e-12)
        np.testing.assert_allclose(upper, expected[1], rtol=1e-12)
        # A narrower level is inside the wider one.
        assert np.all((lower <= lower50 + 1e-9) & (upper50 <= upper + 1e-9))


def test_an_anchored_model_starts_from_its_average_customer(con, trained):
    anchored = []
    for name in _models(trained, "value"):
        described = registry.read_card(trained.models, name, registry.versions(trained.models, name)[-1])["model"]
        if described.get("anchored_on_btyd"):
            anchored.append((name, described["explanation_base"]))
    assert anchored, "the test registry trains no anchored model"
    for name, average in anchored:
        got = con.execute(
            "SELECT e.base, [c.contribution FOR c IN e.contributions IF c.feature = 'bgnbd_expected_value'][1] "
            f"FROM (SELECT explain_clv(s, model := '{name}', top_k := 1000) AS e FROM {ROWS} s)"
        ).fetchall()
        # The base is the average validation customer's prediction, not a geometric mean near 0:
        # customers BG/NBD expects little from are pulled below it, the best above it.
        assert {round(r[0], 6) for r in got} == {round(average, 6)}
        anchor = np.array([r[1] for r in got])
        assert np.any(anchor < 0) and np.any(anchor > 0), name
