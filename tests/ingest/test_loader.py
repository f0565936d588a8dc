"""Loading into schema raw: nothing dropped silently, idempotent, all or nothing."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest

from duckdb_clv.ingest import LoadError
from duckdb_clv.ingest import loader as loader_module
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.ingest.mapping import apply_flags, parse_mapping, read_mapping
from duckdb_clv.ingest.schema import LOAD_ORDER
from tests.conftest import SHOP_TABLES, shop_inputs, write


def counts(db) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [*LOAD_ORDER, *(f"rejected_{t}" for t in LOAD_ORDER), "load_log"]
        return {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in names}


def balanced(report) -> bool:
    return all(f.rows_read == f.rows_loaded + f.rows_rejected for f in report.files)


@pytest.fixture(scope="module")
def clean_shop(built):
    """The session's clean 3,000-customer shop (Parquet, every table)."""
    return built.shop


@pytest.fixture(scope="module")
def clean_db(clean_shop, tmp_path_factory):
    db = tmp_path_factory.mktemp("clean") / "clv.duckdb"
    report = load_files(db, shop_inputs(clean_shop))
    return db, report


def test_clean_shop_loads_every_row(clean_shop, clean_db):
    db, report = clean_db
    assert balanced(report)
    for f in report.files:
        assert f.rows_rejected == 0 and f.rows_inserted == clean_shop.rows[f.table] == f.rows_read
    c = counts(db)
    assert all(c[t] == clean_shop.rows[t] for t in SHOP_TABLES)
    assert c["load_log"] == len(SHOP_TABLES)


def test_loaded_values_match_the_files(clean_shop, clean_db):
    db, _ = clean_db
    with duckdb.connect(str(db), read_only=True) as con:
        diff = con.execute(
            f"""
            SELECT count(*) FROM (
                SELECT order_id, customer_id, ordered_at, amount, discount
                FROM read_parquet('{clean_shop.files["orders"]}')
                EXCEPT SELECT order_id, customer_id, ordered_at, amount, discount FROM raw.orders)
            """
        ).fetchone()[0]
    assert diff == 0


def test_reloading_the_same_files_changes_nothing(clean_shop, clean_db, tmp_path):
    db, _ = clean_db
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    before = counts(copy)
    report = load_files(copy, shop_inputs(clean_shop))
    after = counts(copy)
    assert {k: v for k, v in after.items() if k != "load_log"} == {k: v for k, v in before.items() if k != "load_log"}
    assert all(f.rows_unchanged == f.rows_read and f.rows_inserted == 0 for f in report.files)
    assert report.load_id == 2 and after["load_log"] == before["load_log"] + len(SHOP_TABLES)


@pytest.fixture(scope="module")
def dirty_csv_load(dirty_csv_shop, tmp_path_factory):
    db = tmp_path_factory.mktemp("dirty_csv") / "clv.duckdb"
    return db, load_files(db, shop_inputs(dirty_csv_shop))


@pytest.fixture(scope="module")
def dirty_parquet_load(dirty_parquet_shop, tmp_path_factory):
    db = tmp_path_factory.mktemp("dirty_pq") / "clv.duckdb"
    return db, load_files(db, shop_inputs(dirty_parquet_shop))


@pytest.mark.parametrize("which", ["csv", "parquet"])
def test_every_fault_lands_in_the_rejected_table_with_its_rule(which, request):
    shop = request.getfixturevalue(f"dirty_{which}_shop")
    db, report = request.getfixturevalue(f"dirty_{which}_load")
    faults = json.loads((shop.out_dir / "faults.json").read_text())
    assert ("malformed_csv_line" in faults) == (which == "csv")
    assert balanced(report)
    with duckdb.connect(str(db), read_only=True) as con:
        for name, fault in faults.items():
            rule = fault["expected_rule"]
            if rule is None:
                continue
            rows = con.execute(
                "SELECT coalesce(order_id, regexp_extract(raw_line, '\"(O\\d+)\"', 1)) FROM raw.rejected_orders "
                "WHERE rule = ?",
                [rule],
            ).fetchall()
            assert sorted(r[0] for r in rows) == sorted(fault["order_ids"]), name
            assert fault["rows"] > 0, name
        # Messy ids (spaces, tabs, lower case) are repaired, not rejected: their orders are in.
        messy = faults["messy_customer_id"]["order_ids"]
        found = con.execute(
            "SELECT count(*) FROM raw.orders o JOIN raw.customers c USING (customer_id) WHERE order_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [messy],
        ).fetchone()[0]
        assert found == len(messy) > 0
        # Items and returns of rejected orders cannot load either, and say why.
        orphans = con.execute(
            "SELECT count(*) FROM raw.rejected_order_items WHERE rule <> 'unknown_order_id'"
        ).fetchone()[0]
        assert orphans == 0
        assert con.execute("SELECT count(*) FROM raw.rejected_order_items").fetchone()[0] > 0
    orders_report = next(f for f in report.files if f.table == "orders")
    assert orders_report.rows_rejected == sum(f["rows"] for f in faults.values() if f["expected_rule"])


def test_rejected_csv_rows_point_at_their_line(dirty_csv_load, dirty_csv_shop):
    db, _ = dirty_csv_load
    lines = dirty_csv_shop.files["orders"].read_text().splitlines()
    with duckdb.connect(str(db), read_only=True) as con:
        rejected = con.execute(
            "SELECT _source_line, order_id, raw_line FROM raw.rejected_orders ORDER BY _source_line"
        ).fetchall()
        loaded = con.execute("SELECT _source_line, order_id FROM raw.orders USING SAMPLE 500 ROWS").fetchall()
    assert len(rejected) > 100
    for line, order_id, raw_line in rejected:
        text = lines[line - 1]  # the generator writes one physical line per record
        assert (raw_line == text) if raw_line else (f'"{order_id}"' in text)
    for line, order_id in loaded:
        assert lines[line - 1].startswith(f'"{order_id}"')


@pytest.mark.fast
def test_transactions_file_loads_with_a_three_line_mapping(tmp_path):
    csv = write(
        tmp_path / "tx.csv",
        'cust,date,total\nA1,2024-01-05,10.5\nA2,2024-02-01,"1,200.00"\nA1,2024-03-01,7\nA1,2024-03-01,7\n',
    )
    mapping = write(tmp_path / "m.yml", "customer_id: cust\nordered_at: date\namount: total\n")
    db = tmp_path / "clv.duckdb"
    report = load_files(db, {"orders": [str(csv)]}, read_mapping(mapping))
    assert report.totals() == {"rows_read": 4, "rows_loaded": 4, "rows_rejected": 0}
    assert report.derived_customers == 2
    with duckdb.connect(str(db), read_only=True) as con:
        amounts = sorted(r[0] for r in con.execute("SELECT amount FROM raw.orders").fetchall())
        assert amounts == [7.0, 7.0, 10.5, 1200.0]  # two identical rows are two orders, both kept
        assert con.execute("SELECT count(DISTINCT order_id) FROM raw.orders").fetchone()[0] == 4
    again = load_files(db, {"orders": [str(csv)]}, read_mapping(mapping))
    assert sum(f.rows_unchanged for f in again.files) == 4 and again.derived_customers == 0


@pytest.mark.fast
def test_amount_and_date_formats(tmp_path):
    csv = write(
        tmp_path / "eu.csv",
        "kunde;datum;betrag\nK1;05.01.2024;1.234,50 €\nK2;06.01.2024;12,5\nK3;07.01.2024;1,2,3\nK4;32.01.2024;5\n",
    )
    mapping = parse_mapping(
        {
            "orders": {
                "customer_id": "kunde",
                "ordered_at": "datum",
                "amount": "betrag",
                "date_format": "%d.%m.%Y",
                "amount_format": "comma_decimal",
            }
        }
    )
    db = tmp_path / "clv.duckdb"
    report = load_files(db, {"orders": [str(csv)]}, mapping)
    assert report.files[0].rejected_by_rule == {"invalid_amount": 1, "invalid_ordered_at": 1}
    with duckdb.connect(str(db), read_only=True) as con:
        got = dict(con.execute("SELECT customer_id, amount FROM raw.orders").fetchall())
    assert got == {"K1": 1234.5, "K2": 12.5}


@pytest.mark.fast
def test_ambiguous_plain_amounts_are_rejected_not_guessed(tmp_path):
    csv = write(tmp_path / "o.csv", 'customer_id,ordered_at,amount\nA,2024-01-01,"12,50"\nB,2024-01-01,$1,234.50\n')
    # The second line has an unquoted comma: one field too many, so the line is malformed.
    report = load_files(tmp_path / "db.duckdb", {"orders": [str(csv)]})
    assert report.files[0].rejected_by_rule == {"invalid_amount": 1, "malformed_csv_line": 1}


@pytest.mark.fast
def test_time_zones_are_normalised_to_utc(tmp_path):
    csv = write(
        tmp_path / "o.csv",
        "customer_id,ordered_at,amount\n"
        "A,2024-03-01 12:00:00+02:00,1\nB,2024-03-01 12:00:00,1\nC,2024-03-01T12:00:00Z,1\n",
    )
    db = tmp_path / "db.duckdb"
    load_files(db, {"orders": [str(csv)]}, parse_mapping({"orders": {"timezone": "Europe/Berlin"}}))
    with duckdb.connect(str(db), read_only=True) as con:
        got = dict(con.execute("SELECT customer_id, strftime(ordered_at, '%H:%M') FROM raw.orders").fetchall())
    assert got == {"A": "10:00", "B": "11:00", "C": "12:00"}


def test_missing_required_column_fails_and_changes_nothing(clean_db, tmp_path):
    db, _ = clean_db
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    bad = write(tmp_path / "o.csv", "client,ordered_at,amount\nA,2024-01-01,1\n")
    with pytest.raises(LoadError, match=r"needs a column 'customer_id'.*--map orders.customer_id="):
        load_files(copy, {"orders": [str(bad)]})
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


@pytest.mark.fast
def test_a_first_load_that_fails_leaves_no_database(tmp_path):
    bad = write(tmp_path / "o.csv", "client,ordered_at,amount\nA,2024-01-01,1\n")
    db = tmp_path / "new" / "clv.duckdb"
    with pytest.raises(LoadError):
        load_files(db, {"orders": [str(bad)]})
    assert not db.exists()


def test_a_failure_mid_load_rolls_everything_back(clean_db, tmp_path, monkeypatch):
    db, _ = clean_db
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    before = counts(copy)
    extra = write(tmp_path / "o.csv", "customer_id,ordered_at,amount\nC0000001,2024-01-01,1\n")

    def boom(*args, **kwargs):
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(loader_module, "_log", boom)
    with pytest.raises(LoadError, match=r"rolled back: .*disk full"):
        load_files(copy, {"orders": [str(extra)]})
    assert counts(copy) == before


@pytest.mark.fast
def test_changed_rows_replace_old_ones(tmp_path):
    db = tmp_path / "db.duckdb"
    first = write(
        tmp_path / "a.csv", "order_id,customer_id,ordered_at,amount\nO1,A,2024-01-01,10\nO2,A,2024-01-02,20\n"
    )
    load_files(db, {"orders": [str(first)]})
    second = write(
        tmp_path / "b.csv", "order_id,customer_id,ordered_at,amount\nO2,A,2024-01-02,25\nO3,B,2024-01-03,5\n"
    )
    report = load_files(db, {"orders": [str(second)]})
    f = report.files[0]
    assert (f.rows_inserted, f.rows_updated, f.rows_unchanged) == (1, 1, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert dict(con.execute("SELECT order_id, amount FROM raw.orders").fetchall()) == {"O1": 10, "O2": 25, "O3": 5}


@pytest.mark.fast
def test_orders_for_unknown_customers_are_rejected_once_customers_are_loaded(tmp_path):
    db = tmp_path / "db.duckdb"
    customers = write(tmp_path / "c.csv", "customer_id,country\nA,DE\n")
    orders = write(tmp_path / "o.csv", "customer_id,ordered_at,amount\nA,2024-01-01,1\nZ,2024-01-01,1\n")
    report = load_files(db, {"customers": [str(customers)], "orders": [str(orders)]})
    assert report.files[1].rejected_by_rule == {"unknown_customer_id": 1}
    assert report.derived_customers == 0


@pytest.mark.fast
@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "nothing to load"),
        ({"orders": ["/no/such/file.csv"]}, "no file matches"),
        ({"payments": ["x.csv"]}, "unknown table"),
    ],
)
def test_bad_requests(tmp_path, inputs, message):
    with pytest.raises(LoadError, match=message):
        load_files(tmp_path / "db.duckdb", inputs)


@pytest.mark.fast
def test_empty_and_unknown_files(tmp_path):
    empty = write(tmp_path / "o.csv", "")
    with pytest.raises(LoadError, match="the file is empty"):
        load_files(tmp_path / "db.duckdb", {"orders": [str(empty)]})
    odd = write(tmp_path / "o.xlsx", "x")
    with pytest.raises(LoadError, match="unknown file type"):
        load_files(tmp_path / "db.duckdb", {"orders": [str(odd)]})
    not_parquet = write(tmp_path / "o.parquet", "not parquet at all")
    with pytest.raises(LoadError, match="not a readable Parquet file"):
        load_files(tmp_path / "db.duckdb", {"orders": [str(not_parquet)]})


@pytest.mark.fast
def test_mapping_errors_name_the_fix(tmp_path):
    with pytest.raises(LoadError, match="orders has no column 'client'"):
        parse_mapping({"orders": {"client": "c"}})
    with pytest.raises(LoadError, match=r"amount_format must be one of \['plain', 'comma_decimal'\]"):
        parse_mapping({"orders": {"amount_format": "euro"}})
    with pytest.raises(LoadError, match="unknown table section"):
        parse_mapping({"orders": {}, "payments": {}})
    with pytest.raises(LoadError, match="--map expects"):
        apply_flags({}, ["customer_id"])
    assert apply_flags({}, ["events.customer_id=user"])["events"].columns == {"customer_id": "user"}
    bad_yaml = write(tmp_path / "m.yml", "orders: [unclosed\n")
    with pytest.raises(LoadError, match="not valid YAML"):
        read_mapping(bad_yaml)


@pytest.mark.fast
def test_a_date_format_that_cannot_apply_names_the_file_and_changes_nothing(tmp_path):
    csv = write(tmp_path / "o.csv", "customer_id,ordered_at,amount\nA,05.01.2024,1\n")
    db = tmp_path / "db.duckdb"
    with pytest.raises(LoadError, match=r"o\.csv: could not be read .*%Q.*check the mapping"):
        load_files(db, {"orders": [str(csv)]}, parse_mapping({"orders": {"date_format": "%Q"}}))
    assert not db.exists()
