"""The dbt project on Spark builds the same features, labels, segments and histories as on DuckDB."""

from __future__ import annotations

import pytest

from duckdb_clv import pipeline
from duckdb_clv.settings import make_settings
from duckdb_clv.spark.parity import TABLES, compare_builds
from tests.conftest import shop_inputs
from tests.spark.conftest import needs_spark

pytestmark = needs_spark


def _assert_equal(db, build, campaigns: bool = False) -> None:
    parity = compare_builds(db, build)
    assert [p.table for p in parity][: len(TABLES)] == [t[0] for t in TABLES]
    for p in parity:
        # Only a shop with a campaign log has logged decisions.
        assert p.rows[0] > 0 or (p.table == "ml_decision_set" and not campaigns), p.table
        assert p.equal, (p.table, p.rows, p.unmatched, p.missing, p.differing, p.worst_relative)


def test_the_spark_build_equals_the_duckdb_build(built, spark_built) -> None:
    """Every column of every feature, label, segment and history table, and the exported ml views."""
    _assert_equal(built.db, spark_built)
    assert spark_built.result.training_cutoffs == built.result.training_cutoffs
    assert spark_built.result.scoring_cutoff == built.result.scoring_cutoff
    # dbt's tests ran on Spark too (the unit tests and data tests of every model built).
    assert spark_built.result.nodes > 100


@pytest.mark.slow
def test_the_spark_build_equals_the_duckdb_build_on_the_20000_customer_shop(shop, tmp_path) -> None:
    from duckdb_clv.spark.build import spark_build

    settings = make_settings(db=str(tmp_path / "clv.duckdb"))
    pipeline.load(settings, shop_inputs(shop))
    pipeline.build(settings)
    build = spark_build(settings.db, tmp_path / "warehouse", settings.feature_vars())
    _assert_equal(settings.db, build)


@pytest.mark.slow
def test_the_campaign_history_and_decisions_build_equal_on_spark(built_campaigns, tmp_path) -> None:
    """The per-action columns of fct_customer_treatments and ml_decision_set, from a shop with campaigns."""
    from duckdb_clv.spark.build import spark_build

    settings = make_settings(db=str(built_campaigns.db))
    build = spark_build(built_campaigns.db, tmp_path / "warehouse", settings.feature_vars())
    _assert_equal(built_campaigns.db, build, campaigns=True)
