"""``clv backtest``: the pipeline as of an earlier date reads nothing after it, and is scored on what followed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from duckdb_clv.backtest import copy_as_of, default_origins
from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.report.html import _backtest as backtest_section
from duckdb_clv.training.evaluation.holdout import CHURN_COLUMNS, VALUE_COLUMNS
from tests.conftest import copy_db, write

ORIGIN = "2024-12-31"  # the test shop's orders end on 2025-12-31: the latest origin for 365 days
PLANTED = 1_000_000.0


@pytest.fixture(scope="module")
def planted(built, tmp_path_factory):
    """A copy of the test shop with one huge order, ten days after the origin, by a customer known before it."""
    root = tmp_path_factory.mktemp("planted")
    db = copy_db(built.db, root / "clv.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        (customer,) = con.execute(
            f"SELECT min(customer_id) FROM raw.orders WHERE ordered_at < DATE '{ORIGIN}'"
        ).fetchone()
    orders = write(
        root / "planted.csv",
        f"order_id,customer_id,ordered_at,amount\nPLANT1,{customer},2025-01-10 12:00:00,{PLANTED}\n",
    )
    load_files(db, {"orders": [str(orders)]})
    return db, customer


def test_the_copy_at_an_origin_holds_nothing_dated_after_it(planted, tmp_path):
    db, customer = planted
    rows = copy_as_of(db, tmp_path / "origin.duckdb", ORIGIN)
    with duckdb.connect(str(tmp_path / "origin.duckdb"), read_only=True) as con:
        latest = [
            con.execute(f"SELECT max({column}) FROM raw.{table}").fetchone()[0]
            for table, column in (("orders", "ordered_at"), ("returns", "returned_at"), ("events", "event_at"))
        ]
        assert con.execute("SELECT count(*) FROM raw.orders WHERE order_id = 'PLANT1'").fetchone()[0] == 0
        assert con.execute(f"SELECT count(*) FROM raw.customers WHERE customer_id = '{customer}'").fetchone()[0] == 1
    assert all(str(day.date()) <= ORIGIN for day in latest), latest
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute(f"SELECT count(*) FROM raw.orders WHERE ordered_at < DATE '{ORIGIN}' + 1").fetchone()[0]
    assert rows["orders"] == before


def test_default_origins_need_a_horizon_after_and_history_before(built):
    assert default_origins(built.db, 365, 2) == ["2024-10-01", ORIGIN]
    with pytest.raises(ClvError, match=r"too short for a backtest with a 1200-day horizon"):
        default_origins(built.db, 1_200)


def test_clv_backtest_scores_the_origin_against_what_followed(planted, built, tmp_path, capsys):
    db, _customer = planted
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = tmp_path / "backtest.json"
    args = ["--db", str(db), "backtest", "--origin", ORIGIN, "--only", "btyd,kmeans", "--out", str(out)]
    assert main([*args, "--ground-truth", str(built.shop.out_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"at origin {ORIGIN}, 365 days ahead" in printed and "Forecast from" in printed

    result = json.loads(out.read_text())
    (origin,) = result["origins"]
    assert origin["origin"] == ORIGIN and result["horizon_days"] == 365
    assert {r["model"] for r in origin["value"]} == {"value_btyd", "oracle"}
    for task, columns in (("value", VALUE_COLUMNS), ("churn", CHURN_COLUMNS)):
        assert all(set(columns) <= set(r["metrics"]) for r in origin[task])
    # Every stage ran on data up to the origin: its copy lacks the planted order, its training
    # cutoffs have their whole horizon before the origin...
    with duckdb.connect(str(db), read_only=True) as con:
        placed = con.execute(f"SELECT count(*) FROM raw.orders WHERE ordered_at < DATE '{ORIGIN}' + 1").fetchone()[0]
    assert origin["raw_rows_at_origin"]["orders"] == placed
    assert max(origin["training_cutoffs"]) <= "2023-12-31"
    # ... and what followed includes it: the planted order is in the realised revenue, not in the forecast.
    revenue = origin["forecast"]["revenue"]
    assert revenue["realised"] > PLANTED > 2 * revenue["predicted"]
    assert origin["forecast"]["active_customers"]["predicted"] > 0
    # The report shows it: the origin's totals and its metrics tables.
    section = backtest_section(out)
    assert f"<td>{ORIGIN}</td>" in section and "Origin " + ORIGIN in section and "value_btyd" in section
    assert f"{revenue['ratio']:,.4f}" in section and 'src="data:image/png;base64,' in section
    # The database is left as it was, and the working copies are gone.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not list(db.parent.glob(".backtest-*"))


@pytest.mark.slow
def test_keep_work_leaves_each_origins_database_and_registry_to_inspect(built, tmp_path, capsys):
    db = copy_db(built.db, tmp_path / "clv.duckdb")
    out = tmp_path / "backtest.json"
    args = ["--db", str(db), "backtest", "--origin", ORIGIN, "--only", "btyd,kmeans", "--out", str(out), "--keep-work"]
    assert main(args) == 0
    work = json.loads(out.read_text())["work"]
    assert f"Working copies kept in {work}" in capsys.readouterr().out
    card = json.loads(next((Path(work) / ORIGIN / "models" / "value_btyd").glob("v*/card.json")).read_text())
    assert card["cutoffs"]["scoring"] == ORIGIN
