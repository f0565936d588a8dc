"""The Gauss hypergeometric series of the BG/NBD graph as SQL, and the BG/NBD formulas it serves.

The exported graph sums 2F1(A, B; C; z) in an ONNX ``Loop`` (``training.models.btyd_graph``), term
by term until each row's terms are negligible. SQL has no loop, so the k-th term is written in
closed form, (A)_k (B)_k / ((C)_k k!) z^k with each rising factorial (P)_k = Γ(P + k) / Γ(P)
taken through ``lgamma`` and its sign counted, and summed over a bounded ``range()`` long enough
for every term beyond it to be below 1e-17 of the sum.
"""

from __future__ import annotations

import math

from duckdb_clv.udfs.compiler.expressions import Bindings, CompileError, Value, columns_of, literal, row
from duckdb_clv.udfs.onnx_graph import Graph, Node

MAX_TERMS = 20_000  # the graph's own bound
# The loop body our exporter writes, operator by operator.
_BODY = [
    "Cast",
    "Add",
    "Add",
    "Add",
    "Add",
    "Mul",
    "Mul",
    "Div",
    "Mul",
    "Mul",
    "Where",
    "Add",
    "Div",
    "Abs",
    "Greater",
    "And",
    "Cast",
    "ReduceMax",
    "Greater",
]


def _rising_log(p: str, k: str) -> str:
    """log |(p)_k| for a parameter expression ``p`` and a term index ``k``."""
    return f"(lgamma({p} + {k}) - lgamma({p}))"


def _rising_sign(p: str, k: str) -> str | None:
    """The sign of (p)_k: -1 to the number of negative factors p, ..., p + k - 1 (None: always 1)."""
    try:
        value: float | None = float(p)  # a literal parameter: its sign pattern is known now
    except ValueError:
        value = None
    if value is not None:
        if value >= 0:
            return None
        return f"CASE WHEN least({k}, {math.ceil(-value)}) % 2 = 1 THEN -1e0 ELSE 1e0 END"
    return f"CASE WHEN {p} < 0 AND least({k}, CAST(ceil(-{p}) AS BIGINT)) % 2 = 1 THEN -1e0 ELSE 1e0 END"


def hyp2f1(a: str, b: str, c: str, z: str) -> str:
    """SQL of 2F1(a, b; c; z) for 0 <= z < 1; ``c`` and ``z`` must be cheap to repeat (bound or literal)."""
    k = "_clv_k"
    signs = [s for s in (_rising_sign(a, k), _rising_sign(b, k), _rising_sign(c, k)) if s]
    log_term = f"{_rising_log(a, k)} + {_rising_log(b, k)} - {_rising_log(c, k)} - lgamma({k} + 1e0) + {k} * ln({z})"
    term = " * ".join([*signs, f"exp({log_term})"])
    # Terms fall like k^(a + b - c - 1) z^k: enough of them that the last is below e^-45 of the first.
    growth = f"greatest(0e0, {a} + {b} - {c} - 1e0)"
    count = f"least({MAX_TERMS}, CAST(ceil((45e0 + 7e0 * {growth}) / -ln({z})) AS BIGINT) + 30)"
    series = f"list_sum(list_transform(range(0, {count}), lambda {k}: {term}))"
    return f"CASE WHEN {z} <= 0 THEN 1e0 ELSE {series} END"


def _outer_names(body: Graph) -> list[str]:
    local = set(body.inputs) | set(body.initializers) | {o for n in body.nodes for o in n.outputs}
    return [i for n in body.nodes for i in n.inputs if i and i not in local]


def outer_names(node: Node) -> list[str]:
    """The outer graph's tensors a Loop's body reads (they count as uses of those tensors)."""
    body = node.attributes.get("body")
    return _outer_names(body) if isinstance(body, Graph) else []


def loop(node: Node, inputs: list[Value | None], scope: dict[str, Value], b: Bindings) -> list[Value]:
    """A ``Loop`` node: compiled when it is the exporter's 2F1 series, refused otherwise."""
    body = node.attributes.get("body")
    if not isinstance(body, Graph) or [n.op_type for n in body.nodes] != _BODY or len(node.outputs) != 3:
        raise CompileError("operator Loop is translated only as the BG/NBD hypergeometric series our exporter writes")
    nodes = body.nodes
    roles = {"A": nodes[1].inputs[0], "B": nodes[2].inputs[0], "C": nodes[3].inputs[0], "z": nodes[8].inputs[1]}
    if any(name not in scope for name in roles.values()):
        raise CompileError("operator Loop reads tensors this compiler has not computed")
    width = max(len(scope[n]) or 1 for n in roles.values())
    parts = {role: columns_of(b.bind(scope[name]), width, "Loop") for role, name in roles.items()}
    # The loop multiplies its first term by the series' ratios and adds every product to its first
    # sum: sum0 + term0 (2F1 - 1). The exporter starts both at 1 (the series itself).
    term0, sum0 = (columns_of(v, width, "Loop") for v in (inputs[2], inputs[3]))
    sums = [
        f"({sum0[j]} + {term0[j]} * (({hyp2f1(*(parts[r][j] for r in ('A', 'B', 'C', 'z')))}) - 1e0))"
        for j in range(width)
    ]
    unused = row(["NULL"] * width)
    return [unused, row(sums), unused]


def p_alive(params: dict[str, float], x: str, t_x: str, t: str) -> str:
    """SQL of P(alive) for BG/NBD ``params``; x, t_x, t cheap to repeat."""
    r, alpha, a, b = (literal(params[k]) for k in ("r", "alpha", "a", "b"))
    log_ratio = (
        f"ln({a}) - ln(greatest({b} + {x} - 1e0, 1e-300)) + ({r} + {x}) * (ln({alpha} + {t}) - ln({alpha} + {t_x}))"
    )
    return f"CASE WHEN {x} > 0 THEN 1e0 / (1e0 + exp({log_ratio})) ELSE 1e0 END"


def expected_purchases(params: dict[str, float], x: str, t_x: str, t: str, periods: str) -> str:
    """SQL of the expected repeat purchases in (T, T + periods]; arguments cheap to repeat."""
    r, alpha, a, b = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    z = f"({periods} / ({literal(alpha)} + {t} + {periods}))"
    c = f"({literal(a + b - 1)} + {x})"
    series = hyp2f1(literal(a + b - 1 - r), literal(a - 1), c, z)
    head = f"({c} / {literal(a - 1)})"
    decay = f"pow(1e0 - {z}, {literal(a - 1)})"
    return f"({head} * (1e0 - {decay} * ({series})) * ({p_alive(params, x, t_x, t)}))"
