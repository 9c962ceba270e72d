"""The render run: decide what is out of date, dispatch it, record it, write manifest and index.

``run(prepared, render_params)`` takes the run's jobs (a :class:`PreparedRun`, made by the statistics
step of :mod:`channel_analysis.quarter`), fingerprints every report, skips the ones
whose manifest entry is ok with the same fingerprint and an intact HTML (unless ``force``), renders
the rest in parallel (:mod:`.executors`), records each result as it arrives (:mod:`.manifest`) and
finally writes ``index.html``. A report that fails is recorded and the run goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..resources import shipped
from ..runlock import run_lock
from .execute import Shipped, render_overview, render_partner, render_shipped, short_error
from .executors import make_pool
from .export import TEMPLATE_DIR
from .fingerprint import context_sha256, report_fingerprint
from .index_page import INDEX, write_index
from .jobs import PreparedRun, RenderError, RenderSettings, ReportResult
from .manifest import OVERVIEW_KEY, Manifest

SCORECARD_NOTEBOOK = shipped("partner_scorecard.py")
OVERVIEW_NOTEBOOK = shipped("network_overview.py")
KERNEL_NAME = "python3"  # the kernel runs on the worker's own interpreter (jupyter_client maps "python")


@dataclass
class RunSummary:
    """What a render run did. ``ok`` is False when any report (or the overview) failed."""

    period: str
    run_dir: Path
    rendered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failed_notebooks: dict[str, str] = field(default_factory=dict)
    overview: str = "none"  # ok | failed | skipped | none (no network job)
    overview_error: str | None = None
    seconds: float = 0.0
    render_seconds: dict[str, float] = field(default_factory=dict)
    #: what the data did not allow (PreparedRun.data_gaps), listed by :meth:`format`
    data_gaps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and self.overview != "failed"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"

    @property
    def index_path(self) -> Path:
        return self.run_dir / INDEX

    def format(self) -> str:
        """A few lines for the terminal: counts, failures with their error, where to look."""
        n = len(self.rendered) + len(self.skipped) + len(self.failed)
        lines = [
            f"{self.period}: {n} partner scorecards — {len(self.rendered)} rendered, "
            f"{len(self.skipped)} unchanged (skipped), {len(self.failed)} failed "
            f"in {self.seconds:.1f} s"
        ]
        if self.render_seconds:
            mean = sum(self.render_seconds.values()) / len(self.render_seconds)
            lines.append(f"  {mean:.2f} s per report rendered (mean of worker wall times)")
        ov = {"ok": "rendered", "skipped": "unchanged (skipped)", "none": "not part of this run",
              "failed": f"FAILED — {self.overview_error}"}[self.overview]
        lines.append(f"network overview: {ov}")
        if self.failed:
            lines.append("failed partners:")
            for pid, err in sorted(self.failed.items()):
                nb = self.failed_notebooks.get(pid)
                lines.append(f"  {pid}: {err}" + (f"  [{self.run_dir / nb}]" if nb else ""))
        if self.data_gaps:
            lines.append(f"not available with this data ({len(self.data_gaps)}; kpis/skipped.csv):")
            lines += [f"  {gap}" for gap in self.data_gaps]
        lines.append(f"index: {self.index_path}")
        lines.append(f"manifest: {self.manifest_path}")
        if not self.ok:
            lines.append("some reports failed: fix and re-run; only missing, failed or changed reports render again")
        return "\n".join(lines)


def _read_notebook(path: Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RenderError(f"{what} notebook not found: {path} (it is a jupytext py:percent file)") from None


def _select(prepared: PreparedRun, wanted: list[str] | None):
    if wanted is None:
        return prepared.partners
    wanted = [str(pid) for pid in wanted]
    known = {job.partner_id: job for job in prepared.partners}
    unknown = [pid for pid in wanted if pid not in known]
    if unknown:
        raise RenderError(
            f"render.partners names partner ids that are not in this run: {', '.join(unknown)} "
            "(ids are strings, e.g. '007'; only active partners get a scorecard)"
        )
    return [known[pid] for pid in dict.fromkeys(wanted)]


def run(
    prepared: PreparedRun | Mapping[str, Any],
    render_params: Mapping[str, Any] | None = None,
    *,
    force: bool = False,
    scheduler: str | None = None,
    scorecard_notebook: str | Path | None = None,
    overview_notebook: str | Path | None = None,
    progress: bool | None = None,
) -> RunSummary:
    """Render every partner scorecard that is missing, failed or out of date, then the overview.

    ``prepared`` is the statistics step's :class:`PreparedRun`; ``render_params`` the run's
    ``render`` parameters (workers, engine, timeout, partners). ``force`` re-renders everything;
    ``scheduler`` a Dask address sends the work to that cluster (else a local pool of
    ``render_params["workers"]`` processes, None = CPU cores); the notebook paths default to ``notebooks/partner_scorecard.py`` / ``network_overview.py``.
    ``progress``: show a progress bar (None = when the terminal is interactive).
    Returns a :class:`RunSummary`; writes ``manifest.json`` and ``index.html`` in the run folder.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    render_params = dict(render_params or {})
    if isinstance(prepared, Mapping):
        prepared = PreparedRun(**dict(prepared))
    if not isinstance(prepared, PreparedRun):
        raise RenderError(f"prepare() must return a PreparedRun, got {type(prepared).__name__}")
    wanted = render_params.get("partners")
    jobs = _select(prepared, wanted)
    period, run_dir = prepared.period, prepared.output_dir.resolve()
    as_of = prepared.as_of
    as_of = as_of.isoformat() if hasattr(as_of, "isoformat") else (None if as_of is None else str(as_of))

    timeout = render_params.get("timeout")
    template_dir = str(TEMPLATE_DIR)

    def settings_for(path: Path, what: str) -> RenderSettings:
        text = _read_notebook(path, what)
        return RenderSettings(notebook_text=text, notebook_name=Path(path).name,
                              template_dir=template_dir, run_dir=str(run_dir), period=period,
                              kernel_name=KERNEL_NAME, timeout=timeout,
                              engine=render_params.get("engine") or "warm",
                              pdf=bool(render_params.get("pdf")))

    card = settings_for(Path(scorecard_notebook or SCORECARD_NOTEBOOK), "scorecard")
    card_ctx = context_sha256(notebook_text=card.notebook_text, template_dir=template_dir,
                              kernel_name=KERNEL_NAME, extra=prepared.fingerprint_extra)
    overview = None
    if prepared.network is not None:
        overview = settings_for(Path(overview_notebook or OVERVIEW_NOTEBOOK), "network overview")
        ov_ctx = context_sha256(notebook_text=overview.notebook_text, template_dir=template_dir,
                                kernel_name=KERNEL_NAME, extra=prepared.fingerprint_extra)

    with run_lock(run_dir, period):  # re-entrant: a quarterly run already holds it
        summary = RunSummary(period=period, run_dir=run_dir)
        manifest = Manifest(run_dir, period=period, as_of=as_of)
        if wanted is None:  # a full run: partners that left the network leave the manifest
            current = {job.partner_id for job in jobs}
            manifest.drop([pid for pid in list(manifest.data["reports"]) if pid not in current])

        tasks, fingerprints, locales = [], {}, {}
        if overview is not None:
            fp = report_fingerprint(context=ov_ctx, bundle_path=prepared.network.bundle_path,
                                    parameters=prepared.network.parameters(period),
                                    title=prepared.network.title)
            fingerprints[OVERVIEW_KEY], locales[OVERVIEW_KEY] = fp, prepared.network.locale
            if not force and manifest.is_current(OVERVIEW_KEY, fp):
                summary.overview = "skipped"
            else:
                tasks.append(_task(OVERVIEW_KEY, render_overview, prepared.network, overview, scheduler))
        for job in jobs:
            fp = report_fingerprint(context=card_ctx, bundle_path=job.bundle_path,
                                    parameters=job.parameters(period), title=job.title)
            fingerprints[job.partner_id], locales[job.partner_id] = fp, job.locale
            if not force and manifest.is_current(job.partner_id, fp, pdf=card.pdf):
                summary.skipped.append(job.partner_id)
            else:
                tasks.append(_task(job.partner_id, render_partner, job, card, scheduler))
        for key, _, _ in tasks:
            manifest.mark_pending(key, locale=locales[key], fingerprint=fingerprints[key])
        manifest.save()

        try:
            if tasks:
                bar = tqdm(total=len(tasks), desc=f"render {period}", unit="report",
                           disable=(None if progress is None else not progress))
                pool = make_pool(workers=render_params.get("workers"), scheduler=scheduler,
                                 fresh_process=card.engine == "warm")
                with bar, pool:
                    for key, result in pool.run(tasks):
                        if isinstance(result, Shipped):  # rendered remotely: write its files here
                            result = result.land(run_dir)
                        if not isinstance(result, ReportResult):  # the worker itself died
                            result = ReportResult(
                                partner_id=None if key == OVERVIEW_KEY else key, status="failed",
                                locale=locales[key], error=short_error(result))
                        result.fingerprint = fingerprints[key]
                        manifest.record(key, result)
                        _tally(summary, key, result)
                        bar.update(1)
                        if result.status != "ok":
                            bar.write(f"failed: {key}: {result.error}")
        finally:
            manifest.save()
            write_index(run_dir, rendered={key for key, _, _ in tasks},
                        names={job.partner_id: job.name for job in prepared.partners})
    summary.seconds = time.perf_counter() - started
    return summary


def _task(key: str, fn, job, settings: RenderSettings, scheduler: str | None):
    """One unit of work: locally ``fn(job, settings)``; on a Dask cluster the bundle travels as
    bytes and the outputs come back as bytes (:func:`~.execute.render_shipped`): workers need
    not see the run folder."""
    if not scheduler:
        return key, fn, (job, settings)
    try:
        data = Path(job.bundle_path).read_bytes()
    except OSError:  # reported by the render itself, as locally ("bundle not found")
        return key, fn, (job, settings)
    return key, render_shipped, (fn, job, settings, data)


def _tally(summary: RunSummary, key: str, result: ReportResult) -> None:
    if result.seconds is not None:
        summary.render_seconds[key] = result.seconds
    if key == OVERVIEW_KEY:
        summary.overview = "ok" if result.status == "ok" else "failed"
        summary.overview_error = result.error
    elif result.status == "ok":
        summary.rendered.append(key)
    else:
        summary.failed[key] = result.error or "failed"
        if result.failed_notebook:
            summary.failed_notebooks[key] = result.failed_notebook
