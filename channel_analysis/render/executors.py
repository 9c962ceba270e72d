"""Where the per-report work runs: a local process per report, or a Dask distributed cluster.

Both take the same tasks — ``(key, function, args)`` with a top-level function of picklable
arguments (:func:`~channel_analysis.render.execute.render_partner`) — and yield ``(key, result)`` as
tasks finish, in completion order; ``result`` is the function's return value or the exception that
escaped it (a report process that died, a lost Dask worker).

A crash fails one report, never the run: every report runs in its own process, so a process that
dies (SIGKILL, the out-of-memory killer, a segfault in a C library) takes only its own report down.
That report is run once more in a fresh process (:data:`RETRIES_AFTER_CRASH`); if that one dies
too, the result is a :class:`ReportProcessDied` naming the signal or exit code, and every other
report goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from multiprocessing.connection import wait as wait_ready
from typing import Any, Callable, Iterable, Iterator

Task = tuple[str, Callable[..., Any], tuple]

# The fork server imports these once (forkserver preload), not once per report.
_PRELOAD = ["channel_analysis.render.execute", "papermill", "papermill.engines", "nbclient",
            "jupyter_client.manager", "nbconvert.exporters.html", "jupytext"]
# With fresh_process=True the report runs inside the forked process (warm engine): preload it all.
_WARM_PRELOAD = ["channel_analysis.render.warm"]
#: A report whose process died is run this many more times, each in a fresh process.
RETRIES_AFTER_CRASH = 1


class ReportProcessDied(Exception):
    """The process rendering one report died before returning a result (signal or exit code)."""


def _context(fresh_process: bool):
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_WARM_PRELOAD if fresh_process else _PRELOAD)
    return ctx


def _child(conn, fn: Callable[..., Any], args: tuple) -> None:
    """Body of a report process: run ``fn(*args)``, send back ("ok", result) or ("error", exc)."""
    try:
        outcome = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which records it
        outcome = ("error", exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # an unpicklable result or exception: say what it was
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc} (sending {outcome[0]} back)")))
    conn.close()


def _how_it_died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name} (exit code {exitcode})"
    return f"exited with code {exitcode} without a result"


def default_workers(workers: int | None) -> int:
    """``workers`` or, when None, the number of CPU cores (at least 1)."""
    return max(1, int(workers)) if workers else max(1, os.cpu_count() or 1)


class LocalPool:
    """Local report processes, at most ``workers`` at a time, one process per report.

    Processes are started with ``forkserver`` (a clean server process with the rendering modules
    preloaded forks each one): no threads or state of the driver (DuckDB, the statistics frames)
    are inherited, and no process ever renders a second report. ``fresh_process=True`` (warm
    engine): the notebook runs inside the forked process; otherwise (kernel engine) the process
    starts a Jupyter kernel for it. A process that dies is retried (module docstring).
    """

    def __init__(self, workers: int | None = None, fresh_process: bool = False):
        self.workers = default_workers(workers)
        self.fresh_process = fresh_process
        self._ctx = None
        self._running: dict[Any, tuple] = {}

    def __enter__(self) -> LocalPool:
        self._ctx = _context(self.fresh_process)
        return self

    def __exit__(self, *exc) -> None:
        for conn, (_, _, _, _, proc) in list(self._running.items()):  # interrupted: stop them all
            proc.kill()
            proc.join()
            conn.close()
        self._running.clear()
        self._ctx = None

    def _start(self, key: str, fn, args: tuple, tries: int) -> None:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_child, args=(send, fn, args), name=f"render-{key}")
        proc.start()
        send.close()  # the child holds the only sending end: EOF here when it dies
        self._running[recv] = (key, fn, args, tries, proc)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        assert self._ctx is not None, "use LocalPool as a context manager"
        todo = deque((key, fn, args, 0) for key, fn, args in tasks)
        while todo or self._running:
            while todo and len(self._running) < self.workers:
                self._start(*todo.popleft())
            for conn in wait_ready(list(self._running)):
                key, fn, args, tries, proc = self._running.pop(conn)
                try:
                    status, value = conn.recv()
                except (EOFError, OSError):  # died before sending its result
                    status, value = "died", None
                conn.close()
                proc.join()
                if status != "died":
                    yield key, value
                elif tries < RETRIES_AFTER_CRASH:
                    todo.appendleft((key, fn, args, tries + 1))
                else:
                    yield key, ReportProcessDied(
                        f"the report process {_how_it_died(proc.exitcode)}, "
                        f"{tries + 1} times (retried in a fresh process)")


class DaskPool:
    """Tasks submitted to a Dask distributed scheduler (``tcp://host:8786``).

    Every worker must have this package installed and see the run folder at the same path (shared
    storage): workers read the bundles and write the HTML and failed notebooks themselves.
    """

    def __init__(self, scheduler: str, fresh_process: bool = False):
        self.scheduler = scheduler
        self.fresh_process = fresh_process
        self._client = None

    def __enter__(self) -> DaskPool:
        from distributed import Client

        self._client = Client(self.scheduler, set_as_default=False)
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        from distributed import as_completed

        assert self._client is not None, "use DaskPool as a context manager"
        futures = {}
        for key, fn, args in tasks:
            if self.fresh_process:  # a Dask worker process is long-lived: fork one per report
                fn, args = run_in_fresh_process, (fn, *args)
            fut = self._client.submit(fn, *args, pure=False, key=f"render-{key}-{os.urandom(4).hex()}")
            futures[fut.key] = (key, fut)
        for fut in as_completed([f for _, f in futures.values()], loop=self._client.loop):
            key = futures[fut.key][0]
            try:
                yield key, fut.result()
            except Exception as exc:  # the task's exception or a lost worker
                yield key, exc
            finally:
                fut.release()


def run_in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a process forked for this call alone from this machine's warm server.

    Used on Dask workers, which are long-lived processes: the report still runs in a process that
    has seen no other partner, and a report process that dies is retried as locally
    (:class:`LocalPool`); raises :class:`ReportProcessDied` when it died every time.
    """
    if mp.current_process().daemon:
        raise RuntimeError(
            "this Dask worker is a daemonic process and cannot fork report processes: start the "
            "workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (or set render.engine: kernel)")
    with LocalPool(1, fresh_process=True) as pool:
        for _, result in pool.run([("report", fn, args)]):
            if isinstance(result, BaseException):
                raise result
            return result


def make_pool(*, workers: int | None, scheduler: str | None, fresh_process: bool = False):
    """The executor for a run: Dask when a scheduler address is given, else a local pool."""
    if scheduler:
        return DaskPool(scheduler, fresh_process=fresh_process)
    return LocalPool(workers, fresh_process=fresh_process)
