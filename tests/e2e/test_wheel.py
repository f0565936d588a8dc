"""The wheel is the product: built, installed into a fresh virtual environment, run outside the checkout.

The wheel is built from a copy of the sources (so the checkout gains no build folders) and
installed without dependencies; the fresh environment finds the dependencies through a ``.pth``
line naming this environment's site-packages, whose own ``.pth`` files (the editable install of
the checkout) are not processed from there. Every ``duckdb_clv`` module, the dbt project and the
dbt plugin then come from the wheel, which the test checks before it counts the run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "clv", "ingest", "training", "udfs", "report", "dbt_project")
IGNORED = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages", "*.egg-info", "build")


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the current sources."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=IGNORED)
        else:
            shutil.copy2(source, src / name)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."], src)
    (built,) = out.glob("duckdb_clv-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed; returns its bin folder."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], env.parent)
    python = env / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], env.parent)
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env / "bin"


def test_the_wheel_carries_one_namespace_and_the_dbt_project(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"duckdb_clv"}
    committed = subprocess.run(
        ["git", "ls-files", "dbt_project/models", "dbt_project/macros", "dbt_project/tests", "dbt_project/*.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    expected = {f"duckdb_clv/{p}" for p in committed if p.endswith((".sql", ".yml")) and not p.endswith("/.user.yml")}
    assert expected and expected <= set(names)
    for module in ("cli", "pipeline", "ingest/loader", "training/pipeline", "udfs/dbt_plugin", "report/html"):
        assert f"duckdb_clv/{module}.py" in names


def test_clv_builds_and_scores_from_the_installed_wheel(fresh, tmp_path):
    python, clv = str(fresh / "python"), str(fresh / "clv")
    where = _run(
        [python, "-c", "import duckdb_clv.build as b; print(b.__file__); print(b.dbt_project_dir())"], tmp_path
    )
    module, project = where.stdout.split()
    assert module.startswith(str(fresh.parent)) and project.startswith(str(fresh.parent)), where.stdout

    work = tmp_path / "work"
    work.mkdir()
    _run([clv, "generate", "--customers", "1500", "--seed", "3", "--out", "shop"], work)
    tables = ("orders", "customers", "order_items", "returns", "events")
    _run([clv, "load", *[a for t in tables for a in (f"--{t.replace('_', '-')}", f"shop/{t}.parquet")]], work)
    built = _run([clv, "build", "--n-training-cutoffs", "4"], work)
    assert "4 training cutoffs" in built.stdout
    _run([clv, "train", "--only", "btyd,kmeans"], work)
    scored = _run([clv, "score"], work)
    said = re.search(r"Scored ([\d,]+) customers", scored.stdout)

    # dbt ran the wheel's project, not the checkout's.
    ran = json.loads((work / "build" / "dbt" / "target" / "run_results.json").read_text())["args"]
    assert ran["project_dir"] == project
    with duckdb.connect(str(work / "build" / "clv.duckdb"), read_only=True) as con:
        rows, scored_rows = con.execute("SELECT count(*), count(predicted_clv) FROM customer_scores").fetchone()
        assert con.execute("SELECT count(*) FROM ml_scoring_set").fetchone()[0] == 1_500
        assert con.execute("SELECT count(DISTINCT cutoff_date) FROM ml_training_set").fetchone()[0] == 4
    assert said and int(said.group(1).replace(",", "")) == rows == scored_rows > 0
