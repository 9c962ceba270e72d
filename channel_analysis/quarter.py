"""The quarterly run, start to end: load → validate → statistics → tables → bundles → pages → index.

This module owns the quarter: it is the only one that calls each step, in that order, and each step
only reads what the previous ones wrote. :mod:`channel_analysis.render` renders the
:class:`~channel_analysis.render.jobs.PreparedRun` it is given and never imports the statistics;
delivery later reads what the run wrote (manifest, tables, snapshots), never the raw source.

- :func:`prepare`: the statistics step — validated data, every statistic once, the open tables under
  ``reports/<period>/kpis/``, one bundle per reported partner and the network bundle under ``.work/``;
  returns the render jobs.
- :func:`run`: ``prepare`` then render (``channel-analysis render`` / ``make reports``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from . import build, bundle, exports, render
from .dataset import load_dataset
from .files import sha256_bytes
from .i18n import pick_locale, translator
from .render.jobs import NetworkJob, PartnerJob, PreparedRun
from .render.runner import RunSummary


def _fingerprint(params: Mapping[str, Any]) -> str:
    """A hash of the parameters that shape the statistics (folded into every report fingerprint)."""
    relevant = {k: v for k, v in params.items() if k not in ("render", "delivery", "output_dir")}
    return sha256_bytes(json.dumps(relevant, sort_keys=True, default=str))


def prepare(params: Mapping[str, Any], stats: build.NetworkStats | None = None) -> PreparedRun:
    """Validate, compute once, write the tables and one bundle per reported partner; return the jobs.

    ``stats`` (already computed for these parameters) skips loading and computing.
    """
    if stats is None:
        stats = build.compute(load_dataset(params), params, progress=True)
    ds = stats.dataset
    out = build.run_dir(params)
    tables = exports.network_tables(stats)
    exports.write_exports(tables, out / exports.SUBDIR)
    work = out / ".work"
    wanted = params["render"].get("partners")
    jobs = []
    for b in build.partner_bundles(stats, wanted, progress=True):
        path = bundle.save(b, work / "partners" / f"{b.partner_id}.bundle")
        locale = pick_locale(b.partner.get("locale"), params["locale"]["fallback"])
        title = translator(locale).gettext("Partner scorecard — {name} — {period}")
        jobs.append(PartnerJob(partner_id=b.partner_id, locale=locale, bundle_path=str(path),
                               title=title.format(name=b.partner["name"], period=ds.period),
                               name=b.partner["name"]))
    net = bundle.save(exports.network_bundle(stats, tables), work / "network.bundle")
    return PreparedRun(
        period=ds.period, output_dir=out, partners=jobs, as_of=str(ds.as_of),
        network=NetworkJob(bundle_path=str(net), locale=params["locale"]["network"],
                           title=translator(params["locale"]["network"]).gettext(
                               "Channel network overview — {period}").format(period=ds.period)),
        fingerprint_extra=_fingerprint(params),
        data_gaps=tuple(f"{row.item}: {row.reason}" for row in stats.skipped.itertuples(index=False)),
    )


def run(params: Mapping[str, Any], *, force: bool = False, scheduler: str | None = None,
        progress: bool | None = None, scorecard_notebook: str | Path | None = None,
        overview_notebook: str | Path | None = None) -> RunSummary:
    """The whole quarterly run: :func:`prepare`, then render every scorecard that is missing, failed
    or out of date and the overview (see :func:`channel_analysis.render.run`)."""
    prepared = prepare(params)
    summary = render.run(prepared, params.get("render") or {}, force=force, scheduler=scheduler,
                         progress=progress, scorecard_notebook=scorecard_notebook,
                         overview_notebook=overview_notebook)
    summary.data_gaps = list(prepared.data_gaps)
    return summary
