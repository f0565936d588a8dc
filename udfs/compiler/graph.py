"""One model's ONNX graph as one SQL expression over a feature row.

The nodes the requested output needs are translated in graph order (``operators``, ``trees``,
``series``); a tensor read by more than one node is bound once (``expressions.Bindings``). A
node whose operator has no translation stops the compilation with an error naming it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from duckdb_clv.udfs.compiler import logistic, operators, sequences, series, shapes, trees
from duckdb_clv.udfs.compiler.expressions import Bindings, CompileError, Value, constant, row
from duckdb_clv.udfs.onnx_graph import Graph, Node, read_graph

HANDLERS = {
    **operators.HANDLERS,
    **logistic.HANDLERS,
    **shapes.HANDLERS,
    **trees.HANDLERS,
    **sequences.HANDLERS,
}


@dataclass(frozen=True)
class ListInput:
    """A graph input given as one SQL list (row-major over ``dims``), computed once per row."""

    expression: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class CompiledGraph:
    """The SQL of one output column and the operators it translated."""

    sql: str
    operators: tuple[str, ...]


def _needed(graph: Graph, output: str) -> list[Node]:
    producer = {o: n for n in graph.nodes for o in n.outputs}
    wanted, stack = set(), [output]
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if node is None or id(node) in wanted:
            continue
        wanted.add(id(node))
        stack += [i for i in node.inputs if i] + series.outer_names(node)
    return [n for n in graph.nodes if id(n) in wanted]


def _uses(nodes: list[Node], output: str) -> Counter:
    uses = Counter([output])
    for node in nodes:
        uses.update(i for i in node.inputs if i)
        uses.update(series.outer_names(node))
    return uses


def compile_graph(
    data: bytes,
    output: str,
    inputs: dict[str, list[str] | ListInput],
    where: str,
    prepare: Callable[[str, int], str] | None = None,
    column: int = 0,
) -> CompiledGraph:
    """SQL computing one column of ``output`` from the graph's inputs given as SQL expressions.

    Parameters
    ----------
    data : bytes
        A verified model file.
    output : str
        The graph output to compute (a model's task: ``value``, ``churn``, ``segment``).
    inputs : dict
        Each graph input's SQL expressions, one per column (``features``: the contract's, in
        order), or one list expression (``history``: weeks by channels).
    where : str
        The model's name for error messages.
    prepare : callable, optional
        (bound column, index) -> the value the model reads, applied to each column of an input
        given by columns after it is computed once (checks and rounding that read the value
        several times stay cheap).
    column : int
        Which element of a row of the output (the first: every model output is one number a row).

    Raises
    ------
    CompileError
        When an operator, attribute or shape has no translation; the message names it.
    """
    graph = read_graph(data)
    if output not in graph.outputs:
        raise CompileError(f"{where}: the graph has no output {output!r}")
    nodes = _needed(graph, output)
    missing = sorted({n.op_type for n in nodes if n.op_type not in HANDLERS and n.op_type != "Loop"})
    if missing:
        which = f"operator {missing[0]} has" if len(missing) == 1 else f"operators {', '.join(missing)} have"
        raise CompileError(f"{where}: {which} no SQL translation; score it with the Python functions")
    uses = _uses(nodes, output)
    b = Bindings()
    scope: dict[str, Value] = {name: constant(array) for name, array in graph.initializers.items()}
    for name in graph.inputs:
        if name in scope:
            continue
        if uses[name] and name not in inputs:
            raise CompileError(f"{where}: reads input {name!r}, which compiled SQL does not provide")
        given = inputs.get(name)
        if isinstance(given, ListInput):
            listed = b.bind_list(given.expression, math.prod(given.dims), f32=True)
            scope[name] = row(listed.columns, f32=True, dims=given.dims)
        elif given is not None:
            value = b.bind(row(given))
            if prepare is not None:
                value = b.bind(row([prepare(c, j) for j, c in enumerate(value.columns)]))
            scope[name] = row(value.columns, f32=True)
    for node in nodes:
        args = [scope[i] if i else None for i in node.inputs]
        if node.op_type == "Loop":
            produced = series.loop(node, args, scope, b)
        elif node.op_type in HANDLERS:
            produced = HANDLERS[node.op_type](node, args, b)
        else:
            raise CompileError(
                f"{where}: operator {node.op_type} has no SQL translation; score it with the Python functions"
            )
        for name, value in zip(node.outputs, produced, strict=False):
            scope[name] = b.bind(value) if uses[name] > 1 and value.is_row else value
    result = scope[output]
    if not result.is_row:
        raise CompileError(f"{where}: output {output!r} does not depend on the features")
    return CompiledGraph(sql=b.wrap(result.columns[column]), operators=tuple(sorted({n.op_type for n in nodes})))
