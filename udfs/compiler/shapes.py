"""Operators that move columns rather than compute: gather, slice, concatenate, shapes, constants."""

from __future__ import annotations

import numpy as np

from duckdb_clv.udfs.compiler.expressions import Bindings, CompileError, Value, columns_of, constant, literal, row
from duckdb_clv.udfs.onnx_graph import Node


def _picked(node: Node, x: Value, indices: list[int]) -> list[Value]:
    if x.is_row:
        return [row([x.columns[i] for i in indices], x.kind, x.f32)]
    return [constant(np.take(np.atleast_2d(x.const), indices, axis=-1))]


def column_axis(node: Node, default: int) -> int:
    """The node's ``axis`` attribute, refused unless it is the columns (every tensor here is rows x k)."""
    axis = int(node.attributes.get("axis", default))
    if axis not in (1, -1):
        raise CompileError(f"{node.op_type} along axis {axis} is not translated (only along the columns)")
    return axis


def _gather(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, idx = inputs
    column_axis(node, 0)
    if idx.is_row:
        raise CompileError("Gather with computed indices is not translated")
    width = len(x) if x.is_row else np.shape(x.const)[-1]
    return _picked(node, x, [int(i) % width for i in np.atleast_1d(idx.const)])


def _slice(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, starts, ends = inputs[:3]
    axes = inputs[3].const if len(inputs) > 3 and inputs[3] is not None else [0]
    steps = inputs[4].const if len(inputs) > 4 and inputs[4] is not None else [1]
    if list(np.atleast_1d(axes)) not in ([1], [-1]):
        raise CompileError("Slice along other axes than the columns is not translated")
    width = len(x) if x.is_row else np.shape(x.const)[-1]
    picked = range(width)[slice(int(starts.const[0]), int(ends.const[0]), int(np.atleast_1d(steps)[0]))]
    return _picked(node, x, list(picked))


def _concat(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    column_axis(node, 1)
    parts: list[str] = []
    for v in inputs:
        parts += columns_of(v, len(v), "Concat") if v.is_row else columns_of(v, np.shape(v.const)[-1], "Concat")
    return [row(parts, inputs[0].kind, inputs[0].f32)]


def _shape(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (x,) = inputs
    if not x.is_row:
        return [constant(np.asarray(np.shape(x.const), dtype=np.int64))]
    return [Value(width=len(x))]


def _constant_of_shape(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (shape,) = inputs
    fill = np.asarray(node.attributes.get("value", np.zeros(1, np.float32))).ravel()[:1]
    if shape.width is None:
        return [constant(np.full(tuple(shape.const), fill[0], dtype=fill.dtype))]
    like = constant(fill)
    return [row([literal(fill[0], like.kind)] * shape.width, like.kind, like.f32)]


def _constant(node: Node, _inputs: list[Value | None], _b: Bindings) -> list[Value]:
    return [constant(np.asarray(node.attributes["value"]))]


HANDLERS = {
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Shape": _shape,
    "ConstantOfShape": _constant_of_shape,
    "Constant": _constant,
}
