"""Scoring stays light and the package installs under one name: ``duckdb_clv``."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt

HEAVY = ("torch", "sklearn", "skl2onnx", "onnx", "scipy", "pandas", "matplotlib", "duckdb_clv.training")


def _imported_after(statement: str, cwd: str | None = None) -> list[str]:
    code = f"import sys; {statement}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd)
    return eval(result.stdout)


def test_udfs_imports_without_training_libraries():
    assert _imported_after("from duckdb_clv import udfs; import duckdb_clv.udfs.registry, duckdb_clv.udfs.sql") == []


def test_the_command_line_starts_without_training_libraries():
    # `clv sql` or `clv score` on a scoring-only install must not need the train extra.
    loaded = _imported_after("import duckdb_clv.cli, duckdb_clv.pipeline")
    assert [m for m in loaded if m != "duckdb_clv.training"] == []


def test_one_namespace_and_the_console_script_are_installed(tmp_path):
    import importlib.metadata as md

    dist = md.distribution("duckdb-clv")
    assert any(ep.name == "clv" and ep.value == "duckdb_clv.cli:main" for ep in dist.entry_points)
    for package in ("duckdb_clv.ingest", "duckdb_clv.training", "duckdb_clv.udfs", "duckdb_clv.report"):
        __import__(package)
    # Outside the checkout, none of the stage folders' own names is importable: nothing generic
    # like `training` or `ingest` lands in a user's environment.
    names = ("clv", "ingest", "training", "udfs", "report")
    code = f"import importlib.util as u; print([n for n in {names!r} if u.find_spec(n)])"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert found.stdout.strip() == "[]"
