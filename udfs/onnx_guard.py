"""Checks on a model file's bytes before onnxruntime sees them, without the ``onnx`` package.

Scoring needs only duckdb, onnxruntime, numpy and pyarrow, so this reads the few top-level fields
of the ``ModelProto`` message it needs straight from the protobuf wire format:

- the file must be one whole ``ModelProto`` (a truncated or foreign file, a pickle for instance,
  fails to parse) with a graph;
- every operator-set domain it imports must be a standard one (``ai.onnx``, ``ai.onnx.ml``).
  onnxruntime would refuse an unknown domain anyway, but it also runs its own contrib domains
  (``com.microsoft``), which no model of ours uses;
- its metadata (name, version, task, feature-spec hash, contract version and creation time, all
  written by ``training.registry``) must match its card, so a file copied in from another version
  or registry is refused even when its card was re-hashed to match, and so is a file cut short
  (the metadata is serialized last).

Weights in external files are refused by onnxruntime itself: a model is always created from bytes,
and onnxruntime then rejects every external-data reference (``tests/reliability`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterator

from duckdb_clv.udfs.errors import RegistryError

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
# Field numbers of onnx.proto's ModelProto, OperatorSetIdProto and StringStringEntryProto.
_MODEL_GRAPH, _MODEL_OPSET_IMPORT, _MODEL_METADATA = 7, 8, 14
_KEY, _VALUE = 1, 2
# All that training.registry writes; created_at comes last in the file, so a cut file lacks it.
_CHECKED_METADATA = ("name", "version", "task", "spec_hash", "contract_version", "created_at")


def _varint(data: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError(f"a varint runs past byte {i}")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return value, i
        shift += 7


def wire_fields(data: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of one message's top-level fields; nested messages are not parsed.

    Varints come as ints, length-delimited and fixed-width values as the bytes they span.
    """
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ValueError(f"field number 0 at byte {i}")
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = data[i : i + width], i + width
        else:
            raise ValueError(f"wire type {wire} at byte {i}")
        if i > len(data):
            raise ValueError(f"field {field} runs past the end of the file ({len(data)} bytes)")
        yield field, wire, value


def _fields(data: memoryview) -> Iterator[tuple[int, int | memoryview | None]]:
    """(field number, value) of the header's fields; fixed-width values, which it never reads, as None."""
    for field, wire, value in wire_fields(data):
        yield field, (None if wire in (1, 5) else value)


def _text(value: int | memoryview | None) -> str:
    if not isinstance(value, memoryview):
        raise ValueError("a string field holds a number")
    return bytes(value).decode("utf-8", errors="replace")


def read_header(data: bytes) -> tuple[set[str], dict[str, str]]:
    """The operator-set domains and the metadata of a serialized ONNX model.

    Raises
    ------
    ValueError
        When ``data`` is not a whole ONNX model with a graph.
    """
    domains: set[str] = set()
    metadata: dict[str, str] = {}
    has_graph = False
    for field, value in _fields(memoryview(data)):
        if field == _MODEL_GRAPH:
            has_graph = isinstance(value, memoryview)
        elif field == _MODEL_OPSET_IMPORT:
            entry = dict(_fields(value)) if isinstance(value, memoryview) else None
            if entry is None:
                raise ValueError("an operator-set import is not a message")
            domains.add(_text(entry[_KEY]) if _KEY in entry else "")
        elif field == _MODEL_METADATA and isinstance(value, memoryview):
            entry = dict(_fields(value))
            metadata[_text(entry.get(_KEY, memoryview(b"")))] = _text(entry.get(_VALUE, memoryview(b"")))
    if not has_graph:
        raise ValueError("it has no graph")
    return domains, metadata


def check_model_bytes(data: bytes, card: dict, where: str) -> None:
    """Refuse a model file that is not a whole standard-domain ONNX model made for ``card``.

    Raises
    ------
    udfs.errors.RegistryError
        Naming the model version, what is wrong and what to do.
    """
    try:
        domains, metadata = read_header(data)
    except ValueError as err:
        raise RegistryError(f"{where}: model.onnx is not a readable ONNX model ({err}); retrain or roll back") from err
    unknown = sorted(domains - STANDARD_DOMAINS)
    if unknown:
        raise RegistryError(
            f"{where}: model.onnx uses operator domains {unknown}; only the standard ai.onnx and ai.onnx.ml "
            "domains are served, retrain or roll back"
        )
    differing = [k for k in _CHECKED_METADATA if metadata.get(k) != str(card.get(k))]
    if differing:
        raise RegistryError(
            f"{where}: model.onnx was not written for this card (its {', '.join(differing)} differ); "
            "the version folder was tampered with, retrain or roll back"
        )
