"""The standard ONNX operators our exported models use, each as SQL over a row's columns.

NaN in onnxruntime is NULL here: a missing feature arrives as NULL, ``IsNaN`` asks ``IS NULL``
(or ``isnan``), and comparisons of a missing value are false, as they are for NaN. Arithmetic is
DOUBLE; a ``Cast`` to float rounds to float32 the way onnxruntime does, which keeps tree splits on
computed inputs exact.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from duckdb_clv.udfs.compiler.expressions import (
    BOOL,
    INT,
    REAL,
    Bindings,
    CompileError,
    Value,
    broadcast,
    columns_of,
    constant,
    from_grid,
    grid,
    literal,
    row,
)
from duckdb_clv.udfs.compiler.logistic import round32
from duckdb_clv.udfs.compiler.shapes import column_axis, row_axes
from duckdb_clv.udfs.onnx_graph import Node

Handler = Callable[[Node, list[Value | None], Bindings], list[Value]]

_BINARY = {
    "Add": ("({a} + {b})", np.add, REAL),
    "Sub": ("({a} - {b})", np.subtract, REAL),
    "Mul": ("({a} * {b})", np.multiply, REAL),
    "Div": ("({a} / {b})", np.divide, REAL),
    "Pow": ("pow({a}, {b})", np.power, REAL),
    "Greater": ("coalesce({a} > {b}, false)", np.greater, BOOL),
    "Less": ("coalesce({a} < {b}, false)", np.less, BOOL),
    "GreaterOrEqual": ("coalesce({a} >= {b}, false)", np.greater_equal, BOOL),
    "LessOrEqual": ("coalesce({a} <= {b}, false)", np.less_equal, BOOL),
    "Equal": ("coalesce({a} = {b}, false)", np.equal, BOOL),
    "And": ("({a} AND {b})", np.logical_and, BOOL),
    "Or": ("({a} OR {b})", np.logical_or, BOOL),
}
# Unary operators; {x} appears once in each, so an input is never computed twice.
_UNARY = {
    "Identity": ("{x}", lambda v: v),
    "Neg": ("(-{x})", np.negative),
    "Abs": ("abs({x})", np.abs),
    "Exp": ("exp({x})", np.exp),
    "Log": ("ln({x})", np.log),
    "Sqrt": ("sqrt({x})", np.sqrt),
    "Relu": ("greatest({x}, 0e0)", lambda v: np.maximum(v, 0)),
    "Sign": ("CAST(sign({x}) AS DOUBLE)", np.sign),
    "Not": ("(NOT {x})", np.logical_not),
    "IsNaN": ("coalesce(isnan({x}), true)", np.isnan),
    "Softplus": ("(greatest({x}, 0e0) + ln(1e0 + exp(-abs({x}))))", lambda v: np.logaddexp(0, v)),
}
_CAST = {1: "FLOAT", 7: "BIGINT", 9: "BOOLEAN", 11: "DOUBLE"}


def _elementwise(values: list[Value], where: str, template: Callable[..., str], kind: str, f32: bool) -> Value:
    """``template(*elements)`` over the broadcast elements of ``values``, in the common shape."""
    grids, dims, axis = broadcast(values, where)
    out = [template(*parts) for parts in zip(*(g.ravel() for g in grids), strict=True)]
    return from_grid(np.array(out, dtype=object).reshape(dims), kind, f32, axis)


def _no_shapes(node: Node, inputs: list[Value | None]) -> None:
    if any(v is not None and v.symbolic for v in inputs):
        raise CompileError(f"{node.op_type} on a tensor's shape is not translated")


def _binary(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    template, fold, kind = _BINARY[node.op_type]
    a, b = inputs
    _no_shapes(node, inputs)
    if not a.is_row and not b.is_row:
        return [constant(fold(a.const, b.const))]
    f32 = a.f32 if a.is_row else b.f32
    return [_elementwise([a, b], node.op_type, lambda x, y: template.format(a=x, b=y), kind, f32)]


def _unary(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    template, fold = _UNARY[node.op_type]
    (x,) = inputs
    _no_shapes(node, inputs)
    if not x.is_row:
        return [constant(fold(x.const))]
    if template.count("{x}") > 1:
        x = b.bind(x)
    kind = BOOL if node.op_type in ("Not", "IsNaN") else x.kind
    return [x.like([template.format(x=c) for c in x.columns], kind)]


def _cast(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    (x,) = inputs
    to = int(node.attributes["to"])
    if to not in _CAST:
        raise CompileError(f"Cast to ONNX element type {to} is not translated")
    if not x.is_row:
        dtype = {1: np.float32, 7: np.int64, 9: np.bool_, 11: np.float64}[to]
        return [constant(np.asarray(x.const).astype(dtype))]
    if to == 1:
        # Rounded to float32, then computed on in DOUBLE like every other value.
        return [x.like([round32(c) for c in x.columns], REAL, True)]
    kind = {7: INT, 9: BOOL, 11: REAL}[to]
    return [x.like([f"CAST({c} AS {_CAST[to]})" for c in x.columns], kind, False)]


def _where(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    c, a, b = inputs
    if not (c.is_row or a.is_row or b.is_row):
        return [constant(np.where(c.const, a.const, b.const))]
    source = a if a.is_row or not b.is_row else b
    return [
        _elementwise(
            [c, a, b], "Where", lambda x, y, z: f"CASE WHEN {x} THEN {y} ELSE {z} END", source.kind, source.f32
        )
    ]


def _clip(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, low, high = ([*inputs, None, None])[:3]
    if not x.is_row:
        lo = -np.inf if low is None else low.const
        hi = np.inf if high is None else high.const
        return [constant(np.clip(x.const, lo, hi))]
    out = x
    if low is not None:
        out = _elementwise([out, low], "Clip", lambda c, v: f"greatest({c}, {v})", x.kind, x.f32)
    if high is not None:
        out = _elementwise([out, high], "Clip", lambda c, v: f"least({c}, {v})", x.kind, x.f32)
    return [out]


def _extreme(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    # greatest/least skip NULL where onnxruntime would carry NaN; our graphs clean NaN before these.
    function, fold = ("greatest", np.maximum) if node.op_type == "Max" else ("least", np.minimum)
    if not any(v.is_row for v in inputs):
        out = inputs[0].const
        for v in inputs[1:]:
            out = fold(out, v.const)
        return [constant(out)]
    f32 = next(v.f32 for v in inputs if v.is_row)
    return [_elementwise(inputs, node.op_type, lambda *parts: f"{function}({', '.join(parts)})", REAL, f32)]


def _sum(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    f32 = next(v.f32 for v in inputs if v.is_row)
    return [_elementwise(inputs, "Sum", lambda *parts: "(" + " + ".join(parts) + ")", REAL, f32)]


def _linear(x: Value, weights: np.ndarray, bias: np.ndarray | None, b: Bindings) -> Value:
    """x @ weights (+ bias) for a row tensor and constant (k, m) weights, bound as one stage.

    The input list is taken once (a slice of the bound values) and every output is an inner
    product with a constant row of weights: slicing once per output costs four times as much.
    """
    k, m = weights.shape
    if len(x.dims) != 1:
        raise CompileError(f"a product of a tensor of {len(x.dims) + 1} axes with weights is not translated")
    if len(x) != k:
        raise CompileError(f"a product of {len(x)} columns with weights of shape {weights.shape}")
    vector = b.vector(x)
    out = []
    for j in range(m):
        w = "[" + ", ".join(literal(v) for v in weights[:, j]) + "]"
        shift = "" if bias is None else f" + {literal(bias[j])}"
        out.append(f"list_inner_product(_clv_x, {w}){shift}")
    return b.bind_list(f"list_transform([{vector}], lambda _clv_x: [{', '.join(out)}])[1]", m, x.f32)


def _gemm(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    a, w, c = ([*inputs, None])[:3]
    attrs = node.attributes
    if not a.is_row or w.is_row or int(attrs.get("transA", 0)):
        raise CompileError("Gemm is translated for a row tensor times constant weights only")
    weights = np.asarray(w.const, dtype=np.float64)
    weights = weights.T if int(attrs.get("transB", 0)) else weights
    weights = weights * float(attrs.get("alpha", 1.0))
    beta = float(attrs.get("beta", 1.0))
    if c is None or c.is_row:
        out = _linear(a, weights, None, b)
        if c is not None:
            extra = columns_of(c, len(out), "Gemm")
            out = row([f"({o} + {literal(beta)} * {e})" for o, e in zip(out.columns, extra, strict=True)], REAL, a.f32)
        return [out]
    bias = np.broadcast_to(np.asarray(c.const, dtype=np.float64).reshape(-1), (weights.shape[1],)) * beta
    return [_linear(a, weights, bias, b)]


def _matmul(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    a, w = inputs
    if not a.is_row or w.is_row:
        raise CompileError("MatMul is translated for a row tensor times constant weights only")
    return [_linear(a, np.asarray(w.const, dtype=np.float64), None, b)]


def _reduce(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    x = inputs[0]
    axes = node.attributes.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = inputs[1].const
    if axes is None or not x.is_row:
        raise CompileError(f"{node.op_type} is translated along given axes of a row tensor only")
    reduced = row_axes(node, x, axes)
    x = b.bind(x)
    elements = grid(x, node.op_type)
    moved = np.moveaxis(elements, reduced, range(-len(reduced), 0))
    lead = moved.shape[: moved.ndim - len(reduced)]
    groups = moved.reshape((*lead, -1))
    out = np.empty(lead, dtype=object)
    for at in np.ndindex(*lead):
        terms = list(groups[at])
        if node.op_type == "ReduceMax":
            out[at] = f"greatest({', '.join(terms)})"
            continue
        if node.op_type == "ReduceSumSquare":
            terms = [f"({c} * {c})" for c in terms]
        total = "(" + " + ".join(terms) + ")"
        out[at] = f"({total} / {literal(len(terms))})" if node.op_type == "ReduceMean" else total
    if int(node.attributes.get("keepdims", 1)):
        return [
            from_grid(out.reshape([1 if i in reduced else d for i, d in enumerate(x.dims)]), REAL, x.f32, x.batch_axis)
        ]
    # Axes before the rows that are dropped move the rows forward.
    before = sum(1 for i in reduced if i < x.batch_axis)
    return [from_grid(out, REAL, x.f32, x.batch_axis - before)]


def _argmin(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    (x,) = inputs
    column_axis(node, 0)
    if len(x.dims) != 1:
        raise CompileError(f"{node.op_type} is translated over a row of one axis only")
    if int(node.attributes.get("select_last_index", 0)):
        raise CompileError("ArgMin/ArgMax with select_last_index is not translated")
    vector = b.vector(x)
    pick = "list_min" if node.op_type == "ArgMin" else "list_max"
    # The first position of the extreme, as onnxruntime breaks ties.
    return [row([f"CAST(list_position({vector}, {pick}({vector})) - 1 AS BIGINT)"], INT)]


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(_BINARY, _binary),
    **dict.fromkeys(_UNARY, _unary),
    "Cast": _cast,
    "Where": _where,
    "Clip": _clip,
    "Max": _extreme,
    "Min": _extreme,
    "Sum": _sum,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "ReduceSum": _reduce,
    "ReduceSumSquare": _reduce,
    "ReduceMean": _reduce,
    "ReduceMax": _reduce,
    "ArgMin": _argmin,
    "ArgMax": _argmin,
}
