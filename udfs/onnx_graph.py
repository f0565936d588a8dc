"""Reading a model's graph nodes and attributes from its bytes, and exposing inner tensors as outputs.

The explanations (``udfs.explain``) need the tree structure of a registered model and the tensor
its trees read (the contract's features, or those followed by the BG/NBD outputs the graph derives
from them). Scoring imports neither the ``onnx`` package nor protobuf, so this reads the protobuf
wire format directly, as ``udfs.onnx_guard`` does for the header, and writes the one change it
needs (extra graph outputs) by appending fields, which protobuf merges into the message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from duckdb_clv.udfs.onnx_guard import _varint
from duckdb_clv.udfs.onnx_guard import wire_fields as _fields

# Field numbers from onnx.proto.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT, _GRAPH_OUTPUT = 1, 5, 11, 12
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 4, 5
_ATTR_NAME, _ATTR_F, _ATTR_I, _ATTR_S, _ATTR_T, _ATTR_G = 1, 2, 3, 4, 5, 6
_ATTR_FLOATS, _ATTR_INTS, _ATTR_STRINGS = 7, 8, 9
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_FLOATS, _TENSOR_INT32S, _TENSOR_INT64S = 1, 2, 4, 5, 7
_TENSOR_NAME, _TENSOR_RAW, _TENSOR_DOUBLES = 8, 9, 10
_FLOAT_ELEM = 1  # TensorProto.FLOAT
# TensorProto.DataType -> numpy, for the element types our exporters write.
_DTYPES = {1: "<f4", 6: "<i4", 7: "<i8", 9: "?", 11: "<f8"}


@dataclass
class Node:
    """One graph node: its operator, inputs, outputs and the attributes read so far."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass
class Graph:
    """A whole graph: nodes with every attribute, constant tensors by name, input and output names."""

    name: str
    nodes: list[Node]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]


def _packed_varints(data: memoryview) -> list[int]:
    out, i = [], 0
    while i < len(data):
        value, i = _varint(data, i)
        out.append(value)
    return out


def _signed(value: int) -> int:
    # int64 fields are two's complement in 64 bits on the wire.
    return value - (1 << 64) if value >= 1 << 63 else value


def _attribute(data: memoryview) -> tuple[str, object]:
    name, scalar = "", None
    floats: list[np.ndarray] = []
    ints: list[int] = []
    strings: list[str] = []
    for number, wire, value in _fields(data):
        if number == _ATTR_NAME:
            name = bytes(value).decode()
        elif number == _ATTR_F:
            scalar = struct.unpack("<f", value)[0]
        elif number == _ATTR_I:
            scalar = _signed(value)
        elif number == _ATTR_S:
            scalar = bytes(value).decode("utf-8", errors="replace")
        elif number == _ATTR_FLOATS:
            floats.append(np.frombuffer(value, dtype="<f4") if wire in (2, 5) else np.empty(0, np.float32))
        elif number == _ATTR_INTS:
            ints.extend(_packed_varints(value) if wire == 2 else [value])
        elif number == _ATTR_STRINGS:
            strings.append(bytes(value).decode("utf-8", errors="replace"))
        elif number == _ATTR_T:
            scalar = tensor(value)[1]
        elif number == _ATTR_G:
            scalar = _read_graph(value)
    if floats:
        return name, np.concatenate(floats).astype(np.float64)
    if ints:
        return name, np.array([_signed(v) for v in ints], dtype=np.int64)
    if strings:
        return name, strings
    return name, scalar


def _node(data: memoryview, wanted: frozenset[str]) -> Node:
    node = Node("", [], [])
    attributes: list[memoryview] = []
    for number, _wire, value in _fields(data):
        if number == _NODE_INPUT:
            node.inputs.append(bytes(value).decode())
        elif number == _NODE_OUTPUT:
            node.outputs.append(bytes(value).decode())
        elif number == _NODE_OP_TYPE:
            node.op_type = bytes(value).decode()
        elif number == _NODE_ATTRIBUTE:
            attributes.append(value)
    if node.op_type in wanted or "*" in wanted:
        node.attributes = dict(_attribute(a) for a in attributes)
    return node


def tensor(data: memoryview) -> tuple[str, np.ndarray]:
    """(name, array) of one serialized ``TensorProto`` (raw or typed data, the types in ``_DTYPES``)."""
    name, dims, elem = "", [], 0
    raw: bytes | None = None
    typed: list[np.ndarray] = []
    for number, wire, value in _fields(data):
        if number == _TENSOR_NAME:
            name = bytes(value).decode()
        elif number == _TENSOR_DIMS:
            dims.extend(_packed_varints(value) if wire == 2 else [value])
        elif number == _TENSOR_TYPE:
            elem = value
        elif number == _TENSOR_RAW:
            raw = bytes(value)
        elif number in (_TENSOR_FLOATS, _TENSOR_DOUBLES) and wire == 2:
            typed.append(np.frombuffer(value, dtype="<f4" if number == _TENSOR_FLOATS else "<f8"))
        elif number in (_TENSOR_INT32S, _TENSOR_INT64S):
            ints = _packed_varints(value) if wire == 2 else [value]
            typed.append(np.array([_signed(v) for v in ints], dtype=np.int64))
    if elem not in _DTYPES:
        raise ValueError(f"tensor {name!r} has element type {elem}, which this reader does not handle")
    dtype = np.dtype(_DTYPES[elem])
    values = np.frombuffer(raw, dtype=dtype) if raw is not None else np.concatenate(typed or [np.empty(0)])
    return name, values.astype(dtype).reshape([_signed(d) for d in dims])


def _value_names(data: memoryview) -> str:
    # ValueInfoProto: field 1 is the name.
    return next(bytes(v).decode() for n, _w, v in _fields(data) if n == 1)


def _read_graph(data: memoryview) -> Graph:
    graph = Graph("", [], {}, [], [])
    every = frozenset({"*"})
    for number, wire, value in _fields(data):
        if wire != 2:
            continue
        if number == _GRAPH_NODE:
            graph.nodes.append(_node(value, every))
        elif number == 2:  # GraphProto.name
            graph.name = bytes(value).decode()
        elif number == _GRAPH_INITIALIZER:
            name, array = tensor(value)
            graph.initializers[name] = array
        elif number == _GRAPH_INPUT:
            graph.inputs.append(_value_names(value))
        elif number == _GRAPH_OUTPUT:
            graph.outputs.append(_value_names(value))
    return graph


def read_graph(data: bytes) -> Graph:
    """The whole top-level graph of a serialized model, subgraphs (a ``Loop`` body) included."""
    return _read_graph(_graph(data))


def _graph(data: bytes) -> memoryview:
    for number, wire, value in _fields(memoryview(data)):
        if number == _MODEL_GRAPH and wire == 2:
            return value
    raise ValueError("the model has no graph")


def read_nodes(data: bytes, with_attributes: frozenset[str] = frozenset()) -> list[Node]:
    """The top-level nodes of a serialized model, in graph order.

    Attributes are read only for operators in ``with_attributes`` (a tree ensemble's are large).
    """
    return [_node(v, with_attributes) for n, w, v in _fields(_graph(data)) if n == _GRAPH_NODE and w == 2]


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def with_outputs(data: bytes, names: list[str]) -> bytes:
    """The model with float tensors ``names`` (produced inside its graph) added as graph outputs."""
    # ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type: FLOAT}}}; the shape is left open.
    tensor_type = _key(1, 0) + _encode_varint(_FLOAT_ELEM)
    type_proto = _length_delimited(1, tensor_type)
    extra = b"".join(
        _length_delimited(_GRAPH_OUTPUT, _length_delimited(1, n.encode()) + _length_delimited(2, type_proto))
        for n in names
    )
    out = bytearray()
    for number, wire, value in _fields(memoryview(data)):
        if number == _MODEL_GRAPH and wire == 2:
            out += _length_delimited(_MODEL_GRAPH, bytes(value) + extra)
        elif wire == 2:
            out += _length_delimited(number, bytes(value))
        else:
            out += _key(number, wire) + (_encode_varint(value) if wire == 0 else bytes(value))
    return bytes(out)
