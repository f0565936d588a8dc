"""Experiment: how much test Gini do more capacity or more recent rows buy, on customers no model saw? (issue #4)

Fits HistGradientBoosting (poisson) on the raw contract features of ``ml_training_set``, on the
fitting customers only (``CustomerHoldout``, seed 0: 70 % of customers), in several shapes, and
prints the normalized Gini at the test cutoff twice:

- on **seen** customers: the fitting customers' own rows at the test cutoff. Their earlier rows
  were fitted on, and with a 365-day horizon at month-end cutoffs those rows' labels cover most of
  the test window (the validation cutoff's labels share 11 of its 12 months);
- on **held-out** customers: the test customers, whom no fit ever read.

The gap between the two is what a model learnt about particular customers' future purchases
rather than about customers in general. The variants:

- the search's usual shape (31 leaves, learning rate 0.05, 300 iterations) on the training cutoffs;
- four times the capacity (127 leaves, learning rate 0.03, up to 1,500 iterations, early stopping);
- 63 leaves and 800 iterations on the training *and* validation cutoffs, unweighted and with
  weights halving every 3 months back from the validation cutoff;
- 127 leaves and up to 1,500 iterations on the training and validation cutoffs.

The validation column is the Gini on the validation customers at the validation cutoff (what the
search would choose by), for the variants that do not fit on that cutoff.

    .venv/bin/python bench/bench_gini_headroom.py --db bench/out/clv_100k.duckdb --shop bench/out/shop_100k
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from duckdb_clv.pipeline import shop_oracle
from duckdb_clv.training.dataset import CustomerHoldout, read_rows, split_masks, time_split
from duckdb_clv.training.evaluation.metrics import normalized_gini

# The training run's usual tree shape, and 4x its capacity with early stopping (shared with the
# learning-curve benchmark).
USUAL = {"max_leaf_nodes": 31, "learning_rate": 0.05, "max_iter": 300, "min_samples_leaf": 100}
LARGE = {
    "max_leaf_nodes": 127,
    "learning_rate": 0.03,
    "max_iter": 1500,
    "min_samples_leaf": 50,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 30,
}

# label: (fit on the validation cutoff too, recency half-life in months or None, parameters)
VARIANTS = {
    "usual shape, training cutoffs": (False, None, USUAL),
    "4x capacity, training cutoffs": (False, None, LARGE),
    "63 leaves, training + validation cutoffs": (
        True,
        None,
        {"max_leaf_nodes": 63, "learning_rate": 0.03, "max_iter": 800, "min_samples_leaf": 50},
    ),
    "63 leaves, + validation, 3-month half-life": (
        True,
        3.0,
        {"max_leaf_nodes": 63, "learning_rate": 0.03, "max_iter": 800, "min_samples_leaf": 50},
    ),
    "127 leaves, 1500 it, + validation": (
        True,
        None,
        {"max_leaf_nodes": 127, "learning_rate": 0.03, "max_iter": 1500, "min_samples_leaf": 50},
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_100k.duckdb")
    parser.add_argument("--shop", help="the generated shop folder: adds the oracle's Gini on both customer groups")
    args = parser.parse_args()
    with duckdb.connect(args.db, read_only=True) as con:
        data = read_rows(con, "ml_training_set")
    cutoffs = np.unique(data.cutoff)
    holdout = CustomerHoldout(seed=0)
    masks = split_masks(data, time_split(tuple(cutoffs.astype(object))), holdout)
    fitting = masks["group"] == holdout.FIT
    train, valid, held_out = masks["training"], masks["validation"], masks["test"]
    with_validation = train | ((data.cutoff == cutoffs[-2]) & fitting)
    at_test = data.cutoff == cutoffs[-1]
    seen = at_test & fitting
    print(
        f"fitting customers: {train.sum():,} rows on the training cutoffs (+{(with_validation & ~train).sum():,} "
        f"at the validation cutoff {cutoffs[-2]}); test cutoff {cutoffs[-1]}: {seen.sum():,} rows of seen "
        f"customers, {held_out.sum():,} of held-out ones"
    )
    if args.shop:
        truth = shop_oracle(args.shop, str(cutoffs[-1]), 365, 90).take(data.customer_id[at_test])["value"]
        oracle = np.full(len(data), np.nan)
        oracle[at_test] = truth
        parts = []
        for label, rows in (("seen", seen), ("held-out", held_out)):
            covered = rows & ~np.isnan(oracle)
            parts.append(f"{label} {normalized_gini(data.value[covered], oracle[covered]):.4f}")
        print(f"{'oracle':42s} {'':17s}test Gini: {', '.join(parts)}")
    months_old = (cutoffs[-2] - data.cutoff).astype("timedelta64[D]").astype(float) / 30.4
    for label, (on_validation, half_life, params) in VARIANTS.items():
        start = time.perf_counter()
        rows = with_validation if on_validation else train
        weight = None if half_life is None else 0.5 ** (months_old[rows] / half_life)
        model = HistGradientBoostingRegressor(loss="poisson", random_state=0, **params)
        model.fit(data.X[rows], data.value[rows], sample_weight=weight)
        on_valid = "-" if on_validation else f"{normalized_gini(data.value[valid], model.predict(data.X[valid])):.4f}"
        gini = {k: normalized_gini(data.value[r], model.predict(data.X[r])) for k, r in (("s", seen), ("h", held_out))}
        print(
            f"{label:42s} validation {on_valid:>6s}  test Gini: seen {gini['s']:.4f}, held-out {gini['h']:.4f} "
            f"(gap {gini['s'] - gini['h']:+.4f}; {model.n_iter_} iterations, {time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
