"""Training from a Spark build: its exported training rows (or a sample of customers) train and register
models as ``clv train`` does, and the champions then score on Spark as the DuckDB functions do."""

from __future__ import annotations

import duckdb
import pytest

from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from duckdb_clv.udfs.registry import champion
from tests.spark.conftest import needs_spark
from tests.spark.test_scoring import assert_same_scores, collected, duckdb_scores, exported

pytestmark = needs_spark


def customer_rows(db) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT customer_id, count(*) FROM ml_training_set GROUP BY 1").fetchall())


def test_a_sample_of_a_spark_build_trains_models_that_score_on_spark(spark, spark_built, tmp_path, capsys) -> None:
    from duckdb_clv.spark.scoring import score_dataframe
    from duckdb_clv.spark.training import training_database
    from duckdb_clv.training.pipeline import TrainSettings, train_models

    db = tmp_path / "train.duckdb"
    args = ["--db", str(db), "spark-train-set", "--warehouse", str(spark_built.warehouse), "--sample-share", "0.7"]
    assert main(args) == 0, capsys.readouterr()
    assert "train with `clv train --db" in capsys.readouterr().out
    full = tmp_path / "full.duckdb"
    training_database(spark_built, full)
    everyone, sample = customer_rows(full), customer_rows(db)
    # Whole customers are kept (every cutoff of each), about the share asked for, the same ones each time.
    assert 0.6 < len(sample) / len(everyone) < 0.8
    assert all(everyone[c] == n for c, n in sample.items())
    again = tmp_path / "again.duckdb"
    training_database(spark_built, again, 0.7)
    assert customer_rows(again) == sample
    training_database(spark_built, again, 0.7, seed=1)
    assert customer_rows(again) != sample

    models = tmp_path / "models"
    settings = TrainSettings(
        seed=0, trials=1, threads=2, max_iter=60, forest_trees=30, max_epochs=6, families=("btyd", "hgb", "kmeans")
    )
    result = train_models(db, models, settings)
    assert result.cards and not result.failures
    assert {task for task in ("value", "churn", "segment") if champion(models, task)} == {"value", "churn", "segment"}
    scored = score_dataframe(spark.read.parquet(str(spark_built.exports["ml_scoring_set"])), models)
    assert_same_scores(duckdb_scores(models, exported(spark_built)), collected(scored))


def test_a_bad_share_or_an_unbuilt_warehouse_is_refused(spark_built, tmp_path) -> None:
    from duckdb_clv.spark.build import SparkBuild
    from duckdb_clv.spark.training import training_database

    db = tmp_path / "train.duckdb"
    for share in (0, 1.5):
        with pytest.raises(ClvError, match=r"is not in \(0, 1\]"):
            training_database(spark_built, db, share)
    assert not db.exists()
    with pytest.raises(ClvError, match="holds no finished Spark build"):
        SparkBuild.at(tmp_path / "empty")
