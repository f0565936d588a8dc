"""Peak resident memory of a process tree, sampled from /proc (Linux).

``ru_maxrss`` reports one process at a time; the generator forks workers, so the figure that
matters is the sum over the tree at its highest moment, which a sampling thread can see.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
    return out


class PeakMemory:
    """Context manager sampling the RSS of this process and its descendants every ``interval`` s."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self._sample(me)
            time.sleep(self.interval)

    def _sample(self, me: int) -> None:
        self.peak = max(self.peak, sum(_rss_bytes(p) for p in _tree(me)))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gb(self) -> float:
        """Highest total RSS seen, in GB (10^9 bytes)."""
        return self.peak / 1e9


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


class PeakByKind(PeakMemory):
    """Peak RSS of each kind of process below this one, sampled every ``interval`` s.

    ``kinds`` maps a name to a predicate on a process's command line; each sample sums the RSS of
    the processes of each kind, and a kind's peak is its highest sum (a Spark driver JVM, its
    Python workers).
    """

    def __init__(self, kinds: dict[str, object], interval: float = 0.2) -> None:
        super().__init__(interval)
        self.kinds = kinds
        self.peaks = dict.fromkeys(kinds, 0)

    def _sample(self, me: int) -> None:
        sums = dict.fromkeys(self.kinds, 0)
        for pid in _tree(me)[1:]:
            command = _command(pid)
            kind = next((k for k, matches in self.kinds.items() if matches(command)), None)
            if kind is not None:
                sums[kind] += _rss_bytes(pid)
        self.peaks = {k: max(v, sums[k]) for k, v in self.peaks.items()}

    def gb(self) -> dict[str, float]:
        """Each kind's peak in GB (10^9 bytes)."""
        return {k: v / 1e9 for k, v in self.peaks.items()}
