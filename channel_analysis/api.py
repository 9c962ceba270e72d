"""The Python API: each step of a quarterly run as one documented function (docs/api.md).

The same steps as the ``channel-analysis`` command, for an analyst in a notebook or a script, each
returning the result object the package already uses::

    write_run_file("exports/2026Q3")                                 # the run file fitted to an extract
    params = load_run_file(data="exports/2026Q3", period="2026Q3")   # dict: defaults <- run file <- overrides
    report = validate(params)                                        # ValidationReport
    ds = load(params)                                                # Dataset (validated, converted)
    stats = statistics(ds, params)                                   # NetworkStats
    frames = tables(stats)                                           # dict of exported DataFrames
    stats, paths = write_tables(params)                              # reports/<period>/kpis/
    summary = render(params, partners=["P0001"])                     # RunSummary
    delivery = deliver(params)                                       # DeliverySummary (dry run)

Nothing here computes anything itself: each function calls the module that owns the step
(:mod:`~channel_analysis.params`, :mod:`~channel_analysis.validation`,
:mod:`~channel_analysis.dataset`, :mod:`~channel_analysis.build`,
:mod:`~channel_analysis.exports`, :mod:`~channel_analysis.quarter`,
:mod:`~channel_analysis.delivery`), the same functions the command line calls.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from . import build, delivery, exports, quarter, starter, validation
from .bundle import BundleError, NetworkBundle
from .dataset import Dataset, load_dataset
from .delivery import DeliverySummary
from .params import choose_run_file, data_override, deep_update, load_params, user_source
from .render.jobs import PreparedRun
from .render.runner import RunSummary

__all__ = [
    "write_run_file", "load_run_file", "validate", "load", "statistics", "compute_quarter", "tables", "overview_tables",
    "write_tables", "render", "deliver", "prepare_bundle", "prepare_network_bundle",
]


def write_run_file(data: str | Path, out: str | Path | None = None, *, force: bool = False) -> Path:
    """Inspect an extract and write the run file fitted to it (``channel-analysis init``): as_of,
    period, currency, pipeline stages, the tables and KPIs it allows, each with where it came from.
    ``out`` None: ``channel-analysis.yaml`` next to the data, where :func:`load_run_file` finds it.
    Returns its path; an existing file is kept unless ``force``."""
    path, _found = starter.write(user_source(data), out, force=force)
    return path


def load_run_file(path: str | Path | None = None, *, data: str | Path | None = None, **overrides: Any) -> dict:
    """The run's parameters: ``params/defaults.yaml`` ← run file ← ``overrides``, checked.

    ``path``: the run file; None picks it as the command line does (the ``channel-analysis.yaml``
    next to ``data`` when ``data`` is given, else the sample's ``params/sample.yaml``). ``data``:
    the source (a folder, a ``.duckdb`` file or a SQLAlchemy URL; a relative path is relative to the
    current folder). ``overrides``: any parameter by its key, nested as mappings, e.g.
    ``period="2026Q3"``, ``render={"partners": ["P0001"], "pdf": False}``; a misspelled key raises
    :class:`~channel_analysis.errors.ParamsError`. Returns the plain nested ``dict`` every other
    function takes.
    """
    run_file = choose_run_file(path, data)
    extra = deep_update({}, overrides)
    if data:
        deep_update(extra, data_override(data))
    return load_params(run_file, extra)


def validate(params: Mapping[str, Any]) -> validation.ValidationReport:
    """Every problem of the source at once (``report.ok``, ``report.problems`` as a DataFrame,
    ``report.write("problems.csv")``); raises only when the source cannot be opened at all."""
    return validation.validate_source(dict(params), progress=False)


def load(params: Mapping[str, Any]) -> Dataset:
    """The validated tables, money converted to the reporting currency (``Dataset``); raises
    :class:`~channel_analysis.errors.DataValidationError` (with the problems table) on errors."""
    return load_dataset(dict(params), progress=False)


def statistics(ds: Dataset, params: Mapping[str, Any]) -> build.NetworkStats:
    """Every statistic of the quarter for the whole network, computed once (``NetworkStats``:
    ``kpis``, ``scores``, ``tier_status``, ``open_deals``, ``durations``, ``forecast`` …)."""
    return build.compute(ds, dict(params))


def compute_quarter(path: str | Path | None = None, *, data: str | Path | None = None,
                    **overrides: Any) -> build.NetworkStats:
    """Load the run file, load and validate the data and compute the quarter's statistics, in one
    call (:func:`load_run_file`, :func:`load`, :func:`statistics`); ``stats.params`` holds the
    parameters used."""
    params = load_run_file(path, data=data, **overrides)
    return statistics(load(params), params)


def tables(stats: build.NetworkStats) -> dict[str, pd.DataFrame]:
    """Every table a run exports, as DataFrames by name (``kpis``, ``segments``, ``tier_status``,
    ``stage_conversion``, ``at_risk`` …; columns in docs/exports.md), without writing any file."""
    return exports.network_tables(stats)


def overview_tables(stats: build.NetworkStats) -> NetworkBundle:
    """The network overview's tables, each in the tidy shape its figure takes (``pareto``,
    ``segment_cells``, ``movements``, ``pipeline_by_segment``, ``cycle_curves``, ``cohorts``,
    ``mdf_by_tier``, ``key_figures`` …): ``overview_tables(stats)["cycle_curves"]``."""
    return exports.network_bundle(stats)


def write_tables(params: Mapping[str, Any], out_dir: str | Path | None = None) -> tuple[build.NetworkStats, list[Path]]:
    """Compute the statistics and write the exported tables (Parquet + CSV) into
    ``reports/<period>/kpis/`` (under the run lock, swapped into place) or into ``out_dir``;
    returns the statistics and the files written (``channel-analysis kpis``)."""
    return quarter.write_tables(dict(params), out_dir)


def render(params: Mapping[str, Any], partners: Sequence[str] | None = None, *, force: bool = False) -> RunSummary:
    """The quarterly run (``channel-analysis render``): statistics, tables, bundles, then the
    scorecards of ``partners`` (None: the run file's ``render.partners``, else every reported
    partner) and the network overview; returns the run's summary (``summary.ok``,
    ``summary.manifest_path``, ``summary.format()``)."""
    params = copy.deepcopy(dict(params))  # the caller's parameters stay as they are
    if partners is not None:
        deep_update(params, {"render": {"partners": [str(p) for p in partners]}})
    return quarter.run(params, force=force, progress=False)


def deliver(params: Mapping[str, Any], send: bool = False, *, yes: bool = False, resend: bool = False) -> DeliverySummary:
    """Email each rendered scorecard of the period to its partner's contacts
    (``channel-analysis send``): a dry run into ``reports/<period>/outbox/`` unless ``send``
    (and ``yes`` to confirm); returns the delivery summary (``summary.results`` per message)."""
    return delivery.run(dict(params), send=send, yes=yes, resend=resend)


def prepare_bundle(bundle_path: str | Path, partner_id: str, period: str, *,
                   run_file: str | Path | None = None) -> Path:
    """The bundle a scorecard notebook reads, prepared when missing: returns ``bundle_path`` when
    the file exists; else the period's statistics, tables and bundles are prepared from
    ``run_file`` (None: the sample's) as a quarterly run prepares them, without rendering any page
    (:func:`channel_analysis.quarter.prepare`), and a line says so.

    This is what lets ``notebooks/partner_scorecard.py`` run in JupyterLab before any quarterly
    run. Raises :class:`~channel_analysis.bundle.BundleError` when the partner is not reported in
    the period (e.g. churned) or the run file writes its bundles elsewhere than ``bundle_path``.
    """
    path = Path(bundle_path)
    if path.is_file():
        return path
    prepared = _prepare(path, period, run_file)
    job = next((j for j in prepared.partners if j.partner_id == str(partner_id)), None)
    if job is None:
        shown = ", ".join(j.partner_id for j in prepared.partners[:5])
        raise BundleError(f"partner {partner_id} is not reported in {prepared.period} (not in the data, or not "
                          f"active): set partner_id to a reported partner, e.g. {shown}")
    return _expected(path, Path(job.bundle_path))


def prepare_network_bundle(bundle_path: str | Path, period: str, *, run_file: str | Path | None = None) -> Path:
    """The network overview's bundle, prepared when missing, as :func:`prepare_bundle` does for a
    partner's (``notebooks/network_overview.py`` in JupyterLab before any quarterly run)."""
    path = Path(bundle_path)
    if path.is_file():
        return path
    return _expected(path, Path(_prepare(path, period, run_file).network.bundle_path))


def _prepare(missing: Path, period: str, run_file: str | Path | None) -> PreparedRun:
    params = load_run_file(run_file, period=period)
    prepared = quarter.prepare(params)
    print(f"{missing} did not exist: prepared the statistics, tables and bundles of {prepared.period} from "
          f"{choose_run_file(run_file)} (a quarterly run's first step, no page rendered) in {prepared.output_dir}")
    return prepared


def _expected(wanted: Path, written: Path) -> Path:
    if wanted.resolve() != written.resolve():
        raise BundleError(f"the run file writes this bundle to {written}, not to {wanted}: set bundle_path to "
                          f"{written} (or output_dir in the run file)")
    return written
