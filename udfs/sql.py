"""Registering the SQL functions on a DuckDB connection.

Two layers. Python Arrow UDFs (``_clv_*``) take the features as one ``DOUBLE[90]`` array in the
contract's order. SQL macros with the public names take one feature *row*, a struct such as a
table alias (``predict_clv(s) FROM ml_scoring_set s``) or ``struct_pack(...)``, and pick each
feature out of it by name, so column order never matters and extra columns are ignored. A missing
feature fails at bind time with DuckDB's error naming the key; a value that is not a number fails
with an error naming the feature and the model spec.

The model argument defaults to the task's champion. ``_clv_model(task, ref, root)`` resolves it;
it takes only constants, so DuckDB evaluates it once while planning the query, and every row of
one query is scored by the same model version even if the champion moves meanwhile.

The UDFs belong to the database instance (shared by its connections and cursors); the macros
belong to one connection and carry its registry root, so two connections in one process can
score from different registries.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from duckdb_clv.udfs import action_functions, explain_functions, functions, interval_functions, registry
from duckdb_clv.udfs.contract import FEATURES, SEQUENCE_COLUMNS, SEQUENCE_TYPE, spec_hash

TASK_FUNCTIONS = {"value": "predict_clv", "churn": "churn_score", "segment": "customer_segment"}
# CLV = sum over t = 1, 2, ... of value_t / (1 + rate)^t; list_transform's index starts at 1. An
# unknown period value makes the sum unknown: NULL, never a sum that skips it. Plain SQL, so the
# compiled models (``udfs.compiler.champions``) write the same body.
DISCOUNTED_CLV = (
    "CASE WHEN NOT isfinite(rate::DOUBLE) OR rate <= -1 THEN "
    "error('rate must be a finite number greater than -1, for example 0.1 for 10% per period') "
    "WHEN period_values IS NULL OR rate IS NULL OR list_count(period_values) < len(period_values) THEN NULL "
    "ELSE coalesce(list_sum(list_transform(period_values, lambda v, t: v / pow(1 + rate, t))), 0) END"
)
EXPLAIN_FUNCTIONS = {"value": "explain_clv", "churn": "explain_churn"}


# Column types a feature is read from without a check (typeof's names; DECIMAL(p, s) as well).
NUMERIC_TYPES = (
    "DOUBLE",
    "FLOAT",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "UHUGEINT",
)


def feature_value(name: str, spec: str | None = None, row: str = "features") -> str:
    """SQL reading feature ``name`` of the struct ``row`` as DOUBLE; a value that is no number fails naming it."""
    value = f"struct_extract({row}, '{name}')"
    message = f"feature {name} must be a number (model spec {(spec or spec_hash())[:12]}), got: "
    # DuckDB folds typeof() while binding, so a numeric column is read as it is, with no check per
    # row (the check cost a forest a tenth of its time). Other types go through TRY_CAST, and a
    # value that is not a number fails naming the feature.
    numeric = ", ".join(f"'{t}'" for t in NUMERIC_TYPES)
    return (
        f"CASE WHEN typeof({value}) IN ({numeric}) OR typeof({value}) LIKE 'DECIMAL(%' "
        f"THEN CAST({value} AS DOUBLE) ELSE coalesce(try_cast({value} AS DOUBLE), "
        f"CASE WHEN {value} IS NOT NULL THEN error('{message}' || cast({value} AS VARCHAR)) END) END"
    )


def history_struct(row: str = "features", list_type: str = SEQUENCE_TYPE) -> str:
    """SQL casting the feature row ``row`` to a struct of just its weekly histories (NULL where absent)."""
    # A cast of a struct to a struct type picks fields by name, drops the others and fills the
    # missing ones with NULL: a feature row without the weekly history still binds, and only a
    # sequence model refuses it (naming the columns), when it is the one asked to score.
    # DuckDB refuses a struct cast with no field in common: the first feature, which every feature
    # row has (its absence fails binding anyway), is carried along as text, a cast any value has,
    # so a wrong type in it still reaches the error that names the feature.
    fields = ", ".join([f"{FEATURES[0]} VARCHAR", *(f"{c} {list_type}" for c in SEQUENCE_COLUMNS)])
    return f"CAST({row} AS STRUCT({fields}))"


def _histories() -> str:
    return ", ".join(f"struct_extract({history_struct()}, '{c}')" for c in SEQUENCE_COLUMNS)


def macros(root: Path) -> list[str]:
    """CREATE statements of the public functions (temporary: they live with the connection)."""
    listed = ", ".join(feature_value(f) for f in FEATURES)
    features = f"[{listed}]::{functions.FEATURES_TYPE}, {_histories()}"
    registry_root = "'" + str(root).replace("'", "''") + "'"

    def model(task: str, default: str = "model") -> str:
        return f"_clv_model('{task}', {default}, {registry_root})"

    btyd = "coalesce(model, 'value_btyd')"
    out = [
        f"CREATE OR REPLACE TEMP MACRO {public}(features, model := NULL) AS "
        f"_clv_score_{task}({model(task)}, features IS NOT NULL, {features})"
        for task, public in TASK_FUNCTIONS.items()
    ]
    top_k = explain_functions.DEFAULT_TOP_K
    out += [
        f"CREATE OR REPLACE TEMP MACRO {public}(features, model := NULL, top_k := {top_k}) AS "
        f"_clv_explain_{task}({model(task)}, top_k, features IS NOT NULL, {features})"
        for task, public in EXPLAIN_FUNCTIONS.items()
    ]
    out += [
        f"CREATE OR REPLACE TEMP MACRO predict_clv_interval(features, level := {interval_functions.DEFAULT_LEVEL}, "
        f"model := NULL) AS _clv_interval_value({model('value')}, level, features IS NOT NULL, {features})",
        f"CREATE OR REPLACE TEMP MACRO clv_model(task, model := NULL) AS "
        f"split_part(_clv_model(task, model, {registry_root}), '|', 1)",
        "CREATE OR REPLACE TEMP MACRO clv_reference(task, model := NULL) AS "
        f"_clv_reference(task, _clv_model(task, model, {registry_root}))",
        "CREATE OR REPLACE TEMP MACRO segment_name(segment, model := NULL) AS "
        f"_clv_segment_name({model('segment')}, segment)",
        "CREATE OR REPLACE TEMP MACRO p_alive(frequency, recency, t, model := NULL) AS "
        f"_clv_p_alive({model('value', btyd)}, frequency, recency, t)",
        "CREATE OR REPLACE TEMP MACRO expected_purchases(frequency, recency, t, periods, model := NULL) AS "
        f"_clv_expected_purchases({model('value', btyd)}, frequency, recency, t, periods)",
        f"CREATE OR REPLACE TEMP MACRO discounted_clv(period_values, rate) AS {DISCOUNTED_CLV}",
    ]
    return out


def action_features(root: Path) -> tuple[str, ...] | None:
    """The inputs of the action champion (a next-best-action policy), or None when there is none."""
    pointer = registry.champion(root, "action")
    if pointer is None:
        return None
    # From the verified card (file, spec hash, plain column names): these names become macro SQL.
    model = functions.cache_for(root).get(pointer["name"], pointer["version"], "action")
    return tuple(registry.feature_names(model.card))


def _recommender(names: tuple[str, ...]) -> str:
    # Named after the inputs' spec: UDFs belong to the database instance, and two registries in one
    # process may hold policies that read different campaign-history columns.
    return f"_clv_recommend_{spec_hash(names)[:12]}"


def action_macros(root: Path, names: tuple[str, ...] | None) -> list[str]:
    """CREATE statements of ``recommend_action`` (bound to the action champion's inputs) and ``action_cost``."""
    registry_root = "'" + str(root).replace("'", "''") + "'"
    model = f"_clv_model('action', model, {registry_root})"
    if names is None:
        where = str(root).replace("'", "''")
        body = (
            f"error('no next-best-action policy (action champion) in {where}: load your campaign history with "
            "`clv load --campaigns FILE`, then `clv build` and `clv train` "
            "(in dbt: or set var next_best_action: false)')"
        )
    else:
        spec = spec_hash(names)
        features = ", ".join(feature_value(f, spec) for f in names)
        body = f"{_recommender(names)}({model}, budget_share, features IS NOT NULL, {features})"
    return [
        f"CREATE OR REPLACE TEMP MACRO recommend_action(features, budget_share := NULL, model := NULL) AS {body}",
        f"CREATE OR REPLACE TEMP MACRO action_cost(action, model := NULL) AS _clv_action_cost({model}, action)",
    ]


def _create(con: duckdb.DuckDBPyConnection, name: str, kernel, params: list[str], returns: str) -> None:
    try:
        con.create_function(name, kernel, params, returns, type="arrow", null_handling="special")
    except duckdb.CatalogException as err:
        # Another connection or cursor to this database registered it already; the kernels hold
        # no per-connection state, so that one serves every connection.
        if "already exists" not in str(err):
            raise


def register_functions(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Create the UDFs (once per database instance) and this connection's macros over ``root``."""
    doubles = [functions.FEATURES_TYPE] + [functions.HISTORY_TYPE] * len(SEQUENCE_COLUMNS)
    for task in TASK_FUNCTIONS:
        returns = "BIGINT" if task == "segment" else "DOUBLE"
        _create(con, f"_clv_score_{task}", functions.score_kernel(task), ["VARCHAR", "BOOLEAN", *doubles], returns)
    for task in EXPLAIN_FUNCTIONS:
        params = ["VARCHAR", "BIGINT", "BOOLEAN", *doubles]
        _create(
            con, f"_clv_explain_{task}", explain_functions.explain_kernel(task), params, explain_functions.RESULT_SQL
        )
    params = ["VARCHAR", "DOUBLE", "BOOLEAN", *doubles]
    _create(con, "_clv_interval_value", interval_functions.interval_kernel(), params, interval_functions.RESULT_SQL)
    _create(con, "_clv_model", functions.model_ref_kernel(), ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
    _create(con, "_clv_reference", functions.reference_kernel(), ["VARCHAR", "VARCHAR"], "VARCHAR")
    _create(con, "_clv_segment_name", functions.segment_name_kernel(), ["VARCHAR", "BIGINT"], "VARCHAR")
    _create(con, "_clv_p_alive", functions.p_alive_kernel(), ["VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE")
    _create(
        con,
        "_clv_expected_purchases",
        functions.expected_purchases_kernel(),
        ["VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"],
        "DOUBLE",
    )
    _create(con, "_clv_action_cost", action_functions.action_cost_kernel(), ["VARCHAR", "VARCHAR"], "DOUBLE")
    names = action_features(root)
    if names is not None:
        params = ["VARCHAR", "DOUBLE", "BOOLEAN", *["DOUBLE"] * len(names)]
        _create(con, _recommender(names), action_functions.recommend_kernel(names), params, action_functions.RESULT_SQL)
    for statement in [*macros(root), *action_macros(root, names)]:
        con.execute(statement)
