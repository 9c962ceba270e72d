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
import threading
from collections import deque
from multiprocessing.connection import wait as wait_ready
from typing import Any, Callable, Iterable, Iterator

from ..files import safe_name

Task = tuple[str, Callable[..., Any], tuple]

# The fork server imports these once (forkserver preload), not once per report.
_PRELOAD = ["channel_analysis.render.execute", "papermill", "papermill.engines", "nbclient",
            "jupyter_client.manager", "nbconvert.exporters.html", "jupytext"]
# With fresh_process=True the report runs inside the forked process (warm engine): preload it all.
_WARM_PRELOAD = ["channel_analysis.render.warm"]
#: A report whose process died is run this many more times, each in a fresh process.
RETRIES_AFTER_CRASH = 1
#: Report processes running now in this process (stopped by :func:`stop_report_processes`).
_LIVE: set = set()
_START_LOCK = threading.Lock()


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


def _start_child(proc) -> None:
    """Start a report process, also from a daemonic process (a stock Dask worker): the daemonic
    flag only keeps multiprocessing from starting children that could outlive their parent, and a
    report process is always waited for or killed (:func:`stop_report_processes`). The flag is
    lifted for the start alone, under a lock (worker threads start processes concurrently)."""
    me = mp.current_process()
    with _START_LOCK:
        daemonic = me.daemon
        if daemonic:
            me.daemon = False
        try:
            proc.start()
        finally:
            if daemonic:
                me.daemon = True


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
            _LIVE.discard(proc)
            conn.close()
        self._running.clear()
        self._ctx = None

    def _start(self, key: str, fn, args: tuple, tries: int) -> None:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_child, args=(send, fn, args), name=f"render-{key}")
        _start_child(proc)
        _LIVE.add(proc)
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
                _LIVE.discard(proc)
                if status != "died":
                    yield key, value
                elif tries < RETRIES_AFTER_CRASH:
                    todo.appendleft((key, fn, args, tries + 1))
                else:
                    yield key, ReportProcessDied(
                        f"the report process {_how_it_died(proc.exitcode)}, "
                        f"{tries + 1} times (retried in a fresh process)")


def stop_report_processes() -> int:
    """Kill every report process this process started that is still running; how many there were.

    The Dask worker plugin calls it when the worker closes, so stopping a worker leaves no process
    behind (the fork server itself ends with the worker: it exits when its parent's pipe closes).
    """
    live = list(_LIVE)
    for proc in live:
        proc.kill()
    for proc in live:
        proc.join()
        _LIVE.discard(proc)
    return len(live)


PLUGIN_NAME = "channel-analysis-report-processes"


def _worker_plugin():
    """A Dask worker plugin whose teardown (the worker closing) stops the report processes."""
    from distributed import WorkerPlugin

    class ReportProcesses(WorkerPlugin):
        name = PLUGIN_NAME

        def teardown(self, worker):
            stop_report_processes()

    return ReportProcesses()


class DaskPool:
    """Tasks submitted to a Dask distributed scheduler (``tcp://host:8786``).

    Workers need this package installed, nothing else: the render step sends each report's bundle
    as bytes and gets the HTML, PDF or failed notebook back as bytes
    (:func:`~channel_analysis.render.execute.render_shipped`), so workers never need to see the
    project or the run folder. Workers started the stock way (``dask worker``, daemonic, with a
    nanny) work: each report still runs in its own process (:func:`run_in_fresh_process`), and a
    worker plugin stops those processes when the worker closes.
    """

    def __init__(self, scheduler: str, fresh_process: bool = False):
        self.scheduler = scheduler
        self.fresh_process = fresh_process
        self._client = None

    def __enter__(self) -> DaskPool:
        from distributed import Client

        self._client = Client(self.scheduler, set_as_default=False)
        self._client.register_plugin(_worker_plugin(), name=PLUGIN_NAME)
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
            fut = self._client.submit(fn, *args, pure=False, key=f"render-{safe_name(key)}-{os.urandom(4).hex()}")
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

    A stock Dask worker is a *daemonic* process, and multiprocessing refuses children to daemonic
    processes only so that they cannot outlive it. Here the report process is waited for, the
    fork server exits with the worker, and the worker plugin (:func:`stop_report_processes`)
    kills any report process still running when the worker closes; so the flag is lifted while
    the report process starts (:func:`_start_child`).
    """
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
