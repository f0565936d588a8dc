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
    columns_of,
    constant,
    literal,
    row,
)
from duckdb_clv.udfs.compiler.logistic import round32
from duckdb_clv.udfs.compiler.shapes import column_axis
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


def _binary(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    template, fold, kind = _BINARY[node.op_type]
    a, b = inputs
    if not a.is_row and not b.is_row:
        return [constant(fold(a.const, b.const))]
    width = max(len(a), len(b))
    left, right = columns_of(a, width, node.op_type), columns_of(b, width, node.op_type)
    return [row([template.format(a=x, b=y) for x, y in zip(left, right, strict=True)], kind, a.f32)]


def _unary(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    template, fold = _UNARY[node.op_type]
    (x,) = inputs
    if not x.is_row:
        return [constant(fold(x.const))]
    if template.count("{x}") > 1:
        x = b.bind(x)
    kind = BOOL if node.op_type in ("Not", "IsNaN") else x.kind
    return [row([template.format(x=c) for c in x.columns], kind, x.f32)]


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
        return [row([round32(c) for c in x.columns], REAL, True)]
    kind = {7: INT, 9: BOOL, 11: REAL}[to]
    return [row([f"CAST({c} AS {_CAST[to]})" for c in x.columns], kind)]


def _where(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    c, a, b = inputs
    if not (c.is_row or a.is_row or b.is_row):
        return [constant(np.where(c.const, a.const, b.const))]
    width = max(len(c), len(a), len(b), 1)
    cond, yes, no = (columns_of(v, width, "Where") for v in (c, a, b))
    source = a if a.is_row or not b.is_row else b
    cases = [f"CASE WHEN {x} THEN {y} ELSE {z} END" for x, y, z in zip(cond, yes, no, strict=True)]
    return [row(cases, source.kind, source.f32)]


def _clip(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    x, low, high = ([*inputs, None, None])[:3]
    if not x.is_row:
        lo = -np.inf if low is None else low.const
        hi = np.inf if high is None else high.const
        return [constant(np.clip(x.const, lo, hi))]
    out = list(x.columns)
    if low is not None:
        out = [f"greatest({c}, {v})" for c, v in zip(out, columns_of(low, len(out), "Clip"), strict=True)]
    if high is not None:
        out = [f"least({c}, {v})" for c, v in zip(out, columns_of(high, len(out), "Clip"), strict=True)]
    return [row(out, x.kind, x.f32)]


def _extreme(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    # greatest/least skip NULL where onnxruntime would carry NaN; our graphs clean NaN before these.
    function, fold = ("greatest", np.maximum) if node.op_type == "Max" else ("least", np.minimum)
    if not any(v.is_row for v in inputs):
        out = inputs[0].const
        for v in inputs[1:]:
            out = fold(out, v.const)
        return [constant(out)]
    width = max(len(v) for v in inputs)
    listed = [columns_of(v, width, node.op_type) for v in inputs]
    f32 = next(v.f32 for v in inputs if v.is_row)
    return [row([f"{function}({', '.join(parts)})" for parts in zip(*listed, strict=True)], REAL, f32)]


def _sum(node: Node, inputs: list[Value | None], _b: Bindings) -> list[Value]:
    width = max(len(v) for v in inputs)
    listed = [columns_of(v, width, "Sum") for v in inputs]
    f32 = next(v.f32 for v in inputs if v.is_row)
    return [row(["(" + " + ".join(parts) + ")" for parts in zip(*listed, strict=True)], REAL, f32)]


def _linear(x: Value, weights: np.ndarray, bias: np.ndarray | None, b: Bindings) -> Value:
    """x @ weights (+ bias) for a row tensor and constant (k, m) weights, bound as one stage.

    The input list is taken once (a slice of the bound values) and every output is an inner
    product with a constant row of weights: slicing once per output costs four times as much.
    """
    k, m = weights.shape
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
    if axes is None or list(np.atleast_1d(axes)) not in ([1], [-1]) or not x.is_row:
        raise CompileError(f"{node.op_type} is translated along the columns of a row tensor only")
    x = b.bind(x)
    terms = {
        "ReduceSum": x.columns,
        "ReduceSumSquare": [f"({c} * {c})" for c in x.columns],
        "ReduceMean": x.columns,
        "ReduceMax": x.columns,
    }[node.op_type]
    if node.op_type == "ReduceMax":
        return [row([f"greatest({', '.join(terms)})"], REAL, x.f32)]
    total = "(" + " + ".join(terms) + ")"
    return [row([f"({total} / {literal(len(terms))})" if node.op_type == "ReduceMean" else total], REAL, x.f32)]


def _argmin(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    (x,) = inputs
    column_axis(node, 0)
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
