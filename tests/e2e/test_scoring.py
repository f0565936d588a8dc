"""Scoring through dbt and publishing for BI tools, as a user runs them after `clv train`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

from duckdb_clv import udfs
from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from duckdb_clv.publish import publish
from duckdb_clv.score import score_customers
from duckdb_clv.udfs import registry
from tests.conftest import copy_db


def test_customer_scores_hold_every_customer_once_scored_by_the_champions(scored):
    db, models, result = scored
    champion = registry.champion(models, "value")
    assert result.value_model == f"{champion['name']}/{champion['version']}"
    with udfs.connect(db, models) as con:
        n_scoring = con.execute("SELECT count(*) FROM ml_scoring_set").fetchall()[0][0]
        assert result.customers == n_scoring
        diff = con.execute(
            "SELECT max(abs(c.predicted_clv - predict_clv(s))), count(*) FROM customer_scores c "
            "JOIN ml_scoring_set s USING (customer_id)"
        ).fetchall()[0]
        assert diff == (0.0, n_scoring)
        tiers = dict(con.execute("SELECT value_tier, count(*) FROM customer_scores GROUP BY 1").fetchall())
        assert set(tiers) == {"VIP", "regular", "potential"}
        assert tiers["VIP"] == pytest.approx(0.05 * n_scoring, rel=0.2)
        summary = con.execute("SELECT sum(customers) FROM segment_summary").fetchall()[0][0]
        assert summary == n_scoring


def test_customer_scores_carry_the_interval_and_drivers_of_the_champion(scored):
    db, models, _ = scored
    with udfs.connect(db, models) as con:
        rows = con.execute(
            "SELECT c.clv_lower, c.clv_upper, c.top_drivers, i.lower, i.upper, e.contributions FROM customer_scores c "
            "JOIN (SELECT customer_id, predict_clv_interval(s) AS i, explain_clv(s) AS e FROM ml_scoring_set s) x "
            "USING (customer_id)"
        ).fetchall()
        assert rows and all(r[0] == r[3] and r[1] == r[4] for r in rows)
        for *_, drivers, _lower, _upper, contributions in rows:
            parts = drivers.split("; ")
            assert len(parts) == 3
            for part, c in zip(parts, contributions, strict=True):
                # e.g. "days_since_last_session = 12 (-35.20)"
                assert part.startswith(f"{c['feature']} = ") and part.endswith(f"({c['contribution']:+.2f})")
        importance = con.execute(
            "SELECT model, task, count(*), min(importance_rank), sum(customers_explained) / count(*) "
            "FROM model_importance GROUP BY ALL ORDER BY task"
        ).fetchall()
        value, churn = registry.champion(models, "value"), registry.champion(models, "churn")
        n = con.execute("SELECT least(count(*), 5000) FROM ml_scoring_set").fetchall()[0][0]
        assert [r[:2] for r in importance] == [
            (f"{churn['name']}/{churn['version']}", "churn"),
            (f"{value['name']}/{value['version']}", "value"),
        ]
        assert all(r[2] >= 90 and r[3] == 1 and r[4] == n for r in importance)


def test_every_customer_has_the_name_of_a_profiled_segment(scored):
    db, models, _ = scored
    segment = registry.champion(models, "segment")
    card = registry.read_card(models, segment["name"], segment["version"])["model"]
    named = {p["segment"]: p["name"] for p in card["profiles"]}
    with udfs.connect(db, models) as con:
        scores = con.execute(
            "SELECT segment, segment_name, count(*), avg(predicted_clv) FROM customer_scores GROUP BY ALL ORDER BY 1"
        ).fetchall()
        profiles = con.execute(
            "SELECT segment, segment_name, customers, mean_predicted_clv, segment_model "
            "FROM segment_profiles ORDER BY 1"
        ).fetchall()
    assert [(r[0], r[1]) for r in scores] == [(s, named[s]) for s, *_ in scores]
    assert len(set(named.values())) == len(named)
    assert [r[:3] for r in profiles] == [r[:3] for r in scores]
    assert [r[3] for r in profiles] == pytest.approx([r[3] for r in scores], rel=1e-9)
    assert {r[4] for r in profiles} == {f"{segment['name']}/{segment['version']}"}


def test_score_without_models_says_to_train_first(trained, tmp_path, capsys):
    assert main(["score", "--db", str(trained.built.db), "--models-dir", str(tmp_path / "none")]) == 2
    assert "run `clv train" in capsys.readouterr().err


def test_publish_writes_a_separate_file_and_replaces_it_whole(scored, tmp_path):
    db, _, _ = scored
    target = tmp_path / "published.duckdb"
    first = publish(db, target)
    assert first["customer_scores"] > 0
    with duckdb.connect(str(target), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        published = {
            "customer_scores",
            "segment_summary",
            "segment_profiles",
            "score_history",
            "fct_customer_features",
            "dim_customers",
        }
        assert published <= tables
        columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
        assert not columns & {"email", "name", "phone", "address"}
    assert publish(db, target) == first
    assert [p.name for p in tmp_path.iterdir()] == ["published.duckdb"]  # nothing left behind


READER = textwrap.dedent(
    """
    import json, os, sys, time
    from sqlalchemy import create_engine, text
    engine = create_engine("duckdb:///" + sys.argv[1], connect_args={"read_only": True})
    deadline = time.time() + 300
    queries, errors, mixed = 0, [], 0
    while not os.path.exists(sys.argv[2]) and time.time() < deadline:
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT count(DISTINCT value_model), count(*) FROM customer_scores")).one()
                mixed += versions[0] != 1
                queries += 1
        except Exception as err:
            errors.append(str(err).splitlines()[0])
        engine.dispose()
    print(json.dumps({"queries": queries, "errors": errors[:3], "n_errors": len(errors), "mixed": mixed}))
    """
)


def test_a_bi_reader_never_fails_or_sees_two_model_versions_while_we_rescore_and_publish(scored, tmp_path):
    # Its own copy: promoting models here must not change what other tests see as the champion.
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    models = shutil.copytree(scored[1], tmp_path / "models")
    target = tmp_path / "published.duckdb"
    publish(db, target)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target), str(stop)], stdout=subprocess.PIPE, text=True)
    published = 0
    try:
        for name in ("value_rf",):  # one swap of the champion, scored and published while the reader reads
            registry.promote(models, "value", name)
            score_customers(db, models)
            publish(db, target)
            published += 1
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=120)
    figures = json.loads(out)
    assert figures["n_errors"] == 0, figures["errors"]
    assert figures["mixed"] == 0
    assert figures["queries"] > 10 and published == 1
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT any_value(value_model) FROM customer_scores").fetchall()[0][0] == "value_rf/v1"


def history(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT as_of_date, value_model, churn_model, segment_model, count(*), min(scored_at), max(scored_at) "
            "FROM score_history GROUP BY ALL ORDER BY value_model"
        ).fetchall()


def test_score_history_keeps_each_run_once_and_catches_a_duplicated_run(scored, tmp_path, capsys):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    models = shutil.copytree(scored[1], tmp_path / "models")
    first = history(db)
    assert scored[2].recorded and scored[2].history_runs == 1
    assert len(first) == 1 and first[0][4] == scored[2].customers and first[0][5] == first[0][6]
    # The same scoring date and models again: nothing is added, the first run's time is kept.
    assert main(["score", "--db", str(db), "--models-dir", str(models)]) == 0
    assert "already in (same scoring date and models" in capsys.readouterr().out
    assert history(db) == first
    # A new champion is a new run beside the first.
    registry.promote(models, "value", "value_rf")
    again = score_customers(db, models)
    assert again.recorded and again.history_runs == 2
    runs = history(db)
    assert runs[0] == first[0] or runs[1] == first[0]
    assert {r[1] for r in runs} == {first[0][1], "value_rf/v1"} and all(r[4] == first[0][4] for r in runs)
    # A run copied into the history by hand is caught by the history's test, and the copy stays
    # for the user to remove: scoring never deletes history rows.
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO score_history SELECT * FROM score_history WHERE value_model = 'value_rf/v1' LIMIT 5")
    registry.promote(models, "value", first[0][1].split("/")[0])
    with pytest.raises(ClvError, match="score_history"):
        score_customers(db, models)
    assert sum(r[4] for r in history(db)) == 2 * first[0][4] + 5


def test_scoring_without_drivers_leaves_top_drivers_empty_and_keeps_the_rest(trained, tmp_path):
    from duckdb_clv import pipeline
    from duckdb_clv.settings import make_settings

    db = copy_db(trained.built.db, tmp_path / "clv.duckdb")
    shutil.copytree(trained.models, tmp_path / "models")
    settings = make_settings(db=str(db), models_dir=str(tmp_path / "models"), explain_drivers=False)
    result = pipeline.score(settings)
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT count(*), count(top_drivers), count(clv_lower), count(predicted_clv) FROM customer_scores"
        ).fetchall()[0]
    assert row == (result.customers, 0, result.customers, result.customers)
