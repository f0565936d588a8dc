"""The dbt files that carry the feature contract, written from ``udfs.contract`` and never by hand.

dbt needs the contract in its own files: the enforced column lists of ``ml_training_set`` and
``ml_scoring_set`` (YAML), and the category values and behaviour windows the feature SQL loops over
(a macro file). Both are rendered here from the one definition; ``make contract`` writes them and
``tests/dbt/test_contract.py`` checks that the committed files are exactly what this renders.

    python -m duckdb_clv.udfs.contract_files          # write the files
    python -m duckdb_clv.udfs.contract_files --check  # exit 1, naming the stale files, when they differ
"""

from __future__ import annotations

import sys
from pathlib import Path

from duckdb_clv.udfs.contract import (
    AGE_BANDS,
    BEHAVIOUR_METRICS,
    BEHAVIOUR_WINDOWS,
    CHANNELS,
    FEATURE_TYPE,
    FEATURES,
    GENDERS,
    KEY_COLUMNS,
    LABELS,
    REGIONS,
    SEQUENCE_CHANNELS,
    SEQUENCE_COLUMNS,
    SEQUENCE_TYPE,
    SEQUENCE_WEEKS,
)

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
MODELS_YAML = Path("models/marts/ml/_ml__models.yml")
MACROS = Path("macros/contract.sql")
HEADER = "Generated from udfs/contract.py by `make contract`: edit the contract there, not here."

_KEY_DESCRIPTIONS = {
    "customer_id": "Customer id.",
    "cutoff_date": "The cutoff day; features use data on or before it.",
}
_LABEL_DESCRIPTIONS = {
    "future_value": "Net revenue in (cutoff, cutoff + horizon_days].",
    "future_orders": "Orders in (cutoff, cutoff + horizon_days].",
    "churned": "1 when no order in (cutoff, cutoff + churn_window_days], else 0.",
}
_LABEL_TESTS = {
    "churned": [
        "          - not_null",
        "          - accepted_values:",
        "              arguments:",
        "                values: [0, 1]",
    ],
}
_MODELS = (
    (
        "ml_training_set",
        "Features of the feature contract, in its order, the weekly histories, and the labels, for every "
        "training cutoff.",
        "one row per customer per training cutoff",
        True,
    ),
    (
        "ml_scoring_set",
        "Features of the feature contract, in its order, and the weekly histories, at the scoring cutoff (as_of_date).",
        "one row per customer at the scoring cutoff",
        False,
    ),
)


# Spark's names for the contract's DuckDB types where they differ: dbt checks the contract on both
# engines, reading the type for the target it builds on.
SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", SEQUENCE_TYPE: "array<float>"}


def _data_type(data_type: str) -> str:
    spark = SPARK_TYPES.get(data_type)
    if spark is None:
        return data_type.lower()
    return f"\"{{{{ '{spark}' if target.type == 'spark' else '{data_type.lower()}' }}}}\""


def _column(name: str, data_type: str, description: str | None = None, tests: list[str] | None = None) -> list[str]:
    lines = [f"      - name: {name}", f"        data_type: {_data_type(data_type)}"]
    if description:
        lines.append(f'        description: "{description}"')
    if tests:
        lines += ["        data_tests:", *tests]
    return lines


def render_models_yaml() -> str:
    """``_ml__models.yml``: the two model-facing views with their enforced contract columns."""
    out = [f"# {HEADER}", "version: 2", "", "models:"]
    for i, (name, what, grain, labels) in enumerate(_MODELS):
        out += [
            "" if i else None,
            f"  - name: {name}",
            "    description: >",
            f"      {what}",
            f"      Grain: {grain}.",
            "    config:",
            "      contract:",
            "        enforced: true",
            "    columns:",
        ]
        for key, data_type in KEY_COLUMNS:
            out += _column(key, data_type, _KEY_DESCRIPTIONS[key], ["          - not_null"])
        for feature in FEATURES:
            out += _column(feature, FEATURE_TYPE)
        for column, channel in zip(SEQUENCE_COLUMNS, SEQUENCE_CHANNELS, strict=True):
            out += _column(column, SEQUENCE_TYPE, f"Weekly {channel}, oldest of {SEQUENCE_WEEKS} weeks first.")
        for label, data_type in LABELS if labels else ():
            out += _column(label, data_type, _LABEL_DESCRIPTIONS[label], _LABEL_TESTS.get(label))
    return "\n".join(line for line in out if line is not None) + "\n"


def _jinja_list(values: tuple) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def render_macros() -> str:
    """``macros/contract.sql``: the category values and behaviour windows the feature SQL loops over."""
    categories = {"channel": CHANNELS, "region": REGIONS, "age": AGE_BANDS, "gender": GENDERS}
    mapping = ", ".join(f"'{k}': {_jinja_list(v)}" for k, v in categories.items())
    return (
        f"{{#- {HEADER} -#}}\n\n"
        "{#- One-hot encoded attributes: prefix -> the values that get a column; other values encode as zeros. -#}\n"
        f"{{% macro contract_categories() %}}{{{{ return({{{mapping}}}) }}}}{{% endmacro %}}\n\n"
        "{#- Behaviour features: each metric over each trailing window of days. -#}\n"
        f"{{% macro contract_behaviour_metrics() %}}{{{{ return({_jinja_list(BEHAVIOUR_METRICS)}) }}}}"
        "{% endmacro %}\n"
        f"{{% macro contract_behaviour_windows() %}}{{{{ return({_jinja_list(BEHAVIOUR_WINDOWS)}) }}}}"
        "{% endmacro %}\n\n"
        "{#- Weekly histories: weeks per array, and the channels that get one (column <channel>_weekly). -#}\n"
        f"{{% macro contract_sequence_weeks() %}}{{{{ return({SEQUENCE_WEEKS}) }}}}{{% endmacro %}}\n"
        f"{{% macro contract_sequence_channels() %}}{{{{ return({_jinja_list(SEQUENCE_CHANNELS)}) }}}}"
        "{% endmacro %}\n"
        f"{{% macro contract_sequence_columns() %}}{{{{ return({_jinja_list(SEQUENCE_COLUMNS)}) }}}}"
        "{% endmacro %}\n"
    )


def rendered() -> dict[Path, str]:
    """Each generated file (relative to the dbt project) and its content."""
    return {MODELS_YAML: render_models_yaml(), MACROS: render_macros()}


def stale(project: Path | None = None) -> list[Path]:
    """The generated files whose committed content differs from what the contract renders."""
    project = project or DBT_PROJECT
    return [
        rel for rel, text in rendered().items() if not (project / rel).exists() or (project / rel).read_text() != text
    ]


def write(project: Path | None = None) -> list[Path]:
    """Write every generated file; returns those that changed."""
    project = project or DBT_PROJECT
    changed = stale(project)
    for rel in changed:
        (project / rel).write_text(rendered()[rel])
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--check"]:
        old = stale()
        for rel in old:
            print(f"{DBT_PROJECT / rel} differs from udfs/contract.py: run `make contract`", file=sys.stderr)
        return 1 if old else 0
    if args:
        print("usage: python -m duckdb_clv.udfs.contract_files [--check]", file=sys.stderr)
        return 2
    for rel in write():
        print(f"wrote {DBT_PROJECT / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
