"""Stand-in for dbt's `adapter` when sqlfluff renders models: no relation exists yet, and
`adapter.dispatch` picks the DuckDB form (`default__`) of the project's cross-engine macros."""

import types
from functools import cache
from pathlib import Path

import jinja2

_MACROS = Path(__file__).resolve().parent.parent / "macros"


def get_relation(database=None, schema=None, identifier=None):
    return None


@cache
def _macros():
    """The macro files' definitions, as the module of one template (dbt's `return()` hands back its value)."""
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals["return"] = lambda value: value
    env.globals["adapter"] = types.SimpleNamespace(dispatch=dispatch, get_relation=get_relation)
    return env.from_string("\n".join(p.read_text() for p in sorted(_MACROS.glob("*.sql")))).module


def dispatch(macro_name, macro_namespace=None):
    return getattr(_macros(), f"default__{macro_name}")
