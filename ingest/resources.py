"""How much of the machine the pipeline may use."""

from __future__ import annotations

import os

DEFAULT_MEMORY_LIMIT = "6GB"


def memory_limit() -> str:
    """DuckDB's memory limit for loads and builds: ``CLV_MEMORY_LIMIT``, default 6GB.

    Past it DuckDB spills to its temp directory instead of growing, which keeps the 1M-customer
    pipeline inside an 8 GB budget; raise it on a larger machine for speed.
    """
    return os.environ.get("CLV_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
