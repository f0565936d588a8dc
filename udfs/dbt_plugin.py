"""dbt-duckdb plugin: the scoring functions inside ``dbt build``.

In a profile::

    plugins:
      - module: duckdb_clv.udfs.dbt_plugin
        config:
          models_dir: /path/to/onnx_models   # optional; default $CLV_MODELS_DIR or onnx_models

dbt-duckdb calls ``configure_connection`` on each connection it opens and ``configure_cursor``
on each cursor it runs SQL on; both call the same ``udfs.register`` that notebooks and tests
call. Models can then use ``predict_clv(s)``,
``churn_score(s)`` and the rest in their SQL.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from duckdb_clv import udfs


class Plugin(BasePlugin):
    """Registers the duckdb-clv SQL functions on dbt's connections."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.models_dir = plugin_config.get("models_dir")

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        udfs.register(conn, self.models_dir)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        # dbt runs model SQL on cursors, and DuckDB macros belong to one connection or cursor.
        udfs.register(cursor, self.models_dir)
