"""The fitted BG/NBD + Gamma-Gamma model as an ONNX graph over the contract's ``features`` input.

So that the baseline is served by the same SQL functions as every other model, its closed forms
are written in standard ONNX operators (computed in float64): P(alive), expected purchases over
the horizon (the Gauss hypergeometric function summed as a series in a ``Loop`` that stops once
the terms are negligible), expected order value, expected value, and P(no purchase within the
churn window). The graph's outputs, in order: ``value`` and ``churn`` (N x 1, float32), and
``btyd`` (N x 4, float32: p_alive, expected purchases, expected order value, P(no purchase)),
which other models take as extra inputs.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from duckdb_clv.udfs.contract import FEATURES

OPSET = 17
SERIES_TOL = 1e-10
SERIES_MAX_TERMS = 20_000
BTYD_OUTPUTS = ("btyd_p_alive", "btyd_expected_purchases", "btyd_expected_order_value", "btyd_p_no_purchase")


class _Builder:
    """Collects nodes and constants with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: float | list[int], dtype: type = np.float64) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: object) -> str:
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _hyp2f1_loop(g: _Builder, A: str, B: str, C: str, z: str) -> str:
    """Nodes summing 2F1(A, B; C; z) = sum_k (A)_k (B)_k / ((C)_k k!) z^k, row by row.

    Each row stops adding terms once its own term falls below tol x its sum, and the loop ends
    when every row has stopped. A row's value therefore depends on that row alone, never on which
    rows share its batch: the same customer scores the same in any query.
    """
    # The loop body: term_{k+1} = term_k * (A + k)(B + k) / ((C + k)(k + 1)) * z; A, B, C, z come
    # from the outer scope, which ONNX subgraphs may read.
    one = numpy_helper.from_array(np.array(1.0), "one")
    zero = numpy_helper.from_array(np.array(0.0), "zero")
    tol = numpy_helper.from_array(np.array(SERIES_TOL), "tol")
    body_nodes = [
        helper.make_node("Cast", ["k_in"], ["k"], to=TensorProto.DOUBLE),
        helper.make_node("Add", [A, "k"], ["ak"]),
        helper.make_node("Add", [B, "k"], ["bk"]),
        helper.make_node("Add", [C, "k"], ["ck"]),
        helper.make_node("Add", ["k", "one"], ["k1"]),
        helper.make_node("Mul", ["ak", "bk"], ["num"]),
        helper.make_node("Mul", ["ck", "k1"], ["den"]),
        helper.make_node("Div", ["num", "den"], ["ratio"]),
        helper.make_node("Mul", ["ratio", z], ["step"]),
        helper.make_node("Mul", ["term_in", "step"], ["term_out"]),
        helper.make_node("Where", ["active_in", "term_out", "zero"], ["added"]),
        helper.make_node("Add", ["sum_in", "added"], ["sum_out"]),
        helper.make_node("Div", ["term_out", "sum_out"], ["rel"]),
        helper.make_node("Abs", ["rel"], ["rel_abs"]),
        helper.make_node("Greater", ["rel_abs", "tol"], ["big"]),
        helper.make_node("And", ["active_in", "big"], ["active_out"]),
        helper.make_node("Cast", ["active_out"], ["active_num"], to=TensorProto.DOUBLE),
        helper.make_node("ReduceMax", ["active_num"], ["any_active"], keepdims=0),
        helper.make_node("Greater", ["any_active", "zero"], ["cond_out"]),
    ]
    body = helper.make_graph(
        body_nodes,
        "hyp2f1_step",
        [
            helper.make_tensor_value_info("k_in", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("term_in", TensorProto.DOUBLE, None),
            helper.make_tensor_value_info("sum_in", TensorProto.DOUBLE, None),
            helper.make_tensor_value_info("active_in", TensorProto.BOOL, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("term_out", TensorProto.DOUBLE, None),
            helper.make_tensor_value_info("sum_out", TensorProto.DOUBLE, None),
            helper.make_tensor_value_info("active_out", TensorProto.BOOL, None),
        ],
        initializer=[one, zero, tol],
    )
    ones = g.op("Add", g.op("Mul", z, g.const(0.0)), g.const(1.0))
    active = g.op("Greater", ones, g.const(0.0))
    trips = g.const(SERIES_MAX_TERMS, np.int64)
    keep_going = g.const(True, np.bool_)
    g.count += 1
    term_final, sum_final, active_final = f"term{g.count}", f"sum{g.count}", f"active{g.count}"
    g.nodes.append(
        helper.make_node(
            "Loop", [trips, keep_going, ones, ones, active], [term_final, sum_final, active_final], body=body
        )
    )
    return sum_final


def btyd_graph(
    bgnbd: tuple[float, float, float, float],
    gamma_gamma: tuple[float, float, float],
    horizon_weeks: float,
    churn_window_weeks: float,
    name: str = "btyd",
) -> onnx.ModelProto:
    """The ONNX model computing the BG/NBD + Gamma-Gamma outputs from the ``features`` input.

    Parameters
    ----------
    bgnbd : (r, alpha, a, b)
        Fitted BG/NBD parameters, time unit weeks.
    gamma_gamma : (p, q, v)
        Fitted Gamma-Gamma parameters.
    horizon_weeks, churn_window_weeks : float
        The value horizon and the churn window, in weeks.
    """
    r, alpha, a, b = bgnbd
    p, q, v = gamma_gamma
    g = _Builder()

    def column(feature: str) -> str:
        picked = g.op("Gather", "features", g.const([FEATURES.index(feature)], np.int64), axis=1)
        as_double = g.op("Cast", picked, to=TensorProto.DOUBLE)
        # A NULL summary (no purchase by the cutoff) reads as a customer with no history: 0.
        return g.op("Where", g.op("IsNaN", as_double), g.const(0.0), as_double)

    x, t_x, t, m = column("frequency"), column("recency_weeks"), column("t_weeks"), column("monetary_value")
    c_r, c_alpha, c_a, c_b = g.const(r), g.const(alpha), g.const(a), g.const(b)
    has_repeat = g.op("Greater", x, g.const(0.0))
    r_x = g.op("Add", c_r, x)
    alpha_t = g.op("Add", c_alpha, t)
    # P(alive) = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)) for x > 0, else 1.
    b_x1 = g.op("Max", g.op("Sub", g.op("Add", c_b, x), g.const(1.0)), g.const(1e-300))
    ratio = g.op("Pow", g.op("Div", alpha_t, g.op("Add", c_alpha, t_x)), r_x)
    odds = g.op("Mul", g.op("Div", c_a, b_x1), ratio)
    p_alive = g.op("Where", has_repeat, g.op("Div", g.const(1.0), g.op("Add", g.const(1.0), odds)), g.const(1.0))
    # E[purchases in (T, T + H]] =
    #     (a + b + x - 1) / (a - 1) * (1 - (1 - z)^(r + x) * 2F1(r + x, b + x; a + b + x - 1; z)) * P(alive)
    # with z = H / (alpha + T + H). Euler's transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B)
    # 2F1(C - A, C - B; C; z) turns the product into (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1;
    # a + b + x - 1; z): same value, but its terms shrink from the start instead of first growing
    # like k^(r + x), so frequent buyers need hundreds of terms instead of thousands.
    horizon = g.const(horizon_weeks)
    alpha_th = g.op("Add", alpha_t, horizon)
    z = g.op("Div", horizon, alpha_th)
    c_abx1 = g.op("Sub", g.op("Add", g.const(a + b), x), g.const(1.0))
    # Identity: a Loop body may read the outer graph's node outputs, and the checker does not
    # count initializers among them.
    series = _hyp2f1_loop(g, g.op("Identity", g.const(a + b - 1.0 - r)), g.op("Identity", g.const(a - 1.0)), c_abx1, z)
    decay = g.op("Pow", g.op("Div", alpha_t, alpha_th), g.const(a - 1.0))
    bracket = g.op("Sub", g.const(1.0), g.op("Mul", decay, series))
    purchases = g.op("Mul", g.op("Mul", g.op("Div", c_abx1, g.const(a - 1.0)), bracket), p_alive)
    # Gamma-Gamma: expected order value blends the population mean and the customer's own mean.
    c_px = g.op("Mul", g.const(p), x)
    weight = g.op("Div", c_px, g.op("Add", c_px, g.const(q - 1.0)))
    population = g.const(p * v / (q - 1.0))
    spend = g.op("Add", g.op("Mul", g.op("Sub", g.const(1.0), weight), population), g.op("Mul", weight, m))
    value = g.op("Mul", purchases, spend)
    # P(no purchase in the churn window) = 1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + tau))^(r + x)
    quiet = g.op("Pow", g.op("Div", alpha_t, g.op("Add", alpha_t, g.const(churn_window_weeks))), r_x)
    churn = g.op("Add", g.op("Sub", g.const(1.0), p_alive), g.op("Mul", p_alive, quiet))

    g.nodes.append(helper.make_node("Cast", [value], ["value"], to=TensorProto.FLOAT))
    g.nodes.append(helper.make_node("Cast", [churn], ["churn"], to=TensorProto.FLOAT))
    stacked = g.op("Concat", p_alive, purchases, spend, churn, axis=1)
    g.nodes.append(helper.make_node("Cast", [stacked], ["btyd"], to=TensorProto.FLOAT))
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(FEATURES)])],
        [
            helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("churn", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("btyd", TensorProto.FLOAT, ["N", len(BTYD_OUTPUTS)]),
        ],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="duckdb-clv")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
