"""Drift monitoring as a user meets it: clv score measures each run against the model cards."""

from __future__ import annotations

import json
import shutil

import duckdb

from duckdb_clv import pipeline
from duckdb_clv.cli import main
from duckdb_clv.settings import make_settings
from duckdb_clv.udfs import contract, registry
from tests.conftest import copy_db


def drift(db, as_of: str | None = None) -> dict[tuple[str, str], tuple]:
    where = "" if as_of is None else f"WHERE as_of_date = DATE '{as_of}'"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT baseline, column_name, psi, status, is_output FROM monitor_drift {where}")
        return {(b, c): (psi, status, output) for b, c, psi, status, output in rows.fetchall()}


def test_the_training_runs_own_scoring_date_shows_no_drift(scored):
    db, models, result = scored
    measured = drift(db)
    columns = {*contract.FEATURES, "predicted_clv", "churn_probability", "segment"}
    assert {c for _, c in measured} == columns
    assert {b for b, _ in measured} == {"scoring", "training"}
    # Scored on the very customers its 'scoring' reference was taken from.
    on_scoring = {c: v for (b, c), v in measured.items() if b == "scoring"}
    assert max(psi for psi, _, _ in on_scoring.values()) < 0.01
    assert {status for _, status, _ in on_scoring.values()} == {"ok"}
    assert result.drift == {"ok": len(columns)} and not result.unavailable and not result.warnings
    # The card holds what the monitor compared with.
    champion = registry.champion(models, "value")
    card = registry.read_card(models, champion["name"], champion["version"])
    assert set(card["reference"]["training"]["features"]) == set(contract.FEATURES)


def test_monitor_passes_a_run_without_drift_and_refuses_a_database_without_monitoring(scored, built, capsys):
    assert main(["monitor", "--db", str(scored[0]), "--fail-on", "warning"]) == 0
    assert "No drift warnings or alerts" in capsys.readouterr().out
    assert main(["monitor", "--db", str(built.db)]) == 2
    assert "has no monitor_drift: run `clv score`" in capsys.readouterr().err


def test_an_earlier_base_alerts_and_a_card_without_reference_is_reported(scored, tmp_path, capsys):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    models = shutil.copytree(scored[1], tmp_path / "models")
    # Scoring the shop as it was two years before: a much younger, smaller customer base.
    pipeline.build(make_settings(db=str(db), as_of_date="2024-01-01"))
    assert main(["score", "--db", str(db), "--models-dir", str(models)]) == 0
    out = capsys.readouterr().out
    assert "monitor_drift_newest_run_has_no_alert" in out
    measured = drift(db, "2024-01-01")
    alerts = {c for (b, c), (_, status, _) in measured.items() if b == "scoring" and status == "alert"}
    assert {"tenure_days", "t_days"} <= alerts, alerts
    # For a scheduler: the newest run alerts, so --fail-on alert exits 1 and names the columns.
    assert main(["monitor", "--db", str(db), "--fail-on", "alert"]) == 1
    monitored = capsys.readouterr()
    assert "tenure_days" in monitored.out and "2024-01-01" in monitored.out
    assert "the newest scoring run has" in monitored.err
    # The first run's rows are kept as they were.
    assert drift(db, "2026-01-01") == drift(scored[0])
    # A churn model trained before monitoring, promoted: its card has no reference. The new run
    # (same date, another churn model) still scores, and says which monitor is unavailable.
    churn = next(n for n in ("churn_btyd", "churn_rf", "churn_hgb") if n != registry.champion(models, "churn")["name"])
    card_path = models / churn / "v1" / "card.json"
    card = json.loads(card_path.read_text())
    del card["reference"]
    card_path.write_text(json.dumps(card))
    registry.promote(models, "churn", churn)
    assert main(["score", "--db", str(db), "--models-dir", str(models)]) == 0
    assert "Unavailable: churn_probability drift" in capsys.readouterr().out
    with duckdb.connect(str(db), read_only=True) as con:
        columns = {
            c
            for (c,) in con.execute(
                "SELECT column_name FROM monitor_drift WHERE churn_model = ? AND baseline = 'scoring'", [f"{churn}/v1"]
            ).fetchall()
        }
    assert "churn_probability" not in columns and {"predicted_clv", "tenure_days"} <= columns
