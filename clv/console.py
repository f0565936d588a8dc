"""Terminal output: progress bars, tables and one-line errors, all through ``rich``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from duckdb_clv.pipeline import Step

# Piped output (logs, CI, tests) has no terminal width; wide enough that tables are never cut.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def fail(message: str) -> int:
    """Print a one-line error and return the exit code for user errors."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return 2


def _bars() -> Progress:
    # Drawn only on a terminal; piped output (logs, CI, tests) gets the printed lines alone.
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        disable=not sys.stdout.isatty(),
        transient=False,
    )


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar; yields ``update(done, total)``. Quiet when output is not a terminal."""
    with _bars() as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


STAGES = {
    "load": "Loading",
    "build": "Building features (dbt build)",
    "train": "Training",
    "evaluate": "Evaluating on the test cutoff",
    "score": "Scoring customers (dbt build --select tag:scores)",
    "publish": "Publishing",
    "report": "Writing the report",
}


@contextmanager
def stage_progress(
    on_result: Callable[[str, object], None] | None = None,
) -> Iterator[Callable[[Step], None]]:
    """A ``pipeline.Progress`` for the terminal: one bar per stage, notes as lines of their own.

    Bars are drawn only on a terminal; notes (load counts, training steps, warnings) always print.
    ``on_result`` receives (stage, result) as each stage of ``pipeline.run`` finishes.
    """
    with _bars() as bar:
        tasks: dict[str, TaskID] = {}

        def show(step: Step) -> None:
            if step.result is not None:
                if on_result is not None:
                    on_result(step.stage, step.result)
                return
            if step.note is not None:
                # Training's step-by-step log is dim; warnings (a dropped candidate) stand out.
                style = "yellow" if step.note.startswith("warning:") else "dim" if step.stage == "train" else ""
                out.print(f"[{style}]{escape(step.note)}[/]" if style else escape(step.note), highlight=False)
                return
            if step.stage not in tasks:
                tasks[step.stage] = bar.add_task(STAGES.get(step.stage, step.stage), total=None)
            bar.update(tasks[step.stage], completed=step.done, total=step.total)

        yield show


def table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    """Print a table; numbers right-aligned with thousands separators."""
    t = Table(title=title, title_justify="left", header_style="bold")
    numeric = [all(isinstance(r[i], int | float) for r in rows) for i in range(len(columns))]
    for name, is_num in zip(columns, numeric, strict=True):
        t.add_column(name, justify="right" if is_num else "left")
    for r in rows:
        t.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in r])
    out.print(t)
