"""The champions as DuckDB macros: scoring in plain SQL, from any DuckDB client, without Python.

``sql_models(root)`` compiles every task's champion (``graph.compile_graph``) and returns the
CREATE MACRO statements of ``predict_clv``, ``churn_score``, ``customer_segment``,
``segment_name``, ``p_alive``, ``expected_purchases``, ``discounted_clv`` and ``clv_model``, with
the Python functions' names and call shape: a feature row (a table alias or ``struct_pack``)
whose features are picked by name. ``clv publish --with-sql-models`` writes them, and the table
``clv_sql_models`` saying which model version and feature spec each one carries, into the
published database. In a session that registered the Python functions, those (temporary macros)
take precedence; everywhere else these answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from duckdb_clv.udfs import functions, registry
from duckdb_clv.udfs.compiler import series
from duckdb_clv.udfs.compiler.expressions import CompileError, literal
from duckdb_clv.udfs.compiler.graph import CompiledGraph, ListInput, compile_graph
from duckdb_clv.udfs.contract import HISTORY_INPUT, SEQUENCE_COLUMNS, SEQUENCE_WEEKS
from duckdb_clv.udfs.models import LoadedModel, history_missing
from duckdb_clv.udfs.sql import DISCOUNTED_CLV, TASK_FUNCTIONS, feature_value, history_struct

FLOAT_MAX = float.fromhex("0x1.fffffep+127")  # float32's largest finite value


@dataclass(frozen=True)
class CompiledModel:
    """One task's champion compiled: what it is, and what clv_sql_models records of it."""

    task: str
    function: str
    name: str
    version: str
    spec_hash: str
    sql_chars: int
    operators: tuple[str, ...]
    reads_history: bool


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def model_input(value: str, name: str, spec: str) -> str:
    """A feature's DOUBLE ``value`` as the model reads it: float32, NaN as missing, infinity refused by name."""
    message = _quoted(
        f"feature {name!r} is infinite or beyond float32's range (3.4e38); "
        f"pass NULL for unknown values (model spec {spec[:12]})"
    )
    return (
        f"CASE WHEN abs({value}) > {literal(FLOAT_MAX)} THEN error({message}) "
        f"WHEN isnan({value}) THEN NULL ELSE CAST(CAST({value} AS FLOAT) AS DOUBLE) END"
    )


def history_input(ref: str, row: str = "features") -> ListInput:
    """The weekly history of the feature row as a sequence model reads it: weeks by channels, oldest first.

    As the Python functions do, a row without its history (or with a missing or NaN week) is
    refused naming the columns, and a list of another length is refused saying so.
    """
    lists = [f"_clv_r.{c}" for c in SEQUENCE_COLUMNS]
    incomplete = " OR ".join(
        f"{h} IS NULL OR list_count({h}) < len({h}) OR list_bool_or(list_transform({h}, lambda _clv_v: isnan(_clv_v)))"
        for h in lists
    )
    lengths = " OR ".join(f"len({h}) <> {SEQUENCE_WEEKS}" for h in lists)
    lengths_message = "'a weekly history must hold {} weeks, got ' || cast(list_min([{}]) AS VARCHAR)".format(
        SEQUENCE_WEEKS, ", ".join(f"CASE WHEN len({h}) <> {SEQUENCE_WEEKS} THEN len({h}) END" for h in lists)
    )
    week = ", ".join(f"CAST({h}[_clv_t] AS DOUBLE)" for h in lists)
    body = (
        f"CASE WHEN {incomplete} THEN error({_quoted(str(history_missing(ref)))}) "
        f"WHEN {lengths} THEN error({lengths_message}) "
        f"ELSE flatten(list_transform(range(1, {SEQUENCE_WEEKS + 1}), lambda _clv_t: [{week}])) END"
    )
    # Lists of any length, so that one of another length is refused saying so.
    expression = f"list_transform([{history_struct(row, 'FLOAT[]')}], lambda _clv_r: {body})[1]"
    return ListInput(expression, (SEQUENCE_WEEKS, len(SEQUENCE_COLUMNS)))


def compile_model(model: LoadedModel, row: str = "features") -> CompiledGraph:
    """A verified model as SQL over the feature row named ``row`` (a macro parameter or table alias)."""
    names = registry.feature_names(model.card)
    spec = model.card["spec_hash"]
    inputs: dict[str, list[str] | ListInput] = {"features": [feature_value(f, spec, row) for f in names]}
    if model.reads_history:
        inputs[HISTORY_INPUT] = history_input(model.ref, row)
    return compile_graph(model.data, model.task, inputs, model.ref, lambda c, j: model_input(c, names[j], spec))


def _model_check(task: str, name: str, version: str) -> str:
    # Only the champion is compiled: naming it (or its version) is fine, any other model is refused.
    accepted = ", ".join(_quoted(r) for r in (name, f"{name}/{version}"))
    message = _quoted(
        f"only the {task} champion {name}/{version} is compiled into this database; "
        "score other models with the Python functions (clv sql)"
    )
    return f"WHEN model IS NOT NULL AND model NOT IN ({accepted}) THEN error({message})"


def _score_macro(root: Path, task: str) -> tuple[str, CompiledModel]:
    pointer = registry.champion(root, task)
    if pointer is None:
        raise CompileError(f"no {task} champion in {root}: run `clv train` first")
    name, version = pointer["name"], pointer["version"]
    model = functions.cache_for(root).get(name, version, task)  # verified file and card
    spec = model.card["spec_hash"]
    try:
        compiled = compile_model(model)
    except CompileError as err:
        raise CompileError(f"cannot compile the {task} champion to SQL: {err}") from err
    cast = "BIGINT" if task == "segment" else "DOUBLE"
    # onnxruntime hands back float32 scores; the compiled score is rounded the same way.
    score = f"CAST({compiled.sql} AS BIGINT)" if task == "segment" else f"CAST(CAST({compiled.sql} AS FLOAT) AS DOUBLE)"
    body = f"CASE {_model_check(task, name, version)} WHEN features IS NULL THEN CAST(NULL AS {cast}) ELSE {score} END"
    function = TASK_FUNCTIONS[task]
    info = CompiledModel(task, function, name, version, spec, len(body), compiled.operators, model.reads_history)
    return f"CREATE OR REPLACE MACRO {function}(features, model := NULL) AS {body}", info


def _segment_names(root: Path, info: CompiledModel) -> str:
    card = functions.cache_for(root).get(info.name, info.version, "segment").card
    names = functions.segment_names(card)
    cases = " ".join(f"WHEN segment = {k} THEN {_quoted(v)}" for k, v in sorted(names.items()))
    message = _quoted(
        f"segment is not one of {info.name}'s {len(names)} segments (0 to {len(names) - 1}); "
        "pass the segment customer_segment() gave"
    )
    return (
        "CREATE OR REPLACE MACRO segment_name(segment, model := NULL) AS CASE "
        f"{_model_check('segment', info.name, info.version)} WHEN segment IS NULL THEN NULL "
        f"{cases} ELSE error({message}) END"
    )


def _btyd_macros(root: Path) -> list[str]:
    """p_alive and expected_purchases from the latest BG/NBD baseline, as the Python functions read it."""
    found = registry.versions(root, functions.BTYD_MODEL)
    if not found:
        return []
    model = functions.cache_for(root).get(functions.BTYD_MODEL, found[-1], "value")
    params = model.card["model"]["params"]["bgnbd"]
    check = _model_check("value", model.name, model.version).replace("the value champion", "the BG/NBD model")
    rules = (
        "WHEN frequency < 0 OR recency < 0 OR t < 0 THEN error('frequency, recency and T must be >= 0 "
        "(repeat purchases, and weeks since the first)') "
        "WHEN recency > t + 1e-9 THEN error('recency must not exceed T; pass both in weeks since the first purchase') "
        "WHEN frequency <> round(frequency) THEN error('frequency must be a whole number of repeat purchases') "
    )
    x, t_x, t = "CAST(frequency AS DOUBLE)", "CAST(recency AS DOUBLE)", "CAST(t AS DOUBLE)"
    nulls = "WHEN frequency IS NULL OR recency IS NULL OR t IS NULL THEN CAST(NULL AS DOUBLE) "
    periods_rule = (
        "WHEN periods < 0 OR NOT isfinite(periods) THEN error('periods must be a finite number >= 0 (weeks after T)') "
    )
    purchases = series.expected_purchases(params, x, t_x, t, "CAST(periods AS DOUBLE)")
    return [
        f"CREATE OR REPLACE MACRO p_alive(frequency, recency, t, model := NULL) AS CASE {check} {nulls}{rules}"
        f"ELSE {series.p_alive(params, x, t_x, t)} END",
        "CREATE OR REPLACE MACRO expected_purchases(frequency, recency, t, periods, model := NULL) AS CASE "
        f"{check} {nulls}WHEN periods IS NULL THEN CAST(NULL AS DOUBLE) {rules}{periods_rule}ELSE {purchases} END",
    ]


def sql_models(root: Path) -> tuple[list[str], list[CompiledModel]]:
    """The statements writing every champion as a macro, and what each compiled to.

    Raises
    ------
    CompileError
        When a champion cannot be compiled; the message names the model and the operator.
    """
    statements, compiled = [], []
    for task in TASK_FUNCTIONS:
        statement, info = _score_macro(root, task)
        statements.append(statement)
        compiled.append(info)
    statements.append(_segment_names(root, compiled[-1]))
    statements += _btyd_macros(root)
    statements.append(f"CREATE OR REPLACE MACRO discounted_clv(period_values, rate) AS {DISCOUNTED_CLV}")
    answers = " ".join(f"WHEN task = {_quoted(c.task)} THEN {_quoted(f'{c.name}/{c.version}')}" for c in compiled)
    statements.append(
        "CREATE OR REPLACE MACRO clv_model(task, model := NULL) AS CASE WHEN model IS NOT NULL THEN "
        "error('clv_model(task, model) resolves other models with the Python functions; compiled SQL holds the "
        f"champions only') {answers} ELSE error('task must be one of value, churn, segment') END"
    )
    now = dt.datetime.now(dt.UTC).isoformat()
    rows = ", ".join(
        f"({_quoted(c.task)}, {_quoted(c.function)}, {_quoted(c.name)}, {_quoted(c.version)}, "
        f"{_quoted(c.spec_hash)}, {c.sql_chars}, {_quoted(', '.join(c.operators))}, {_quoted(now)}::TIMESTAMPTZ)"
        for c in compiled
    )
    statements += [
        "CREATE OR REPLACE TABLE clv_sql_models (task VARCHAR, function VARCHAR, model VARCHAR, version VARCHAR, "
        "spec_hash VARCHAR, sql_chars BIGINT, operators VARCHAR, compiled_at TIMESTAMPTZ)",
        f"INSERT INTO clv_sql_models VALUES {rows}",
    ]
    return statements, compiled
