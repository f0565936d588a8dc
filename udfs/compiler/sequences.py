"""The layers that read the weekly history: a forward LSTM and a one-dimensional convolution.

Both work on one customer's weeks at a time, as lists. The LSTM is a ``list_reduce`` over the
weeks whose state is the hidden and cell vectors; its weights are written once, in the lambda, so
the SQL does not grow with the number of weeks. A convolution is, for each output position, one
inner product of a window of the padded input with each filter, the input laid out week by week
so that a window is a run of consecutive elements.
"""

from __future__ import annotations

import numpy as np

from duckdb_clv.udfs.compiler.expressions import (
    Bindings,
    CompileError,
    Value,
    from_grid,
    grid,
    list_of,
    literal,
    row,
)
from duckdb_clv.udfs.compiler.logistic import exact_logistic
from duckdb_clv.udfs.onnx_graph import Node


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _weights(values: np.ndarray) -> str:
    return "[" + ", ".join(literal(v) for v in np.asarray(values, dtype=np.float64).ravel()) + "]"


def _initial(value: Value | None, hidden: int, where: str) -> list[str]:
    """An initial hidden or cell state of one row: zeros when absent, else (1, rows, hidden)."""
    if value is None:
        return ["0e0"] * hidden
    if value.is_row:
        if value.dims != (1, hidden) or value.batch_axis != 1:
            raise CompileError(f"{where}: an initial state of shape {value.full_shape} is not (1, rows, {hidden})")
        return list(value.columns)
    return [literal(v) for v in np.broadcast_to(np.asarray(value.const, dtype=np.float64), (1, 1, hidden)).ravel()]


def _lstm(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    x, w, r, bias, lengths, h0, c0, peepholes = ([*inputs, None, None, None, None, None])[:8]
    attrs = node.attributes
    if _text(attrs.get("direction", "forward")) != "forward":
        raise CompileError("LSTM is translated in the forward direction only")
    for name in ("activations", "clip", "activation_alpha", "activation_beta"):
        if name in attrs:
            raise CompileError(f"LSTM with attribute {name} is not translated (only the default sigmoid/tanh)")
    if int(attrs.get("input_forget", 0)) or int(attrs.get("layout", 0)):
        raise CompileError("LSTM with input_forget or layout 1 is not translated")
    if lengths is not None or peepholes is not None:
        raise CompileError("LSTM with sequence lengths or peepholes is not translated")
    if not x.is_row or len(x.dims) != 2 or x.batch_axis != 1 or w.is_row or r.is_row:
        raise CompileError("LSTM is translated for a (steps, rows, inputs) tensor and constant weights")
    steps, width = x.dims
    hidden = int(attrs["hidden_size"])
    W = np.asarray(w.const, dtype=np.float64)[0]  # (4 hidden, inputs), gates in the order i, o, f, c
    R = np.asarray(r.const, dtype=np.float64)[0]  # (4 hidden, hidden)
    B = np.zeros(8 * hidden) if bias is None else np.asarray(bias.const, dtype=np.float64).ravel()
    if W.shape != (4 * hidden, width) or R.shape != (4 * hidden, hidden):
        raise CompileError(f"LSTM weights of shapes {W.shape}, {R.shape} for {width} inputs and {hidden} units")
    shift = B[: 4 * hidden] + B[4 * hidden :]
    # The state list is [h..., c...]; a step's input list is its week's channels.
    state = "[" + ", ".join(_initial(h0, hidden, "LSTM") + _initial(c0, hidden, "LSTM")) + "]"
    x = b.bind(x)
    weeks = [list_of(x.columns[t * width : (t + 1) * width]) for t in range(steps)]
    gates = ", ".join(
        f"list_inner_product(_clv_v, {_weights(np.concatenate([W[j], R[j]]))}) + {literal(shift[j])}"
        for j in range(4 * hidden)
    )
    i, o, f, c = (np.arange(hidden) + k * hidden + 1 for k in range(4))
    cells = ", ".join(
        f"{exact_logistic(f'_clv_g[{f[j]}]')} * _clv_hc[{hidden + j + 1}] + "
        f"{exact_logistic(f'_clv_g[{i[j]}]')} * tanh(_clv_g[{c[j]}])"
        for j in range(hidden)
    )
    outs = ", ".join(f"{exact_logistic(f'_clv_g[{o[j]}]')} * tanh(_clv_c[{j + 1}])" for j in range(hidden))
    step = (
        f"list_transform([list_transform([_clv_xt || _clv_hc[1:{hidden}]], lambda _clv_v: [{gates}])[1]], "
        f"lambda _clv_g: list_transform([[{cells}]], lambda _clv_c: [{outs}] || _clv_c)[1])[1]"
    )
    final = b.bind_list(
        f"list_reduce([{state}, {', '.join(weeks)}], lambda _clv_hc, _clv_xt: {step})", 2 * hidden, x.f32
    )
    h, cell = final.columns[:hidden], final.columns[hidden:]
    # Y, every step's hidden state, is not computed: no exported model reads it.
    everything = Value()
    return [everything, row(h, dims=(1, hidden), batch_axis=1), row(cell, dims=(1, hidden), batch_axis=1)]


def _conv(node: Node, inputs: list[Value | None], b: Bindings) -> list[Value]:
    x, w, bias = ([*inputs, None])[:3]
    attrs = node.attributes
    if not x.is_row or len(x.dims) != 2 or x.batch_axis != 0 or w.is_row:
        raise CompileError("Conv is translated for a (rows, channels, steps) tensor and constant weights")
    if int(attrs.get("group", 1)) != 1 or _text(attrs.get("auto_pad", "NOTSET")) != "NOTSET":
        raise CompileError("Conv with groups or automatic padding is not translated")
    if any(int(s) != 1 for s in np.atleast_1d(attrs.get("strides", [1]))):
        raise CompileError("Conv with strides is not translated")
    W = np.asarray(w.const, dtype=np.float64)  # (filters, channels, kernel)
    filters, channels, kernel = W.shape
    if channels != x.dims[0]:
        raise CompileError(f"Conv of {x.dims[0]} channels with filters over {channels}")
    (dilation,) = [int(d) for d in np.atleast_1d(attrs.get("dilations", [1]))]
    before, after = [int(p) for p in np.atleast_1d(attrs.get("pads", [0, 0]))]
    length = x.dims[1]
    out_length = length + before + after - dilation * (kernel - 1)
    # Week by week (channels within a week), so a window is consecutive elements of the list.
    weekly = b.bind(from_grid(grid(x, "Conv").T, x.kind, x.f32))
    padded = list_of(["0e0"] * (before * channels) + list(weekly.columns) + ["0e0"] * (after * channels))
    window = " || ".join(
        f"_clv_p[(_clv_t + {k * dilation}) * {channels} + 1:(_clv_t + {k * dilation + 1}) * {channels}]"
        for k in range(kernel)
    )
    if kernel == 1:
        window += " || []"  # a bare slice would carry its parent's NULLs into list_inner_product (see list_of)
    shift = np.zeros(filters) if bias is None else np.asarray(bias.const, dtype=np.float64).ravel()
    # Each filter's weights in the window's order: tap by tap, channels within a tap.
    products = ", ".join(
        f"list_inner_product(_clv_w, {_weights(W[m].T)}) + {literal(shift[m])}" for m in range(filters)
    )
    out = b.bind_list(
        f"list_transform([{padded}], lambda _clv_p: flatten(list_transform(range(0, {out_length}), "
        f"lambda _clv_t: list_transform([{window}], lambda _clv_w: [{products}])[1])))[1]",
        out_length * filters,
        x.f32,
    )
    # The list is step by step; the tensor is (filters, steps).
    elements = np.array(out.columns, dtype=object).reshape(out_length, filters).T
    return [from_grid(elements, out.kind, out.f32)]


HANDLERS = {"LSTM": _lstm, "Conv": _conv}
