"""HTML building blocks of the reports: sections, notes, tiles, tables and embedded figures.

Each block is an :class:`Html` object; a notebook cell that returns one shows it (``_repr_html_``),
and nbconvert copies it into the report unchanged. Blocks are plain, semantic HTML with the small
``ca-`` class vocabulary the report template styles (see ``CSS_CLASSES``); figures are embedded PNGs
(``data:`` URIs), so a report needs no external resource; a chart comes in two renderings, one
for screens up to 600 CSS px wide (phones: text stays legible) and one for wider screens and print. Every piece of data that reaches markup
(partner names, categories, stage names, any text) is escaped here: ``Smith & Sons <Pro>`` shows as
text, never as markup.

In a notebook (JupyterLab) a table block is a :class:`Table`: it shows as the page's table and
holds it as a DataFrame (``.frame``, ``.styler()``); :func:`lab_stylesheet` shows the page's styles
there, so the blocks look as on the page.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import pandas as pd

from .i18n import N_
from .resources import package_folder
from .markup import Html, esc, fill, tagged  # noqa: F401  (re-exported: blocks.tagged, blocks.fill)
from .plots import DPI, PHONE_DPI, fit, phone_layout

#: What the scorecard and the overview say when the reported quarter is incomplete (the data end
#: more than ``kpis.partial_quarter_days`` before its last day; build: ``data_end``).
PARTIAL_QUARTER = N_("The data for {quarter} end on {date}, before the quarter is over: growth, at-risk flags "
                     "and the forecast are not reported for this quarter.")

#: What an account's segment move asks of its serving partner (``accounts.ACTIONS`` codes → words;
#: the scorecard and the overview show them; pages never import the statistics, tests check the two agree).
ACCOUNT_ACTIONS = {
    "hand_over": N_("Hand the account over to our team"),
    "receive": N_("Take over the account"),
    "change_coverage": N_("Cover the account under its new model"),
    "no_change": N_("No change in who covers the account"),
}
#: An account's segment move (``account_moves.change``) → words.
ACCOUNT_CHANGE = {"promoted": N_("Moved up"), "relegated": N_("Moved down")}

#: The classes the blocks use, for the template's CSS.
CSS_CLASSES = {
    "ca-header": "report header block; its <dl class=\"ca-meta\"> holds the partner facts",
    "ca-meta": "definition list of facts under the title (dt/dd pairs)",
    "ca-subtitle": "partner name under the title",
    "ca-section": "a section: <h2 class=\"ca-section-title\"> and its intro",
    "ca-intro": "short paragraph (or list) explaining a section to a partner",
    "ca-tiles": "grid of KPI tiles",
    "ca-tile": "one KPI tile; with ca-green | ca-amber | ca-red | ca-nodata",
    "ca-tile-label": "tile: KPI name",
    "ca-tile-value": "tile: the actual value (large)",
    "ca-tile-target": "tile: target and attainment",
    "ca-tile-status": "tile: wrapper of the status badge (words, readable in black and white)",
    "ca-badge": "status in words; with ca-green | ca-amber | ca-red | ca-nodata",
    "ca-figure": "<figure> of a chart (<picture>: a phone <source> and img.ca-img) or a table, with its caption",
    "ca-caption": "<figcaption>: the one sentence saying what the figure/table shows",
    "ca-table": "a data table; cells with ca-num are numbers (right-aligned)",
    "ca-num": "numeric table cell / header",
    "ca-scroll": "sideways-scrolling wrapper of a table (phones)",
    "ca-note": "a short note; with ca-note-lowsample (few observations) or ca-note-unavailable (no data)",
    "ca-partial": "with ca-note: the header's line saying the reported quarter is incomplete and where its data end",
    "ca-focus": "ordered list of focus items for next quarter",
    "ca-glossary": "definition list (dt/dd) of terms at the end of the report",
    "ca-value": "a shown KPI value; its data-* attributes say which table cell it is (see tagged())",
}


def join(*blocks: Html | str | None) -> Html:
    """Several blocks as one (None entries skipped)."""
    return Html("".join(str(b) for b in blocks if b is not None))


def section(title: str, intro: str | None = None, level: int = 2) -> Html:
    """A section heading with an optional one-paragraph introduction."""
    body = f'<h{level} class="ca-section-title">{esc(title)}</h{level}>'
    if intro:
        body += f'<p class="ca-intro">{esc(intro)}</p>'
    return Html(f'<div class="ca-section">{body}</div>')


def paragraph(text: str, cls: str = "ca-intro") -> Html:
    return Html(f'<p class="{cls}">{esc(text)}</p>')


def note(text: str, kind: str = "info") -> Html:
    """A short note; ``kind`` "lowsample" (few observations) or "unavailable" (no data) adds a class."""
    extra = f" ca-note-{kind}" if kind != "info" else ""
    return Html(f'<p class="ca-note{extra}">{esc(text)}</p>')


@dataclass(frozen=True)
class Tile:
    """One KPI tile: label, formatted value, target line, status ("green" | "amber" | "red" | "no_data")."""

    label: str
    value: str
    detail: str = ""
    status: str = "no_data"
    status_text: str = ""
    note: str = ""
    trend: Sequence[float] = ()
    trend_label: str = ""


def tiles(items: Sequence[Tile]) -> Html:
    """A row of KPI tiles; the status is both a colour class and words (readable in print)."""
    parts = []
    for t in items:
        status = t.status if t.status in ("green", "amber", "red") else "nodata"
        inner = (
            f'<div class="ca-tile-label">{esc(t.label)}</div>'
            f'<div class="ca-tile-value">{esc(t.value)}</div>'
        )
        if len(t.trend) >= 2:
            inner += sparkline(t.trend, t.trend_label)
        if t.detail:
            inner += f'<div class="ca-tile-target">{esc(t.detail)}</div>'
        if t.status_text:
            inner += f'<div class="ca-tile-status"><span class="ca-badge ca-{status}">{esc(t.status_text)}</span></div>'
        if t.note:
            inner += f'<div class="ca-note ca-note-lowsample">{esc(t.note)}</div>'
        parts.append(f'<div class="ca-tile ca-{status}">{inner}</div>')
    return Html(f'<div class="ca-tiles">{"".join(parts)}</div>')


def sparkline(values: Sequence[float], label: str, width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG line of the last quarters (missing quarters leave a gap), the last point
    marked; ``label`` is its accessible description. No script, no external resource."""

    vals = [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]
    known = [v for v in vals if v is not None]
    if len(known) < 2:
        return ""
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    step = (width - 6) / (len(vals) - 1)
    pts = [(3 + i * step, height - 3 - (v - lo) / span * (height - 6)) if v is not None else None
           for i, v in enumerate(vals)]
    runs, run = [], []
    for pt in pts + [None]:
        if pt is None:
            if len(run) > 1:
                runs.append(run)
            run = []
        else:
            run.append(pt)
    lines = "".join('<polyline fill="none" stroke="currentColor" stroke-width="1.6" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in r) + '"/>' for r in runs)
    last = next((pt for pt in reversed(pts) if pt is not None), None)
    dot = f'<circle cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.4" fill="currentColor"/>' if last else ""
    return (f'<svg class="ca-spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{esc(label)}">{lines}{dot}</svg>')


_NUM = ' class="ca-num"'
_DATA_VALUE = re.compile(r'data-value="([^"]*)"')


def _cell_value(cell: Any) -> Any:
    """The value behind a shown cell: the exact number of a tagged value (:func:`tagged`; NaN when
    it has none), else the cell's text."""
    if isinstance(cell, Html):
        found = _DATA_VALUE.search(cell.markup)
        if found:
            return float(found.group(1)) if found.group(1) else math.nan
        return cell.text
    return cell


class Table(Html):
    """A table block: shows as the report's table (``_repr_html_``, the same markup as the page),
    and holds its content for the analyst.

    ``frame``: the table as a DataFrame, one column per shown column (named by its header), the
    exact number behind every tagged value (:func:`tagged`) and the text of every other cell;
    ``shown``: the same cells as the page shows them (text); :meth:`styler`: a pandas Styler of
    ``frame`` that displays the page's texts (``styler().data`` is ``frame``).
    """

    __slots__ = ("frame", "shown", "caption")

    def __init__(self, markup: str, frame: pd.DataFrame, shown: pd.DataFrame, caption: str):
        super().__init__(markup)
        self.frame = frame
        self.shown = shown
        self.caption = caption

    def styler(self):
        """``frame`` styled as the page shows it: each cell displays its formatted text, the
        caption above, no index; sort or filter ``frame`` and style the result again."""
        if not self.frame.columns.is_unique:
            return self.shown.style.hide(axis="index").set_caption(self.caption)
        texts = {col: dict(zip(map(_key, self.frame[col]), self.shown[col])) for col in self.frame.columns}
        formats = {col: (lambda v, m=texts[col]: m.get(_key(v), "" if v is None else str(v))) for col in texts}
        return (self.frame.style.format(formats).hide(axis="index").set_caption(self.caption)
                .set_table_attributes('class="ca-table"'))


def _key(value: Any) -> Any:
    """A dictionary key for a cell value (every NaN the same key)."""
    return "__nan__" if isinstance(value, float) and value != value else value


def table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, bool]], caption: str,
          notes: Iterable[Html] = (), grid: bool = False) -> Table:
    """A table of already formatted cells (a :class:`Table`: shows as HTML, holds its DataFrame).

    ``columns`` lists (column in ``frame``, header label, numeric?) in display order; numeric cells
    are right-aligned. The caption is the sentence saying what the table shows. ``grid``: internal
    pages only — the table can be sorted (click a header) and filtered (:func:`grid_script`).
    """
    head = "".join(
        f'<th scope="col"{_NUM if num else ""}>{esc(label)}</th>' for _, label, num in columns
    )
    records = list(frame[[c for c, _, _ in columns]].itertuples(index=False, name=None))
    rows = []
    for record in records:
        cells = "".join(
            f'<td{_NUM if num else ""}>{esc(v)}</td>' for v, (_, _, num) in zip(record, columns)
        )
        rows.append(f"<tr>{cells}</tr>")
    body = "".join(rows)
    extra = "".join(str(n) for n in notes)
    labels = [label for _, label, _ in columns]
    values = pd.DataFrame([[_cell_value(v) for v in r] for r in records], columns=labels)
    shown = pd.DataFrame([[v.text if isinstance(v, Html) else ("" if v is None else str(v)) for v in r]
                          for r in records], columns=labels)
    return Table(
        f'<figure class="ca-figure ca-table-figure"><figcaption class="ca-caption">{esc(caption)}</figcaption>'
        f'<div class="ca-scroll"><table class="ca-table{" ca-grid" if grid else ""}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{extra}</figure>",
        values.infer_objects(), shown, str(caption),
    )


def png_bytes(fig_or_ax: Any, dpi: int = 100, colors: int | None = 256) -> bytes:
    """The figure (or the figure of an Axes) as PNG bytes; deterministic (no metadata).

    One draw: the figure keeps its size (in inches, times ``dpi``) and is laid out beforehand by
    :func:`channel_analysis.plots.fit` (a figure with a layout engine is laid out by it while drawn).
    ``colors``: the image is stored with a palette of at most that many colours (charts use few; about
    a third of the bytes of true colour, as fast to encode); None keeps true colour (RGB, or RGBA when
    the figure's background is transparent).
    """
    from PIL import Image

    if isinstance(fig_or_ax, (list, tuple)):
        fig_or_ax = fig_or_ax[0]
    fig = fig_or_ax if hasattr(fig_or_ax, "savefig") else fig_or_ax.figure
    fit(fig)
    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    canvas = fig.canvas
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if fig.patch.get_visible() and fig.get_facecolor()[3] >= 1:
        image = image.convert("RGB")  # opaque background: no alpha channel to store
    if colors:
        image = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    image.save(buf, format="png")
    return buf.getvalue()


#: The media query under which a report shows a chart's phone rendering.
PHONE_MEDIA = "(max-width: 600px)"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(fig_or_ax: Any, caption: str | Html, alt: str | None = None, notes: Iterable[Html] = (),
           dpi: int = 100, phone: bool = True) -> Html:
    """A chart embedded as a PNG data URI, with its one-sentence caption and any notes.

    ``phone``: the chart also comes re-laid out for a phone (:func:`channel_analysis.plots.phone_layout`:
    narrower, same text sizes, drawn at ``PHONE_DPI``), shown by a ``<picture>`` on screens up to
    600 CSS px wide, so that its text stays at least 9 CSS px high there. Wider screens and print
    show the figure as it was drawn. The figure is left in its phone layout.
    """
    fig = fig_or_ax[0] if isinstance(fig_or_ax, (list, tuple)) else fig_or_ax
    fig = fig if hasattr(fig, "savefig") else fig.figure
    wide = png_bytes(fig, dpi=dpi)
    w, h = (round(v * DPI) for v in fig.get_size_inches())
    source = ""
    if phone:
        phone_layout(fig)
        narrow = png_bytes(fig, dpi=PHONE_DPI)
        pw, ph = (round(v * DPI) for v in fig.get_size_inches())
        source = (f'<source media="{PHONE_MEDIA}" srcset="{_data_uri(narrow)} {PHONE_DPI / DPI:g}x" '
                  f'width="{pw}" height="{ph}"/>')
    text = alt or (caption.text if isinstance(caption, Html) else caption)
    extra = "".join(str(n) for n in notes)
    return Html(
        f'<figure class="ca-figure"><picture>{source}<img class="ca-img" src="{_data_uri(wide)}" '
        f'alt="{esc(text)}" width="{w}" height="{h}"/></picture>'
        f'<figcaption class="ca-caption">{esc(caption)}</figcaption>{extra}</figure>'
    )


def ordered_list(items: Sequence[str], cls: str = "ca-focus") -> Html:
    body = "".join(f"<li>{esc(i)}</li>" for i in items)
    return Html(f'<ol class="{cls}">{body}</ol>')


def definitions(pairs: Sequence[tuple[str, str]], cls: str = "ca-glossary") -> Html:
    """A definition list (term, definition)."""
    body = "".join(f"<dt>{esc(t)}</dt><dd>{esc(d)}</dd>" for t, d in pairs)
    return Html(f'<dl class="{cls}">{body}</dl>')


#: Sorting and filtering of ``table.ca-grid`` (internal pages only: partner pages carry no script).
#: Numbers sort by their exact value (a tagged cell's data-value), text alphabetically.
_GRID_JS = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('table.ca-grid').forEach(function (table) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var input = document.createElement('input');
    input.type = 'search'; input.className = 'ca-filter'; input.placeholder = FILTER;
    input.setAttribute('aria-label', FILTER);
    input.addEventListener('input', function () {
      var q = input.value.toLowerCase();
      rows.forEach(function (r) { r.hidden = q && r.textContent.toLowerCase().indexOf(q) < 0; });
    });
    table.parentNode.parentNode.insertBefore(input, table.parentNode);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0; th.style.cursor = 'pointer'; th.setAttribute('aria-sort', 'none');
      var sort = function () {
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        var key = function (r) {
          var c = r.cells[i], v = c.querySelector('[data-value]');
          if (v && v.dataset.value !== '') return parseFloat(v.dataset.value);
          return c.textContent.trim().toLowerCase();
        };
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
          return dir * String(x).localeCompare(String(y));
        });
        rows.forEach(function (r) { body.appendChild(r); });
        Array.prototype.forEach.call(th.parentNode.cells, function (o) { o.setAttribute('aria-sort', 'none'); });
        th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sort(); });
    });
  });
});
"""


def grid_script(filter_label: str) -> Html:
    """The inline script that makes ``table.ca-grid`` sortable and filterable (internal pages)."""
    label = json.dumps(str(filter_label)).replace("</", "<\\/")
    return Html(f"<script>var FILTER = {label};{_GRID_JS}</script>")


#: The report's stylesheet, shipped with the nbconvert template that renders the pages.
STYLESHEET = ("templates", "scorecard", "static", "report.css")
_PAGE_ONLY = re.compile(r"^\s*(@page|@media\s+print)")


def lab_stylesheet() -> Html:
    """The report's styles as a ``<style>`` block for a notebook (JupyterLab): a cell showing it
    makes every block below look as on the page (tiles, badges, tables, notes, figures).

    Only the rules of the report's own ``ca-`` classes (and its colour variables) are kept: the
    page-wide rules of the stylesheet (body, headings, JupyterLab's cell classes, print) would
    restyle JupyterLab itself. The rendered pages carry the whole stylesheet through the template.
    """
    css = package_folder(STYLESHEET[0]).joinpath(*STYLESHEET[1:]).read_text(encoding="utf-8")
    return Html(f'<style class="ca-lab-style">{_ca_rules(css)}</style>')


def _ca_rules(css: str) -> str:
    """The rules of ``css`` whose selectors name a ``ca-`` class (selector lists cut down to those;
    not ``body.ca-report``), plus ``:root`` (the colour variables); ``@media`` blocks other than print filtered the same way."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out, depth, start, head = [], 0, 0, ""
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                head, start = css[start:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                body = css[start:i]
                if head.startswith("@media") and not _PAGE_ONLY.match(head):
                    inner = _ca_rules(body)
                    if inner:
                        out.append(f"{head}{{{inner}}}")
                elif not head.startswith("@"):
                    kept = [sel.strip() for sel in head.split(",")
                            if ("ca-" in sel and not sel.strip().startswith(("body", "html")))
                            or sel.strip() == ":root"]
                    if kept:
                        out.append(f"{', '.join(kept)}{{{body.strip()}}}")
                start = i + 1
    return "\n".join(out)
