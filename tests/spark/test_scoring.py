"""Scoring a Spark DataFrame with the registry's ONNX models gives the DuckDB functions' scores."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from duckdb_clv.udfs.errors import RegistryError
from duckdb_clv.udfs.registry import champion
from duckdb_clv.udfs.sql import register_functions
from tests.spark.conftest import needs_spark, parquet_files

pytestmark = needs_spark
# Unknown for every seventh customer in the NULL test: NaN to the model on both engines.
NULLED = ("frequency", "sessions_30d", "mean_value_net")
SCORED = ("predicted_clv", "churn_probability", "segment")


def duckdb_scores(models, rows: str, db=None) -> pa.Table:
    """customer_id and the three scores from the SQL functions, over the relation ``rows``."""
    con = duckdb.connect()
    if db is not None:
        con.execute(f"ATTACH '{db}' AS duck (READ_ONLY)")
    register_functions(con, models)
    return con.sql(
        "SELECT customer_id, predict_clv(s) AS predicted_clv, churn_score(s) AS churn_probability, "
        f"customer_segment(s) AS segment FROM {rows} AS s ORDER BY customer_id"
    ).to_arrow_table()


def exported(spark_built) -> str:
    return f"read_parquet('{parquet_files(spark_built.exports['ml_scoring_set'])}')"


def collected(df) -> pa.Table:
    return df.select("customer_id", *SCORED).toArrow().sort_by("customer_id")


def assert_same_scores(expected: pa.Table, actual: pa.Table) -> None:
    assert actual.num_rows == expected.num_rows > 0
    assert actual.column("customer_id").to_pylist() == expected.column("customer_id").to_pylist()
    for name in SCORED:
        np.testing.assert_array_equal(actual.column(name).to_numpy(), expected.column(name).to_numpy(), err_msg=name)


def test_spark_scores_equal_the_duckdb_functions_binding_features_by_name(trained, spark, spark_built) -> None:
    from pyspark.sql import functions as sf

    from duckdb_clv.spark.scoring import score_dataframe

    rows = spark.read.parquet(str(spark_built.exports["ml_scoring_set"]))
    # Another column order, an extra column, an integer-typed feature: bound by name, read as doubles.
    shuffled = (
        rows.select(*reversed(rows.columns))
        .withColumn("note", sf.lit("kept"))
        .withColumn("order_count", sf.col("order_count").cast("int"))
    )
    scored = score_dataframe(shuffled, trained.models)
    assert_same_scores(duckdb_scores(trained.models, exported(spark_built)), collected(scored))
    assert [r[0] for r in scored.select("note").distinct().collect()] == ["kept"]
    # And the DuckDB build's own rows score the same: the two builds' features are equal.
    assert_same_scores(duckdb_scores(trained.models, "duck.ml_scoring_set", db=trained.built.db), collected(scored))


def test_unknown_features_score_as_in_sql_and_partitions_do_not_change_scores(trained, spark, spark_built) -> None:
    from pyspark.sql import functions as sf

    from duckdb_clv.spark.scoring import score_dataframe

    rows = spark.read.parquet(str(spark_built.exports["ml_scoring_set"]))
    unknown = (sf.abs(sf.hash("customer_id")) % 7) == 0
    nulled = rows.withColumns({c: sf.when(unknown, sf.lit(None)).otherwise(sf.col(c)) for c in NULLED})
    # The same customers' features NULL in SQL (Spark's hash picks them; the ids are passed along).
    picked = [r[0] for r in nulled.where(unknown).select("customer_id").collect()]
    assert 0 < len(picked) < rows.count()
    ids = ", ".join(f"'{p}'" for p in picked)
    replaced = ", ".join(f"CASE WHEN customer_id IN ({ids}) THEN NULL ELSE {c} END AS {c}" for c in NULLED)
    con_rows = f"(SELECT * REPLACE ({replaced}) FROM {exported(spark_built)})"
    expected = duckdb_scores(trained.models, con_rows)
    for partitions in (1, 4):
        assert_same_scores(expected, collected(score_dataframe(nulled, trained.models, partitions=partitions)))


def test_missing_features_and_bad_registries_fail_on_the_driver_in_one_line(trained, spark, spark_built, tmp_path):
    from duckdb_clv.spark.scoring import score_dataframe

    rows = spark.read.parquet(str(spark_built.exports["ml_scoring_set"]))
    with pytest.raises(ClvError, match=r"lacks 2 feature column\(s\) the models read \(frequency, t_days\)"):
        score_dataframe(rows.drop("frequency", "t_days"), trained.models)
    with pytest.raises(ClvError, match="'frequency' is string, not a number"):
        score_dataframe(rows.withColumn("frequency", rows["customer_id"]), trained.models)
    with pytest.raises(ClvError, match="already has predicted_clv"):
        score_dataframe(score_dataframe(rows, trained.models), trained.models)
    # A model file changed after registration is refused before any Spark task runs.
    tampered = tmp_path / "models"
    shutil.copytree(trained.models, tampered)
    pointer = champion(tampered, "churn")
    onnx = tampered / pointer["name"] / pointer["version"] / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[-1] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="sha256"):
        score_dataframe(rows, tampered)


def test_clv_spark_score_writes_parquet_with_the_scores(trained, spark, spark_built, tmp_path, capsys) -> None:
    out = tmp_path / "scored"
    source = str(spark_built.exports["ml_scoring_set"])
    code = main(
        ["--models-dir", str(trained.models), "spark-score", "--in", source, "--out", str(out), "--partitions", "2"]
    )
    assert code == 0, capsys.readouterr()
    assert "Scored 3,000 rows on Spark" in capsys.readouterr().out
    written = duckdb.sql(f"SELECT customer_id, {', '.join(SCORED)} FROM read_parquet('{out}/*.parquet') ORDER BY 1")
    assert_same_scores(duckdb_scores(trained.models, exported(spark_built)), written.to_arrow_table())
    # A bad run leaves the earlier output as it was.
    before = sorted(p.name for p in out.iterdir())
    assert main(["--models-dir", str(tmp_path / "none"), "spark-score", "--in", source, "--out", str(out)]) == 2
    assert "no value champion" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_named_model_scores_as_the_sql_functions_model_argument(trained, spark, spark_built) -> None:
    from duckdb_clv.spark.scoring import score_dataframe

    rows = spark.read.parquet(str(spark_built.exports["ml_scoring_set"]))
    scored = score_dataframe(rows, trained.models, refs={"value": "value_btyd"})
    con = duckdb.connect()
    register_functions(con, trained.models)
    expected = con.sql(
        f"SELECT customer_id, predict_clv(s, model := 'value_btyd') AS v FROM {exported(spark_built)} AS s ORDER BY 1"
    ).to_arrow_table()
    actual = scored.select("customer_id", "predicted_clv").toArrow().sort_by("customer_id")
    np.testing.assert_array_equal(actual.column("predicted_clv").to_numpy(), expected.column("v").to_numpy())
    with pytest.raises(RegistryError, match="no model named 'value_nothing'"):
        score_dataframe(rows, trained.models, refs={"value": "value_nothing"})
