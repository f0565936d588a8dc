"""Staging names for files written beside their final place, and sweeping what dead writers left.

Every writer here (a model version, a champion pointer, the published database) builds its output
under a hidden temporary name in the destination folder and renames it into place in one step, so
a reader sees the old output or the new one, never half of either. A writer killed before its
rename leaves the temporary behind; the writer's pid in the name lets the next writer remove it
without touching the work of a writer that is still running.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

_STAGED = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[0-9a-f]{32}\.tmp")


def staging_path(final: Path) -> Path:
    """A hidden sibling of ``final`` that names this process: ``.<name>.<pid>.<random>.tmp``."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(folder: Path, name: str = "*") -> list[Path]:
    """Remove the staging entries in ``folder`` (of ``name``, a glob) whose writer process is gone.

    Returns what was removed. Entries of live writers, this process included, are left alone.
    """
    removed = []
    for leftover in Path(folder).glob(f".{name}.*.tmp*"):
        match = _STAGED.match(leftover.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or pid_alive(pid):
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed
