"""Exact Shapley values of a tree ensemble (path-dependent TreeSHAP), in numpy, from an ONNX tree node.

For one leaf ``l`` reached through unique features ``j`` with cover fractions ``z_j`` (the product
of child cover / parent cover over the leaf path's splits on ``j``) and, for a row, ``o_j`` (1 when
the row satisfies every one of those splits), TreeSHAP's coalition value is
``v_l * prod_{j in S} o_j * prod_{j not in S} z_j``. Its Shapley value for ``j`` is

    phi_j = v_l (o_j - z_j) sum_S |S|! (k - |S| - 1)! / k! prod_{i in S} o_i prod_{i not in S, i != j} z_i
          = v_l (o_j - z_j) integral_0^1 prod_{i != j} (z_i (1 - t) + o_i t) dt,

since ``|S|! (k - |S| - 1)! / k!`` is the Beta integral of ``t^|S| (1 - t)^(k - |S| - 1)``. The
integrand is a polynomial of degree ``k - 1``, so Gauss-Legendre quadrature with ``ceil(k / 2)``
points gives it exactly. Summed over leaves, the products share their prefixes along the tree, so
each row costs one pass down the nodes (the products ``R``), one pass up (their sums ``W`` over the
leaves below each node), and one term per node: for the split into node ``c`` on feature ``j``,
``(o_c - z_c) * integral (W_c - W of the deeper splits on j below c) / f_c``. This is the idea of
Linear TreeSHAP (Yu et al., 2022), vectorized over rows and over every node of one depth at once.

The cover of each node is the node's ``nodes_hitrates`` entry, which training writes with the
training rows (or sample weights) that reached it, the same covers the ``shap`` package uses.
Values agree with ``shap.TreeExplainer`` to float rounding (``tests/udfs/test_treeshap.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from duckdb_clv.udfs.errors import UdfError
from duckdb_clv.udfs.onnx_graph import Node

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")
_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1}
# Rows per internal batch: the passes hold (rows x nodes x quadrature points) float64 arrays.
BATCH_CELLS = 16000000
# float32 keeps the passes' arrays half the size; products of at most a few dozen factors in [0, 1]
# and sums over one tree's leaves stay within 1e-6 relative, far inside the 1e-4 asked of them.
DTYPE = np.float32
MIN_ROWS_PER_THREAD = 256


@dataclass(frozen=True)
class TreeModel:
    """A tree ensemble laid out for TreeSHAP: nodes of all trees in order of depth.

    Node arrays are indexed by position in that order; index ``n_nodes`` is a sentinel standing for
    "no earlier split on this feature" (o = 1, f = 1).
    """

    n_features: int
    base: float  # sum over its trees of the cover-weighted mean leaf value
    levels: tuple[np.ndarray, ...]  # node positions by depth (depth 0: the roots)
    level_bounds: tuple[tuple[int, int], ...]  # each depth's slice of positions
    level_later: tuple[
        np.ndarray, ...
    ]  # per depth, offsets in its slice of nodes with an earlier split on their feature
    node_value: np.ndarray  # leaf value, 0 for split nodes
    parent: np.ndarray
    feature: np.ndarray  # feature of the split that leads into the node (-1 for roots)
    threshold: np.ndarray
    lt: np.ndarray  # the split is x < threshold (BRANCH_LT) rather than x <= threshold
    missing_true: np.ndarray  # a missing value goes to the true child
    is_true: np.ndarray  # the node is its parent's true child
    z: np.ndarray  # merged cover fraction of the node's feature along its path
    prev: np.ndarray  # position of the previous split on the same feature along the path, else n_nodes
    leaf: np.ndarray  # positions of the leaves
    value: np.ndarray  # value of each leaf (aligned with ``leaf``)
    children: tuple[
        tuple[tuple[int, int], np.ndarray, np.ndarray], ...
    ]  # per depth: (split nodes' slice, true children, false children)
    quad_t: np.ndarray
    quad_w: np.ndarray
    z_off: np.ndarray  # z * (1 - t) at each quadrature point (nodes x points)
    # Nodes with an earlier split on their feature, grouped by that split, for one reduceat.
    later: np.ndarray
    later_starts: np.ndarray
    later_prev: np.ndarray
    # Split nodes grouped by feature.
    splits: np.ndarray
    split_starts: np.ndarray
    split_features: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.parent)


def _leaf_values(attrs: dict[str, object], op_type: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(tree ids, node ids, weights, base value) of the leaves scored for the output column we serve."""
    if op_type == "TreeEnsembleRegressor":
        prefix, ids = "target", np.asarray(attrs.get("target_ids", np.zeros(0, np.int64)))
        if len(ids) and np.any(ids != 0):
            raise UdfError("a tree ensemble with several targets cannot be explained")
        keep = np.ones(len(ids), dtype=bool)
    else:
        labels = attrs.get("classlabels_int64s")
        if labels is None or len(labels) != 2:
            raise UdfError("only binary tree classifiers can be explained")
        prefix, ids = "class", np.asarray(attrs["class_ids"])
        # A binary classifier whose weights name one class only scores the positive class with them.
        positive = 1 if np.any(ids == 1) else 0
        keep = ids == positive
    trees = np.asarray(attrs[f"{prefix}_treeids"])[keep]
    nodes = np.asarray(attrs[f"{prefix}_nodeids"])[keep]
    weights = np.asarray(attrs[f"{prefix}_weights"], dtype=np.float64)[keep]
    base = attrs.get("base_values")
    offset = float(np.asarray(base)[-1]) if base is not None and len(base) else 0.0
    if op_type == "TreeEnsembleClassifier" and base is not None and len(base) == 2:
        offset = float(base[1])
    return trees, nodes, weights, offset


def parse(node: Node, n_features: int) -> Ensemble:
    """Lay out one ``TreeEnsembleRegressor`` / ``TreeEnsembleClassifier`` node for ``shap_values``.

    Raises
    ------
    UdfError
        When the node is not a tree ensemble this can explain, or carries no node covers.
    """
    if node.op_type not in TREE_OPS:
        raise UdfError(f"{node.op_type} is not a tree ensemble")
    a = node.attributes
    if a.get("aggregate_function", "SUM") != "SUM":
        raise UdfError(f"tree aggregate {a['aggregate_function']} cannot be explained (only SUM)")
    tree_ids, node_ids = np.asarray(a["nodes_treeids"]), np.asarray(a["nodes_nodeids"])
    modes = list(a["nodes_modes"])
    covers = np.asarray(a.get("nodes_hitrates", np.zeros(0)), dtype=np.float64)
    if len(covers) != len(node_ids) or np.all(covers == 1.0) or np.any(covers <= 0):
        raise UdfError("its trees carry no node covers (nodes_hitrates); retrain it with this version to explain it")
    bad = sorted({m for m in modes if m != "LEAF" and m not in _MODES})
    if bad:
        raise UdfError(f"split modes {bad} cannot be explained (only BRANCH_LEQ and BRANCH_LT)")
    index = {(int(t), int(n)): i for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True))}
    leaf_trees, leaf_nodes, weights, offset = _leaf_values(a, node.op_type)
    leaf_value = np.zeros(len(node_ids))
    np.add.at(leaf_value, [index[(int(t), int(n))] for t, n in zip(leaf_trees, leaf_nodes, strict=True)], weights)
    true_ids, false_ids = np.asarray(a["nodes_truenodeids"]), np.asarray(a["nodes_falsenodeids"])
    features, values = np.asarray(a["nodes_featureids"]), np.asarray(a["nodes_values"], dtype=np.float64)
    missing = np.asarray(a.get("nodes_missing_value_tracks_true", np.zeros(0, np.int64)))
    if len(missing) != len(node_ids):
        missing = np.zeros(len(node_ids), np.int64)
    split = [m != "LEAF" for m in modes]
    children = {(int(t), int(c)) for t, c, s in zip(tree_ids, true_ids, split, strict=True) if s}
    children |= {(int(t), int(c)) for t, c, s in zip(tree_ids, false_ids, split, strict=True) if s}
    roots = [i for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True)) if (int(t), int(n)) not in children]

    source = _Source(index, tree_ids, modes, features, values, missing, true_ids, false_ids, covers, n_features)
    walks = [_walk(root, source) for root in roots]
    # Trees whose paths hold few distinct features need fewer quadrature points: group them by it.
    groups: dict[int, list[tuple]] = {}
    for walk in walks:
        groups.setdefault(_points(walk[3]), []).append(walk)
    parts = tuple(_layout(_merge(ws), leaf_value, n_features, q) for q, ws in sorted(groups.items()))
    return Ensemble(n_features=n_features, offset=offset, parts=parts)


def _points(max_unique: int) -> int:
    # The integrand has degree (distinct features on the path) - 1; q Gauss points are exact to 2q - 1.
    return max(1, -(-max_unique // 2))


@dataclass(frozen=True)
class _Source:
    """The ensemble node's attributes, by ONNX node position, and where each (tree, node id) sits."""

    index: dict[tuple[int, int], int]
    tree_ids: np.ndarray
    modes: list[str]
    features: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    true_ids: np.ndarray
    false_ids: np.ndarray
    covers: np.ndarray
    n_features: int


def _walk(root: int, s: _Source) -> tuple:
    """Depth-first over one tree: its node columns, children and the most distinct features on a path.

    An edge is named by the node it leads into; ``seen`` maps a feature to the deepest edge on the
    path so far that split on it.
    """
    cols: dict[str, list] = {k: [] for k in _COLUMNS}
    true_child: dict[int, int] = {}
    false_child: dict[int, int] = {}
    max_unique = 1
    # (source node, depth, parent position, split into it: feature, threshold, mode, missing, true?, cover ratio, seen)
    stack: list[tuple] = [(root, 0, -1, -1, 0.0, 0, 0, False, 1.0, {})]
    while stack:
        src, depth, parent, feat, thr, mode, miss, is_true, ratio, seen = stack.pop()
        pos = len(cols["src"])
        prev = seen.get(feat, -1) if feat >= 0 else -1
        # The merged cover fraction of a feature multiplies this split's into the earlier ones'.
        z = ratio * (cols["z"][prev] if prev >= 0 else 1.0)
        for key, v in zip(_COLUMNS, (src, depth, parent, feat, thr, mode, miss, is_true, z, prev), strict=True):
            cols[key].append(v)
        if parent >= 0:
            (true_child if is_true else false_child)[parent] = pos
        below = {**seen, feat: pos} if feat >= 0 else seen
        if s.modes[src] == "LEAF":
            max_unique = max(max_unique, len(below))
            continue
        t, f = int(s.tree_ids[src]), int(s.features[src])
        if not 0 <= f < s.n_features:
            raise UdfError(f"a split reads input {f}, outside the {s.n_features} inputs")
        for child_id, goes_true in ((int(s.true_ids[src]), True), (int(s.false_ids[src]), False)):
            child = s.index[(t, child_id)]
            args = (float(s.values[src]), _MODES[s.modes[src]], int(s.missing[src]), goes_true)
            stack.append((child, depth + 1, pos, f, *args, s.covers[child] / s.covers[src], below))
    return cols, true_child, false_child, max_unique


def _merge(walks: list[tuple]) -> tuple[dict[str, list], dict[int, int], dict[int, int]]:
    """The walks of several trees as one: positions shifted past the trees before."""
    cols: dict[str, list] = {k: [] for k in _COLUMNS}
    true_child: dict[int, int] = {}
    false_child: dict[int, int] = {}
    for walk_cols, walk_true, walk_false, _ in walks:
        shift = len(cols["src"])
        for key in _COLUMNS:
            values = walk_cols[key]
            if key in ("parent", "prev"):
                values = [v + shift if v >= 0 else v for v in values]
            cols[key].extend(values)
        true_child.update({k + shift: v + shift for k, v in walk_true.items()})
        false_child.update({k + shift: v + shift for k, v in walk_false.items()})
    return cols, true_child, false_child


_COLUMNS = ("src", "depth", "parent", "feature", "threshold", "mode", "missing", "is_true", "z", "prev")


@dataclass(frozen=True)
class Ensemble:
    """A tree ensemble in groups of trees that share a number of quadrature points."""

    n_features: int
    offset: float  # the ensemble's base value, added to the sum of the trees' leaf values
    parts: tuple[TreeModel, ...]

    @property
    def base(self) -> float:
        """The expected output: each tree's cover-weighted mean leaf value, summed, plus the offset."""
        return self.offset + sum(p.base for p in self.parts)


def _layout(merged: tuple, leaf_value: np.ndarray, n_features: int, q: int) -> TreeModel:
    cols, true_child, false_child = merged
    depth = np.asarray(cols["depth"])
    internal_old = np.zeros(len(depth), dtype=bool)
    internal_old[list(true_child)] = True
    # Depth order, and within a depth the split nodes first: each depth's split nodes are a slice.
    order = np.lexsort((~internal_old, depth))
    n = len(order)
    new = np.empty(n, dtype=np.int64)
    new[order] = np.arange(n)

    def remap(values: list[int]) -> np.ndarray:
        v = np.asarray(values, dtype=np.int64)[order]
        return np.where(v >= 0, new[np.maximum(v, 0)], n)

    src = np.asarray(cols["src"])[order]
    is_leaf = ~internal_old[order]
    leaf = np.flatnonzero(is_leaf)
    sorted_depth = depth[order]
    levels = tuple(np.flatnonzero(sorted_depth == d) for d in range(int(depth.max()) + 1))
    level_bounds = tuple((int(nodes[0]), int(nodes[-1]) + 1) for nodes in levels)
    by_depth = []
    for nodes in levels:
        inner = nodes[~is_leaf[nodes]]
        if len(inner) == 0:
            continue
        old = order[inner]
        bounds = (int(inner[0]), int(inner[-1]) + 1)
        by_depth.append((bounds, new[[true_child[i] for i in old]], new[[false_child[i] for i in old]]))
    z = np.asarray(cols["z"], dtype=np.float64)[order]
    value = leaf_value[src[leaf]]
    # Each root's cover-weighted mean leaf value: the sum of v_l * prod z over its leaves.
    base = float(np.sum(value * _path_products(z, remap(cols["prev"]), remap(cols["parent"]), levels)[leaf]))
    t, w = np.polynomial.legendre.leggauss(q)
    t, w = (t + 1) / 2, w / 2
    prev = remap(cols["prev"])
    feature = np.asarray(cols["feature"], dtype=np.int64)[order]
    later = np.flatnonzero(prev < n)
    later = later[np.argsort(prev[later], kind="stable")]
    later_prev, later_starts = np.unique(prev[later], return_index=True)
    splits = np.flatnonzero(feature >= 0)
    splits = splits[np.argsort(feature[splits], kind="stable")]
    split_features, split_starts = np.unique(feature[splits], return_index=True)
    node_value = np.zeros(n)
    node_value[leaf] = value
    return TreeModel(
        n_features=n_features,
        base=base,
        levels=levels,
        level_bounds=level_bounds,
        level_later=tuple(np.flatnonzero(prev[lo:hi] < n) for lo, hi in level_bounds),
        node_value=node_value.astype(DTYPE),
        parent=remap(cols["parent"]),
        feature=feature,
        threshold=np.asarray(cols["threshold"], dtype=np.float32)[order],
        lt=np.asarray(cols["mode"], dtype=bool)[order],
        missing_true=np.asarray(cols["missing"], dtype=bool)[order],
        is_true=np.asarray(cols["is_true"], dtype=bool)[order],
        z=z.astype(DTYPE),
        prev=prev,
        leaf=leaf,
        value=value.astype(DTYPE),
        children=tuple(by_depth),
        quad_t=t,
        quad_w=w,
        z_off=(z[:, None] * (1 - t)[None, :]).astype(DTYPE),
        later=later,
        later_starts=later_starts,
        later_prev=later_prev,
        splits=splits,
        split_starts=split_starts,
        split_features=split_features,
    )


def _path_products(z: np.ndarray, prev: np.ndarray, parent: np.ndarray, levels: tuple[np.ndarray, ...]) -> np.ndarray:
    """Product of the merged cover fractions along each node's path (the share of the cover it gets)."""
    n = len(z)
    z_ext = np.append(z, 1.0)
    share = np.ones(n + 1)
    for nodes in levels[1:]:
        share[nodes] = share[parent[nodes]] * z[nodes] / z_ext[prev[nodes]]
    return share[:n]


def shap_values(model: Ensemble, X: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Shapley values (rows x inputs) of the ensemble's summed output, before any link function.

    ``model.base + values.sum(axis=1)`` is the ensemble's output for each row. ``X`` holds the
    tree node's inputs (float32 or float64; NaN is missing and takes each split's missing branch).
    ``threads``: row slices worked on at once (default: the cores). numpy releases the GIL in
    the passes, and DuckDB hands a Python function of a small table to one thread only, so the
    kernel spreads its own rows.
    """
    XT = np.ascontiguousarray(np.asarray(X, dtype=np.float32).T)
    n = XT.shape[1]
    threads = max(1, min(threads or os.cpu_count() or 1, n // MIN_ROWS_PER_THREAD))
    if threads == 1:
        return _rows(model, XT).T
    bounds = np.linspace(0, n, threads + 1).astype(int)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda lo, hi: _rows(model, XT[:, lo:hi]), bounds[:-1], bounds[1:])
        return np.concatenate(list(parts), axis=1).T


def _rows(model: Ensemble, XT: np.ndarray) -> np.ndarray:
    n = XT.shape[1]
    out = np.zeros((model.n_features, n))
    for part in model.parts:
        step = max(1, min(n, BATCH_CELLS // max(1, part.n_nodes * len(part.quad_t))))
        buffers = _Buffers(part, step)
        for start in range(0, n, step):
            out[:, start : start + step] += _batch(part, XT[:, start : start + step], buffers)
    return out


class _Buffers:
    """Work arrays of one part, allocated once per call and reused by its batches.

    Only the sentinel row ``n`` and the roots (o = 1, f = 1) need values up front: every other row
    is written before it is read, and R's roots at the start of each batch.
    """

    def __init__(self, m: TreeModel, rows: int) -> None:
        n, q = m.n_nodes, len(m.quad_t)
        self.o = np.empty((n + 1, rows), dtype=bool)
        self.f = np.empty((n + 1, rows, q), dtype=DTYPE)
        for fixed in (m.levels[0], n):
            self.o[fixed] = True
            self.f[fixed] = 1.0
        self.R = np.empty((n, rows, q), dtype=DTYPE)


def _batch(m: TreeModel, XT: np.ndarray, buf: _Buffers) -> np.ndarray:
    # Node-major arrays (nodes x rows x points), nodes in depth order so that each depth is one
    # slice: parents and earlier splits are gathered as whole (rows x points) blocks.
    b, n = XT.shape[1], m.n_nodes
    o, f, R = buf.o[:, :b], buf.f[:, :b], buf.R[:, :b]
    t = m.quad_t.astype(DTYPE)
    R[m.levels[0]] = 1.0
    for depth, (lo, hi) in enumerate(m.level_bounds[1:], start=1):
        x = XT[m.feature[lo:hi]]
        thr = m.threshold[lo:hi, None]
        with np.errstate(invalid="ignore"):
            goes_true = np.where(m.lt[lo:hi, None], x < thr, x <= thr)
        goes_true = np.where(np.isnan(x), m.missing_true[lo:hi, None], goes_true)
        agree = np.equal(goes_true, m.is_true[lo:hi, None])
        agree &= o[m.prev[lo:hi]]
        o[lo:hi] = agree
        fc = f[lo:hi]
        np.multiply(agree[:, :, None], t, out=fc)
        fc += m.z_off[lo:hi, None, :]
        Rc = R[lo:hi]
        np.multiply(R[m.parent[lo:hi]], fc, out=Rc)
        has_prev = m.level_later[depth]
        if len(has_prev):
            Rc[has_prev] /= f[m.prev[lo:hi][has_prev]]
    # W (the sum of v_l R_l over the leaves below each node) overwrites R, bottom-up.
    W = R
    W *= m.node_value[:, None, None]
    for (lo, hi), true_child, false_child in reversed(m.children):
        np.add(W[true_child], W[false_child], out=W[lo:hi])
    # Leaves with a deeper split on the same feature count at that deeper split, not here.
    deeper = np.add.reduceat(W[m.later], m.later_starts, axis=0) if len(m.later) else None
    W /= f[:n]
    w = m.quad_w.astype(DTYPE)
    g = _weighted(W, w)
    if deeper is not None:
        g[m.later_prev] -= _weighted(deeper / f[m.later_prev], w)
    terms = (o[:n] - m.z[:, None]) * g
    phi = np.zeros((m.n_features, b))
    phi[m.split_features] = np.add.reduceat(terms[m.splits], m.split_starts, axis=0)
    return phi


def _weighted(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum over the last axis with ``weights``, one point at a time.

    A matrix product would be quicker, but BLAS blocks its sums by the shape of the batch, which
    would make a row's value depend on how many rows came with it.
    """
    out = values[..., 0] * weights[0]
    for k in range(1, len(weights)):
        out += values[..., k] * weights[k]
    return out
