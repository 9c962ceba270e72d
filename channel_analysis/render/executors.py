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


def default_workers(workers: int | None) -> int:
    """``workers`` or, when None, the number of CPU cores (at least 1)."""
    return max(1, int(workers)) if workers else max(1, os.cpu_count() or 1)


class LocalPool:
    """A pool of local worker processes.

    Workers are started with ``forkserver`` (a clean server process with the rendering modules
    preloaded forks each worker): no threads or state of the driver (DuckDB, the statistics frames)
    are inherited. Each report's notebook runs in its own kernel process anyway.
    """

    def __init__(self, workers: int | None = None):
        self.workers = default_workers(workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalPool:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
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

    def __init__(self, scheduler: str):
        self.scheduler = scheduler
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


def make_pool(*, workers: int | None, scheduler: str | None):
    """The executor for a run: Dask when a scheduler address is given, else a local pool."""
    return DaskPool(scheduler) if scheduler else LocalPool(workers)
