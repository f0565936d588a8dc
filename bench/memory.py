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
            self.peak = max(self.peak, sum(_rss_bytes(p) for p in _tree(me)))
            time.sleep(self.interval)

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
