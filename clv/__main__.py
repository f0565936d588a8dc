"""``python -m duckdb_clv``: the same as the ``clv`` console script."""

from duckdb_clv.cli import main

raise SystemExit(main())
