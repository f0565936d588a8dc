"""``TrainSettings``: how much to train, and the model families there are.

Light on purpose: ``duckdb_clv.settings`` and the CLI read these defaults without importing
scikit-learn or torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# "policy": the next-best-action policies, fitted where the database holds campaign history.
FAMILIES = ("btyd", "hgb", "rf", "mlp", "ziln", "lstm", "cnn", "fused", "kmeans", "policy")
# Families that read the weekly histories besides the features (``training/models/sequence.py``).
SEQUENCE_FAMILIES = ("lstm", "cnn")
# What `clv train` fits unless told (`--only`): every family but the sequence models, which are
# asked for by name. They add about 5 minutes of training, and explaining one (``explain_clv``,
# ``customer_scores.top_drivers``) runs 25-50 rows/s against TreeSHAP's 570 (docs/TRAINING.md#sequence-models).
DEFAULT_FAMILIES = tuple(f for f in FAMILIES if f not in SEQUENCE_FAMILIES)


@dataclass(frozen=True)
class TrainSettings:
    """How much to train: the defaults suit the sample shop and scale to 1M customers."""

    seed: int = 0
    trials: int = 4
    search_rows: int = 100_000
    max_train_rows: int = 1_000_000
    mlp_rows: int = 500_000
    # Training rows the sequence models fit on (a seeded sample): their histories are read for
    # these rows only (52 weeks x 6 channels each).
    sequence_rows: int = 100_000
    threads: int = max(1, os.cpu_count() or 1)
    families: tuple[str, ...] = DEFAULT_FAMILIES
    fuse_top: int = 3
    max_iter: int = 300  # boosting iterations at most (early stopping usually ends sooner)
    forest_trees: int = 100
    max_epochs: int = 40
    # Logged campaign decisions the policies learn from at most (a seeded sample of customers
    # beyond it): on the 1M shop's 5.4M decisions, 1,000,000 took 628 s to train both policies
    # (bench/README.md), over the 10 minutes allowed; 750,000 is more than the 100k shop's 539,117.
    policy_rows: int = 750_000

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown model families {unknown}; choose from {list(FAMILIES)}")
        for name in (
            "trials",
            "search_rows",
            "max_train_rows",
            "mlp_rows",
            "sequence_rows",
            "threads",
            "max_iter",
            "forest_trees",
            "max_epochs",
            "policy_rows",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
