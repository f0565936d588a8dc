"""Small ONNX graph surgery shared by the exporters: chaining graphs, renaming outputs, checks.

Every exported model takes one float32 input ``features`` (N x the contract's width) and uses only
the standard ``ai.onnx`` and ``ai.onnx.ml`` domains, so that any onnxruntime can serve it.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, compose, helper, numpy_helper

from duckdb_clv.training.errors import TrainingError
from duckdb_clv.udfs.contract import FEATURES, HISTORY_INPUT, SEQUENCE_CHANNELS, SEQUENCE_WEEKS
from duckdb_clv.udfs.sessions import session_options

OPSET = 17
ML_OPSET = 3
TARGET_OPSET = {"": OPSET, "ai.onnx.ml": ML_OPSET}
ALLOWED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
INPUT = "features"


def features_input() -> onnx.ValueInfoProto:
    """The input every model takes."""
    return helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", len(FEATURES)])


def history_input() -> onnx.ValueInfoProto:
    """A sequence model's second input: the weekly history, rows x weeks x channels."""
    return helper.make_tensor_value_info(
        HISTORY_INPUT, TensorProto.FLOAT, ["N", SEQUENCE_WEEKS, len(SEQUENCE_CHANNELS)]
    )


def _opsets(models: list[onnx.ModelProto]) -> list[onnx.OperatorSetIdProto]:
    versions: dict[str, int] = {"": OPSET}
    for model in models:
        for imp in model.opset_import:
            domain = "" if imp.domain == "ai.onnx" else imp.domain
            versions[domain] = max(versions.get(domain, 0), imp.version)
    return [helper.make_opsetid(d, v) for d, v in sorted(versions.items())]


def _names_read(node: onnx.NodeProto) -> set[str]:
    """Tensors a node reads, including those its subgraphs (Loop bodies) read from the outer scope."""
    names = {i for i in node.input if i}
    for attr in node.attribute:
        for graph in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
            for inner in graph.node:
                names |= _names_read(inner)
    return names


def topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Nodes reordered so that each comes after the nodes producing what it reads (stable otherwise)."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}
    deps = [
        {producer[n] for n in _names_read(node) if n in producer and producer[n] != i} for i, node in enumerate(nodes)
    ]
    done: list[int] = []
    placed: set[int] = set()
    state: dict[int, int] = {}

    def visit(i: int) -> None:
        if i in placed:
            return
        if state.get(i) == 1:
            raise TrainingError(f"the composed graph has a cycle through node {nodes[i].name or nodes[i].op_type}")
        state[i] = 1
        for d in sorted(deps[i]):
            visit(d)
        placed.add(i)
        done.append(i)

    for i in range(len(nodes)):
        visit(i)
    return [nodes[i] for i in done]


def compose_graph(
    parts: dict[str, onnx.ModelProto],
    wiring: dict[str, dict[str, str]],
    nodes: list[onnx.NodeProto],
    initializers: list[onnx.TensorProto],
    outputs: list[onnx.ValueInfoProto],
    name: str,
    history: bool = False,
) -> onnx.ModelProto:
    """One model made of several: each part's tensors are prefixed with its key, its inputs wired.

    Parameters
    ----------
    parts : dict
        Prefix -> model. A part's tensor ``t`` becomes ``<prefix>/t``.
    wiring : dict
        Prefix -> {part input name -> tensor feeding it} (``features`` or another part's output);
        by default a part's ``features`` and ``history`` inputs read the composed model's.
    nodes, initializers : list
        Extra nodes (reading ``<prefix>/<output>`` names) and constants that combine the parts.
    outputs : list
        The composed model's outputs.
    history : bool
        The composed model also takes the weekly history (a part reads it).
    """
    all_nodes: list[onnx.NodeProto] = []
    all_inits: list[onnx.TensorProto] = []
    for prefix, model in parts.items():
        renamed = compose.add_prefix(model, f"{prefix}/")
        # By default a part reads the composed model's own inputs of the same names.
        default = {i.name: i.name for i in model.graph.input if i.name in (INPUT, HISTORY_INPUT)}
        for part_input, source in wiring.get(prefix, default).items():
            all_nodes.append(helper.make_node("Identity", [source], [f"{prefix}/{part_input}"]))
        all_nodes.extend(renamed.graph.node)
        all_inits.extend(renamed.graph.initializer)
    graph = helper.make_graph(
        topological(all_nodes + nodes),
        name,
        [features_input(), *([history_input()] if history else [])],
        outputs,
        initializer=all_inits + initializers,
    )
    model = helper.make_model(graph, opset_imports=_opsets(list(parts.values())), producer_name="duckdb-clv")
    model.ir_version = 8
    return model


def rename_output(model: onnx.ModelProto, old: str, new: str) -> onnx.ModelProto:
    """The model with output ``old`` renamed ``new`` (and its other outputs dropped)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for node in out.graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
    keep = [o for o in out.graph.output if o.name == old]
    if not keep:
        raise TrainingError(f"the exported graph has no output {old!r}")
    keep[0].name = new
    del out.graph.output[:]
    out.graph.output.extend(keep)
    return out


def const(name: str, value: object, dtype: type = np.float32) -> onnx.TensorProto:
    """A named constant tensor."""
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def check_domains(model: onnx.ModelProto) -> None:
    """Refuse operators outside ai.onnx / ai.onnx.ml and weights stored outside the file."""
    used = {n.domain for n in model.graph.node} | {i.domain for i in model.opset_import}
    unknown = sorted(d for d in used if d not in ALLOWED_DOMAINS)
    if unknown:
        raise TrainingError(f"the exported model uses operator domains {unknown}; only ai.onnx and ai.onnx.ml")
    for init in model.graph.initializer:
        if init.data_location == TensorProto.EXTERNAL:
            raise TrainingError(f"initializer {init.name!r} is stored as external data; weights must be embedded")


def session(model: onnx.ModelProto | bytes, threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime CPU session with explicit options."""
    options = session_options(threads)
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def run(
    model: onnx.ModelProto | bytes, X: np.ndarray, output: str, threads: int = 1, history: np.ndarray | None = None
) -> np.ndarray:
    """Run ``model`` on a float32 matrix (and, for a sequence model, the rows' histories); one output."""
    sess = session(model, threads)
    feed = {INPUT: np.ascontiguousarray(X, dtype=np.float32)}
    if history is not None:
        feed[HISTORY_INPUT] = np.ascontiguousarray(history, dtype=np.float32)
    return sess.run([output], feed)[0]
