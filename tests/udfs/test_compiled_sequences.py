"""The sequence layers in compiled SQL against onnxruntime, on small graphs built here.

The exported LSTM and CNN models use zero initial states, no padding on one side only and one
dilation per layer; these graphs also cover biases, given initial states, uneven padding and the
shape operators around the layers, on random weights and inputs, fast.
"""

from __future__ import annotations

import duckdb
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from duckdb_clv.udfs.compiler.expressions import CompileError
from duckdb_clv.udfs.compiler.graph import ListInput, compile_graph

pytestmark = pytest.mark.fast

WEEKS, CHANNELS, ROWS = 7, 3, 40


def _model(nodes, initializers, output_width: int) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 2]),
            helper.make_tensor_value_info("history", TensorProto.FLOAT, ["N", WEEKS, CHANNELS]),
        ],
        [helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N", output_width])],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _compare(data: bytes, seed: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The graph's output from onnxruntime and from its compiled SQL, on random rows.

    A ``missing`` share of the features is NaN for onnxruntime and NULL in SQL.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, 2)).astype(np.float32)
    X[rng.random(X.shape) < missing] = np.nan
    H = rng.normal(size=(ROWS, WEEKS, CHANNELS)).astype(np.float32)
    want = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(["value"], {"features": X, "history": H})
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, x DOUBLE[], h DOUBLE[])")
    listed = [
        (i, [None if np.isnan(v) else float(v) for v in x], h.ravel().tolist())
        for i, (x, h) in enumerate(zip(X, H, strict=True))
    ]
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", listed)
    inputs = {"features": ["t.x[1]", "t.x[2]"], "history": ListInput("t.h", (WEEKS, CHANNELS))}
    width = want[0].shape[1]
    columns = [compile_graph(data, "value", inputs, "m/v1", column=j).sql for j in range(width)]
    got = np.array(con.execute(f"SELECT {', '.join(columns)} FROM t ORDER BY i").fetchall(), dtype=np.float64)
    return got, want[0].astype(np.float64)


def test_an_lstm_with_bias_and_initial_states_matches_onnxruntime() -> None:
    rng = np.random.default_rng(1)
    hidden = 4
    weights = {
        "W": rng.normal(scale=0.6, size=(1, 4 * hidden, CHANNELS)).astype(np.float32),
        "R": rng.normal(scale=0.6, size=(1, 4 * hidden, hidden)).astype(np.float32),
        "B": rng.normal(scale=0.3, size=(1, 8 * hidden)).astype(np.float32),
        "h0": rng.normal(size=(1, 1, hidden)).astype(np.float32),
        "c0": rng.normal(size=(1, 1, hidden)).astype(np.float32),
        "perm_axes": np.array([0], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Transpose", ["history"], ["steps"], perm=[1, 0, 2]),
        # Initial states of shape (1, rows, hidden): a constant row added to zeros of that shape.
        helper.make_node("Shape", ["features"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "perm_axes"], ["n1"]),
        helper.make_node("Concat", ["one", "n1", "width"], ["state_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape", ["state_shape"], ["zeros"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])
        ),
        helper.make_node("Add", ["zeros", "h0"], ["h0s"]),
        helper.make_node("Add", ["c0", "zeros"], ["c0s"]),
        helper.make_node("LSTM", ["steps", "W", "R", "B", "", "h0s", "c0s"], ["", "h", "c"], hidden_size=hidden),
        helper.make_node("Concat", ["h", "c"], ["hc"], axis=2),
        helper.make_node("Squeeze", ["hc", "perm_axes"], ["value"]),
    ]
    weights |= {
        "zero": np.array(0, dtype=np.int64),
        "one": np.array([1], dtype=np.int64),
        "width": np.array([hidden], dtype=np.int64),
    }
    got, want = _compare(_model(nodes, weights, 2 * hidden), seed=2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_dilated_unevenly_padded_convolution_and_its_reductions_match_onnxruntime() -> None:
    rng = np.random.default_rng(3)
    filters, kernel = 5, 3
    weights = {
        "K": rng.normal(size=(filters, CHANNELS, kernel)).astype(np.float32),
        "KB": rng.normal(size=(filters,)).astype(np.float32),
        "axes": np.array([2], dtype=np.int64),
        "starts": np.array([-2], dtype=np.int64),
        "ends": np.array([np.iinfo(np.int64).max], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Transpose", ["history"], ["channels"], perm=[0, 2, 1]),
        helper.make_node(
            "Conv", ["channels", "K", "KB"], ["conv"], kernel_shape=[kernel], pads=[1, 3], dilations=[2], strides=[1]
        ),
        helper.make_node("Relu", ["conv"], ["r"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["mean"], keepdims=0),
        helper.make_node("ReduceMax", ["r"], ["top"], axes=[2], keepdims=1),
        helper.make_node("Squeeze", ["top", "axes"], ["top2"]),
        helper.make_node("Slice", ["r", "starts", "ends", "axes"], ["last"]),
        helper.make_node("ReduceSum", ["last", "axes"], ["recent"], keepdims=0),
        helper.make_node("Concat", ["mean", "top2", "recent", "features"], ["value"], axis=1),
    ]
    # ReduceMean with axes as an input is opset 18; this graph is opset 17, where it is an attribute.
    nodes[3] = helper.make_node("ReduceMean", ["r"], ["mean"], axes=[2], keepdims=0)
    got, want = _compare(_model(nodes, weights, 3 * filters + 2), seed=4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_lstm_running_backwards_is_refused_naming_what() -> None:
    weights = {
        "W": np.zeros((1, 8, CHANNELS), np.float32),
        "R": np.zeros((1, 8, 2), np.float32),
    }
    nodes = [
        helper.make_node("Transpose", ["history"], ["steps"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["steps", "W", "R"], ["", "h"], hidden_size=2, direction="reverse"),
        helper.make_node("Squeeze", ["h", "axes"], ["value"]),
    ]
    data = _model(nodes, weights | {"axes": np.array([0], dtype=np.int64)}, 2)
    with pytest.raises(CompileError, match="LSTM is translated in the forward direction only"):
        compile_graph(data, "value", {"features": ["0e0", "0e0"], "history": ListInput("t.h", (WEEKS, CHANNELS))}, "m")


def test_unknown_features_reach_a_dense_layer_as_onnxruntime_reads_nan() -> None:
    # NaN replaced by zero, then a product with weights: the input list is a slice of the row's
    # values, which also hold the NULLs the replacement left behind.
    weights = {"zero": np.array(0.0, np.float32), "W": np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)}
    nodes = [
        helper.make_node("IsNaN", ["features"], ["nan"]),
        helper.make_node("Where", ["nan", "zero", "features"], ["clean"]),
        helper.make_node("MatMul", ["clean", "W"], ["value"]),
    ]
    got, want = _compare(_model(nodes, weights, 2), seed=5, missing=0.3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
