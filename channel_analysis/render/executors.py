"""Where the per-report work runs: a local process pool, or a Dask distributed cluster.

Both take the same tasks — ``(key, function, args)`` with a top-level function of picklable
arguments (:func:`~channel_analysis.render.execute.render_partner`) — and yield ``(key, result)`` as
tasks finish, in completion order; ``result`` is the function's return value or the exception that
escaped it (a worker process that died, a lost Dask worker).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

Task = tuple[str, Callable[..., Any], tuple]

# Workers import these once when the pool starts (forkserver preload), not once per report.
_PRELOAD = ["channel_analysis.render.execute", "papermill", "papermill.engines", "nbclient",
            "jupyter_client.manager", "nbconvert.exporters.html", "jupytext"]
# With fresh_process=True every report gets its own fork of a server that preloaded everything.
_WARM_PRELOAD = ["channel_analysis.render.warm"]


def _pool(workers: int, fresh_process: bool) -> ProcessPoolExecutor:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_WARM_PRELOAD if fresh_process else _PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               max_tasks_per_child=1 if fresh_process else None)


def default_workers(workers: int | None) -> int:
    """``workers`` or, when None, the number of CPU cores (at least 1)."""
    return max(1, int(workers)) if workers else max(1, os.cpu_count() or 1)


class LocalPool:
    """A pool of local worker processes.

    Workers are started with ``forkserver`` (a clean server process with the rendering modules
    preloaded forks each worker): no threads or state of the driver (DuckDB, the statistics frames)
    are inherited. ``fresh_process=True``: each task runs in a new worker forked for it alone
    (the notebook runs inside it); otherwise workers are reused and each report's notebook runs in
    its own kernel process.
    """

    def __init__(self, workers: int | None = None, fresh_process: bool = False):
        self.workers = default_workers(workers)
        self.fresh_process = fresh_process
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalPool:
        self._pool = _pool(self.workers, self.fresh_process)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[str, Any]]:
        assert self._pool is not None, "use LocalPool as a context manager"
        futures = {self._pool.submit(fn, *args): key for key, fn, args in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                exc = fut.exception()
                yield futures[fut], (exc if exc is not None else fut.result())


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


_FRESH: ProcessPoolExecutor | None = None


def run_in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a process forked for this call alone from this machine's warm server.

    Used on Dask workers, which are long-lived processes: the report still runs in a process that
    has seen no other partner. One fork server per worker process, started on first use.
    """
    global _FRESH
    if mp.current_process().daemon:
        raise RuntimeError(
            "this Dask worker is a daemonic process and cannot fork report processes: start the "
            "workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (or set render.engine: kernel)")
    if _FRESH is None:
        _FRESH = _pool(default_workers(None), fresh_process=True)
    return _FRESH.submit(fn, *args).result()


def make_pool(*, workers: int | None, scheduler: str | None, fresh_process: bool = False):
    """The executor for a run: Dask when a scheduler address is given, else a local pool."""
    if scheduler:
        return DaskPool(scheduler, fresh_process=fresh_process)
    return LocalPool(workers, fresh_process=fresh_process)
