"""The pipeline library: the README's example is the real API, and the stages report progress and results."""

from __future__ import annotations

import inspect
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from duckdb_clv import pipeline
from duckdb_clv.errors import ClvError
from duckdb_clv.score import ScoreResult
from duckdb_clv.settings import make_settings
from tests.conftest import copy_db

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.fast
def test_the_readme_example_calls_the_library_as_it_is(monkeypatch, capsys):
    (code,) = re.findall(r"```python\n(from duckdb_clv import pipeline\n.*?)```", README.read_text(), re.S)
    assert len([line for line in code.splitlines() if line.strip()]) <= 5
    calls = []

    def run(*args: object, **kwargs: object) -> pipeline.RunResult:
        # The example's call must fit the real signature; the run itself is tested through `clv run`.
        bound = inspect.signature(pipeline.run.__wrapped__).bind(*args, **kwargs)
        calls.append(bound.arguments)
        bound.arguments["progress"](pipeline.Step("load", note="orders 100 rows"))
        return pipeline.RunResult(None, None, None, None, ScoreResult(100, "v/v1", "c/v1", "s/v1"), {}, None)

    run.__wrapped__ = pipeline.run
    monkeypatch.setattr(pipeline, "run", run)
    exec(compile(code, "README.md", "exec"), {})
    (arguments,) = calls
    assert arguments["settings"].db == "build/shop.duckdb" and arguments["settings"].horizon_days == 180
    assert capsys.readouterr().out.splitlines() == ["orders 100 rows", "100 no test cutoff"]


@pytest.mark.fast
def test_a_bad_family_is_one_line():
    with pytest.raises(ClvError, match=r"unknown model families \['gbm'\]; choose from"):
        pipeline.train(make_settings(), families=["btyd", "gbm"])


def test_stages_report_progress_and_return_their_results(scored, trained, tmp_path):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    models = tmp_path / "models"
    shutil.copytree(scored[1], models)
    settings = make_settings(
        db=str(db),
        models_dir=str(models),
        evaluation=str(tmp_path / "out" / "evaluation.json"),
        published=str(tmp_path / "out" / "published.duckdb"),
    )
    steps: list[pipeline.Step] = []
    oracle = pipeline.sample_shop_oracle(settings, trained.built.shop.out_dir)
    report = pipeline.evaluate(settings, oracle, progress=steps.append)
    assert json.loads(Path(settings.evaluation).read_text()) == report
    assert any(row["model"] == "oracle" for row in report["value"])
    rows = pipeline.publish(settings, progress=steps.append)
    with duckdb.connect(settings.published, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customer_scores").fetchone()[0] == rows["customer_scores"] > 0
    assert [s.stage for s in steps] == ["evaluate", "evaluate", "publish", "publish"]
    assert [(s.done, s.total) for s in steps] == [(0, 1), (1, 1), (0, 1), (1, 1)]
