"""Setting Spark up: what is missing is named in one line, and the dbt profile reads what ``session_env`` sets."""

from __future__ import annotations

import re

import pytest

from duckdb_clv.build import dbt_project_dir
from duckdb_clv.cli import main
from duckdb_clv.errors import ClvError
from duckdb_clv.spark.session import require_spark, session_env

pytestmark = pytest.mark.fast


def test_no_java_is_one_line_naming_the_package(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClvError, match=r"^Spark needs Java 17 and none was found: install it with `apt-get install "):
        require_spark()


def test_spark_build_without_a_loaded_database_says_what_to_run(tmp_path, capsys) -> None:
    assert main(["spark-build", "--db", str(tmp_path / "none.duckdb"), "--warehouse", str(tmp_path / "w")]) == 2
    assert "load data first with `clv load" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_the_spark_profile_reads_every_variable_session_env_sets(tmp_path) -> None:
    profile = (dbt_project_dir() / "profiles.yml").read_text()
    spark_target = profile[profile.index("    spark:") :]
    read = set(re.findall(r"env_var\('(CLV_SPARK_[A-Z_]+)'", spark_target))
    assert read == {k for k in session_env(tmp_path) if k.startswith("CLV_SPARK_")}
