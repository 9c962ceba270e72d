"""The units of work of a render run and their results (small, picklable dataclasses).

The statistics step (``channel_analysis.quarter.prepare``) returns a :class:`PreparedRun`: one
:class:`PartnerJob` per partner to report, plus the network bundle. Render turns each job into a
:class:`ReportResult`, the record kept in ``manifest.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ChannelAnalysisError


class RenderError(ChannelAnalysisError):
    """A render run cannot start (bad prepared run, unknown partner, run already in progress)."""


@dataclass(frozen=True)
class PartnerJob:
    """One partner's scorecard to render.

    ``bundle_path`` is a file (or folder) holding ONLY this partner's data plus anonymized
    aggregates; it is the one thing the partner's notebook reads. ``title`` becomes the HTML
    ``<title>`` (it names the partner and the period). ``name`` is shown in the internal index only.
    """

    partner_id: str
    locale: str
    bundle_path: str
    title: str
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "partner_id", str(self.partner_id))
        object.__setattr__(self, "bundle_path", str(self.bundle_path))
        if not self.partner_id:  # any other id is fine: files are named by files.safe_name(id)
            raise RenderError("a partner job has an empty partner_id")

    @classmethod
    def coerce(cls, value: PartnerJob | Mapping[str, Any]) -> PartnerJob:
        """A job from a PartnerJob or a mapping with the same keys (extra keys are an error)."""
        if isinstance(value, cls):
            return value
        try:
            return cls(**dict(value))
        except TypeError as exc:
            raise RenderError(
                f"a partner job needs partner_id, locale, bundle_path, title (and optionally name): {exc}"
            ) from None

    def parameters(self, period: str) -> dict[str, str]:
        """Exactly what papermill injects into the scorecard notebook: nothing about anyone else."""
        return {
            "partner_id": self.partner_id,
            "period": str(period),
            "bundle_path": self.bundle_path,
            "locale": self.locale,
        }


@dataclass(frozen=True)
class NetworkJob:
    """The internal network overview: one notebook over the network bundle."""

    bundle_path: str
    title: str
    locale: str = "en"

    def parameters(self, period: str) -> dict[str, str]:
        return {"period": str(period), "bundle_path": str(self.bundle_path), "locale": self.locale}


@dataclass
class PreparedRun:
    """What the statistics step hands to render.

    ``output_dir`` is the run's folder, ``params["output_dir"]/<period>``. ``fingerprint_extra`` is
    any text the statistics step wants folded into every report's fingerprint (e.g. a hash of the
    code or parameters the bundles were built with); changing it re-renders everything.
    """

    period: str
    output_dir: Path
    partners: list[PartnerJob]
    network: NetworkJob | None = None
    as_of: str | None = None
    fingerprint_extra: str = ""
    #: what the data did not allow, one line each ("gross_margin: sales.cost not provided"), for
    #: the run summary (the statistics step's ``NetworkStats.skipped``)
    data_gaps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.period = str(self.period)
        self.output_dir = Path(self.output_dir)
        self.partners = [PartnerJob.coerce(job) for job in self.partners]
        if isinstance(self.network, Mapping):
            self.network = NetworkJob(**dict(self.network))
        ids = [job.partner_id for job in self.partners]
        dupes = sorted({pid for pid in ids if ids.count(pid) > 1}) if len(set(ids)) < len(ids) else []
        if dupes:
            raise RenderError(f"prepared run lists partner ids more than once: {', '.join(dupes)}")


@dataclass(frozen=True)
class RenderSettings:
    """How to render one kind of report (picklable: sent to every worker).

    ``notebook_text`` is the jupytext py:percent source itself (so a remote worker renders exactly
    the source that was fingerprinted); ``template_dir`` the nbconvert template folder;
    ``run_dir`` the run's output folder; ``timeout`` seconds per notebook (``engine="warm"``) or
    per cell (``engine="kernel"``); ``engine`` how the notebook runs (params ``render.engine``).
    """

    notebook_text: str
    notebook_name: str
    template_dir: str
    run_dir: str
    period: str
    kernel_name: str = "python3"
    timeout: int | None = 600
    start_timeout: int = 60
    engine: str = "warm"
    pdf: bool = True


@dataclass
class ReportResult:
    """The outcome of rendering one report: one entry of ``manifest.json``.

    ``status`` is ``ok`` / ``failed`` (``pending`` while a run is rendering it); ``output`` and
    ``failed_notebook`` are relative to the run folder; ``seconds`` is the wall time of the render;
    ``error`` is "ExceptionType: message" of the failing cell, shortened.
    """

    partner_id: str | None
    status: str
    output: str | None = None
    sha256: str | None = None
    seconds: float | None = None
    error: str | None = None
    locale: str | None = None
    fingerprint: str | None = None
    failed_notebook: str | None = None
    pdf: str | None = None
    pdf_sha256: str | None = None
    skipped: bool = field(default=False, compare=False)

    def to_entry(self) -> dict:
        entry = asdict(self)
        entry.pop("skipped")
        if self.partner_id is None:
            entry.pop("partner_id")
        return entry

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> ReportResult:
        known = {k: entry.get(k) for k in (
            "partner_id", "status", "output", "sha256", "seconds", "error", "locale",
            "fingerprint", "failed_notebook", "pdf", "pdf_sha256")}
        known["status"] = known["status"] or "failed"
        return cls(**known)
