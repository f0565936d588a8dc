"""Exact tree splits in ONNX: float64 thresholds of scikit-learn written as float32 without moving a row.

scikit-learn compares a feature with a float64 threshold; an ONNX ``TreeEnsemble*`` node holds a
float32 threshold and compares float32 features. skl2onnx rounds each HistGradientBoosting
threshold to the *nearest* float32. A HistGradientBoosting threshold is the midpoint of two
training values; when those are neighbouring float32 numbers (common for values that crowd
together: probabilities near 1, large amounts whose cents sit below float32's resolution) the
midpoint is a tie, and rounding half to even can land on the upper value, which then goes left in
ONNX and right in scikit-learn. One such row in one tree moves a log-link prediction by a whole
leaf: on an invoice-level wholesale file the exported model disagreed by 1.8 %.

Replacing every threshold ``t`` by the largest float32 not above it, ``floor32(t)``, is exact:
for a float32 ``x``, ``x <= t`` holds exactly when ``x <= floor32(t)`` does.
"""

from __future__ import annotations

import numpy as np
import onnx

from duckdb_clv.training.errors import TrainingError

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")


def floor32(threshold: np.ndarray | float) -> np.ndarray:
    """The largest float32 values not above each float64 threshold (infinities stay as they are)."""
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore"):
        rounded = t.astype(np.float32)
    above = rounded.astype(np.float64) > t
    return np.where(above, np.nextafter(rounded, np.float32(-np.inf)), rounded).astype(np.float32)


def sklearn_thresholds(estimator: object) -> dict[tuple[int, int], tuple[int, float]]:
    """(tree id, node id) -> (feature, float64 threshold) of every split, numbered as skl2onnx numbers them.

    skl2onnx gives a forest's tree ``i`` id ``i`` and a HistGradientBoosting model's iteration
    ``i`` id ``i`` (one tree per iteration for regression and binary classification); node ids are
    the estimator's own node indices.
    """
    splits: dict[tuple[int, int], tuple[int, float]] = {}
    if hasattr(estimator, "_predictors"):
        for tree_id, trees in enumerate(estimator._predictors):
            if len(trees) != 1:
                raise TrainingError(f"expected one tree per boosting iteration, got {len(trees)}")
            nodes = trees[0].nodes
            for node_id in np.flatnonzero(nodes["is_leaf"] == 0):
                splits[(tree_id, int(node_id))] = (
                    int(nodes["feature_idx"][node_id]),
                    float(nodes["num_threshold"][node_id]),
                )
    elif hasattr(estimator, "estimators_"):
        for tree_id, tree in enumerate(estimator.estimators_):
            t = tree.tree_
            for node_id in np.flatnonzero(t.children_left >= 0):
                splits[(tree_id, int(node_id))] = (int(t.feature[node_id]), float(t.threshold[node_id]))
    else:
        raise TrainingError(f"no tree structure found on {type(estimator).__name__}")
    return splits


def make_exact(model: onnx.ModelProto, splits: dict[tuple[int, int], tuple[int, float]]) -> int:
    """Set every split threshold of the tree ensembles in ``model`` to ``floor32`` of the float64 one.

    Each ONNX split must match a split of ``splits`` by tree, node and feature, and its threshold
    must be within one float32 step of the float64 one, so a numbering that did not line up is
    refused rather than silently written. Returns how many thresholds moved.
    """
    moved = 0
    seen = 0
    for node in model.graph.node:
        if node.op_type not in TREE_OPS:
            continue
        attrs = {a.name: a for a in node.attribute}
        modes = [m.decode() for m in attrs["nodes_modes"].strings]
        trees, ids = list(attrs["nodes_treeids"].ints), list(attrs["nodes_nodeids"].ints)
        features, values = list(attrs["nodes_featureids"].ints), np.array(attrs["nodes_values"].floats, np.float32)
        for i, mode in enumerate(modes):
            if mode == "LEAF":
                continue
            key = (trees[i], ids[i])
            if mode != "BRANCH_LEQ" or key not in splits or splits[key][0] != features[i]:
                raise TrainingError(f"ONNX split {key} ({mode}, feature {features[i]}) has no twin in the fitted trees")
            exact = floor32(splits[key][1])
            if abs(float(exact) - float(values[i])) > float(np.spacing(np.abs(values[i]))) and np.isfinite(exact):
                raise TrainingError(f"ONNX split {key} threshold {values[i]} is not the fitted {splits[key][1]}")
            moved += int(exact != values[i])
            values[i] = exact
            seen += 1
        del attrs["nodes_values"].floats[:]
        attrs["nodes_values"].floats.extend(values.tolist())
    if seen != len(splits):
        raise TrainingError(f"the ONNX trees hold {seen} splits, the fitted ones {len(splits)}")
    return moved
