"""A papermill engine that runs a notebook inside the current process, in a fresh IPython shell.

Why: a Jupyter kernel per partner pays ~0.5 s to start and ~1–2 s to import pandas/matplotlib
before the first line of the scorecard runs. The quarterly run instead executes each partner in a
**fresh process forked from a warm fork server** (:mod:`channel_analysis.workers`): the server has
imported the libraries but never seen any partner data, and each forked child runs exactly one
partner with this engine, then exits. Every partner therefore still gets a clean process (nothing
set while executing one partner is visible to the next) without paying the imports again.

The engine speaks papermill's engine interface (``engine_name="inprocess"``), so parameter
injection, cell metadata and error reporting (``PapermillExecutionError``) are papermill's own. It
produces the same outputs a kernel would: ``stream``, ``display_data`` (matplotlib figures through
the inline backend), ``execute_result`` and ``error``.

Use it only in a process dedicated to one notebook: the shell's state lives in this process.
"""

from __future__ import annotations

import io
import math
import signal
import sys
import threading
from contextlib import contextmanager

import nbformat
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from papermill.engines import Engine, papermill_engines
from traitlets.config import Config

FIGURE_DPI = 96


def _output(output_type: str, **fields) -> nbformat.NotebookNode:
    """A notebook output (the fields of nbformat.v4.new_output, without its per-output schema
    validation: the whole notebook is validated once, when it is exported)."""
    return nbformat.NotebookNode(output_type=output_type, **fields)


class _Publisher(DisplayPublisher):
    """Collects ``display(...)`` calls (and inline figures) as notebook outputs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outputs: list = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.outputs.append(_output("display_data", data=data, metadata=metadata or {}))

    def clear_output(self, wait=False):
        self.outputs.clear()


class _DisplayHook(DisplayHook):
    """Turns a cell's last expression value into an ``execute_result`` output."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outputs: list | None = None

    def start_displayhook(self):
        self._data = None
        self._metadata = None

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self._data, self._metadata = format_dict, md_dict or {}

    def finish_displayhook(self):
        if self._data is not None and self.outputs is not None:
            self.outputs.append(_output(
                "execute_result", data=self._data, metadata=self._metadata,
                execution_count=self.shell.execution_count,
            ))


class NotebookShell(InteractiveShell):
    """An IPython shell whose outputs are notebook outputs instead of terminal text."""

    display_pub_class = _Publisher
    displayhook_class = _DisplayHook

    def enable_gui(self, gui=None):
        """No GUI event loop: figures are rendered inline."""

    def _showtraceback(self, etype, evalue, stb):
        self._last_error = _output(
            "error", ename=getattr(etype, "__name__", str(etype)), evalue=str(evalue), traceback=stb,
        )

    def run_notebook_cell(self, source: str) -> tuple[list, bool]:
        """Execute one cell; return its outputs and whether it raised."""
        outputs: list = []
        self.display_pub.outputs = outputs
        self.displayhook.outputs = outputs
        self._last_error = None
        stdout, stderr = io.StringIO(), io.StringIO()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        try:
            result = self.run_cell(source, store_history=True)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
        streams = [
            _output("stream", name=name, text=buf.getvalue())
            for name, buf in (("stdout", stdout), ("stderr", stderr)) if buf.getvalue()
        ]
        outputs[:0] = streams
        failed = not result.success
        if failed:
            outputs.append(self._last_error or _output(
                "error", ename=type(result.error_in_exec or result.error_before_exec).__name__,
                evalue=str(result.error_in_exec or result.error_before_exec), traceback=[],
            ))
        return outputs, failed


def new_shell() -> NotebookShell:
    """A fresh shell with matplotlib's inline backend (PNG figures), as in a Jupyter kernel."""
    if InteractiveShell.initialized():  # pragma: no cover - one notebook per process
        raise RuntimeError("the in-process engine runs one notebook per process")
    # No history database: IPython would write every cell (parameters included) to a SQLite file
    # shared by every process of the user, which is both slow and a channel between partners.
    config = Config()
    config.HistoryManager.enabled = False
    shell = NotebookShell.instance(colors="nocolor", config=config)
    shell.enable_matplotlib("inline")
    shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    shell.run_line_magic("config", f"InlineBackend.rc = {{'figure.dpi': {FIGURE_DPI}}}")
    return shell


class InProcessEngine(Engine):
    """papermill engine ``inprocess``: execute cells in this process's fresh IPython shell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, execution_timeout=None, **kwargs):
        """Run every code cell in order; stop at the first error (as papermill does).

        ``execution_timeout`` limits the whole notebook: when it expires the running cell is
        interrupted with a ``TimeoutError`` (SIGALRM; only in the main thread of the process).
        """
        shell = new_shell()
        with _time_limit(execution_timeout):
            for index, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code":
                    continue
                nb_man.cell_start(cell, index)
                outputs, failed = shell.run_notebook_cell(cell.source)
                cell.outputs = outputs
                cell.execution_count = shell.execution_count - 1
                if failed:
                    nb_man.cell_exception(cell, cell_index=index)
                    nb_man.cell_complete(cell, cell_index=index)
                    break
                nb_man.cell_complete(cell, cell_index=index)
        return nb_man.nb


@contextmanager
def _time_limit(seconds):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"the notebook ran longer than {seconds} s (render.timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(math.ceil(seconds)))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


papermill_engines.register("inprocess", InProcessEngine)
