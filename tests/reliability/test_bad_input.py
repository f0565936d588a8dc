"""Bad input to ingestion: every case ends in a clear error or in the rejected table with its rule.

Each case is a small file as users send them. For every case that loads, rows read = rows loaded
+ rows rejected; for every case that fails, the database is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckdb_clv.ingest import LoadError
from duckdb_clv.ingest.loader import load_files
from duckdb_clv.ingest.mapping import parse_mapping

HEADER = "customer_id,ordered_at,amount\n"


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    suffix: str = ".csv"
    mapping: dict = field(default_factory=dict)
    loaded: int | None = None  # rows expected in raw.orders (None: a LoadError is expected)
    rejected: dict[str, int] = field(default_factory=dict)
    error: str = ""
    check: str = ""  # SQL that must be true after the load; `loaded` holds this file's rows


def csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


CASES = [
    Case("utf8_bom", csv("\ufeff" + HEADER + "A,2024-01-01,5\n"), loaded=1),
    Case(
        "latin1_declared",
        csv(HEADER + "José,2024-01-01,5\n", "latin-1"),
        mapping={"encoding": "latin-1"},
        loaded=1,
        check="(SELECT customer_id FROM loaded) = 'JOSÉ'",
    ),
    Case(
        "latin1_undeclared",
        csv(HEADER + "José,2024-01-01,5\nB,2024-01-01,6\n", "latin-1"),
        loaded=1,
        rejected={"malformed_csv_line": 1},
    ),
    Case("semicolons", csv("customer_id;ordered_at;amount\nA;2024-01-01;5\n"), loaded=1),
    Case("tabs", csv("customer_id\tordered_at\tamount\nA\t2024-01-01\t5\n"), suffix=".tsv", loaded=1),
    Case("crlf_line_ends", csv(HEADER.replace("\n", "\r\n") + "A,2024-01-01,5\r\nB,2024-01-02,6\r\n"), loaded=2),
    Case(
        "quoted_newline",
        csv('customer_id,ordered_at,amount,note\nA,2024-01-01,5,"two\nlines"\nB,2024-01-02,6,x\n'),
        loaded=2,
    ),
    Case("huge_field", csv("customer_id,ordered_at,amount,note\nA,2024-01-01,5," + "x" * 2_000_000 + "\n"), loaded=1),
    Case("wrong_type", csv(HEADER + "A,2024-01-01,five\nB,2024-01-01,5\n"), loaded=1, rejected={"invalid_amount": 1}),
    Case(
        "null_id",
        csv(HEADER + ",2024-01-01,5\n  ,2024-01-01,5\nB,2024-01-01,5\n"),
        loaded=1,
        rejected={"missing_customer_id": 2},
    ),
    Case(
        "duplicate_key",
        csv("order_id," + HEADER + "O1,A,2024-01-01,5\nO1,A,2024-01-01,5\nO2,B,2024-01-01,6\n"),
        loaded=2,
        rejected={"duplicate_key": 1},
    ),
    Case(
        "mixed_time_zones",
        csv(HEADER + "A,2024-01-01 12:00:00+05:00,5\nB,2024-01-01 12:00:00,5\n"),
        loaded=2,
        check="(SELECT min(hour(ordered_at)) FROM loaded) = 7",
    ),
    Case("far_past", csv(HEADER + "A,1899-12-31,5\nB,2024-01-01,5\n"), loaded=1, rejected={"ordered_at_too_old": 1}),
    Case(
        "far_future", csv(HEADER + "A,2999-01-01,5\nB,2024-01-01,5\n"), loaded=1, rejected={"ordered_at_in_future": 1}
    ),
    Case(
        "unparseable_date",
        csv(HEADER + "A,31/02/2024,5\nB,2024-01-01,5\n"),
        loaded=1,
        rejected={"invalid_ordered_at": 1},
    ),
    Case("negative_amount", csv(HEADER + "A,2024-01-01,-5\n"), loaded=0, rejected={"negative_amount": 1}),
    Case("nan_amount", csv(HEADER + "A,2024-01-01,NaN\n"), loaded=0, rejected={"non_finite_amount": 1}),
    Case(
        "infinite_amount",
        csv(HEADER + "A,2024-01-01,inf\nB,2024-01-01,-Infinity\n"),
        loaded=0,
        rejected={"non_finite_amount": 2},
    ),
    Case(
        "dollars_with_thousands",
        csv(HEADER + 'A,2024-01-01,"$1,234.50"\n'),
        loaded=1,
        check="(SELECT amount FROM loaded) = 1234.5",
    ),
    Case(
        "european_amount",
        csv("customer_id;ordered_at;amount\nA;2024-01-01;1.234,50 €\n"),
        mapping={"amount_format": "comma_decimal"},
        loaded=1,
        check="(SELECT amount FROM loaded) = 1234.5",
    ),
    Case("ambiguous_amount", csv(HEADER + 'A,2024-01-01,"12,50"\n'), loaded=0, rejected={"invalid_amount": 1}),
    Case("empty_file", b"", error="the file is empty"),
    Case("header_only", csv(HEADER), loaded=0),
    Case("missing_column", csv("customer_id,ordered_at\nA,2024-01-01\n"), error="needs a column 'amount'"),
    Case("extra_column", csv("customer_id,ordered_at,amount,coupon\nA,2024-01-01,5,X\n"), loaded=1),
    Case("repeated_header_name", csv("customer_id,amount,amount\nA,5,5\n"), error="repeated column names"),
    Case("unicode_ids", csv(HEADER + "客户-1,2024-01-01,5\nçağrı,2024-01-01,5\n"), loaded=2),
    Case("very_long_id", csv(HEADER + "A" * 10_000 + ",2024-01-01,5\n"), loaded=1),
    Case(
        "too_many_fields",
        csv(HEADER + "A,2024-01-01,5,oops\nB,2024-01-01,6\n"),
        loaded=1,
        rejected={"malformed_csv_line": 1},
    ),
    Case(
        "too_few_fields", csv(HEADER + "A,2024-01-01\nB,2024-01-01,6\n"), loaded=1, rejected={"malformed_csv_line": 1}
    ),
    Case(
        "messy_id_spacing_and_case",
        csv(HEADER + " a ,2024-01-01,5\n"),
        loaded=1,
        check="(SELECT customer_id FROM loaded) = 'A'",
    ),
    Case(
        "parquet_text_amount",
        parquet_bytes(pa.table({"customer_id": ["A", "B"], "ordered_at": ["2024-01-01", "x"], "amount": ["5", "y"]})),
        suffix=".parquet",
        loaded=1,
        rejected={"invalid_ordered_at": 1},
    ),
    Case("not_parquet", b"PAR1 this is not parquet", suffix=".parquet", error="not a readable Parquet file"),
    Case("unknown_suffix", csv(HEADER), suffix=".xlsx", error="unknown file type"),
]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    """A database with one earlier load, so that failures can be checked to change nothing."""
    root = tmp_path_factory.mktemp("base")
    first = root / "first.csv"
    first.write_text(HEADER + "Z,2023-06-01,10\n")
    db = root / "base.duckdb"
    load_files(db, {"orders": [str(first)]})
    return db


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, base_db, tmp_path):
    source = tmp_path / f"orders{case.suffix}"
    source.write_bytes(case.content)
    db = tmp_path / "clv.duckdb"
    shutil.copyfile(base_db, db)
    mapping = parse_mapping({"orders": case.mapping}) if case.mapping else {}
    if case.loaded is None:
        before = sha(db)
        with pytest.raises(LoadError, match=case.error):
            load_files(db, {"orders": [str(source)]}, mapping)
        assert sha(db) == before
        return
    report = load_files(db, {"orders": [str(source)]}, mapping)
    [f] = report.files
    assert f.rows_read == f.rows_loaded + f.rows_rejected
    assert f.rows_loaded == case.loaded
    assert f.rejected_by_rule == case.rejected
    with duckdb.connect(str(db), read_only=True) as con:
        in_table = con.execute("SELECT count(*) FROM raw.orders WHERE _source_file = ?", [str(source)]).fetchone()[0]
        rejects = con.execute(
            "SELECT count(*) FROM raw.rejected_orders WHERE _source_file = ?", [str(source)]
        ).fetchone()[0]
        assert (in_table, rejects) == (case.loaded, sum(case.rejected.values()))
        logged = con.execute(
            "SELECT rows_read, rows_loaded, rows_rejected FROM raw.load_log WHERE source_file = ?", [str(source)]
        ).fetchone()
        assert logged == (f.rows_read, f.rows_loaded, f.rows_rejected)
        if case.check:
            check = f"WITH loaded AS (SELECT * FROM raw.orders WHERE _source_file = ?) SELECT {case.check}"
            assert con.execute(check, [str(source)]).fetchone()[0], case.check


def test_there_are_at_least_25_distinct_cases():
    assert len({c.name for c in CASES}) >= 25
