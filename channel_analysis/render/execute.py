"""The per-report work, run in a worker process: execute the notebook, export HTML, write it.

:func:`render_partner` (and :func:`render_overview`) are top-level functions of picklable
arguments so any executor (a local process pool, a Dask cluster) can call them. Each call executes
the notebook with papermill's Python API in a process that has seen no other partner, with a fresh,
empty working folder: with ``engine="warm"`` the worker itself is a fresh fork of a warm server
(:mod:`channel_analysis.render.warm`) that runs exactly one report and exits; with
``engine="kernel"`` a new Jupyter kernel process. Either way nothing one partner's execution sets
(globals, modules, environment, files in the working folder) exists in the next one's. The HTML is produced here, in the worker, and written
atomically; a failed render writes no HTML, removes any earlier HTML of the same report (so a stale
file can never pass for the current one) and keeps the executed notebook under ``failed/``.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nbformat

from ..files import safe_name, sha256_bytes, write_atomic
from ..i18n import text_language
from .export import TEMPLATE_DIR, to_html
from .pdf import html_to_pdf
from .jobs import NetworkJob, PartnerJob, RenderSettings, ReportResult

ERROR_CHARS = 300

# No per-cell progress/logging/saving in a worker (the run has one progress bar and one record).
_PAPERMILL_FLAGS = dict(progress_bar=False, log_output=False, request_save_on_cell_execute=False)


def _kernel_config():
    """Kernels talk to the worker over local IPC sockets: no TCP ports to race for between
    parallel kernels, nothing reachable from the network."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}})


def partner_html_relpath(period: str, partner_id: str) -> str:
    """Where a partner's scorecard goes, relative to the run folder: the id's
    :func:`~channel_analysis.files.safe_name`, never the id itself (``P0001`` →
    ``partners/2026Q3_P0001_scorecard.html``; ``a/b`` → ``partners/2026Q3_a_b.<hash>_scorecard.html``)."""
    return f"partners/{period}_{safe_name(partner_id)}_scorecard.html"


OVERVIEW_HTML = "network_overview.html"


def failed_relpath(name: str) -> str:
    """Where the executed notebook of a failed report is kept, relative to the run folder
    (``name`` is a partner id or ``network_overview``; its safe file name is used)."""
    return f"failed/{safe_name(name)}.ipynb"


#: Cells tagged so are for JupyterLab only: a run never executes them (the scorecard's cell that
#: prepares its bundle before any quarterly run and shows the page's styles in Lab).
LAB_ONLY_TAG = "lab"


def read_notebook_text(text: str) -> nbformat.NotebookNode:
    """A notebook from jupytext py:percent text (in memory, nothing written), without its
    JupyterLab-only cells (:data:`LAB_ONLY_TAG`); a fresh copy each call, parsed once per process
    (the warm server parses the project's notebooks before forking)."""
    return copy.deepcopy(_parse(text))


@lru_cache(maxsize=4)
def _parse(text: str) -> nbformat.NotebookNode:
    import jupytext

    nb = jupytext.reads(text, fmt="py:percent")
    nb.cells = [cell for cell in nb.cells if LAB_ONLY_TAG not in cell.metadata.get("tags", [])]
    return nb


def short_error(exc: BaseException) -> str:
    """"Type: message" of a failure, first line only, at most ERROR_CHARS characters.

    For an error raised inside the notebook this is the failing cell's exception, not papermill's.
    """
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        name, message = exc.ename, str(exc.evalue)
    else:
        name, message = type(exc).__name__, str(exc)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = f"{name}: {lines[0]}" if lines else name
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _render(*, parameters: dict, title: str, lang: str, html_rel: str, failed_name: str,
            settings: RenderSettings, partner_id: str | None, locale: str | None) -> ReportResult:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    run_dir = Path(settings.run_dir)
    html_path = run_dir / html_rel
    pdf_rel = str(Path(html_rel).with_suffix(".pdf"))
    pdf_path = run_dir / pdf_rel
    failed_path = run_dir / failed_relpath(failed_name)
    result = ReportResult(partner_id=partner_id, status="failed", locale=locale)
    executed: nbformat.NotebookNode | None = None
    with tempfile.TemporaryDirectory(prefix="ca-render-") as scratch:
        out_ipynb = Path(scratch) / "executed.ipynb"
        cwd = Path(scratch) / "cwd"
        cwd.mkdir()
        try:
            bundle = Path(parameters["bundle_path"])
            if not bundle.exists():
                raise FileNotFoundError(f"bundle not found: {bundle} (re-run the statistics step)")
            source = read_notebook_text(settings.notebook_text)
            if settings.engine == "warm":  # this process is a fresh fork: run in its own shell
                import channel_analysis.engine  # noqa: F401  (registers papermill engine "inprocess")

                how = dict(engine_name="inprocess")
            else:
                # the kernel's own log (e.g. "KeyboardInterrupt caught" at shutdown) is noise
                how = dict(config=_kernel_config(), extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                           start_timeout=settings.start_timeout)
            executed = pm.execute_notebook(
                source, str(out_ipynb), parameters=parameters, kernel_name=settings.kernel_name,
                language="python", cwd=str(cwd), execution_timeout=settings.timeout,
                **how, **_PAPERMILL_FLAGS,
            )
            html = to_html(executed, title=title, lang=lang, template_dir=settings.template_dir)
            data = html.encode("utf-8")
            if settings.pdf and partner_id is not None:  # the partner's copy to open, print, forward
                pdf = html_to_pdf(html)
                write_atomic(pdf_path, pdf)
                result.pdf, result.pdf_sha256 = pdf_rel, sha256_bytes(pdf)
            write_atomic(html_path, data)
            failed_path.unlink(missing_ok=True)
            result.status, result.output = "ok", html_rel
            result.sha256 = sha256_bytes(data)
        except Exception as exc:  # one report failing never stops the others
            if isinstance(exc, PapermillExecutionError) and out_ipynb.exists():
                executed = nbformat.read(out_ipynb, as_version=4)
            result.error = short_error(exc)
            # never leave an earlier HTML or PDF that could pass for this run's report
            html_path.unlink(missing_ok=True)
            pdf_path.unlink(missing_ok=True)
            result.pdf = result.pdf_sha256 = None
            if executed is not None:
                # papermill records the in-memory source notebook as input_path: name it instead
                executed.metadata.setdefault("papermill", {}).update(
                    input_path=settings.notebook_name, output_path=failed_relpath(failed_name))
                write_atomic(failed_path, nbformat.writes(executed))
                result.failed_notebook = failed_relpath(failed_name)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _outputs(job: PartnerJob | NetworkJob, settings: RenderSettings) -> tuple[str, str]:
    """(HTML path relative to the run folder, failed-notebook name) of a job."""
    if isinstance(job, PartnerJob):
        return partner_html_relpath(settings.period, job.partner_id), job.partner_id
    return OVERVIEW_HTML, "network_overview"


def render_partner(job: PartnerJob, settings: RenderSettings) -> ReportResult:
    """Execute the scorecard notebook for one partner and write its HTML; never raises.

    Injected parameters: partner_id, period, bundle_path, locale (:meth:`PartnerJob.parameters`).
    Returns the manifest record (status ok with the HTML's sha256, or failed with the error).
    """
    html_rel, failed_name = _outputs(job, settings)
    return _render(
        parameters=job.parameters(settings.period), title=job.title, lang=text_language(job.locale),
        html_rel=html_rel, failed_name=failed_name,
        settings=settings, partner_id=job.partner_id, locale=job.locale,
    )


def render_overview(job: NetworkJob, settings: RenderSettings) -> ReportResult:
    """Execute the network overview notebook and write ``network_overview.html``; never raises."""
    html_rel, failed_name = _outputs(job, settings)
    return _render(
        parameters=job.parameters(settings.period), title=job.title, lang=job.locale,
        html_rel=html_rel, failed_name=failed_name, settings=settings,
        partner_id=None, locale=job.locale,
    )


@dataclass
class Shipped:
    """A report rendered on a machine that does not see the run folder, travelling back as bytes.

    ``files``: path relative to the run folder → bytes to write there (the HTML, the PDF, or the
    failed notebook); ``remove``: paths the render would have removed (an earlier HTML and PDF of
    a failed report, the failed notebook of a report that now renders).
    """

    result: ReportResult
    files: dict[str, bytes]
    remove: list[str]

    def land(self, run_dir: str | Path) -> ReportResult:
        """Write the files into ``run_dir`` (atomically) and remove the stale ones; the record."""
        run_dir = Path(run_dir).resolve()
        for rel in [*self.files, *self.remove]:
            if not (run_dir / rel).resolve().is_relative_to(run_dir):
                raise ValueError(f"a shipped report names a path outside the run folder: {rel!r}")
        for rel, data in self.files.items():
            write_atomic(run_dir / rel, data)
        for rel in self.remove:
            (run_dir / rel).unlink(missing_ok=True)
        return self.result


def render_shipped(fn, job: PartnerJob | NetworkJob, settings: RenderSettings, bundle: bytes) -> Shipped:
    """Render ``fn(job, settings)`` (:func:`render_partner` or :func:`render_overview`) from the
    bundle's bytes, in a scratch folder; return the outputs as bytes (:class:`Shipped`).

    What a Dask worker runs: it needs the package, not the project folder or the run folder. The
    driver lands the result in the run folder (:meth:`Shipped.land`). The notebook reads the
    bundle from the scratch folder under the same file name, so the page is byte-identical to a
    local render.
    """
    html_rel, failed_name = _outputs(job, settings)
    candidates = [html_rel, str(Path(html_rel).with_suffix(".pdf")), failed_relpath(failed_name)]
    with tempfile.TemporaryDirectory(prefix="ca-shipped-") as scratch:
        bundle_path = Path(scratch) / "bundle" / Path(job.bundle_path).name
        bundle_path.parent.mkdir()
        bundle_path.write_bytes(bundle)
        run_dir = Path(scratch) / "run"
        # the worker's own copy of the package's template (the driver's path may not exist here)
        result = fn(dataclasses.replace(job, bundle_path=str(bundle_path)),
                    dataclasses.replace(settings, run_dir=str(run_dir), template_dir=str(TEMPLATE_DIR)))
        files = {rel: (run_dir / rel).read_bytes() for rel in candidates if (run_dir / rel).is_file()}
    return Shipped(result=result, files=files, remove=[rel for rel in candidates if rel not in files])
