"""A policy's action values as one ONNX graph: features in, the expected net value of every action out.

The graph mirrors ``ActionValues.predict``: the base tree ensemble gives the value of doing
nothing; each action's ratio ensemble multiplies the floored base (``Relu(base) + floor``) and is
added to it; the actions' costs are subtracted. Input ``features`` is the policy's own feature
list (the contract's, then the campaign history's: the card names them), output
``action`` is rows x actions in the card's action order, "none" first.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import HistGradientBoostingRegressor

from duckdb_clv.training.export.onnx_tools import TARGET_OPSET, check_domains, compose_graph, const, run
from duckdb_clv.training.export.parity import parity
from duckdb_clv.training.export.thresholds import make_exact, sklearn_thresholds
from duckdb_clv.training.policies.learners import ActionValues

# Named after the task, as every registered model's output is.
OUTPUT = "action"


def _trees(model: HistGradientBoostingRegressor, width: int) -> onnx.ModelProto:
    converted = to_onnx(model, initial_types=[("features", FloatTensorType([None, width]))], target_opset=TARGET_OPSET)
    # Thresholds as the float32 values that split float32 inputs exactly as scikit-learn does.
    make_exact(converted, sklearn_thresholds(model))
    return converted


def action_value_graph(model: ActionValues, width: int, name: str) -> onnx.ModelProto:
    """The ONNX graph of a fitted ``ActionValues`` over ``width`` input features."""
    parts = {"base": _trees(model.base_, width)}
    base = f"base/{parts['base'].graph.output[0].name}"
    nodes = [
        helper.make_node("Relu", [base], ["scale_relu"]),
        helper.make_node("Add", ["scale_relu", "floor"], ["scale"]),
    ]
    columns = [base]
    for a, ratio in enumerate(model.ratios_, start=1):
        if ratio is None:
            columns.append(base)
            continue
        parts[f"ratio{a}"] = _trees(ratio, width)
        out = f"ratio{a}/{parts[f'ratio{a}'].graph.output[0].name}"
        nodes += [
            helper.make_node("Mul", [out, "scale"], [f"lift{a}"]),
            helper.make_node("Add", [base, f"lift{a}"], [f"gross{a}"]),
        ]
        columns.append(f"gross{a}")
    nodes += [
        helper.make_node("Concat", columns, ["gross"], axis=1),
        helper.make_node("Sub", ["gross", "costs"], [OUTPUT]),
    ]
    inits = [const("floor", np.float32(model.floor_)), const("costs", model.costs.astype(np.float32)[None, :])]
    out_info = helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["N", model.n_actions])
    graph = compose_graph(parts, {}, nodes, inits, [out_info], name)
    graph.graph.input[0].type.tensor_type.shape.dim[1].dim_value = width
    return graph


def export_checked(model: ActionValues, X: np.ndarray, name: str) -> tuple[onnx.ModelProto, dict[str, float]]:
    """The graph and its parity with ``model.predict`` on ``X``, every action held to the value tolerance."""
    graph = action_value_graph(model, X.shape[1], name)
    check_domains(graph)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    expected = model.predict(X32)
    actual = run(graph, X32, OUTPUT)
    return graph, parity("value", expected, actual)
