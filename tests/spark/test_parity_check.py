"""``compare_table`` finds each kind of disagreement between two builds (no Spark needed: Parquet written by DuckDB)."""

from __future__ import annotations

import duckdb
import pytest

from duckdb_clv.spark.parity import REL_TOL, compare_table

pytestmark = pytest.mark.fast

ROWS = """
    SELECT * FROM (VALUES
        ('a', DATE '2024-01-31', 1.0::DOUBLE, 3::BIGINT, 'Loyal', [1.0, 2.0]::FLOAT[2]),
        ('b', DATE '2024-01-31', 1e6::DOUBLE, 0::BIGINT, 'Lost', [0.0, 0.0]::FLOAT[2])
    ) AS t(customer_id, cutoff_date, value, orders, segment, weekly)
"""


def _compare(tmp_path, changed: str):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE built AS {ROWS}")
    spark_file = tmp_path / "spark.parquet"
    con.execute(f"COPY ({changed}) TO '{spark_file}' (FORMAT parquet)")
    return compare_table(con, "built", "built", str(spark_file), ("customer_id", "cutoff_date"))


def test_identical_tables_are_equal(tmp_path) -> None:
    parity = _compare(tmp_path, "SELECT * FROM built")
    assert parity.equal and parity.rows == (2, 2) and parity.worst_relative == 0


def test_a_float_within_the_tolerance_is_equal_and_beyond_it_is_not(tmp_path) -> None:
    close = _compare(tmp_path, f"SELECT * REPLACE (value * (1 + {REL_TOL / 10}) AS value) FROM built")
    assert close.equal and 0 < close.worst_relative < REL_TOL
    far = _compare(tmp_path, f"SELECT * REPLACE (value * (1 + {REL_TOL * 10}) AS value) FROM built")
    assert not far.equal and far.differing == {"value": 2}


def test_counts_text_arrays_and_nulls_must_be_exact(tmp_path) -> None:
    changed = _compare(
        tmp_path,
        "SELECT * REPLACE (CASE WHEN customer_id = 'a' THEN orders + 1 ELSE orders END AS orders, "
        "CASE WHEN customer_id = 'b' THEN 'Hibernating' ELSE segment END AS segment, "
        "CASE WHEN customer_id = 'a' THEN [1.0, 2.0000002]::FLOAT[2] ELSE weekly END AS weekly, "
        "CASE WHEN customer_id = 'b' THEN NULL ELSE value END AS value) FROM built",
    )
    assert changed.differing == {"orders": 1, "segment": 1, "weekly": 1, "value": 1}


def test_missing_rows_and_columns_are_reported(tmp_path) -> None:
    parity = _compare(tmp_path, "SELECT * EXCLUDE (segment) FROM built WHERE customer_id = 'a'")
    assert parity.rows == (2, 1) and parity.unmatched == 1 and parity.missing == ["segment"]
    assert not parity.equal
    reordered = _compare(tmp_path, "SELECT segment, * EXCLUDE (segment) FROM built")
    assert not reordered.equal and reordered.missing[0].startswith("(order)")
