"""Executes the notebooks per partner and writes the HTML reports, manifest and index.

Modules, one job each:
  jobs         PartnerJob / NetworkJob / PreparedRun (the seam with the statistics step),
               RenderSettings, ReportResult (a manifest entry), RenderError
  runner       run(): what is out of date, dispatch, record, summary (RunSummary)
  execute      render_partner / render_overview: the per-report work in a worker process
  export       executed notebook -> self-contained HTML (project template), leak/URL guards
  executors    local process pool or Dask distributed cluster
  fingerprint  hashes of what a report depends on (re-runs skip unchanged reports)
  manifest     manifest.json, kept current (journal) while the run goes on
  index_page   the internal index.html (reports, languages, recipients, delivery state)
  pdf          the scorecard as a print-quality PDF (WeasyPrint, offline)
(atomic writes and file hashes: channel_analysis.files)
"""

from .execute import render_overview, render_partner
from .jobs import NetworkJob, PartnerJob, PreparedRun, RenderError, RenderSettings, ReportResult
from .runner import RunSummary, run

__all__ = [
    "NetworkJob", "PartnerJob", "PreparedRun", "RenderError", "RenderSettings", "ReportResult",
    "RunSummary", "render_overview", "render_partner", "run",
]
