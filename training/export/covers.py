"""Node covers in exported tree ensembles, for exact Shapley values at serving time.

Path-dependent TreeSHAP weighs each branch by the share of the training rows that reached it. ONNX
tree ensembles have a per-node attribute for that, ``nodes_hitrates`` (documented as the node's
popularity; onnxruntime does not read it), which skl2onnx fills with 1. Training writes there the
rows (or sample weights) that reached each node, the same covers the ``shap`` package reads from
the fitted estimator, so ``udfs.treeshap`` can explain a registered model from its file alone.
"""

from __future__ import annotations

import numpy as np
import onnx

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.training.export.thresholds import TREE_OPS


def sklearn_covers(estimator: object) -> dict[tuple[int, int], float]:
    """(tree id, node id) -> training rows reaching the node, numbered as skl2onnx numbers them."""
    covers: dict[tuple[int, int], float] = {}
    if hasattr(estimator, "_predictors"):
        for tree_id, trees in enumerate(estimator._predictors):
            for node_id, count in enumerate(trees[0].nodes["count"]):
                covers[(tree_id, node_id)] = float(count)
    elif hasattr(estimator, "estimators_"):
        for tree_id, tree in enumerate(estimator.estimators_):
            for node_id, weight in enumerate(tree.tree_.weighted_n_node_samples):
                covers[(tree_id, node_id)] = float(weight)
    else:
        raise TrainingError(f"no tree structure found on {type(estimator).__name__}")
    return covers


def write_covers(model: onnx.ModelProto, covers: dict[tuple[int, int], float]) -> None:
    """Set ``nodes_hitrates`` of every tree ensemble in ``model`` to the covers of its nodes.

    Every node must have a positive cover; a numbering that does not line up is refused.
    """
    for node in model.graph.node:
        if node.op_type not in TREE_OPS:
            continue
        attrs = {a.name: a for a in node.attribute}
        keys = zip(attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints, strict=True)
        try:
            values = np.array([covers[(int(t), int(n))] for t, n in keys], dtype=np.float32)
        except KeyError as err:
            raise TrainingError(f"tree node {err.args[0]} has no cover in the fitted estimator") from err
        if np.any(values <= 0):
            raise TrainingError("a tree node has no training rows; its cover must be positive")
        if "nodes_hitrates" in attrs:
            node.attribute.remove(attrs["nodes_hitrates"])
        node.attribute.append(onnx.helper.make_attribute("nodes_hitrates", values.tolist()))
