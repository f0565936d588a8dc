"""The stage order, read from the source with ``ast``: who may import whom.

ingest -> (dbt features) -> training -> (registry) -> udfs -> (dbt marts) -> report, with the
orchestration layer (``duckdb_clv`` itself: settings, pipeline, cli) above them all. The feature
contract and the registry format live in ``udfs``, the lightest package, so training imports them
from there; ``udfs`` never imports training, torch or scikit-learn; ``training`` never imports the
sample-shop simulator (the oracle is passed in as data). Inside ``training``: ``export`` knows no
model, ``models`` may use ``export``, ``evaluation`` may use both, and ``pipeline`` chains them.
No module imports another package's private names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
# Folder in the checkout -> its package in the installed namespace.
FOLDERS = {
    "clv": "duckdb_clv",
    "ingest": "duckdb_clv.ingest",
    "training": "duckdb_clv.training",
    "udfs": "duckdb_clv.udfs",
    "report": "duckdb_clv.report",
}
STAGES = ("ingest", "training", "udfs", "report")
# Stage -> the stages it may import (its own included).
ALLOWED = {
    "ingest": {"ingest"},
    "udfs": {"udfs"},
    "training": {"training", "udfs"},
    "report": {"report", "training", "udfs"},
    "orchestration": {"orchestration", "ingest", "training", "udfs", "report"},
}
THIRD_PARTY_BANNED = {"udfs": {"torch", "sklearn", "skl2onnx", "onnx", "scipy", "pandas", "matplotlib"}}
# Inside training: a module of a level imports only modules of its own level or lower.
# Metrics are plain numbers on arrays: the search scores its trials with them.
TRAINING_LEVELS = {
    "errors": 0,
    "failures": 0,
    "settings": 0,
    "dataset": 0,
    "evaluation.metrics": 0,
    "export": 1,
    "models": 2,
    "evaluation": 3,
}
TRAINING_TOP = 4  # training.pipeline, training.__init__


def _modules() -> list[tuple[str, Path]]:
    """(dotted module name in the namespace, file) for every source file of the package."""
    out = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out.append((".".join((package, *parts)), path))
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "orchestration"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import statement, at any depth (lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _training_level(module: str) -> int:
    parts = module.split(".")[2:]
    # The most specific entry wins: training.evaluation.metrics before training.evaluation.
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in TRAINING_LEVELS:
            return TRAINING_LEVELS[".".join(parts[:n])]
    return TRAINING_TOP


def _violations() -> list[str]:
    problems = []
    for module, path in _modules():
        stage = _stage(module)
        where = path.relative_to(ROOT)
        for target, names, line in _imports(path):
            top = target.split(".")[0]
            if top in FOLDERS and top != "duckdb_clv":
                problems.append(f"{where}:{line} imports {target}: use duckdb_clv.{target}")
                continue
            if top in THIRD_PARTY_BANNED.get(stage, ()):
                problems.append(f"{where}:{line}: {stage} imports {top}")
            if top != "duckdb_clv":
                continue
            # `from duckdb_clv import udfs` names a stage as an imported name.
            targets = [f"{target}.{n}" for n in names if n in STAGES] if target == "duckdb_clv" else [target]
            for full in targets:
                other = _stage(full)
                if other not in ALLOWED[stage]:
                    problems.append(f"{where}:{line}: {stage} imports {full} ({other})")
                if stage == other == "training" and _training_level(full) > _training_level(module):
                    problems.append(f"{where}:{line}: {module} imports {full}, which is above it")
                private = [n for n in names if n.startswith("_") and n != "__version__"]
                if private and other != stage:
                    problems.append(f"{where}:{line}: imports private {', '.join(private)} from {full}")
    return problems


def test_every_import_follows_the_stage_order():
    assert _violations() == []


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    # The rules above must be able to fail: plant a udfs module that imports training.
    planted = ROOT / "udfs" / "_planted_for_test.py"
    monkeypatch.setattr(
        "tests.test_architecture._modules",
        lambda: [("duckdb_clv.udfs._planted_for_test", planted)],
    )
    original = Path.read_text

    def fake_read(self: Path, *args: object, **kwargs: object) -> str:
        if self == planted:
            return (
                "import torch\nfrom duckdb_clv.training.pipeline import train_models\n"
                "from duckdb_clv.ingest.loader import _private\nimport training\n"
            )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", fake_read)
    found = _violations()
    assert any("udfs imports torch" in p for p in found)
    assert any("udfs imports duckdb_clv.training.pipeline (training)" in p for p in found)
    assert any("imports private _private" in p for p in found)
    assert any("imports training: use duckdb_clv.training" in p for p in found)


def test_tests_and_benchmarks_import_through_the_namespace():
    stray = []
    for folder in ("tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for target, _names, line in _imports(path):
                if target.split(".")[0] in set(FOLDERS) - {"duckdb_clv"}:
                    stray.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert stray == []
