"""``python -m clv``: the same as the ``clv`` console script."""

from clv.cli import main

raise SystemExit(main())
