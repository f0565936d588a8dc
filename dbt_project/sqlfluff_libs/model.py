"""Stand-in for dbt's `model` when sqlfluff renders the ml views: their columns, read from their YAML."""

from pathlib import Path

import yaml

_SPEC = Path(__file__).resolve().parent.parent / "models" / "marts" / "ml" / "_ml__models.yml"
_NODES = {m["name"]: m for m in yaml.safe_load(_SPEC.read_text())["models"]}
# The training view's columns: the contract plus the labels (a superset of the scoring view's).
columns = {c["name"]: c for c in _NODES["ml_training_set"]["columns"]}
