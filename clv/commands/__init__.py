"""The ``clv`` subcommands: each declared (name, help, arguments) beside its handler.

A handler receives the parsed arguments and the ``Settings`` they select (flags, then
``clv.toml``, then the defaults), calls the library (``duckdb_clv.pipeline`` and friends), and
prints the outcome. Errors are raised, never printed here: ``duckdb_clv.cli.main`` prints them as
one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from duckdb_clv.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, its help texts, its arguments and its handler."""

    name: str
    help: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] = lambda _parser: None
    description: str | None = None
    epilog: str | None = None

    def add_to(self, sub: argparse._SubParsersAction) -> None:
        """Declare this command on the ``clv`` parser's subcommands."""
        parser = sub.add_parser(
            self.name, help=self.help, description=self.description or self.help, epilog=self.epilog
        )
        self.arguments(parser)
        parser.set_defaults(handler=self.handler)
