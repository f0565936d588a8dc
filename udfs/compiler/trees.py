"""Tree ensembles (``ai.onnx.ml`` TreeEnsembleRegressor / TreeEnsembleClassifier) as nested CASE.

Each tree becomes one nested ``CASE`` over the bound input columns, its leaves literal weights;
the trees' outputs are summed in a list. A split compares the float32 input with the float32
threshold exactly (inputs are float32-rounded where the graph casts them), and a missing input
(NULL) takes the branch onnxruntime sends NaN to: the true branch where the node's
``missing_value_tracks_true`` is set, the false branch otherwise (a comparison with NaN is false).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from duckdb_clv.udfs.compiler.expressions import REAL, Bindings, CompileError, Value, literal, row
from duckdb_clv.udfs.onnx_graph import Node

_COMPARE = {
    "BRANCH_LEQ": "<=",
    "BRANCH_LT": "<",
    "BRANCH_GTE": ">=",
    "BRANCH_GT": ">",
    "BRANCH_EQ": "=",
    "BRANCH_NEQ": "<>",
}


def _ints(node: Node, name: str) -> list[int]:
    return [int(v) for v in np.atleast_1d(node.attributes.get(name, []))]


def _tree_sql(tree: dict[int, tuple], leaf: dict[int, float], node_id: int, columns: tuple[str, ...]) -> str:
    mode, feature, threshold, yes, no, missing_true = tree[node_id]
    if mode == "LEAF":
        return literal(leaf.get(node_id, 0.0))
    if mode not in _COMPARE:
        raise CompileError(f"tree node mode {mode} is not translated")
    x = columns[feature]
    test = f"{x} {_COMPARE[mode]} {literal(threshold)}"
    if missing_true:
        test = f"({test} OR {x} IS NULL)"
    left = _tree_sql(tree, leaf, yes, columns)
    right = _tree_sql(tree, leaf, no, columns)
    return f"CASE WHEN {test} THEN {left} ELSE {right} END"


def _trees(node: Node, prefix: str) -> tuple[list[dict[int, tuple]], list[dict[int, dict[int, float]]], list[int]]:
    """(nodes of each tree, leaf weight by target of each tree, the targets) from the attributes."""
    a = node.attributes
    tree_ids = _ints(node, "nodes_treeids")
    order = sorted(set(tree_ids))
    position = {t: i for i, t in enumerate(order)}
    trees: list[dict[int, tuple]] = [{} for _ in order]
    missing = _ints(node, "nodes_missing_value_tracks_true") or [0] * len(tree_ids)
    for i, t in enumerate(tree_ids):
        trees[position[t]][int(a["nodes_nodeids"][i])] = (
            a["nodes_modes"][i],
            int(a["nodes_featureids"][i]),
            float(a["nodes_values"][i]),
            int(a["nodes_truenodeids"][i]),
            int(a["nodes_falsenodeids"][i]),
            bool(missing[i]),
        )
    targets = _ints(node, f"{prefix}_ids")
    leaves: list[dict[int, dict[int, float]]] = [defaultdict(dict) for _ in order]
    for t, n, target, w in zip(
        _ints(node, f"{prefix}_treeids"), _ints(node, f"{prefix}_nodeids"), targets, a[f"{prefix}_weights"], strict=True
    ):
        slot = leaves[position[t]][target]
        slot[n] = slot.get(n, 0.0) + float(w)
    return trees, leaves, sorted(set(targets))


def _sums(node: Node, x: Value, prefix: str, b: Bindings) -> tuple[dict[int, str], int, bool]:
    """SQL of each target's sum over the trees, the tree count, and whether every weight is positive."""
    if "nodes_values" not in node.attributes:
        raise CompileError(f"{node.op_type} with its thresholds given as tensors is not translated")
    x = b.bind(x)
    trees, leaves, targets = _trees(node, prefix)
    sums = {}
    for target in targets:
        parts = [_tree_sql(tree, leaves[i].get(target, {}), 0, x.columns) for i, tree in enumerate(trees)]
        # onnxruntime adds the trees' float32 weights one by one into a float32 score: folding the
        # FLOAT list left to right rounds exactly as it does (a DOUBLE sum differs where the trees
        # cancel out to a value near zero).
        sums[target] = (
            "list_reduce(CAST([" + ", ".join(parts) + "] AS FLOAT[]), lambda _clv_a, _clv_t: _clv_a + _clv_t)"
        )
    positive = bool(np.all(np.asarray(node.attributes[f"{prefix}_weights"]) >= 0))
    return sums, len(trees), positive


def _post_transform(node: Node) -> str:
    return str(node.attributes.get("post_transform", "NONE") or "NONE")


def regressor(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    """TreeEnsembleRegressor: one column per target, SUM or AVERAGE of the trees plus the base values."""
    if _post_transform(node) != "NONE":
        raise CompileError(f"TreeEnsembleRegressor with post_transform {_post_transform(node)} is not translated")
    aggregate = str(node.attributes.get("aggregate_function", "SUM") or "SUM")
    if aggregate not in ("SUM", "AVERAGE"):
        raise CompileError(f"TreeEnsembleRegressor with aggregate_function {aggregate} is not translated")
    sums, count, _ = _sums(node, inputs[0], "target", b)
    n_targets = int(node.attributes.get("n_targets", 1) or 1)
    base = np.atleast_1d(node.attributes.get("base_values", np.zeros(n_targets)))
    out = []
    for target in range(n_targets):
        total = sums.get(target, "0e0")
        if aggregate == "AVERAGE":
            total = f"({total} / {literal(count)})"
        shift = float(base[target]) if base.size > target else 0.0
        out.append(
            f"CAST({total} + CAST({literal(shift)} AS FLOAT) AS DOUBLE)" if shift else f"CAST({total} AS DOUBLE)"
        )
    return [row(out, REAL, True)]


def _logistic(x: str) -> str:
    return f"(1e0 / (1e0 + exp(-({x}))))"


def classifier(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    """TreeEnsembleClassifier with two classes: the label and the two scores, as onnxruntime writes them.

    With weights for one class only (the binary case), onnxruntime adds the base value to it and
    then, when every weight is positive, reports (1 - s, s) without a transform; otherwise
    (logistic(-s), logistic(s)) under LOGISTIC and (-s, s) under NONE.
    """
    labels = _ints(node, "classlabels_int64s")
    transform = _post_transform(node)
    if len(labels) != 2 or transform not in ("NONE", "LOGISTIC"):
        raise CompileError(
            f"TreeEnsembleClassifier is translated for two classes and post_transform NONE or LOGISTIC, "
            f"not {len(labels)} classes with {transform}"
        )
    sums, _count, positive = _sums(node, inputs[0], "class", b)
    base = np.atleast_1d(node.attributes.get("base_values", np.zeros(0)))
    if set(sums) == {0}:
        total = (
            f"CAST({sums[0]} AS DOUBLE)"
            if base.size == 0
            else f"CAST({sums[0]} + CAST({literal(float(base[0]))} AS FLOAT) AS DOUBLE)"
        )
        # The label and both scores read the same sum: bound, so the trees run once per row.
        s = b.bind(row([total])).columns[0]
        if positive:
            scores, threshold = [f"(1e0 - {s})", s], "0.5e0"
        elif transform == "LOGISTIC":
            scores, threshold = [_logistic(f"-{s}"), _logistic(s)], "0e0"
        else:
            scores, threshold = [f"(-{s})", s], "0e0"
        label = f"CASE WHEN {s} > {threshold} THEN {labels[1]} ELSE {labels[0]} END"
        return [row([label], "int"), row(scores, REAL, True)]
    if set(sums) != {0, 1} or base.size not in (0, 2):
        raise CompileError("TreeEnsembleClassifier with this mix of class weights and base values is not translated")
    shifted = [
        f"CAST({sums[c]} AS DOUBLE)"
        if base.size == 0
        else f"CAST({sums[c]} + CAST({literal(float(base[c]))} AS FLOAT) AS DOUBLE)"
        for c in (0, 1)
    ]
    if transform == "LOGISTIC":
        shifted = [_logistic(s) for s in shifted]
    bound = b.bind(row(shifted))
    label = f"CASE WHEN {bound.columns[1]} > {bound.columns[0]} THEN {labels[1]} ELSE {labels[0]} END"
    return [row([label], "int"), bound]


HANDLERS = {"TreeEnsembleRegressor": regressor, "TreeEnsembleClassifier": classifier}
