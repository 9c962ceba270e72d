"""The quarterly run, start to end: load → validate → statistics → tables → bundles → pages → index.

This module owns the quarter: it is the only one that calls each step, in that order, and each step
only reads what the previous ones wrote. :mod:`channel_analysis.render` renders the
:class:`~channel_analysis.render.jobs.PreparedRun` it is given and never imports the statistics;
delivery later reads what the run wrote (manifest, tables, snapshots), never the raw source.

- :func:`prepare`: the statistics step — validated data, every statistic once, the open tables under
  ``reports/<period>/kpis/``, one bundle per reported partner and the network bundle under ``.work/``;
  returns the render jobs.
- :func:`run`: ``prepare`` then render (``channel-analysis render`` / ``make reports``).
- :func:`write_tables`: the tables alone (``channel-analysis kpis`` / ``make kpis``).

Nothing another run reads is ever half-written or mixed from two runs: the run lock
(:mod:`channel_analysis.runlock`) is taken before anything is written, and the tables and bundles
are written into a staging folder of the run folder (``.staging-*``) and swapped into place
(``kpis/``, ``.work/``) only once all of them are complete (:func:`channel_analysis.files.publish`).
A run refused by the lock writes nothing; a run that fails before the swap leaves the previous
tables and bundles as they were. Bundle file names are :func:`channel_analysis.files.safe_name`
of the partner id, never the id itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from . import build, bundle, exports, render
from .dataset import load_dataset
from .files import clear_staging, publish, safe_name, sha256_bytes, staging
from .i18n import pick_locale, translator
from .render.jobs import NetworkJob, PartnerJob, PreparedRun
from .render.runner import RunSummary
from .runlock import run_lock

#: The run folder's subfolder holding the bundles the notebooks read (replaced whole by each run).
WORK = ".work"


def _fingerprint(params: Mapping[str, Any]) -> str:
    """A hash of the parameters that shape the statistics (folded into every report fingerprint)."""
    relevant = {k: v for k, v in params.items() if k not in ("render", "delivery", "output_dir")}
    return sha256_bytes(json.dumps(relevant, sort_keys=True, default=str))


def prepare(params: Mapping[str, Any], stats: build.NetworkStats | None = None) -> PreparedRun:
    """Validate, compute once, write the tables and one bundle per reported partner; return the jobs.

    ``stats`` (already computed for these parameters) skips loading and computing. Holds the run
    lock (taken first; re-entrant when :func:`run` holds it) and writes ``kpis/`` and ``.work/``
    through a staging folder swapped into place when complete (module docstring).
    """
    out = build.run_dir(params)
    with run_lock(out, str(params["period"])):
        if stats is None:
            stats = build.compute(load_dataset(params), params, progress=True)
        ds = stats.dataset
        tables = exports.network_tables(stats)
        wanted = params["render"].get("partners")
        jobs = []
        clear_staging(out)  # left by a killed run; this process holds the lock
        with staging(out) as stage:
            exports.write_exports(tables, stage / exports.SUBDIR)
            for b in build.partner_bundles(stats, wanted, progress=True):
                name = f"{safe_name(b.partner_id)}.bundle"
                bundle.save(b, stage / WORK / "partners" / name)
                locale = pick_locale(b.partner.get("locale"), params["locale"]["fallback"])
                title = translator(locale).gettext("Partner scorecard — {name} — {period}")
                jobs.append(PartnerJob(partner_id=b.partner_id, locale=locale,
                                       bundle_path=str(out / WORK / "partners" / name),
                                       title=title.format(name=b.partner["name"], period=ds.period),
                                       name=b.partner["name"]))
            bundle.save(exports.network_bundle(stats, tables), stage / WORK / "network.bundle")
            publish(stage, out, [exports.SUBDIR, WORK])
    return PreparedRun(
        period=ds.period, output_dir=out, partners=jobs, as_of=str(ds.as_of),
        network=NetworkJob(bundle_path=str(out / WORK / "network.bundle"), locale=params["locale"]["network"],
                           title=translator(params["locale"]["network"]).gettext(
                               "Channel network overview — {period}").format(period=ds.period)),
        fingerprint_extra=_fingerprint(params),
        data_gaps=tuple(f"{row.item}: {row.reason}" for row in stats.skipped.itertuples(index=False)),
    )


def run(params: Mapping[str, Any], *, force: bool = False, scheduler: str | None = None,
        progress: bool | None = None, scorecard_notebook: str | Path | None = None,
        overview_notebook: str | Path | None = None) -> RunSummary:
    """The whole quarterly run: :func:`prepare`, then render every scorecard that is missing, failed
    or out of date and the overview (see :func:`channel_analysis.render.run`), all under the run
    lock, taken first: a second run of the same period fails at once and changes nothing."""
    with run_lock(build.run_dir(params), str(params["period"])):  # before anything is read or written
        prepared = prepare(params)
        summary = render.run(prepared, params.get("render") or {}, force=force, scheduler=scheduler,
                             progress=progress, scorecard_notebook=scorecard_notebook,
                             overview_notebook=overview_notebook)
    summary.data_gaps = list(prepared.data_gaps)
    return summary


def write_tables(params: Mapping[str, Any], out_dir: str | Path | None = None) -> tuple[build.NetworkStats, list[Path]]:
    """Compute the statistics and write the exported tables; returns the statistics and the paths.

    Into the run's ``kpis/`` (``out_dir`` None or that folder): under the run lock, taken first,
    and through a staging folder swapped into place, as in :func:`prepare` (a running render or
    send of the period makes it stop at once, having written nothing). Into any other folder:
    written there directly.
    """
    out = build.run_dir(params)
    target = Path(out_dir) if out_dir is not None else out / exports.SUBDIR
    if target.resolve() != (out / exports.SUBDIR).resolve():
        stats = build.compute(load_dataset(params), params, progress=True)
        return stats, exports.write_exports(exports.network_tables(stats), target)
    with run_lock(out, str(params["period"]), action="write the tables of"):
        stats = build.compute(load_dataset(params), params, progress=True)
        clear_staging(out)
        with staging(out) as stage:
            written = exports.write_exports(exports.network_tables(stats), stage / exports.SUBDIR)
            publish(stage, out, [exports.SUBDIR])
    return stats, [out / exports.SUBDIR / path.name for path in written]
