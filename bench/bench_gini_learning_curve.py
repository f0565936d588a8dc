"""Experiment: does more data or more capacity close the Gini gap to the oracle? (issue #4)

On the 1,000,000-customer shop, HistGradientBoosting (poisson, raw contract features) is fitted on
growing samples of the fitting customers' rows at the training cutoffs (``CustomerHoldout``, seed
0), in the search's usual shape and with four times the capacity, and scored on the held-out test
customers at the test cutoff beside the oracle. If the held-out Gini levels off well below the
oracle's as the rows grow tenfold, the gap is what the observable history does not tell, not a
shortage of data or of model.

    .venv/bin/python bench/bench_gini_learning_curve.py --db bench/out/clv_1m.duckdb --shop bench/out/shop_1m
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from bench.bench_gini_headroom import LARGE, USUAL
from duckdb_clv.pipeline import shop_oracle
from duckdb_clv.training.dataset import CustomerHoldout, read_rows, sample_rows, split_masks, time_split
from duckdb_clv.training.evaluation.metrics import normalized_gini

SHAPES = {"31 leaves, 300 it": USUAL, "127 leaves, <=1500 it": LARGE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/clv_1m.duckdb")
    parser.add_argument("--shop", help="the generated shop folder (adds the oracle)")
    parser.add_argument("--sizes", default="30000,300000,3000000", help="training rows per fit, comma-separated")
    args = parser.parse_args()
    with duckdb.connect(args.db, read_only=True) as con:
        data = read_rows(con, "ml_training_set")
    cutoffs = np.unique(data.cutoff)
    masks = split_masks(data, time_split(tuple(cutoffs.astype(object))), CustomerHoldout(seed=0))
    train, test = np.flatnonzero(masks["training"]), masks["test"]
    X_test, y_test = data.X[test], data.value[test]
    print(
        f"{len(train):,} fitting rows on the training cutoffs; {test.sum():,} held-out test customers at {cutoffs[-1]}",
        flush=True,
    )
    if args.shop:
        start = time.perf_counter()
        oracle = shop_oracle(args.shop, str(cutoffs[-1]), 365, 90).take(data.customer_id[test])["value"]
        covered = ~np.isnan(oracle)
        X_test, y_test = X_test[covered], y_test[covered]
        print(
            f"oracle test Gini {normalized_gini(y_test, oracle[covered]):.4f} on {covered.sum():,} customers "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    for size in (int(s) for s in args.sizes.split(",")):
        rows = train[sample_rows(len(train), size, 0)]
        for label, params in SHAPES.items():
            start = time.perf_counter()
            model = HistGradientBoostingRegressor(loss="poisson", random_state=0, **params)
            model.fit(data.X[rows], data.value[rows])
            gini = normalized_gini(y_test, model.predict(X_test))
            print(
                f"{len(rows):>9,} rows  {label:22s} held-out test Gini {gini:.4f}  ({model.n_iter_} iterations, "
                f"{time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
