"""Pseudonymized loading, and no personal columns in anything scored or published."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from duckdb_clv.cli import main
from duckdb_clv.ingest.errors import LoadError
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.ingest.pseudonymize import KEY_ENV, Pseudonymizer
from duckdb_clv.publish import publish
from tests.conftest import shop_inputs, write

KEY = b"a-secret-of-the-shop-2026"
PII = ("name", "email", "phone", "address")


@pytest.fixture(scope="module")
def pseudonymized(built, tmp_path_factory):
    db = tmp_path_factory.mktemp("pseudo") / "clv.duckdb"
    report = load_files(db, shop_inputs(built.shop), pseudonymizer=Pseudonymizer(KEY))
    return db, report


def test_ids_become_keyed_hashes_and_personal_columns_are_not_stored(pseudonymized, built):
    db, report = pseudonymized
    real = [i.strip().upper() for i in pq.read_table(built.shop.files["customers"]).column("customer_id").to_pylist()]
    p = Pseudonymizer(KEY)
    with duckdb.connect(str(db), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT customer_id FROM raw.customers").fetchall()}
        assert ids == {p.pseudonym(i) for i in real}
        assert all(len(i) == 21 and i.startswith("P") for i in ids)
        personal = con.execute(f"SELECT {', '.join(f'count({c})' for c in PII)} FROM raw.customers").fetchall()[0]
        assert personal == (0, 0, 0, 0)
        # Orders and events carry the same pseudonyms: every one joins its customer.
        for table in ("orders", "events"):
            orphans = con.execute(
                f"SELECT count(*) FROM raw.{table} t ANTI JOIN raw.customers c USING (customer_id)"
            ).fetchall()[0][0]
            assert orphans == 0
    totals = report.totals()
    assert totals["rows_read"] == totals["rows_loaded"] + totals["rows_rejected"]


def test_rejected_rows_keep_no_real_id_or_text(tmp_path):
    csv = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,amount\n1,ALICE,2024-01-01,10\n2,BOB,2024-01-02,-5\n"
        '3,CAROL,2024-01-03,"7\n4,DAVE,2024-01-04,8,extra\n',
    )
    db = tmp_path / "clv.duckdb"
    report = load_files(db, {"orders": [str(csv)]}, pseudonymizer=Pseudonymizer(KEY))
    assert report.totals()["rows_rejected"] >= 2
    with duckdb.connect(str(db), read_only=True) as con:
        everything = " ".join(
            str(v)
            for table in ("orders", "rejected_orders", "customers", "rejected_customers")
            for row in con.execute(f"SELECT * FROM raw.{table}").fetchall()
            for v in row
        )
    for name in ("ALICE", "BOB", "CAROL", "DAVE"):
        assert name not in everything


def test_a_second_load_needs_the_same_key(pseudonymized, built, monkeypatch):
    db, _ = pseudonymized
    inputs = {"orders": shop_inputs(built.shop)["orders"]}
    with pytest.raises(LoadError, match="holds pseudonymized ids: load with --pseudonymize"):
        load_files(db, inputs)
    with pytest.raises(LoadError, match="not the key this database was pseudonymized with"):
        load_files(db, inputs, pseudonymizer=Pseudonymizer(b"another-key-of-16-chars"))
    again = load_files(db, inputs, pseudonymizer=Pseudonymizer(KEY))
    assert again.totals()["rows_loaded"] == again.totals()["rows_read"]
    assert all(f.rows_inserted == 0 for f in again.files)


def test_pseudonymizing_into_a_database_with_real_ids_is_refused(built, tmp_path):
    db = tmp_path / "clv.duckdb"
    load_files(db, {"orders": shop_inputs(built.shop)["orders"]})
    with pytest.raises(LoadError, match="already holds real ids"):
        load_files(db, {"orders": shop_inputs(built.shop)["orders"]}, pseudonymizer=Pseudonymizer(KEY))


def test_the_command_line_reads_the_key_from_the_environment(built, tmp_path, monkeypatch, capsys):
    orders = shop_inputs(built.shop)["orders"][0]
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert main(["load", "--db", str(tmp_path / "a.duckdb"), "--orders", orders, "--pseudonymize"]) == 2
    assert f"export {KEY_ENV}=" in capsys.readouterr().err
    assert not (tmp_path / "a.duckdb").exists()
    monkeypatch.setenv(KEY_ENV, "short")
    assert main(["load", "--db", str(tmp_path / "a.duckdb"), "--orders", orders, "--pseudonymize"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert main(["load", "--db", str(tmp_path / "a.duckdb"), "--orders", orders, "--pseudonymize"]) == 0


def test_scored_and_published_tables_hold_no_personal_columns(scored, tmp_path):
    db, _, _ = scored
    target = tmp_path / "published.duckdb"
    publish(db, target)
    for path in (db, target):
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema NOT IN ('raw') AND table_name NOT LIKE 'stg_%'"
            ).fetchall()
            scored_tables = {t for _, t, _ in tables}
            assert "customer_scores" in scored_tables
            leaks = [(s, t, c) for s, t, c in tables if c in PII]
            assert leaks == []
            if path == target:
                for _, table, column in tables:
                    emails = con.execute(
                        f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE \'%@%.%\''
                    ).fetchall()[0][0]
                    assert emails == 0, (table, column)
