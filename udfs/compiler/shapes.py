"""Operators that move elements rather than compute: gather, slice, concatenate, transpose, shapes.

A row tensor's elements are SQL text in an object array of its per-row shape, so each of these is
the numpy operation on that array, along the axis the node names once the rows' axis is taken out.
A shape read from a row tensor is a constant holding ``BATCH`` for the rows, which ``Gather``,
``Unsqueeze`` and ``Concat`` carry along until ``ConstantOfShape`` turns it back into rows.
"""

from __future__ import annotations

import numpy as np

from duckdb_clv.udfs.compiler.expressions import (
    BATCH,
    Bindings,
    CompileError,
    Value,
    constant,
    from_grid,
    grid,
    literal,
)
from duckdb_clv.udfs.onnx_graph import Node


def column_axis(node: Node, default: int) -> int:
    """The node's ``axis`` attribute, refused unless it is the columns (every tensor here is rows x k)."""
    axis = int(node.attributes.get("axis", default))
    if axis not in (1, -1):
        raise CompileError(f"{node.op_type} along axis {axis} is not translated (only along the columns)")
    return axis


def row_axes(node: Node, x: Value, axes) -> list[int]:
    """Axes of the full shape as axes of one row; an axis across the rows is refused."""
    rank = len(x.dims) + 1
    out = []
    for axis in np.atleast_1d(np.asarray(axes, dtype=np.int64)):
        a = int(axis) % rank
        if a == x.batch_axis:
            raise CompileError(f"{node.op_type} across the rows (axis {int(axis)}) is not translated")
        out.append(a - (a > x.batch_axis))
    return out


def _rows(node: Node, x: Value, elements: np.ndarray, batch_axis: int) -> list[Value]:
    return [from_grid(elements, x.kind, x.f32, batch_axis)]


def _gather(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, idx = inputs
    if idx.is_row:
        raise CompileError("Gather with computed indices is not translated")
    indices = np.asarray(idx.const, dtype=np.int64)
    axis = int(node.attributes.get("axis", 0))
    if not x.is_row:
        data = np.asarray(x.const)
        data = np.atleast_2d(data) if axis >= data.ndim else data
        return [constant(np.take(data, indices, axis=axis))]
    (a,) = row_axes(node, x, axis)
    elements = grid(x, "Gather")
    picked = np.take(elements, indices % elements.shape[a], axis=a)
    # The indices' axes replace the gathered one: rows after it move by their rank less one.
    shift = indices.ndim - 1 if a < x.batch_axis else 0
    return _rows(node, x, picked, x.batch_axis + shift)


def _slice(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, starts, ends = inputs[:3]
    starts, ends = np.atleast_1d(starts.const), np.atleast_1d(ends.const)
    axes = inputs[3].const if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
    steps = inputs[4].const if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    axes, steps = np.atleast_1d(axes), np.atleast_1d(steps)
    data = grid(x, "Slice") if x.is_row else np.asarray(x.const)
    where = row_axes(node, x, axes) if x.is_row else [int(a) % data.ndim for a in axes]
    cut = [slice(None)] * data.ndim
    for a, start, end, step in zip(where, starts, ends, steps, strict=True):
        # Python's slice clamps like ONNX (an end of INT64_MAX means "to the end").
        cut[a] = slice(int(start), int(end), int(step))
    if not x.is_row:
        return [constant(data[tuple(cut)])]
    return _rows(node, x, data[tuple(cut)], x.batch_axis)


def _concat(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    axis = int(node.attributes.get("axis", 0))
    if not any(v.is_row for v in inputs):
        return [constant(np.concatenate([np.atleast_1d(v.const) for v in inputs], axis=axis))]
    first = next(v for v in inputs if v.is_row)
    (a,) = row_axes(node, first, axis)
    parts = []
    for v in inputs:
        if v.is_row:
            if (len(v.dims), v.batch_axis) != (len(first.dims), first.batch_axis):
                raise CompileError("Concat of row tensors of different ranks is not translated")
            parts.append(grid(v, "Concat"))
            continue
        # A constant joins every row: its own axis of rows (one) is dropped.
        data = grid(v, "Concat")
        if data.ndim == len(first.dims) + 1:
            data = np.take(data, 0, axis=first.batch_axis)
        parts.append(data.reshape((1,) * (len(first.dims) - data.ndim) + data.shape))
    return _rows(node, first, np.concatenate(parts, axis=a), first.batch_axis)


def _transpose(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (x,) = inputs
    rank = len(x.dims) + 1 if x.is_row else np.ndim(x.const)
    perm = [int(p) for p in node.attributes.get("perm", range(rank - 1, -1, -1))]
    if not x.is_row:
        return [constant(np.transpose(x.const, perm))]
    full = np.expand_dims(grid(x, "Transpose"), x.batch_axis).transpose(perm)
    moved = perm.index(x.batch_axis)
    return _rows(node, x, np.take(full, 0, axis=moved), moved)


def _axes(node: Node, inputs: list[Value | None]) -> list[int]:
    if "axes" in node.attributes:
        return [int(a) for a in np.atleast_1d(node.attributes["axes"])]
    if len(inputs) > 1 and inputs[1] is not None and not inputs[1].is_row:
        return [int(a) for a in np.atleast_1d(inputs[1].const)]
    raise CompileError(f"{node.op_type} without constant axes is not translated")


def _unsqueeze(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x = inputs[0]
    added = _axes(node, inputs)
    rank = (len(x.dims) + 1 if x.is_row else np.ndim(x.const)) + len(added)
    axes = sorted(a % rank for a in added)
    if not x.is_row:
        return [constant(np.expand_dims(x.const, tuple(axes)))]
    kept = [i for i in range(rank) if i not in axes]  # where the input's axes land, in order
    batch = kept[x.batch_axis]
    full = np.expand_dims(np.expand_dims(grid(x, "Unsqueeze"), x.batch_axis), tuple(axes))
    return _rows(node, x, np.take(full, 0, axis=batch), batch)


def _squeeze(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x = inputs[0]
    axes = _axes(node, inputs)
    if not x.is_row:
        return [constant(np.squeeze(x.const, tuple(axes)))]
    dropped = row_axes(node, x, axes)
    if any(x.dims[a] != 1 for a in dropped):
        raise CompileError("Squeeze of an axis longer than one")
    elements = grid(x, "Squeeze").reshape([d for i, d in enumerate(x.dims) if i not in dropped])
    return _rows(node, x, elements, x.batch_axis - sum(1 for a in dropped if a < x.batch_axis))


def _shape(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (x,) = inputs
    if not x.is_row:
        return [constant(np.asarray(np.shape(x.const), dtype=np.int64))]
    shape = list(x.dims)
    shape.insert(x.batch_axis, BATCH)
    start, end = int(node.attributes.get("start", 0)), node.attributes.get("end")
    return [constant(np.asarray(shape[start : None if end is None else int(end)], dtype=np.int64))]


def _constant_of_shape(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (shape,) = inputs
    fill = np.asarray(node.attributes.get("value", np.zeros(1, np.float32))).ravel()[:1]
    dims = [int(d) for d in np.atleast_1d(shape.const)]
    if not shape.symbolic:
        return [constant(np.full(tuple(dims), fill[0], dtype=fill.dtype))]
    batch = dims.index(BATCH)
    per_row = dims[:batch] + dims[batch + 1 :]
    if BATCH in per_row:
        raise CompileError("ConstantOfShape with the rows twice in its shape")
    like = constant(fill)
    elements = np.full(per_row, literal(fill[0], like.kind), dtype=object)
    return [from_grid(elements, like.kind, like.f32, batch)]


def _constant(node: Node, _inputs: list[Value | None], _b: Bindings) -> list[Value]:
    return [constant(np.asarray(node.attributes["value"]))]


HANDLERS = {
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Transpose": _transpose,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Shape": _shape,
    "ConstantOfShape": _constant_of_shape,
    "Constant": _constant,
}
