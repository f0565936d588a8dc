"""Misuse of the SQL functions: each case gives a clear SQL error or the result docs/SCORING.md states.

After every case the same connection must still answer a query: no misuse kills DuckDB or leaves
the connection unusable. The table of cases here is the one in docs/SCORING.md.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from duckdb_clv import udfs
from duckdb_clv.training.dataset import read_rows
from duckdb_clv.udfs.contract import FEATURES
from tests.conftest import onnx_scores

ONE_ROW = "(SELECT * FROM ml_scoring_set ORDER BY customer_id LIMIT 1)"
FIRST = "customer_id = (SELECT min(customer_id) FROM ml_scoring_set)"


def replaced(expression: str, feature: str = "frequency") -> str:
    """One scoring row with ``feature`` replaced by a SQL ``expression``."""
    return f"(SELECT * REPLACE ({expression} AS {feature}) FROM {ONE_ROW})"


# (case, SQL, the error it must raise): each is refused with a message naming the problem.
# fmt: off
ERRORS = [
    ("no arguments", "SELECT predict_clv()", "Macro predict_clv\\(\\) does not support the supplied arguments"),
    ("too many arguments", f"SELECT predict_clv(s, 'value_rf', 3) FROM {ONE_ROW} s", "does not support the supplied"),
    ("p_alive with two arguments", "SELECT p_alive(1, 2)", "Macro p_alive\\(\\) does not support"),
    ("expected_purchases with three", "SELECT expected_purchases(1, 2, 3)", "Macro expected_purchases\\(\\)"),
    ("discounted_clv without a rate", "SELECT discounted_clv([1, 2])", "Macro discounted_clv\\(\\)"),
    ("a number as the feature row", "SELECT predict_clv(42)", "struct_extract\\(INTEGER_LITERAL"),
    ("a string as the feature row", "SELECT churn_score('abc')", "struct_extract\\(STRING_LITERAL"),
    ("a list as the feature row", "SELECT customer_segment([1, 2, 3])", "struct_extract\\(INTEGER\\[\\]"),
    ("a missing feature", "SELECT predict_clv(struct_pack(frequency := 1.0))", 'Could not find key "recency_days"'),
    ("a word as a feature", f"SELECT predict_clv(s) FROM {replaced(repr('soon'), 't_weeks')} s",
     r"feature t_weeks must be a number \(model spec [0-9a-f]{12}\), got: soon"),
    ("a date as a feature", f"SELECT predict_clv(s) FROM {replaced('DATE {d}2024-01-01{d}'.format(d=chr(39)))} s",
     "feature frequency must be a number .*got: 2024-01-01"),
    ("a list as a feature", f"SELECT churn_score(s) FROM {replaced('[1]')} s", "feature frequency must be a number"),
    ("+infinity as a feature", f"SELECT predict_clv(s) FROM {replaced(chr(39) + 'inf' + chr(39) + '::DOUBLE')} s",
     "feature 'frequency' is infinite or beyond float32's range"),
    ("-infinity as a feature", f"SELECT churn_score(s) FROM {replaced(chr(39) + '-inf' + chr(39) + '::DOUBLE')} s",
     "feature 'frequency' is infinite or beyond float32's range"),
    ("1e300 as a feature", f"SELECT predict_clv(s) FROM {replaced('1e300')} s",
     "feature 'frequency' is infinite or beyond float32's range \\(3.4e38\\) in 1 rows"),
    ("a number as the model", f"SELECT predict_clv(s, model := 42) FROM {ONE_ROW} s", "_clv_model\\(STRING_LITERAL"),
    ("an unknown model", f"SELECT predict_clv(s, model := 'nope') FROM {ONE_ROW} s", "no model named 'nope'"),
    ("an unknown version", f"SELECT predict_clv(s, model := 'value_btyd/v9') FROM {ONE_ROW} s",
     "model 'value_btyd' has no version 'v9'"),
    ("a model of another task", f"SELECT predict_clv(s, model := 'churn_hgb') FROM {ONE_ROW} s",
     "is a churn model; this function needs a value model"),
    ("SQL in the model name", f"SELECT predict_clv(s, model := 'x''; DROP TABLE raw.orders; --') FROM {ONE_ROW} s",
     "invalid model name"),
    ("a path in the model name", f"SELECT predict_clv(s, model := '../../etc/passwd') FROM {ONE_ROW} s",
     "invalid model name"),
    ("a registry in the model name", f"SELECT predict_clv(s, model := 'value_rf/v1|/tmp') FROM {ONE_ROW} s",
     "invalid version 'v1\\|/tmp'"),
    ("unicode in the model name", f"SELECT predict_clv(s, model := 'välue') FROM {ONE_ROW} s", "invalid model name"),
    ("a 100,000-character model name", f"SELECT predict_clv(s, model := repeat('a', 100000)) FROM {ONE_ROW} s",
     "invalid model name"),
    ("an empty model name", f"SELECT predict_clv(s, model := '') FROM {ONE_ROW} s", "invalid model name ''"),
    ("a column as the model", f"SELECT predict_clv(s, model := s.customer_id) FROM {ONE_ROW} s", "invalid model name"),
    ("an unknown task", "SELECT clv_model('revenue')", "unknown task 'revenue'; tasks are value, churn, segment"),
    ("a word for p_alive", "SELECT p_alive('a', 1, 2)", "Could not convert string 'a' to DOUBLE"),
    ("infinity for p_alive", "SELECT p_alive('inf'::DOUBLE, 1, 2)", "frequency, recency and T must be finite"),
    ("negative frequency", "SELECT p_alive(-1, 1, 2)", "frequency, recency and T must be >= 0"),
    ("recency above T", "SELECT expected_purchases(1, 30, 20, 52)", "recency must not exceed T"),
    ("a fractional frequency", "SELECT p_alive(1.5, 1, 2)", "frequency must be a whole number"),
    ("negative periods", "SELECT expected_purchases(1, 1, 2, -3)", "periods must be a finite number >= 0"),
    ("infinite periods", "SELECT expected_purchases(1, 1, 2, 'inf'::DOUBLE)", "periods must be a finite number"),
    ("a number for the list", "SELECT discounted_clv(5, 0.1)", "list_aggr\\(INTEGER_LITERAL"),
    ("words in the list", "SELECT discounted_clv(['a', 'b'], 0.1)", "/\\(VARCHAR, DOUBLE\\)"),
    ("a rate of -1", "SELECT discounted_clv([1, 2], -1)", "rate must be a finite number greater than -1"),
    ("a NaN rate", "SELECT discounted_clv([1, 2], 'nan'::DOUBLE)", "rate must be a finite number greater than -1"),
    ("an infinite rate", "SELECT discounted_clv([1, 2], 'inf'::DOUBLE)", "rate must be a finite number"),
    ("a negative top_k", f"SELECT explain_clv(s, top_k := -1) FROM {ONE_ROW} s", "top_k must be 0 or more.*got -1"),
    ("a segment the model does not have", "SELECT segment_name(99)", "segment 99 is not one of segment_kmeans/v1's"),
    ("a segment name from a value model", "SELECT segment_name(0, model := 'value_rf')", "value_rf"),
    ("a word as top_k", f"SELECT explain_churn(s, top_k := 'three') FROM {ONE_ROW} s",
     "Could not convert string 'three' to INT64"),
    ("explaining a segment model", f"SELECT explain_clv(s, model := 'segment_kmeans') FROM {ONE_ROW} s",
     "is a segment model; this function needs a value model"),
    ("a churn model for explain_clv", f"SELECT explain_clv(s, model := 'churn_rf') FROM {ONE_ROW} s",
     "is a churn model; this function needs a value model"),
    ("a number as the row to explain", "SELECT explain_clv(42)", "struct_extract\\(INTEGER_LITERAL"),
    *[(f"an interval level of {level}", f"SELECT predict_clv_interval(s, level := {level}) FROM {ONE_ROW} s",
       "level must be a coverage between 0 and 1 \\(exclusive\\), for example 0.8")
      for level in ("0", "1", "-0.5", "1.5", "'nan'::DOUBLE")],
    ("a word as the level", f"SELECT predict_clv_interval(s, level := 'high') FROM {ONE_ROW} s",
     "Could not convert string 'high' to DOUBLE"),
]

# (case, SQL, the documented result).
RESULTS = [
    ("a NULL feature row", "SELECT bool_and(predict_clv(s) IS NULL), count(*) > 0 FROM "
     "(SELECT CASE WHEN false THEN m END AS s FROM ml_scoring_set m)", [(True, True)]),
    ("an empty table",
     "SELECT predict_clv(s), churn_score(s), customer_segment(s) FROM ml_scoring_set s WHERE false", []),
    ("an aggregate over no rows", "SELECT sum(predict_clv(s)) FROM ml_scoring_set s WHERE false", [(None,)]),
    ("NULL for p_alive", "SELECT p_alive(NULL, 1, 2), expected_purchases(1, 1, 2, NULL)", [(None, None)]),
    ("NaN for p_alive", "SELECT p_alive('nan'::DOUBLE, 1, 2), expected_purchases(1, 'nan'::DOUBLE, 2, 5)",
     [(None, None)]),
    ("a NULL inside the list", "SELECT discounted_clv([100, NULL, 20], 0.1)", [(None,)]),
    ("NULL list or rate", "SELECT discounted_clv(NULL, 0.1), discounted_clv([1], NULL)", [(None, None)]),
    ("an empty list", "SELECT discounted_clv([], 0.1)", [(0.0,)]),
    ("a NULL row to explain", "SELECT bool_and(explain_clv(s) IS NULL AND explain_churn(s) IS NULL), count(*) > 0 "
     "FROM (SELECT CASE WHEN false THEN m END AS s FROM ml_scoring_set m)", [(True, True)]),
    ("an empty table to explain", "SELECT explain_clv(s) FROM ml_scoring_set s WHERE false", []),
    ("a NULL segment's name", "SELECT segment_name(NULL)", [(None,)]),
    ("a NULL row's interval", "SELECT bool_and(predict_clv_interval(s) IS NULL), count(*) > 0 FROM "
     "(SELECT CASE WHEN false THEN m END AS s FROM ml_scoring_set m)", [(True, True)]),
    ("a NULL level: the default 0.8", f"SELECT predict_clv_interval(s, level := NULL) = predict_clv_interval(s) "
     f"FROM {ONE_ROW} s", [(True,)]),
    ("top_k of 0", f"SELECT len(e.contributions), abs(e.base + e.rest - e.prediction) < 1e-9 FROM "
     f"(SELECT explain_clv(s, top_k := 0) AS e FROM {ONE_ROW} s)", [(0, True)]),
    ("a NULL top_k: the default 3", f"SELECT len(explain_churn(s, top_k := NULL).contributions) FROM {ONE_ROW} s",
     [(3,)]),
    ("top_k above the inputs: all of them", f"SELECT len(e.contributions) = len(list_distinct(list_transform("
     f"e.contributions, lambda c: c.feature))), len(e.contributions) >= {len(FEATURES)}, e.rest FROM "
     f"(SELECT explain_clv(s, top_k := 100000) AS e FROM {ONE_ROW} s)", [(True, True, 0.0)]),
]
# fmt: on
tried: dict[str, int] = {"errors": 0, "results": 0, "same as onnxruntime": 0}


@pytest.fixture(scope="module")
def con(trained):
    connection = udfs.connect(trained.built.db, trained.models)
    yield connection
    connection.close()
    print(f"\nsql misuse: {sum(tried.values())} cases, " + ", ".join(f"{n} {k}" for k, n in tried.items()))


def still_alive(con) -> None:
    assert con.execute("SELECT 42").fetchall() == [(42,)]


@pytest.mark.parametrize(("case", "sql", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_misuse_is_a_clear_sql_error(con, case, sql, message):
    with pytest.raises(duckdb.Error, match=message) as err:
        con.execute(sql).fetchall()
    assert "Traceback" not in str(err.value)
    still_alive(con)
    tried["errors"] += 1


@pytest.mark.parametrize(("case", "sql", "expected"), RESULTS, ids=[r[0] for r in RESULTS])
def test_misuse_gives_the_documented_result(con, case, sql, expected):
    got = con.execute(sql).fetchall()
    assert got == expected
    still_alive(con)
    tried["results"] += 1


def one(con, sql: str) -> float:
    return con.execute(sql).fetchall()[0][0]


def test_null_nan_and_numeric_strings_are_the_documented_values(con, trained):
    row = read_rows(con, "ml_scoring_set", where=FIRST).X.copy()
    missing = row.copy()
    missing[0, FEATURES.index("frequency")] = np.nan
    expected_missing = float(onnx_scores(trained, "value", missing)[0])
    # NULL and NaN are both missing data; the model sees NaN.
    assert one(con, f"SELECT predict_clv(s) FROM {replaced('NULL::DOUBLE')} s") == pytest.approx(expected_missing)
    assert one(con, f"SELECT predict_clv(s) FROM {replaced(chr(39) + 'nan' + chr(39) + '::DOUBLE')} s") == (
        pytest.approx(expected_missing)
    )
    # A string that reads as a number, and a boolean, are that number.
    three = row.copy()
    three[0, FEATURES.index("frequency")] = 3.0
    assert one(con, f"SELECT predict_clv(s) FROM {replaced(chr(39) + '3' + chr(39))} s") == (
        pytest.approx(float(onnx_scores(trained, "value", three)[0]))
    )
    true = row.copy()
    true[0, FEATURES.index("frequency")] = 1.0
    as_one = float(onnx_scores(trained, "value", true)[0])
    assert one(con, f"SELECT predict_clv(s) FROM {replaced('true')} s") == pytest.approx(as_one)
    # model := NULL is the champion.
    assert one(con, f"SELECT predict_clv(s, model := NULL) FROM {ONE_ROW} s") == one(
        con, f"SELECT predict_clv(s) FROM {ONE_ROW} s"
    )
    still_alive(con)
    tried["results"] += 5


@pytest.mark.parametrize("rows", [0, 1, 2048, 2049])
def test_chunk_boundaries_score_every_row_as_onnxruntime_does(con, trained, rows):
    # DuckDB hands a UDF 2,048 rows at a time: the edges of a chunk must not lose or shift a row.
    sql = f"SELECT predict_clv(s) FROM (SELECT * FROM ml_scoring_set ORDER BY customer_id LIMIT {rows}) s"
    got = np.array([r[0] for r in con.execute(sql + " ORDER BY customer_id").fetchall()], dtype=np.float64)
    first = f"customer_id IN (SELECT customer_id FROM ml_scoring_set ORDER BY customer_id LIMIT {rows})"
    sample = read_rows(con, "ml_scoring_set", where=first)  # ordered by customer_id, as `got` is
    assert got.size == rows == len(sample.customer_id)
    if rows:
        np.testing.assert_array_equal(got, onnx_scores(trained, "value", sample.X))
    still_alive(con)
    tried["same as onnxruntime"] += 1


def test_a_misused_connection_still_scores_and_raw_tables_are_untouched(con, trained):
    before = con.execute("SELECT count(*) FROM raw.orders").fetchall()[0][0]
    for _, sql, _ in ERRORS:
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    assert con.execute("SELECT count(*) FROM raw.orders").fetchall()[0][0] == before > 0
    total = one(con, "SELECT sum(predict_clv(s)) FROM ml_scoring_set s")
    expected = float(onnx_scores(trained, "value", read_rows(con, "ml_scoring_set").X).sum())
    assert total == pytest.approx(expected, rel=1e-9)
