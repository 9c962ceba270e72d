"""``index.html``: the internal page of a run, every partner with status, link, seconds and error.

Internal (channel team only, never sent): it names every partner. Every value is HTML-escaped.
Self-contained like the reports: the report stylesheet is inlined, nothing is fetched.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from .export import TEMPLATE_DIR
from .manifest import OVERVIEW_KEY

_STATUS_CLASS = {"ok": "ca-green", "failed": "ca-red", "pending": "ca-amber"}


def _badge(status: str | None) -> str:
    status = status or "missing"
    return f'<span class="ca-badge {_STATUS_CLASS.get(status, "")}">{escape(status)}</span>'


def _link(output: str | None, text: str) -> str:
    if not output:
        return '<span class="ca-muted">—</span>'
    return f'<a href="{escape(quote(output))}">{escape(text)}</a>'


def _seconds(value) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else ""


def render_index(manifest: dict, *, names: dict[str, str | None], rendered: set[str],
                 title: str) -> str:
    """The index page for a manifest dict; ``names`` maps partner id → display name,
    ``rendered`` holds the keys rendered by this run (the others were unchanged)."""
    css = (TEMPLATE_DIR / "static" / "report.css").read_text(encoding="utf-8")
    reports = manifest.get("reports") or {}
    counts: dict[str, int] = {}
    for entry in reports.values():
        counts[entry.get("status")] = counts.get(entry.get("status"), 0) + 1
    rows = []
    for pid in sorted(reports):
        entry = reports[pid]
        rows.append(
            "<tr>"
            f"<td>{escape(pid)}</td>"
            f"<td>{escape(names.get(pid) or '')}</td>"
            f"<td>{_badge(entry.get('status'))}</td>"
            f"<td>{_link(entry.get('output'), 'scorecard')}</td>"
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
<h2>Network overview</h2>
<p>{_badge(ov.get('status'))} {_link(ov.get('output'), 'network overview')}
{escape(ov.get('error') or '')}</p>
<h2>Partner scorecards</h2>
<div class="ca-scroll">
<table class="ca-table">
<thead><tr><th>Partner id</th><th>Name</th><th>Status</th><th>Report</th><th>This run</th><th>Seconds</th><th>Error</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</div>
</main>
</body>
</html>
"""

