"""Champions compiled to DuckDB SQL: every family's parity with onnxruntime, and the published macros.

The published macros are exercised from a plain ``duckdb`` connection in a Python process that
never imports this project, which proves no Python function takes part in scoring.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pytest

from duckdb_clv import pipeline
from duckdb_clv.errors import ClvError
from duckdb_clv.settings import make_settings
from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.compiler.champions import compile_model
from duckdb_clv.udfs.compiler.expressions import CompileError
from duckdb_clv.udfs.compiler.graph import compile_graph
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS
from duckdb_clv.udfs.sql import TASK_FUNCTIONS
from tests.conftest import TrainedShop, copy_db

ROWS = 1500


def close(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The issue's parity: 1e-5 relative, or 1e-6 absolute near zero."""
    return np.abs(got - want) <= np.maximum(1e-5 * np.abs(want), 1e-6)


@pytest.fixture(scope="module")
def rows(trained: TrainedShop) -> tuple[duckdb.DuckDBPyConnection, np.ndarray]:
    """A connection holding table ``f`` of feature rows (scoring rows and a sample of training rows)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{trained.built.db}' AS src (READ_ONLY)")
    columns = ", ".join(f'"{f}"' for f in FEATURES)
    con.execute(
        f"CREATE TABLE f AS SELECT {columns} FROM src.main.ml_scoring_set "
        f"UNION ALL SELECT {columns} FROM src.main.ml_training_set USING SAMPLE {ROWS} ROWS (reservoir, 3)"
    )
    con.execute("DETACH src")
    table = con.execute("SELECT " + ", ".join(f'"{f}"::DOUBLE AS "{f}"' for f in FEATURES) + " FROM f").fetchnumpy()
    return con, np.column_stack([table[f] for f in FEATURES]).astype(np.float32)


def _registered(root: Path) -> list[tuple[str, str, str]]:
    out = []
    for card in sorted(root.glob("*/v*/card.json")):
        task = json.loads(card.read_text())["task"]
        if task in TASK_FUNCTIONS:
            out.append((card.parent.parent.name, card.parent.name, task))
    return out


def test_every_feature_only_family_compiles_and_matches_onnxruntime(trained: TrainedShop, rows) -> None:
    con, X = rows
    cache = functions.cache_for(trained.models)
    checked = []
    for name, version, task in _registered(trained.models):
        model = cache.get(name, version, task)
        if model.reads_history:
            continue  # the sequence families are checked below, on rows with their histories
        compiled = compile_model(model, "r")
        got = np.array(
            [v for (v,) in con.execute(f"SELECT {compiled.sql} FROM f r").fetchall()],
            dtype=np.float64,
        )
        want = model.run(X).ravel().astype(np.float64)
        ok = close(got, want)
        assert ok.mean() == 1.0, (
            f"{model.ref}: {int((~ok).sum())} of {len(ok)} rows differ, worst {got[~ok][:3]} vs {want[~ok][:3]}"
        )
        checked.append(name.split("_", 1)[1])
    # Every feature-only family was there to check.
    assert {"rf", "hgb_tweedie", "mlp", "btyd", "kmeans"} <= set(checked), checked


def test_operators_without_translation_are_refused_naming_them_all() -> None:
    from onnx import TensorProto, helper

    # A GRU over the weekly history, flattened into the output: neither has a translation.
    weights = [
        helper.make_tensor(n, TensorProto.FLOAT, s, [0.1] * int(np.prod(s)))
        for n, s in (("W", [1, 6, 6]), ("R", [1, 6, 2]))
    ]
    nodes = [
        helper.make_node("GRU", ["history", "W", "R"], ["", "h"], hidden_size=2),
        helper.make_node("Flatten", ["h"], ["hf"], axis=1),
        helper.make_node("ReduceSum", ["hf"], ["value"], keepdims=1, axes=[1]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)]),
            helper.make_tensor_value_info("history", TensorProto.FLOAT, [52, "N", 6]),
        ],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1])],
        initializer=weights,
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    with pytest.raises(CompileError, match=r"m/v1: operators Flatten, GRU have no SQL translation; score it"):
        compile_graph(data, "value", {"features": ["0e0"] * len(FEATURES)}, "m/v1")


SEQUENCE_MODELS = ("value_lstm", "value_cnn", "churn_lstm", "churn_cnn", "value_fused")


@pytest.fixture(scope="module")
def history_rows(sequence_run, built) -> tuple[duckdb.DuckDBPyConnection, np.ndarray, np.ndarray]:
    """Table ``s``: scoring rows with their weekly histories; the same as matrices for onnxruntime."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{built.db}' AS src (READ_ONLY)")
    con.execute("CREATE TABLE s AS SELECT * FROM src.main.ml_scoring_set ORDER BY customer_id LIMIT 120")
    con.execute("DETACH src")
    table = con.execute("SELECT " + ", ".join(f'"{f}"::DOUBLE AS "{f}"' for f in FEATURES) + " FROM s").fetchnumpy()
    weeks = con.execute("SELECT " + ", ".join(SEQUENCE_COLUMNS) + " FROM s").fetchnumpy()
    H = np.stack([np.array(weeks[c].tolist(), dtype=np.float32) for c in SEQUENCE_COLUMNS], axis=2)
    return con, np.column_stack([table[f] for f in FEATURES]).astype(np.float32), H


def test_sequence_models_and_a_fused_model_reading_them_compile_and_match_onnxruntime(
    sequence_run, history_rows
) -> None:
    root, _ = sequence_run
    con, X, H = history_rows
    cache = functions.cache_for(root)
    for name in SEQUENCE_MODELS:
        model = cache.get(name, "v1")
        assert model.reads_history, name
        compiled = compile_model(model, "r")
        assert {"LSTM", "Conv"} & set(compiled.operators), compiled.operators
        got = np.array([v for (v,) in con.execute(f"SELECT {compiled.sql} FROM s r").fetchall()], dtype=np.float64)
        want = model.run(X, H).ravel().astype(np.float64)
        ok = close(got, want)
        assert ok.all(), f"{model.ref}: {int((~ok).sum())} rows differ, worst {got[~ok][:3]} vs {want[~ok][:3]}"
    # The fused model carries both kinds of sequence parts.
    fused = compile_model(cache.get("value_fused", "v1"), "r").operators
    assert {"LSTM", "Conv"} <= set(fused)


def test_a_compiled_sequence_model_refuses_rows_without_a_whole_history(sequence_run, history_rows) -> None:
    root, _ = sequence_run
    con, _, _ = history_rows
    model = functions.cache_for(root).get("value_lstm", "v1")
    sql = compile_model(model, "r").sql
    cases = {
        "(SELECT * EXCLUDE (orders_weekly) FROM s LIMIT 2)": "value_lstm/v1 reads the weekly history: pass a feature "
        "row that also has orders_weekly",
        "(SELECT * REPLACE (returns_weekly[1:51] AS returns_weekly) FROM s LIMIT 2)": "a weekly history must hold 52 "
        "weeks, got 51",
        "(SELECT * REPLACE ([NULL::FLOAT] || sessions_weekly[2:] AS sessions_weekly) FROM s LIMIT 2)": "reads the "
        "weekly history",
        "(SELECT * REPLACE (['nan'::FLOAT] || sessions_weekly[2:] AS sessions_weekly) FROM s LIMIT 2)": "reads the "
        "weekly history",
    }
    for rows, message in cases.items():
        with pytest.raises(duckdb.Error, match=message):
            con.execute(f"SELECT {sql} FROM {rows} r").fetchall()
    # A feature-only model does not read the history, so rows without one score.
    btyd = compile_model(functions.cache_for(root).get("value_btyd", "v1"), "r").sql
    assert len(con.execute(f"SELECT {btyd} FROM (SELECT * EXCLUDE (orders_weekly) FROM s LIMIT 2) r").fetchall()) == 2


def test_unknown_operator_is_refused_naming_it(trained: TrainedShop) -> None:
    pointer = registry.champion(trained.models, "value")
    model = functions.cache_for(trained.models).get(pointer["name"], pointer["version"])
    data = model.data.replace(b"Identity", b"Idantity", 1)  # same length: the protobuf stays valid
    with pytest.raises(CompileError, match="operator Idantity has no SQL translation"):
        compile_graph(data, "value", {"features": ["0e0"] * len(FEATURES)}, model.ref)


@pytest.fixture(scope="module")
def published(scored, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    db, models, _ = scored
    target = tmp_path_factory.mktemp("published_sql") / "published.duckdb"
    settings = make_settings(db=str(db), models_dir=str(models), published=str(target))
    rows = pipeline.publish(settings, sql_models=True)
    assert rows["customer_scores"] > 0
    return target, models


PLAIN_CLIENT = textwrap.dedent(
    """
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    con.execute("SET enable_progress_bar = false")
    scores = con.execute(
        "SELECT customer_id, predict_clv(f), churn_score(f), customer_segment(f), segment_name(customer_segment(f)) "
        "FROM fct_customer_features f WHERE cutoff_role = 'scoring' ORDER BY customer_id"
    ).fetchall()
    extra = con.execute(
        "SELECT clv_model('value'), clv_model('churn'), clv_model('segment'), p_alive(3, 20, 40), "
        "expected_purchases(3, 20, 40, 52), discounted_clv([10, 10], 0.1), predict_clv(NULL)"
    ).fetchone()
    carried = con.execute(
        "SELECT task, model || '/' || version, spec_hash FROM clv_sql_models ORDER BY task"
    ).fetchall()
    print(json.dumps({
        "imported": sorted(m for m in sys.modules if m.startswith("duckdb_clv")),
        "scores": scores, "extra": extra, "carried": carried,
    }))
    """
)


def test_published_macros_score_in_a_process_without_the_project(published, trained: TrainedShop) -> None:
    target, models = published
    # -I: isolated mode, so neither the working directory nor PYTHONPATH can put the project on the path.
    run = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_CLIENT, str(target)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["imported"] == []
    ids = [r[0] for r in out["scores"]]
    with duckdb.connect(str(target), read_only=True) as con:
        columns = ", ".join(f'"{f}"::DOUBLE AS "{f}"' for f in FEATURES)
        table = con.execute(
            f"SELECT {columns} FROM fct_customer_features WHERE cutoff_role = 'scoring' ORDER BY customer_id"
        ).fetchnumpy()
    X = np.column_stack([table[f] for f in FEATURES]).astype(np.float32)
    assert len(ids) == len(X) > 100
    cache = functions.cache_for(models)
    refs = {}
    for column, task in enumerate(TASK_FUNCTIONS, start=1):
        pointer = registry.champion(models, task)
        model = cache.get(pointer["name"], pointer["version"], task)
        refs[task] = (model.ref, model.card["spec_hash"])
        got = np.array([r[column] for r in out["scores"]], dtype=np.float64)
        want = model.run(X).ravel().astype(np.float64)
        if task == "segment":
            np.testing.assert_array_equal(got, want)
        else:
            assert close(got, want).all(), f"{model.ref}: compiled SQL differs from onnxruntime"
    names = functions.segment_names(cache.get(*refs["segment"][0].split("/"), "segment").card)
    assert [r[4] for r in out["scores"]] == [names[r[3]] for r in out["scores"]]
    value_ref, churn_ref, segment_ref, p_alive, purchases, discounted, null_row = out["extra"]
    assert (value_ref, churn_ref, segment_ref) == (refs["value"][0], refs["churn"][0], refs["segment"][0])
    assert out["carried"] == sorted([task, ref, spec] for task, (ref, spec) in refs.items())
    assert null_row is None
    assert discounted == pytest.approx(10 / 1.1 + 10 / 1.21)
    with duckdb.connect() as py:
        from duckdb_clv.udfs import register

        register(py, models)
        want_alive, want_purchases = py.execute(
            "SELECT p_alive(3, 20, 40), expected_purchases(3, 20, 40, 52)"
        ).fetchone()
    assert p_alive == pytest.approx(want_alive, rel=1e-9)
    assert purchases == pytest.approx(want_purchases, rel=1e-7)


def test_published_macros_refuse_other_models_and_bad_features(published) -> None:
    target, _ = published
    with duckdb.connect(str(target), read_only=True) as con:
        with pytest.raises(duckdb.Error, match=r"only the value champion .* is compiled into this database"):
            con.execute(
                "SELECT predict_clv(f, model := 'no_such_model') FROM fct_customer_features f LIMIT 1"
            ).fetchall()
        with pytest.raises(duckdb.Error, match="feature 'frequency' is infinite"):
            con.execute(
                "SELECT predict_clv(f) FROM (SELECT * REPLACE ('inf'::DOUBLE AS frequency) FROM fct_customer_features "
                "LIMIT 1) f"
            ).fetchall()
        with pytest.raises(duckdb.Error, match="recency must not exceed T"):
            con.execute("SELECT p_alive(1, 50, 40)").fetchall()


def test_a_champion_that_cannot_compile_leaves_the_published_file_as_it_was(
    scored, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duckdb_clv.udfs.compiler import graph

    db, models, _ = scored
    db = copy_db(db, tmp_path / "clv.duckdb")
    target = tmp_path / "published.duckdb"
    settings = make_settings(db=str(db), models_dir=str(models), published=str(target))
    pipeline.publish(settings)
    before = target.read_bytes()
    # A champion with an operator the compiler does not know: every graph of ours has Identity nodes.
    monkeypatch.delitem(graph.HANDLERS, "Identity")
    with pytest.raises(
        ClvError,
        match=r"cannot compile the value champion to SQL: .*operator Identity has no SQL translation; score it "
        r"with the Python functions, or publish without --with-sql-models",
    ):
        pipeline.publish(settings, sql_models=True)
    assert target.read_bytes() == before
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'predict_clv'"
        ).fetchone() == (0,)


def test_a_published_fused_champion_scores_the_published_histories_without_the_project(
    scored, sequence_run, tmp_path: Path
) -> None:
    db, _, _ = scored
    models = tmp_path / "models"
    shutil.copytree(sequence_run[0], models)
    registry.promote(models, "value", "value_fused", "v1")
    registry.promote(models, "churn", "churn_lstm", "v1")
    target = tmp_path / "published.duckdb"
    rows = pipeline.publish(make_settings(db=str(db), models_dir=str(models), published=str(target)), sql_models=True)
    # The rows a history-reading macro scores are published with it.
    assert rows["ml_scoring_set"] == rows["customer_scores"]
    client = textwrap.dedent(
        """
        import json, sys
        import duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        con.execute("SET enable_progress_bar = false")
        print(json.dumps(con.execute(
            "SELECT customer_id, predict_clv(s), churn_score(s) FROM ml_scoring_set s ORDER BY customer_id LIMIT 60"
        ).fetchall()))
        """
    )
    run = subprocess.run([sys.executable, "-I", "-c", client, str(target)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    scores = json.loads(run.stdout)
    with duckdb.connect(str(target), read_only=True) as con:
        ids = [r[0] for r in scores]
        picked = con.execute(
            "SELECT * FROM ml_scoring_set WHERE customer_id IN (SELECT unnest(?)) ORDER BY customer_id", [ids]
        )
        table = picked.fetchnumpy()
    X = np.column_stack([np.asarray(table[f], dtype=np.float64) for f in FEATURES]).astype(np.float32)
    H = np.stack([np.array(table[c].tolist(), dtype=np.float32) for c in SEQUENCE_COLUMNS], axis=2)
    cache = functions.cache_for(models)
    for column, name in ((1, "value_fused"), (2, "churn_lstm")):
        got = np.array([r[column] for r in scores], dtype=np.float64)
        want = cache.get(name, "v1").run(X, H).ravel().astype(np.float64)
        assert close(got, want).all(), name
