"""Drift monitoring as a user meets it: clv score measures each run against the model cards."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from duckdb_clv import pipeline
from duckdb_clv.backtest import RAW_TABLES, copy_as_of
from duckdb_clv.cli import main
from duckdb_clv.settings import make_settings
from duckdb_clv.training.evaluation.metrics import churn_metrics, value_metrics
from duckdb_clv.udfs import contract, registry
from tests.conftest import copy_db


def drift(db, as_of: str | None = None) -> dict[tuple[str, str], tuple]:
    where = "" if as_of is None else f"WHERE as_of_date = DATE '{as_of}'"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            f"SELECT baseline, column_name, coalesce(psi, shift), status, is_output FROM monitor_drift {where}"
        )
        return {(b, c): (measure, status, output) for b, c, measure, status, output in rows.fetchall()}


def halve_orders(db, since: str, until: str) -> int:
    """Delete every other order placed in [since, until), with its items and returns: the purchase rate halves."""
    gone = (
        "SELECT order_id FROM raw.orders "
        "WHERE ordered_at >= ?::DATE AND ordered_at < ?::DATE AND hash(order_id) % 2 = 0"
    )
    with duckdb.connect(str(db)) as con:
        for table in ("order_items", "returns"):
            con.execute(f"DELETE FROM raw.{table} WHERE order_id IN ({gone})", [since, until])
        return con.execute(f"DELETE FROM raw.orders WHERE order_id IN ({gone})", [since, until]).fetchone()[0]


def test_the_training_runs_own_scoring_date_shows_no_drift(scored):
    db, models, result = scored
    measured = drift(db)
    columns = {*contract.FEATURES, "predicted_clv", "churn_probability", "segment"}
    assert {c for b, c in measured if b != "seasonal"} == columns
    assert {b for b, _ in measured} == {"scoring", "training", "seasonal"}
    # Scored on the very customers its 'scoring' reference was taken from.
    on_scoring = {c: v for (b, c), v in measured.items() if b == "scoring"}
    assert max(psi for psi, _, _ in on_scoring.values()) < 0.01
    assert {status for _, status, _ in on_scoring.values()} == {"ok"}
    # And a year after the same training cutoff: the year-over-year change is the card's own.
    seasonal = {c: v for (b, c), v in measured.items() if b == "seasonal"}
    # Every feature with values, and the share of customers acquired in the last 30 days.
    assert {"orders_30d", "tenure_days", "value_365d", "new_customers_30d"} <= set(seasonal)
    assert set(seasonal) <= {*contract.FEATURES, "new_customers_30d"}
    assert max(abs(shift) for shift, _, _ in seasonal.values()) < 1e-4
    assert {status for _, status, _ in seasonal.values()} == {"ok"}
    assert result.drift == {"ok": len(columns) + len(seasonal)} and not result.unavailable and not result.warnings
    # The card holds what the monitor compared with.
    champion = registry.champion(models, "value")
    card = registry.read_card(models, champion["name"], champion["version"])
    assert set(card["reference"]["training"]["features"]) == set(contract.FEATURES)


def test_monitor_passes_a_run_without_drift_and_refuses_a_database_without_monitoring(scored, built, capsys):
    assert main(["monitor", "--db", str(scored[0]), "--fail-on", "warning"]) == 0
    assert "No drift warnings or alerts" in capsys.readouterr().out
    assert main(["monitor", "--db", str(built.db)]) == 2
    assert "has no monitor_drift: run `clv score`" in capsys.readouterr().err


def test_a_halved_purchase_rate_alerts_and_a_card_without_reference_is_reported(scored, tmp_path, capsys):
    db = copy_db(scored[0], tmp_path / "clv.duckdb")
    models = shutil.copytree(scored[1], tmp_path / "models")
    # A month later than training saw, the shop's customers buy half as often in the last month.
    assert halve_orders(db, "2025-11-01", "2025-12-01") > 100
    pipeline.build(make_settings(db=str(db), as_of_date="2025-12-01"))
    assert main(["score", "--db", str(db), "--models-dir", str(models)]) == 0
    out = capsys.readouterr().out
    assert "monitor_drift_newest_run_has_no_alert" in out
    measured = drift(db, "2025-12-01")
    alerts = {c for (b, c), (_, status, _) in measured.items() if b == "seasonal" and status == "alert"}
    assert {"orders_30d", "value_30d"} <= alerts, alerts
    # Only what the halving touched: recent purchases, not who the customers are or how they browse.
    assert not alerts & {"tenure_days", "sessions_30d", "page_views_90d", "channel_email"}, alerts
    assert measured[("seasonal", "orders_30d")][0] < -0.4
    # For a scheduler: the newest run alerts, so --fail-on alert exits 1 and names the columns.
    assert main(["monitor", "--db", str(db), "--fail-on", "alert"]) == 1
    monitored = capsys.readouterr()
    assert "orders_30d" in monitored.out and "2025-12-01" in monitored.out
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


def load_as_of(db, source, day: str, work) -> None:
    """Replace db's raw tables with source's as they stood at the end of ``day``: a month's new data loaded."""
    staged = work / f"raw_{day}.duckdb"
    copy_as_of(source, staged, day)
    with duckdb.connect(str(db)) as con:
        con.execute(f"ATTACH '{staged}' AS staged (READ_ONLY)")
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in RAW_TABLES:
            con.execute(f"CREATE OR REPLACE TABLE raw.{table} AS SELECT * FROM staged.raw.{table}")
        con.execute("DETACH staged")
    staged.unlink()


def accuracy(db) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute("SELECT * FROM monitor_accuracy ORDER BY as_of_date")
        names = [d[0] for d in cursor.description]
        return {str(row[0]): dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_monthly_scoring_runs_fill_monitor_accuracy_as_their_windows_mature(trained, tmp_path):
    db, models = tmp_path / "clv.duckdb", trained.models
    runs = ["2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01", "2024-11-01", "2024-12-01"]
    for day in runs:
        # The month up to the scoring date is loaded, then the shop is built and scored as of it.
        load_as_of(db, trained.built.db, (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat(), tmp_path)
        # Without the drivers (explanations are tested on their own): eight scoring runs here.
        settings = make_settings(
            db=str(db), models_dir=str(models), as_of_date=day, n_training_cutoffs=1, explain_drivers=False
        )
        pipeline.build(settings)
        assert pipeline.score(settings).recorded
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT as_of_date) FROM score_history").fetchone()[0] == 6
    early = accuracy(db)
    assert list(early) == runs
    # Orders are observed through 2024-11-30: 90-day churn windows from September 1 have elapsed,
    # later ones not; no 365-day horizon has, and the share observed is stated instead.
    assert [early[d]["churn_matured"] for d in runs] == [True, True, True, False, False, False]
    assert all(early[d]["roc_auc"] is not None for d in runs[:3]) and early[runs[3]]["roc_auc"] is None
    assert not any(early[d]["value_matured"] for d in runs) and early[runs[0]]["total_ratio"] is None
    assert early[runs[0]]["horizon_share"] == pytest.approx(152 / 365)
    assert early[runs[-1]]["realised_to_date"] == 0 and early[runs[0]]["realised_to_date"] > 0
    # Every later month is loaded: each run's horizon has elapsed, and its figures are those of
    # clv evaluate's metrics on the same customers, with the training labels at its date.
    load_as_of(db, trained.built.db, "2025-12-31", tmp_path)
    settings = make_settings(db=str(db), models_dir=str(models), training_cutoffs=runs, explain_drivers=False)
    pipeline.build(settings)
    pipeline.score(settings)
    late = accuracy(db)
    assert len(late) == 7 and all(late[d]["value_matured"] and late[d]["churn_matured"] for d in runs)
    for day in runs:
        with duckdb.connect(str(db), read_only=True) as con:
            y, p, churned, probability = (
                con.execute(
                    "SELECT l.future_value, h.predicted_clv, l.churned, h.churn_probability FROM score_history h "
                    "JOIN fct_customer_labels l ON l.customer_id = h.customer_id AND l.cutoff_date = h.as_of_date "
                    "WHERE h.as_of_date = ? ORDER BY h.customer_id",
                    [day],
                )
                .fetchnumpy()
                .values()
            )
        expected = value_metrics(y, p) | churn_metrics(churned, probability, 0.5)
        measured = late[day]
        assert measured["customers"] == len(y) and measured["realised_total"] == pytest.approx(y.sum())
        for metric in ("mae", "rmse", "spearman", "normalized_gini", "decile_mape", "total_ratio"):
            assert measured[metric] == pytest.approx(expected[metric], rel=1e-9, abs=1e-12), (day, metric)
        for metric in ("roc_auc", "pr_auc", "brier", "log_loss"):
            assert measured[metric] == pytest.approx(expected[metric], rel=1e-9, abs=1e-12), (day, metric)
        assert measured["churn_rate"] == pytest.approx(churned.mean())
    # A run whose windows have both elapsed is final: later builds keep its row as it is.
    pipeline.score(settings)
    again = accuracy(db)
    assert (
        all(again[d] == late[d] for d in runs)
        and again["2026-01-01"]["measured_at"] > late["2026-01-01"]["measured_at"]
    )
