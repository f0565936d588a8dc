"""Tensors as SQL during compilation: constants, per-row expressions, and let-bindings.

Every model we export works row by row: each tensor it computes has one axis of rows (the batch)
and a small fixed shape per row, or is a constant. A row tensor is held as one SQL expression per
element of a row, in row-major order over its per-row shape (``dims``), with the position of the
batch axis in the full shape (a recurrent layer's input has it second). An expression used by
several others is computed once per row and read back from a list (``Bindings``), so the text
grows with the graph, never with its fan-out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from duckdb_clv.udfs.errors import UdfError

REAL, BOOL, INT = "real", "bool", "int"
# The batch dimension in a shape read from a row tensor (``Shape``): a number no real axis has.
BATCH = -(2**62)
STATE = "_clv_s"
_STATE_READ = re.compile(r"^_clv_s\[(\d+)\]$")
# A bound column (read back as DOUBLE, BOOLEAN or BIGINT) or a literal.
_TRIVIAL = re.compile(
    r"^(_clv_s\[\d+\]|\(_clv_s\[\d+\] <> 0e0\)|CAST\(_clv_s\[\d+\] AS BIGINT\)"
    r"|-?[0-9.e+-]+|true|false|'-?(nan|inf)'::DOUBLE)$"
)


class CompileError(UdfError):
    """A model that cannot be written as SQL (an operator, attribute or shape we do not translate)."""


def literal(value: float | int | bool | np.generic, kind: str = REAL) -> str:
    """A SQL literal of ``kind``; reals are exact DOUBLEs (scientific notation: DECIMAL otherwise)."""
    if kind == BOOL:
        return "true" if bool(value) else "false"
    if kind == INT:
        return str(int(value))
    x = float(value)
    if math.isnan(x):
        return "'nan'::DOUBLE"
    if math.isinf(x):
        return "'inf'::DOUBLE" if x > 0 else "'-inf'::DOUBLE"
    text = repr(x)
    return text if "e" in text else f"{text}e0"


def kind_of(array: np.ndarray) -> str:
    """The SQL kind of a constant's element type."""
    if array.dtype == np.bool_:
        return BOOL
    return INT if np.issubdtype(array.dtype, np.integer) else REAL


@dataclass(frozen=True)
class Value:
    """A tensor during compilation: a constant array, or one SQL expression per element of a row.

    ``dims`` is the shape of one row (the columns are its elements in row-major order) and
    ``batch_axis`` where the rows are in the full shape. ``f32`` says onnxruntime holds the tensor
    as float32 (the SQL computes in DOUBLE, but a few operators must round like onnxruntime's
    float kernels). A shape read from a row tensor is a constant holding ``BATCH`` for the rows.
    """

    columns: tuple[str, ...] | None = None
    const: np.ndarray | None = None
    kind: str = REAL
    f32: bool = False
    dims: tuple[int, ...] = ()
    batch_axis: int = 0

    @property
    def is_row(self) -> bool:
        return self.columns is not None

    @property
    def full_shape(self) -> tuple[int, ...]:
        """The shape with the rows as one (what broadcasting against constants sees)."""
        shape = list(self.dims)
        shape.insert(self.batch_axis, 1)
        return tuple(shape)

    @property
    def symbolic(self) -> bool:
        """A constant computed from a row tensor's shape (it holds ``BATCH``)."""
        c = self.const
        return c is not None and np.issubdtype(c.dtype, np.integer) and bool((c == BATCH).any())

    def like(self, columns: list[str] | tuple[str, ...], kind: str | None = None, f32: bool | None = None) -> Value:
        """A row tensor of this one's shape with other expressions (elementwise results)."""
        return replace(
            self,
            columns=tuple(columns),
            kind=self.kind if kind is None else kind,
            f32=self.f32 if f32 is None else f32,
        )

    def __len__(self) -> int:
        return len(self.columns) if self.columns is not None else 0


def constant(array: np.ndarray) -> Value:
    a = np.asarray(array)
    return Value(const=a, kind=kind_of(a), f32=a.dtype == np.float32)


def row(
    columns: list[str] | tuple[str, ...],
    kind: str = REAL,
    f32: bool = False,
    dims: tuple[int, ...] | None = None,
    batch_axis: int = 0,
) -> Value:
    """A row tensor; ``dims`` defaults to one axis of all the columns."""
    shape = (len(columns),) if dims is None else tuple(int(d) for d in dims)
    if math.prod(shape) != len(columns):
        raise CompileError(f"{len(columns)} expressions do not fill a row of shape {shape}")
    return Value(columns=tuple(columns), kind=kind, f32=f32, dims=shape, batch_axis=batch_axis)


def grid(value: Value, where: str) -> np.ndarray:
    """A value's per-row elements as an object array of SQL text (a constant's as literals)."""
    if value.is_row:
        return np.array(value.columns, dtype=object).reshape(value.dims)
    if value.const is None or value.symbolic:
        raise CompileError(f"{where}: a shape is not a tensor this compiler can compute with")
    a = np.asarray(value.const)
    return np.array([literal(v, value.kind) for v in a.ravel()], dtype=object).reshape(a.shape)


def from_grid(elements: np.ndarray, kind: str = REAL, f32: bool = False, batch_axis: int = 0) -> Value:
    """The row tensor whose per-row elements are ``elements``."""
    return row(list(elements.ravel()), kind, f32, elements.shape, batch_axis)


def broadcast(values: list[Value], where: str) -> tuple[list[np.ndarray], tuple[int, ...], int]:
    """Each value's elements broadcast to the common per-row shape (numpy's rules), and the batch axis.

    A row tensor of one element (a per-row scalar, however its rank reads) spreads over any shape,
    as the compiler has always let it.
    """
    if any(not v.is_row and (v.const is None or v.symbolic) for v in values):
        raise CompileError(f"{where}: a shape is not a tensor this compiler can compute with")
    wide = [v for v in values if v.is_row and len(v) > 1]
    shapes = [v.full_shape for v in wide] + [np.shape(v.const) for v in values if not v.is_row]
    try:
        out = np.broadcast_shapes(*shapes) if wide else np.broadcast_shapes((1, 1), *shapes)
    except ValueError as err:
        raise CompileError(f"{where}: shapes {shapes} do not broadcast") from err
    axes = {len(out) - len(v.full_shape) + v.batch_axis for v in wide} or {0}
    if len(axes) > 1 or out[min(axes)] != 1:
        raise CompileError(f"{where}: the operands' rows do not line up (shapes {shapes})")
    (axis,) = axes
    dims = out[:axis] + out[axis + 1 :]
    grids = []
    for v in values:
        if v.is_row and len(v) == 1:
            grids.append(np.full(dims, v.columns[0], dtype=object))
            continue
        full = grid(v, where).reshape(v.full_shape if v.is_row else np.shape(v.const))
        grids.append(np.take(np.broadcast_to(full, out), 0, axis=axis))
    return grids, dims, axis


def column_constants(array: np.ndarray, width: int, where: str) -> list[str] | None:
    """A constant broadcast over ``width`` columns as literals, or None when it is one value for all."""
    a = np.asarray(array)
    while a.ndim > 1 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 0 or a.size == 1:
        return None
    if a.ndim != 1 or a.shape[0] not in (1, width):
        raise CompileError(f"{where}: a constant of shape {np.shape(array)} does not broadcast over {width} columns")
    kind = kind_of(a)
    return [literal(v, kind) for v in a]


def columns_of(value: Value, width: int, where: str) -> list[str]:
    """``width`` expressions of a value: a row tensor's own (broadcast from one) or a constant's."""
    if value.is_row:
        if len(value) == width:
            return list(value.columns)
        if len(value) == 1:
            return list(value.columns) * width
        raise CompileError(f"{where}: {len(value)} columns do not broadcast over {width}")
    if value.const is None:
        raise CompileError(f"{where}: a shape is not a tensor this compiler can compute with")
    listed = column_constants(value.const, width, where)
    if listed is None:
        return [literal(np.asarray(value.const).ravel()[0], value.kind)] * width
    return listed


def is_trivial(expression: str) -> bool:
    """A bound column or a literal: cheap to repeat, never worth a binding of its own."""
    return bool(_TRIVIAL.match(expression))


class Bindings:
    """The values of one compiled expression that are computed once per row, in a growing list.

    DuckDB has no scalar ``let``, and nesting one lambda per bound value slows down exponentially
    with the depth. So the bound values form a chain of stages: stage 0 is the list of the first
    bound value's columns; each later stage is ``list_transform([previous], lambda _clv_s:
    _clv_s || [new columns])[1]``, which reads earlier values as ``_clv_s[i]`` and appends its own.
    Only one lambda is ever open, so the cost grows linearly with the number of stages. Every
    value is stored as DOUBLE and read back in its own kind.
    """

    def __init__(self) -> None:
        self._stages: list[str] = []
        self._size = 0

    def bind(self, value: Value) -> Value:
        """The value with its columns read from the state list (unchanged when they are all trivial)."""
        if not value.is_row or all(is_trivial(c) for c in value.columns):
            return value
        stored = [c if value.kind == REAL else f"CAST({c} AS DOUBLE)" for c in value.columns]
        read = {REAL: "{}", BOOL: "({} <> 0e0)", INT: "CAST({} AS BIGINT)"}[value.kind]
        slots = self._append("[" + ", ".join(stored) + "]", len(stored))
        return value.like([read.format(slot) for slot in slots])

    def bind_list(self, expression: str, width: int, f32: bool = False) -> Value:
        """A new bound value of ``width`` REAL columns computed by one list ``expression``."""
        return row(self._append(expression, width), REAL, f32)

    def _append(self, stage: str, width: int) -> list[str]:
        """Add a stage appending ``width`` values to the state; the state reads of its values."""
        self._stages.append(stage)
        first = self._size + 1
        self._size += width
        return [f"{STATE}[{first + j}]" for j in range(width)]

    def vector(self, value: Value) -> str:
        """A DOUBLE list of the value's elements, bound first (slices of the state where they lie in it)."""
        return list_of(self.bind(value).columns)

    def wrap(self, expression: str) -> str:
        """``expression`` evaluated over the final state, each stage computed once per row."""
        if not self._stages:
            return expression
        # DOUBLE throughout: a first stage of float32 columns would make the whole list FLOAT.
        state = f"CAST({self._stages[0]} AS DOUBLE[])"
        for stage in self._stages[1:]:
            state = f"list_transform([{state}], lambda {STATE}: {STATE} || {stage})[1]"
        return f"list_transform([{state}], lambda {STATE}: {expression})[1]"


def list_of(columns: list[str] | tuple[str, ...]) -> str:
    """A DOUBLE list of these expressions; runs of consecutive state reads become slices of the state."""
    parts: list[str] = []
    run: list[int] = []
    loose: list[str] = []

    def flush() -> None:
        if run:
            parts.append(f"{STATE}[{run[0]}:{run[-1]}]")
            run.clear()
        if loose:
            parts.append("[" + ", ".join(loose) + "]")
            loose.clear()

    for c in columns:
        at = _position(c)
        if at is not None and not loose and (not run or at == run[-1] + 1):
            run.append(at)
            continue
        if at is None and not run:
            loose.append(c)
            continue
        flush()
        (run if at is not None else loose).append(at if at is not None else c)
    flush()
    if len(parts) == 1 and parts[0].startswith(f"{STATE}["):
        # A slice shares its parent's storage, and DuckDB's list_inner_product then refuses a NULL
        # anywhere in the parent (an unknown feature): concatenation gives the slice its own.
        return f"({parts[0]} || [])"
    return " || ".join(parts) if parts else "[]"


def _position(expression: str) -> int | None:
    match = _STATE_READ.match(expression)
    return int(match.group(1)) if match else None
