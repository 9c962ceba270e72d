"""``index.html``: the internal page of a run, every partner with its report, language, recipients
and delivery state.

Internal (channel team only, never sent): it names every partner. Every value is HTML-escaped.
Self-contained like the reports: the report stylesheet is inlined, nothing is fetched. The render run
writes it; the delivery step writes it again with each partner's delivery state
(:func:`write_index` with ``delivery``). It flags what needs a person: a failed report, a partner
with no recipient, a language without a catalog (its partners read English).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ..files import write_atomic
from ..i18n import text_language
from .export import TEMPLATE_DIR
from .manifest import OVERVIEW_KEY

INDEX = "index.html"
#: The run's snapshot of its partners and recipients (written by the statistics step, exports.py).
SNAPSHOT = ("kpis/partners.parquet", "kpis/recipients.parquet")

_STATUS_CLASS = {"ok": "ca-green", "failed": "ca-red", "pending": "ca-amber"}


def _badge(status: str | None) -> str:
    status = status or "missing"
    return f'<span class="ca-badge {_STATUS_CLASS.get(status, "")}">{escape(status)}</span>'


def _link(output: str | None, text: str) -> str:
    if not output:
        return '<span class="ca-muted">—</span>'
    return f'<a href="{escape(quote(output))}">{escape(text)}</a>'


def _flags(no_recipient: list[str], english: list[str], names: dict) -> str:
    """The notes a channel manager acts on before anything is sent."""
    out = []
    if no_recipient:
        who = ", ".join(f"{escape(names.get(p) or p)} ({escape(p)})" for p in sorted(no_recipient)[:20])
        more = f" and {len(no_recipient) - 20} more" if len(no_recipient) > 20 else ""
        out.append(f'<p class="ca-note">{len(no_recipient)} partners have no scorecard recipient '
                   f"(partner_contacts.receives_scorecard): {who}{more}. They get no email.</p>")
    if english:
        out.append(f'<p class="ca-note">{len(english)} partners have a language without a catalog: their '
                   "scorecard and email are in English (docs/i18n.md: adding a language).</p>")
    return "".join(out)


def _seconds(value) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else ""


def _snapshot(run_dir: Path) -> tuple[dict, dict]:
    """{partner_id: name}, {partner_id: recipients with receives_scorecard} from the run's snapshot
    ({} when the statistics step did not write it)."""
    names, recipients = {}, {}
    partners_path, recipients_path = (run_dir / rel for rel in SNAPSHOT)
    if partners_path.is_file():
        p = pd.read_parquet(partners_path, columns=["partner_id", "name"])
        names = dict(zip(p["partner_id"].astype(str), p["name"]))
    if recipients_path.is_file():
        r = pd.read_parquet(recipients_path)
        r = r[r["receives_scorecard"].astype(bool)]
        recipients = r.groupby(r["partner_id"].astype(str))["email"].nunique().to_dict()
    return names, recipients


def write_index(run_dir: str | Path, *, rendered: set[str] = frozenset(), names: dict | None = None,
                delivery: dict[str, str] | None = None) -> Path:
    """Write ``index.html`` of a run folder from its manifest and snapshot; ``rendered`` holds the
    keys rendered by this run, ``names`` partner id → name (default: the snapshot's), ``delivery``
    partner id → its delivery state in words."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    known, recipients = _snapshot(run_dir)
    names = {**known, **(names or {})}
    title = f"Partner scorecards {manifest.get('period')}: run index"
    return write_atomic(run_dir / INDEX, render_index(manifest, names=names, rendered=set(rendered), title=title,
                                                      recipients=recipients, delivery=delivery))


def render_index(manifest: dict, *, names: dict[str, str | None], rendered: set[str], title: str,
                 recipients: dict[str, int] | None = None, delivery: dict[str, str] | None = None) -> str:
    """The index page for a manifest dict; ``names`` maps partner id → display name,
    ``rendered`` holds the keys rendered by this run (the others were unchanged), ``recipients``
    partner id → number of scorecard recipients, ``delivery`` partner id → delivery state."""
    css = (TEMPLATE_DIR / "static" / "report.css").read_text(encoding="utf-8")
    reports = manifest.get("reports") or {}
    recipients = recipients or {}
    delivery = delivery or {}
    no_recipient = [pid for pid in reports if recipients.get(pid, 0) == 0]
    locales = {pid: e.get("locale") if isinstance(e.get("locale"), str) else "" for pid, e in reports.items()}
    english = [pid for pid, loc in locales.items()
               if loc and loc.split("_")[0] != "en" and text_language(loc) == "en"]
    counts: dict[str, int] = {}
    for entry in reports.values():
        counts[entry.get("status")] = counts.get(entry.get("status"), 0) + 1
    rows = []
    for pid in sorted(reports):
        entry = reports[pid]
        lang = escape(locales[pid]) + (' <span class="ca-badge ca-amber">no catalog: English</span>'
                                 if pid in english else "")
        n = recipients.get(pid, 0)
        who = str(n) if n else '<span class="ca-badge ca-red">none</span>'
        rows.append(
            "<tr>"
            f"<td>{escape(pid)}</td>"
            f"<td>{escape(names.get(pid) or '')}</td>"
            f"<td>{_badge(entry.get('status'))}</td>"
            f"<td>{_link(entry.get('output'), 'HTML')} {_link(entry.get('pdf'), 'PDF') if entry.get('pdf') else ''}</td>"
            f"<td>{lang}</td><td>{who}</td><td>{escape(delivery.get(pid, 'not yet'))}</td>"
            f"<td>{'rendered' if pid in rendered else 'unchanged'}</td>"
            f"<td>{_seconds(entry.get('seconds'))}</td>"
            f"<td>{escape(entry.get('error') or '')}"
            + (f" ({_link(entry.get('failed_notebook'), 'notebook')})" if entry.get("failed_notebook") else "")
            + "</td></tr>"
        )
    ov = manifest.get(OVERVIEW_KEY) or {}
    summary = ", ".join(f"{n} {escape(str(s))}" for s, n in sorted(counts.items(), key=lambda kv: str(kv[0])))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{escape(title)}</title>
<style type="text/css">
{css}
</style>
</head>
<body class="ca-report">
<main class="ca-page">
<div class="ca-header"><h1>{escape(title)}</h1>
<div class="ca-meta"><span>period {escape(str(manifest.get('period') or ''))}</span>
<span>as of {escape(str(manifest.get('as_of') or ''))}</span>
<span>{len(reports)} partners: {summary or 'none'}</span></div></div>
<p>Internal page: it lists every partner. Never send it to a partner.</p>
{_flags(no_recipient, english, names)}
<h2>Network overview</h2>
<p>{_badge(ov.get('status'))} {_link(ov.get('output'), 'network overview')}
{escape(ov.get('error') or '')}</p>
<h2>Partner scorecards</h2>
<div class="ca-scroll">
<table class="ca-table">
<thead><tr><th>Partner id</th><th>Name</th><th>Status</th><th>Report</th><th>Language</th><th>Recipients</th><th>Delivery</th><th>This run</th><th>Seconds</th><th>Error</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</div>
</main>
</body>
</html>
"""

