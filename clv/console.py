"""Terminal output: progress bars, tables and one-line errors, all through ``rich``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output (logs, CI, tests) has no terminal width; wide enough that tables are never cut.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def fail(message: str) -> int:
    """Print a one-line error and return the exit code for user errors."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return 2


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar; yields ``update(done, total)``. Quiet when output is not a terminal."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        disable=not sys.stdout.isatty(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    """Print a table; numbers right-aligned with thousands separators."""
    t = Table(title=title, title_justify="left", header_style="bold")
    numeric = [all(isinstance(r[i], int | float) for r in rows) for i in range(len(columns))]
    for name, is_num in zip(columns, numeric, strict=True):
        t.add_column(name, justify="right" if is_num else "left")
    for r in rows:
        t.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in r])
    out.print(t)
