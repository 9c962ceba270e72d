"""Processes a benchmark run leaves behind, and the memory of a running process tree.

:func:`mark_run` puts a token in this process's environment before anything is started; every
process the run starts by executing a program (subprocesses, the fork server, Dask's scheduler and
workers) inherits it, and so do the processes those fork. :func:`left_behind` then finds, after the
run, every process still alive that carries the token (orphans re-parented to init included) or
that is still a descendant of this process. Linux ``/proc`` is read through psutil.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import psutil

MARKER = "CHANNEL_ANALYSIS_BENCH_RUN"


def mark_run() -> str:
    """Put a fresh token in the environment that processes started from now on inherit."""
    token = uuid.uuid4().hex
    os.environ[MARKER] = token
    return token


def _carries(proc: psutil.Process, token: str) -> bool:
    try:
        return proc.environ().get(MARKER) == token
    except (psutil.Error, OSError):  # gone meanwhile, or not ours to read
        return False


def left_behind(token: str, *, wait: float = 0.0) -> list[dict]:
    """Processes other than this one that carry ``token`` or descend from this process.

    ``wait`` seconds are given to processes that are exiting (a pool's shutdown) before they count.
    Returns ``{"pid", "ppid", "cmdline"}`` for each, sorted by pid.
    """
    me = os.getpid()
    deadline = time.monotonic() + wait
    while True:
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            if proc.pid != me and _carries(proc, token):
                found[proc.pid] = proc
        try:
            for proc in psutil.Process(me).children(recursive=True):
                found[proc.pid] = proc
        except psutil.Error:
            pass
        alive = []
        for pid, proc in sorted(found.items()):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue  # exited, only not reaped yet
                alive.append({"pid": pid, "ppid": proc.ppid(), "cmdline": " ".join(proc.cmdline())[:200]})
            except psutil.Error:
                continue
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and all its descendants, in MB (shared pages counted once,
    split between the processes sharing them: the memory the tree really occupies)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


class PeakSampler:
    """Samples :func:`tree_pss_mb` of a process every ``interval`` seconds in a thread; ``peak_mb``
    is the largest sample (a peak shorter than the interval can be missed)."""

    def __init__(self, pid: int, interval: float = 1.0):
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_pss_mb(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
