"""The run lock: one writer per run folder (``reports/<period>/.render.lock``).

A render takes it before it writes anything — before the statistics step writes the tables and
bundles — and keeps it until the manifest and the index are written; a send takes it while it
reads the run and sends (render and send of one period never overlap). A second process asking
for it fails at once with :class:`~channel_analysis.errors.RunLockedError` and has written nothing.
The lock is an OS file lock (``filelock``): it goes away with the process that held it, so a
crashed run never leaves a stale lock behind. Within one process the lock is re-entrant (the run
takes it, and the render step it calls finds it already held).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from .errors import RunLockedError

LOCK = ".render.lock"
_HELD: dict[str, FileLock] = {}


@contextmanager
def run_lock(run_dir: str | Path, period: str, *, action: str = "render") -> Iterator[Path]:
    """Hold the lock of ``run_dir`` for the block (creating the folder if needed); yields its path.

    Raises :class:`RunLockedError` at once when another process holds it; ``action`` names what
    this process wanted to do, for the message.
    """
    run_dir = Path(run_dir).resolve()
    key = str(run_dir)
    if key in _HELD:  # this process already holds it (a run calling its render step)
        yield run_dir / LOCK
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run_dir / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"cannot {action} {period}: another render or send of {period} is running in {run_dir} "
            f"(it holds {LOCK}); wait for it to end, then run again — nothing was changed"
        ) from None
    _HELD[key] = lock
    try:
        yield run_dir / LOCK
    finally:
        del _HELD[key]
        lock.release()


def is_locked(run_dir: str | Path) -> bool:
    """True when some process (this one included) holds the lock of ``run_dir`` right now."""
    run_dir = Path(run_dir).resolve()
    if str(run_dir) in _HELD:
        return True
    if not (run_dir / LOCK).exists():
        return False
    probe = FileLock(str(run_dir / LOCK), timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False
