"""Experiment: how much test Gini do more capacity or more recent rows buy on the 100k shop? (issue #4)

Fits HistGradientBoosting (poisson) on the raw contract features of ``ml_training_set`` three ways
and prints the normalized Gini on the validation and test cutoffs:

- the search's usual shape (31 leaves, learning rate 0.05, 300 iterations) on the training cutoffs;
- four times the capacity (127 leaves, learning rate 0.03, up to 1,500 iterations, early stopping);
- 63 leaves and 800 iterations on the training *and* validation cutoffs, unweighted and with
  weights halving every 3 months back from the validation cutoff;
- 127 leaves and 1,500 iterations on the training and validation cutoffs.

The test cutoff is never read for fitting in any of them.

    .venv/bin/python bench/bench_gini_headroom.py --db bench/out/clv_100k.duckdb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from training.dataset import read_rows
from training.metrics import normalized_gini

# label: (fit on the validation cutoff too, recency half-life in months or None, parameters)
VARIANTS = {
    "usual shape, training cutoffs": (False, None, {"max_leaf_nodes": 31, "learning_rate": 0.05, "max_iter": 300,
                                                    "min_samples_leaf": 100}),
    "4x capacity, training cutoffs": (False, None, {"max_leaf_nodes": 127, "learning_rate": 0.03, "max_iter": 1500,
                                                    "min_samples_leaf": 50, "early_stopping": True,
                                                    "validation_fraction": 0.1, "n_iter_no_change": 30}),
    "63 leaves, training + validation cutoffs": (True, None, {"max_leaf_nodes": 63, "learning_rate": 0.03,
                                                               "max_iter": 800, "min_samples_leaf": 50}),
    "63 leaves, + validation, 3-month half-life": (True, 3.0, {"max_leaf_nodes": 63, "learning_rate": 0.03,
                                                                "max_iter": 800, "min_samples_leaf": 50}),
    "127 leaves, 1500 it, + validation": (True, None, {"max_leaf_nodes": 127, "learning_rate": 0.03,
                                                        "max_iter": 1500, "min_samples_leaf": 50}),
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_100k.duckdb")
    args = parser.parse_args()
    with duckdb.connect(args.db, read_only=True) as con:
        data = read_rows(con, "ml_training_set")
    cutoffs = np.unique(data.cutoff)
    train, valid, test = data.cutoff < cutoffs[-2], data.cutoff == cutoffs[-2], data.cutoff == cutoffs[-1]
    print(f"train {train.sum():,} rows, validation {valid.sum():,} ({cutoffs[-2]}), "
          f"test {test.sum():,} ({cutoffs[-1]})")  # fmt: skip
    months_old = (cutoffs[-2] - data.cutoff).astype("timedelta64[D]").astype(float) / 30.4
    for label, (with_validation, half_life, params) in VARIANTS.items():
        start = time.perf_counter()
        rows = train | valid if with_validation else train
        weight = None if half_life is None else 0.5 ** (months_old[rows] / half_life)
        model = HistGradientBoostingRegressor(loss="poisson", random_state=0, **params)
        model.fit(data.X[rows], data.value[rows], sample_weight=weight)
        on_valid = "-" if with_validation else f"{normalized_gini(data.value[valid], model.predict(data.X[valid])):.4f}"
        on_test = normalized_gini(data.value[test], model.predict(data.X[test]))
        print(f"{label:42s} validation {on_valid:>6s}  test {on_test:.4f}  "
              f"({model.n_iter_} iterations, {time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
