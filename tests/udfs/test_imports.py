"""Scoring must stay light: importing `udfs` never pulls in torch or scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.fast  # make test-fast: no shop, no dbt


def test_udfs_imports_without_training_libraries():
    code = (
        "import sys, udfs, udfs.registry, udfs.models, udfs.functions; "
        "heavy = sorted(m for m in ('torch', 'sklearn', 'skl2onnx', 'onnx', 'scipy', 'pandas', 'training') "
        "if m in sys.modules); "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_packages_and_console_script_are_installed():
    import importlib.metadata as md

    dist = md.distribution("duckdb-clv")
    assert any(ep.name == "clv" and ep.value == "clv.cli:main" for ep in dist.entry_points)
    for package in ("ingest", "training", "udfs", "clv"):
        __import__(package)
