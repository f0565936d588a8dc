"""Candidates that fail are dropped, not fatal: what failed, where, and why, in one line each.

A real shop can break one model family and not the others (a Gamma-Gamma fit with no finite mean
spend on heavy-tailed invoices, a search trial that runs away, an export outside its parity
tolerance). The training run drops that candidate with a warning naming it and the figures, goes
on with the rest, and records the drop in the training summary, the registry's run record and the
report. It fails only when a task is left with no model at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from duckdb_clv.training.errors import TrainingError

STAGES = ("fit", "export", "parity")
T = TypeVar("T")


class ParityError(TrainingError):
    """An exported graph that disagrees with the in-memory model beyond the stated tolerance."""


@dataclass(frozen=True)
class Failure:
    """One dropped candidate."""

    name: str
    task: str
    stage: str  # one of STAGES
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"dropped {self.name}: {self.stage} failed: {self.reason}"


def one_line(err: BaseException, limit: int = 400) -> str:
    """The first line of an error, with its type when the message alone would not say what it is."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if not isinstance(err, TrainingError | ValueError):
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def attempt(
    name: str,
    task: str,
    stage: str,
    work: Callable[[], T],
    failures: list[Failure],
    log: Callable[[str], None],
) -> T | None:
    """``work()``, or None after recording a Failure when it raises an ordinary exception.

    Interrupts (KeyboardInterrupt, SystemExit) and MemoryError still stop the run: they say nothing
    about the candidate.
    """
    try:
        return work()
    except MemoryError:
        raise
    except Exception as err:
        failure = Failure(name, task, "parity" if isinstance(err, ParityError) else stage, one_line(err))
        failures.append(failure)
        log(f"warning: {failure.line()}")
        return None


def survivors_or_raise(task: str, survivors: int, failures: list[Failure]) -> None:
    """Raise a one-line TrainingError when no candidate of ``task`` is left."""
    if survivors:
        return
    mine = [f for f in failures if f.task == task]
    why = "; ".join(f"{f.name} ({f.stage}): {f.reason}" for f in mine) or "no candidate of this task was asked for"
    raise TrainingError(f"no {task} model survived training: {why}")
