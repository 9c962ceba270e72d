"""Figures of the reports: tidy data in, a matplotlib Axes out, drawn with seaborn.

Every function takes a tidy DataFrame first, its column names as keywords, an optional ``ax`` to
draw on, and ``locale``/``currency`` for the tick labels (Babel formats: "1,2 M €" in French). It
returns the Axes (a list of Axes for small multiples) and never shows, saves or closes anything:
:func:`channel_analysis.blocks.figure` embeds a figure in a report.

Look: seaborn's "whitegrid" style, "paper" context and "deep" palette (:data:`PALETTE`). Lines are
``sns.lineplot``, heatmaps ``sns.heatmap``; bars are drawn on the seaborn-styled Axes with
matplotlib (stacked, paired and per-bar-coloured bars have no seaborn equivalent, and
``sns.barplot`` costs several times a plain bar chart). The theme is applied per figure, never
globally: each plot function runs inside :func:`theme` (an ``rc_context`` restored on return), and
:func:`style` sets the same look on the Axes itself (spines, grid, tick labels), so an Axes created
elsewhere gets it too and ticks created later at draw time keep it. seaborn imports scipy (about a
second): the warm fork server of a render run (``render/warm.py``) pays that once per run.

Legibility: all text is at least :data:`MIN_FONT_PT` points, legends sit above the plot area
(never over a bar or a line), tick labels never overlap (:func:`fit` thins or re-spaces them) and
adjacent tick labels are never equal (:class:`_Ticks` adds decimals when the default precision
would repeat a label: 98.5%, 99.0%, 99.5%, not 98%, 99%, 99%). :func:`phone_layout` re-lays a
figure out for a phone (:data:`PHONE_WIDTH` inches, small multiples in one column): drawn at
:data:`PHONE_DPI` and shown about :data:`PHONE_CSS_WIDTH` CSS pixels wide, its smallest text is
still at least 9 CSS pixels high.

Figures are created with the object-oriented API (:class:`matplotlib.figure.Figure`, no pyplot), so
a notebook shows only what the report embeds.

Speed (thousands of reports per run): a figure has a fixed size and is laid out once, before it is
drawn, by :func:`fit` (margins from the measured tick labels, axis labels, titles and legends), so
saving it costs exactly one draw; no constrained layout, no ``bbox_inches="tight"`` (each of those
draws the figure again). Tick formatters memoize their Babel output.
"""

from __future__ import annotations

import functools
import textwrap
from contextlib import contextmanager
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, Formatter, MaxNLocator

from . import i18n

#: seaborn's "deep" palette.
PALETTE = list(sns.color_palette("deep").as_hex())
PARTNER_COLOR = PALETTE[0]
PEER_COLOR = PALETTE[7]
STATUS_COLORS = {"green": "#2E8540", "amber": "#E0A100", "red": "#C44E52", "no_data": "#B0B0B0"}

#: seaborn's whitegrid style and paper context, with matplotlib's own font (DejaVu Sans, always
#: installed: the measured layout of :func:`fit` and the drawn text use the same metrics).
_STYLE = dict(sns.axes_style("whitegrid"))
_CONTEXT = dict(sns.plotting_context("paper", font_scale=1.05, rc={"axes.titlesize": 10.5}))
THEME: dict[str, Any] = {
    **_STYLE, **_CONTEXT,
    "font.family": ["sans-serif"], "font.sans-serif": ["DejaVu Sans"],
    "axes.prop_cycle": cycler(color=PALETTE), "legend.frameon": False,
    "image.cmap": "Blues", "figure.dpi": 100, "savefig.dpi": 100,
}
GRID_COLOR = to_hex(_STYLE["grid.color"])
SPINE_COLOR = to_hex(_STYLE["axes.edgecolor"])
TEXT_COLOR = to_hex(_STYLE["text.color"])
TICK_SIZE = THEME["xtick.labelsize"]
LABEL_SIZE = THEME["axes.labelsize"]
LEGEND_SIZE = THEME["legend.fontsize"]
#: The smallest text a figure may carry (points).
MIN_FONT_PT = 8.5
#: Default size (inches) and resolution of a report figure: 750 px wide at dpi 100.
FIGSIZE = (7.5, 3.0)
DPI = 100
#: The phone rendering (see :func:`phone_layout`): width in inches, resolution, and the width in CSS
#: pixels it is shown at on a 390 px wide phone (the page's padding taken off). Text of f points is
#: then f / 72 * PHONE_CSS_WIDTH / PHONE_WIDTH CSS pixels high: 8.5 pt -> 10.8 px.
PHONE_WIDTH = 4.0
PHONE_DPI = 200
PHONE_CSS_WIDTH = 366
#: White space (inches) kept around everything :func:`fit` places: labels, titles, legends.
PAD = 0.06


@contextmanager
def theme():
    """The seaborn theme of the report figures, for the duration of a ``with`` block only
    (matplotlib's rcParams are restored afterwards: no global side effect)."""
    with mpl.rc_context(THEME):
        yield


def _themed(fn):
    """Run a plot function inside :func:`theme` (signature and docstring kept)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with theme():
            return fn(*args, **kwargs)

    return wrapper


def phone_size_px(points: float) -> float:
    """CSS pixels that text of ``points`` measures in the phone rendering on a 390 px wide phone."""
    return points / 72 * PHONE_CSS_WIDTH / PHONE_WIDTH


@_themed
def new_axes(figsize: tuple[float, float] = FIGSIZE, ncols: int = 1, nrows: int = 1, sharex: bool = False,
             layout: str | None = None):
    """A new figure (no pyplot; an Agg canvas) and its Axes (an array of Axes when ncols/nrows > 1).

    ``layout`` None: the figure is laid out once by :func:`fit` when it is saved (one draw);
    "constrained" (small multiples) lets matplotlib lay it out while drawing.
    """
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout, facecolor="white")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows=nrows, ncols=ncols, sharex=sharex, squeeze=True)
    for ax in np.atleast_1d(axes).ravel():
        style(ax)
    return axes


try:  # matplotlib's own text-metrics cache: what fit() measures, the draw does not measure again
    from matplotlib.text import _get_text_metrics_with_cache as _metrics
except ImportError:  # pragma: no cover - other matplotlib versions
    def _metrics(renderer, text, prop, ismath, dpi):
        return renderer.get_text_width_height_descent(text, prop, ismath=ismath)


def _text_extent(renderer, text: str, prop) -> tuple[float, float]:
    """(width, height) in pixels of ``text`` (several lines allowed) in font ``prop``; a line is at
    least as tall as "lp" (ascender and descender), as matplotlib lays text out."""
    if not text:
        return 0.0, 0.0
    dpi = renderer.dpi
    lines = text.split("\n")
    sizes = [_metrics(renderer, line or " ", prop, False, dpi) for line in lines]
    line_h = max(max(h for _w, h, _d in sizes), _metrics(renderer, "lp", prop, False, dpi)[1])
    return max(w for w, _h, _d in sizes), line_h * (1 + 1.2 * (len(lines) - 1))  # linespacing 1.2


def _tick_labels(axis, renderer) -> tuple[list[float], list[tuple[float, float]], float]:
    """The visible major ticks of ``axis``: positions as fractions of the axis (0..1), label sizes in
    pixels, and the label's distance from the spine (pixels: tick length + pad)."""
    if not axis.get_visible() or not axis._major_tick_kw.get("label1On", True):
        return [], [], 0.0
    locs = np.asarray(axis.get_majorticklocs(), dtype=float)
    if not len(locs):
        return [], [], 0.0
    lo, hi = axis.get_view_interval()
    inverted = lo > hi
    lo, hi = sorted((lo, hi))
    labels = axis.major.formatter.format_ticks(locs)
    tick = axis.get_major_ticks(len(locs))[0]
    prop = tick.label1.get_fontproperties()
    span = (hi - lo) or 1.0
    tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
    keep = [(float((x - lo) / span), lab) for x, lab in zip(locs, labels) if lo - tol <= x <= hi + tol]
    if inverted:
        keep = [(1 - f, lab) for f, lab in keep]
    if axis.get_scale() != "linear":  # fractions only matter for the ends; keep it simple elsewhere
        keep = [(0.5, lab) for _f, lab in keep]
    dist = (tick.get_tick_padding() + tick.get_pad()) * axis.get_figure(root=True).dpi / 72
    return [f for f, _l in keep], [_text_extent(renderer, lab, prop) for _f, lab in keep], dist


def _crowded(fracs, sizes, length: float, along: int, gap: float) -> bool:
    """Whether neighbouring tick labels (positions ``fracs`` of an axis ``length`` pixels long) come
    closer than ``gap`` pixels; ``along`` 0: widths count (x axis), 1: heights (y axis)."""
    order = sorted(zip(fracs, sizes))
    for (f0, s0), (f1, s1) in zip(order, order[1:]):
        if (f1 - f0) * length < (s0[along] + s1[along]) / 2 + gap:
            return True
    return False


def _declutter(axis, renderer, length: float, measured=None) -> bool:
    """Make the tick labels of ``axis`` fit side by side along ``length`` pixels: fixed (category)
    ticks keep every k-th label, automatic ticks ask the locator for fewer. Returns whether it
    changed anything."""
    along = 0 if axis.axis_name == "x" else 1
    tick = axis.get_major_ticks(1)[0]
    gap = 0.6 * tick.label1.get_fontsize() * renderer.dpi / 72
    fracs, sizes, _d = measured or _tick_labels(axis, renderer)
    if len(fracs) < 2 or not _crowded(fracs, sizes, length, along, gap):
        return False
    locator = axis.get_major_locator()
    if isinstance(locator, FixedLocator) and along == 1:
        return False  # category labels beside bars: each names a bar, none may go (phone_layout wraps them)
    if isinstance(locator, FixedLocator):
        locs = np.asarray(axis.get_majorticklocs(), dtype=float)
        labels = axis.major.formatter.format_ticks(locs)
        for k in range(2, len(locs)):
            axis.set_ticks(locs[::k], labels[::k])
            fracs, sizes, _d = _tick_labels(axis, renderer)
            if not _crowded(fracs, sizes, length, along, gap):
                break
        return True
    n, changed = len(fracs), False
    while n > 2:
        n -= 1
        axis.set_major_locator(MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]))
        changed = True
        fracs, sizes, _d = _tick_labels(axis, renderer)
        if not _crowded(fracs, sizes, length, along, gap):
            break
    return changed


def _wrap_label(label, renderer, room: float):
    """An axis label longer than ``room`` pixels wraps onto as many lines as it needs."""
    current = label.get_text()
    if not current or _text_extent(renderer, current, label.get_fontproperties())[0] <= room:
        return False
    text = current.replace("\n", " ")
    width = _text_extent(renderer, text, label.get_fontproperties())[0]
    label.set_text(textwrap.fill(text, max(8, int(len(text) * room / width * 0.95))))
    return label.get_text() != current


def _clear_corner(ax, renderer, axw: float, axh: float, xinfo=None, yinfo=None) -> bool:
    """Where the lowest y tick label (e.g. "0 €") and the first x tick label meet at the corner of
    the plot area, move the x tick labels down until they clear it. Returns whether it did."""
    xfrac, xsizes, xdist = xinfo or _tick_labels(ax.xaxis, renderer)
    yfrac, ysizes, ydist = yinfo or _tick_labels(ax.yaxis, renderer)
    if not xsizes or not ysizes:
        return False
    x_left = min(f * axw - w / 2 for f, (w, _h) in zip(xfrac, xsizes))
    y_below = max(h / 2 - f * axh for f, (_w, h) in zip(yfrac, ysizes))
    gap = 1.0 * renderer.dpi / 72
    if x_left >= -ydist or y_below + gap <= xdist:
        return False
    tick = ax.xaxis.get_major_ticks(1)[0]
    ax.xaxis.set_tick_params(pad=tick.get_pad() + (y_below + gap - xdist) * 72 / renderer.dpi)
    return True


def _adjust(fig, left: float, right: float, bottom: float, top: float, W: float, H: float):
    """Place the axes with these margins (display units), keeping at least a quarter of the figure
    for the plot area: a legend entry wider than a phone-sized figure may overhang, never fail."""
    if left + right > 0.75 * W:
        right = max(0.0, 0.75 * W - left) if left < 0.75 * W else 0.0
        left = min(left, 0.75 * W)
    if bottom + top > 0.75 * H:
        top = max(0.0, 0.75 * H - bottom) if bottom < 0.75 * H else 0.0
        bottom = min(bottom, 0.75 * H)
    fig.subplots_adjust(left=left / W, right=1 - right / W, bottom=bottom / H, top=1 - top / H)
    return left, right, bottom, top


def _fit_legend(ax, renderer, width: float):
    """A legend above the plot area that is wider than the figure gets fewer columns."""
    legend = ax.get_legend()
    kw = getattr(legend, "_ca_kw", None)
    if legend is None or kw is None:
        return False
    ncol, changed = kw.get("ncol", 1), False
    while ncol > 1 and legend.get_window_extent(renderer).width > width:
        ncol, changed = ncol - 1, True
        legend = _legend(ax, **{**kw, "ncol": ncol})
    if legend.get_window_extent(renderer).width > width:  # one column and still too wide: wrap its labels
        for text in legend.get_texts():
            label = text.get_text()
            text.set_text(textwrap.fill(label, max(12, len(label) // 2 + 1)))
        changed = True
    return changed


def _fit_cell_labels(ax, renderer, width: float):
    """Heatmap cell labels (texts marked ``_ca_cell``) that are wider than their cell: keep those of
    the columns whose x tick label is shown (every k-th column) when they then have room, else none."""
    cells = [t for t in ax.texts if getattr(t, "_ca_cell", False)]
    if not cells:
        return
    lo, hi = sorted(ax.get_xlim())
    ncols = max(1, round(hi - lo))
    cell_w = width / ncols
    widest = max(_text_extent(renderer, t.get_text(), t.get_fontproperties())[0] for t in cells)
    gap = 0.4 * cells[0].get_fontsize() * renderer.dpi / 72
    if widest + gap <= cell_w:
        for t in cells:
            t.set_visible(True)
        return
    shown = {int(np.floor(x)) for x in ax.get_xticks()}
    step = min((b - a for a, b in zip(sorted(shown), sorted(shown)[1:])), default=ncols)
    room = widest + gap <= step * cell_w
    for t in cells:
        t.set_visible(room and int(np.floor(t.get_position()[0])) in shown)


def fit(fig, pad: float = PAD):
    """Lay out a one-Axes figure without drawing it: margins just wide enough for the tick labels,
    axis labels, title and any legend placed outside the plot area; axis labels are pinned where the
    margins put them; crowded tick labels are thinned (:func:`_declutter`) and a legend above the
    plot that is wider than the figure wraps onto more rows. Figures with several Axes get one
    ``tight_layout``; figures with a layout engine are left to it. Every figure gets an Agg canvas
    (what :func:`blocks.png_bytes` draws on). Returns the figure. Call it after everything is drawn
    on it (calling it again changes nothing; after a resize it lays the figure out for the new size).
    """
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    if fig.get_layout_engine() is not None:
        return fig
    axes = [a for a in fig.axes if a.get_visible()]
    if len(axes) != 1:
        if axes:
            fig.tight_layout(pad=0.4)
        return fig
    ax = axes[0]
    if any(axis.get_major_ticks(1)[0].label1.get_rotation() % 180 for axis in (ax.xaxis, ax.yaxis)):
        fig.tight_layout(pad=0.4)  # rotated tick labels: let matplotlib measure them
        return fig
    renderer = fig.canvas.get_renderer()
    W = fig.bbox.width
    for _ in range(5):
        ticks = (tuple(ax.get_xticks()), tuple(ax.get_yticks()))
        left, right, bottom, top, below, beside, xl_pad, yl_pad, xinfo, yinfo = _margins(fig, ax, renderer, pad)
        axw, axh = W - left - right, fig.bbox.height - bottom - top
        # automatic ticks depend on the plot area's size: new margins may bring other ticks
        if ticks != (tuple(ax.get_xticks()), tuple(ax.get_yticks())):
            changed = True
            continue
        changed = _fit_legend(ax, renderer, W - pad * fig.dpi - left)
        changed = _clear_corner(ax, renderer, axw, axh, xinfo, yinfo) or changed
        p = pad * fig.dpi  # axis labels are centred on the plot area: room on both sides of its centre
        changed = _wrap_label(ax.xaxis.label, renderer, 2 * min(left + axw / 2 - p, right + axw / 2 - p)) or changed
        changed = _wrap_label(ax.yaxis.label, renderer, 2 * min(bottom + axh / 2 - p, top + axh / 2 - p)) or changed
        changed = _declutter(ax.xaxis, renderer, axw, None if changed else xinfo) or changed
        changed = _declutter(ax.yaxis, renderer, axh, None if changed else yinfo) or changed
        if not changed:
            break
    else:
        left, right, bottom, top, below, beside, xl_pad, yl_pad, _x, _y = _margins(fig, ax, renderer, pad)
        axw, axh = W - left - right, fig.bbox.height - bottom - top
    _fit_cell_labels(ax, renderer, axw)
    # pin the axis labels (even empty ones): drawing then skips measuring the tick labels again
    ax.xaxis.set_label_coords(0.5, -(below + xl_pad) / axh)
    ax.yaxis.set_label_coords(-(beside + yl_pad) / axw, 0.5)
    return fig


def _margins(fig, ax, renderer, pad: float):
    """Set the subplot margins of a one-Axes figure from its measured texts (see :func:`fit`)."""
    dpi = fig.dpi
    W, H = fig.bbox.width, fig.bbox.height
    p = pad * dpi
    xfrac, xsizes, xdist = _tick_labels(ax.xaxis, renderer)
    yfrac, ysizes, ydist = _tick_labels(ax.yaxis, renderer)
    xtick_h = max((h for _w, h in xsizes), default=0.0)
    ytick_w = max((w for w, _h in ysizes), default=0.0)
    below = (xdist + xtick_h) if xsizes else 0.0
    beside = (ydist + ytick_w) if ysizes else 0.0
    xlabel, ylabel = ax.xaxis.label, ax.yaxis.label
    xl_h = _text_extent(renderer, xlabel.get_text(), xlabel.get_fontproperties())[1]
    yl_h = _text_extent(renderer, ylabel.get_text(), ylabel.get_fontproperties())[1]
    xl_pad, yl_pad = ax.xaxis.labelpad * dpi / 72, ax.yaxis.labelpad * dpi / 72
    titles = [t for t in (ax.title, ax._left_title, ax._right_title) if t.get_text()]
    title_h = max((_text_extent(renderer, t.get_text(), t.get_fontproperties())[1] for t in titles), default=0.0)
    title_pad = mpl.rcParams["axes.titlepad"] * dpi / 72 if titles else 0.0

    left = p + beside + (yl_pad + yl_h if yl_h else 0.0)
    bottom = p + below + (xl_pad + xl_h if xl_h else 0.0)
    top = p + title_h + title_pad
    right = p
    # end tick labels reach past the plot area by half their size
    for _ in range(2):
        axw, axh = W - left - right, H - bottom - top
        if xsizes:
            right = max(right, p + max(w / 2 - (1 - f) * axw for f, (w, _h) in zip(xfrac, xsizes)))
            left = max(left, p + max(w / 2 - f * axw for f, (w, _h) in zip(xfrac, xsizes)))
        if ysizes:
            top = max(top, p + max(h / 2 - (1 - f) * axh for f, (_w, h) in zip(yfrac, ysizes)))
            bottom = max(bottom, p + max(h / 2 - f * axh for f, (_w, h) in zip(yfrac, ysizes)))
    left, right, bottom, top = _adjust(fig, left, right, bottom, top, W, H)
    # a legend outside the plot area (e.g. above it): make room for it, then place the axes again
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        box, frame = legend.get_window_extent(renderer), ax.bbox
        top = max(top, p + max(0.0, box.y1 - frame.y1))
        bottom = max(bottom, p + max(0.0, frame.y0 - box.y0))
        left = max(left, p + max(0.0, frame.x0 - box.x0))
        right = max(right, p + max(0.0, box.x1 - frame.x1))
        left, right, bottom, top = _adjust(fig, left, right, bottom, top, W, H)
    return left, right, bottom, top, below, beside, xl_pad, yl_pad, (xfrac, xsizes, xdist), (yfrac, ysizes, ydist)


def phone_layout(fig, width: float = PHONE_WIDTH):
    """Re-lay ``fig`` out for a phone: ``width`` inches wide at the same text sizes (so that, shown
    about :data:`PHONE_CSS_WIDTH` CSS pixels wide, text stays legible), same height; small multiples
    in a grid of several columns go to one column (each row as tall as before). Long category
    labels beside horizontal bars wrap onto two lines. Returns the figure (then laid out by
    :func:`fit` when it is saved)."""
    axes = [a for a in fig.axes if a.get_visible()]
    w, h = fig.get_size_inches()
    specs = [a.get_subplotspec() for a in axes]
    if len(axes) > 1 and all(s is not None for s in specs) and specs[0].get_gridspec().ncols > 1:
        rows = specs[0].get_gridspec().nrows
        grid = fig.add_gridspec(len(axes), 1)
        for i, a in enumerate(axes):
            a.set_subplotspec(grid[i, 0])
        h = h / rows * len(axes)
    fig.set_size_inches(width, h)
    if len(axes) == 1:
        ax = axes[0]
        if isinstance(ax.yaxis.get_major_locator(), FixedLocator):
            locs = ax.get_yticks()
            labels = [t.get_text() for t in ax.get_yticklabels()]
            limit = max(12, int(width * 72 * 0.3 / (0.55 * TICK_SIZE)))  # about 30% of the width
            if any(len(t) > limit for t in labels):
                ax.set_yticks(locs, [textwrap.fill(t, limit, max_lines=2, placeholder="…") for t in labels])
    return fig


#: Babel tick labels already formatted, per (kind, locale, currency, decimals): axes share ticks.
_TICK_CACHE: dict[tuple, dict] = {}


class _Ticks(Formatter):
    """Babel tick labels of one kind ("currency", "percent", "number", "integer"), memoized per
    process, with as many decimals as it takes for neighbouring ticks to read differently
    (98.5%, 99%, 99.5% rather than 98%, 99%, 99%; €1.25M next to €1.2M)."""

    DEFAULT_DIGITS = {"currency": 1, "percent": 0, "number": 1, "integer": 0}

    def __init__(self, kind: str, locale: str = "en", currency: str = "EUR"):
        self.kind = kind if kind in self.DEFAULT_DIGITS else "number"
        self.locale, self.currency = str(locale), currency
        self.digits = self.DEFAULT_DIGITS[self.kind]

    def _format(self, x: float, digits: int) -> str:
        memo = _TICK_CACHE.setdefault((self.kind, self.locale, self.currency, digits), {})
        text = memo.get(x)
        if text is None:
            if self.kind == "currency":
                if abs(x) < 1000:
                    text = i18n.format_currency(x, self.locale, self.currency, digits=max(0, digits - 1))
                else:
                    text = i18n.format_compact_currency(x, self.locale, self.currency, digits=digits)
            elif self.kind == "percent":
                text = i18n.format_percent(x, self.locale, digits)
            elif self.kind == "integer":
                text = i18n.format_number(x, self.locale, digits=digits)
            else:
                text = i18n.format_compact_number(x, self.locale, digits=digits)
            memo[x] = text
        return text

    def set_locs(self, locs):
        super().set_locs(locs)
        base = self.DEFAULT_DIGITS[self.kind]
        values = sorted({float(v) for v in locs if np.isfinite(v)})
        for digits in range(base, base + 4):
            labels = [self._format(v, digits) for v in values]
            if all(a != b for a, b in zip(labels, labels[1:])):
                break
        self.digits = digits if values else base

    def __call__(self, x, pos=None):
        return self._format(float(x), self.digits)


def _formatter(kind: str, locale: str = "en", currency: str = "EUR") -> _Ticks:
    """The tick formatter of ``kind`` (see :class:`_Ticks`); its labels equal
    :func:`i18n.matplotlib_formatter`'s where those are distinct."""
    return _Ticks(kind, locale, currency)


def style(ax, grid: str = "y"):
    """Apply the seaborn whitegrid look to an Axes: light grid on ``grid`` ("x", "y", "both",
    "none"), no top/right spines (``sns.despine``), the theme's text sizes and colours."""
    ax.set_facecolor(_STYLE["axes.facecolor"])
    sns.despine(ax=ax)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(SPINE_COLOR)
        ax.spines[side].set_linewidth(THEME["axes.linewidth"])
    ax.tick_params(labelsize=TICK_SIZE, colors=TEXT_COLOR, length=0, pad=3.5)
    ax.set_axisbelow(True)
    ax.grid(False)
    if grid in ("x", "y", "both"):
        ax.grid(True, axis=grid, color=GRID_COLOR, linewidth=THEME["grid.linewidth"], linestyle="-")
    ax.title.set_fontsize(THEME["axes.titlesize"])
    ax.title.set_color(TEXT_COLOR)
    for label in (ax.xaxis.label, ax.yaxis.label):
        label.set_fontsize(LABEL_SIZE)
        label.set_color(TEXT_COLOR)
    return ax


def _axes(ax, figsize=FIGSIZE, grid: str = "y"):
    if ax is None:
        ax = new_axes(figsize)
    return style(ax, grid)


def _legend(ax, **kw):
    """The legend above the plot area, left-aligned, all entries on one row (:func:`fit` wraps it
    onto more rows when the figure is too narrow): never over a bar or a line."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    kw = {"loc": "lower left", "bbox_to_anchor": (0, 1.01), "ncol": len(handles), "borderaxespad": 0.2,
          "frameon": False, "fontsize": LEGEND_SIZE, "handlelength": 1.6, "columnspacing": 1.2, **kw}
    legend = ax.legend(handles, labels, **kw)
    legend._ca_kw = kw
    return legend


def _lineplot(ax=None, **kw):
    """``sns.lineplot`` of plain arrays (no aggregation, no legend of its own), without its one
    costly habit: with an empty axis label it reads the tick labels to decide whether to add a
    label (a full tick update per call, about a tenth of a figure's time); the labels this module
    sets itself are kept, blank ones restored."""
    xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
    ax.set_xlabel(xlabel or "\0")
    ax.set_ylabel(ylabel or "\0")
    try:
        return sns.lineplot(ax=ax, **kw)
    finally:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)


def _empty(ax, message: str):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --------------------------------------------------------------------------------------------
# partner scorecard
# --------------------------------------------------------------------------------------------


@_themed
def revenue_trend(history: pd.DataFrame, *, period: str = "period", actual: str = "revenue",
                  forecast: str = "forecast", lower: str = "lower", upper: str = "upper",
                  kind: str = "kind", target: str | None = "target", ax=None, locale: str = "en",
                  currency: str = "EUR", interval: float | None = None):
    """Quarterly revenue (solid line) and the next-quarter forecast with its prediction band.

    ``history`` has one row per quarter: ``kind`` "actual" rows carry ``actual``; "forecast" rows
    carry ``forecast``/``lower``/``upper``. The band joins the last actual quarter to the interval.
    The ``target`` column (when present: the quarter's agreed revenue target) is drawn as a short
    dark bar on each quarter that has one.
    """
    _ = i18n.translator(locale).gettext
    ax = _axes(ax)
    data = history.sort_values(period).reset_index(drop=True)
    labels = data[period].astype(str).tolist()
    x = np.arange(len(data))
    is_actual = (data[kind] == "actual").to_numpy()
    _lineplot(x=x[is_actual], y=data.loc[is_actual, actual].to_numpy(float), ax=ax, marker="o",
                 markersize=4, markeredgewidth=0, color=PARTNER_COLOR, linewidth=2, label=_("Revenue"),
                 estimator=None, errorbar=None, sort=False, legend=False)
    fc = data.loc[~is_actual]
    if len(fc):
        last = np.flatnonzero(is_actual)[-1] if is_actual.any() else None
        xs = x[~is_actual]
        mid, lo, hi = fc[forecast].to_numpy(float), fc[lower].to_numpy(float), fc[upper].to_numpy(float)
        if last is not None:
            base = float(data.loc[last, actual])
            xs = np.r_[x[last], xs]
            mid, lo, hi = np.r_[base, mid], np.r_[base, lo], np.r_[base, hi]
        band = _("Forecast range") if interval is None else _("Forecast range ({p} likely)").format(
            p=i18n.format_percent(interval, locale))
        ax.fill_between(xs, lo, hi, color=PALETTE[1], alpha=0.2, linewidth=0, label=band)
        _lineplot(x=xs, y=mid, ax=ax, linestyle="--", marker="o", markersize=4, markeredgewidth=0,
                     color=PALETTE[1], linewidth=1.5, label=_("Forecast"), estimator=None, errorbar=None,
                     sort=False, legend=False)
    if target and target in data and data[target].notna().any():
        has = data[target].notna().to_numpy()
        ax.scatter(x[has], data.loc[has, target].to_numpy(float), marker="_", s=260, linewidths=2.5,
                   color=TEXT_COLOR, zorder=4, label=_("Target"))
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.3, len(x) - 0.7)  # the first and last quarter's labels clear of the y tick labels
    ax.yaxis.set_major_formatter(_formatter("currency", locale, currency))
    ax.set_ylim(bottom=0)
    _legend(ax)
    return ax


@_themed
def category_mix(data: pd.DataFrame, *, category: str = "category", value: str = "revenue",
                 previous: str | None = "revenue_prev_year", ax=None, locale: str = "en",
                 currency: str = "EUR", top: int = 8):
    """Revenue by product category this quarter (bars), same quarter last year (light bars)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="x")
    d = data.sort_values(value, ascending=False).head(top).iloc[::-1]
    y = np.arange(len(d))
    has_prev = previous is not None and previous in d and d[previous].notna().any()
    h = 0.4 if has_prev else 0.7
    ax.barh(y + (h / 2 if has_prev else 0), d[value], height=h, color=PARTNER_COLOR, label=_("This quarter"))
    if has_prev:
        ax.barh(y - h / 2, d[previous].fillna(0), height=h, color=PALETTE[0], alpha=0.35,
                label=_("Same quarter last year"))
    ax.set_yticks(y, d[category].astype(str))
    ax.xaxis.set_major_formatter(_formatter("currency", locale, currency))
    _legend(ax)
    return ax


@_themed
def pipeline_by_stage(data: pd.DataFrame, *, stage: str = "stage", order: str | None = "stage_order",
                      amount: str = "open_amount", weighted: str = "weighted_amount", ax=None,
                      locale: str = "en", currency: str = "EUR"):
    """Open deal value per pipeline stage (bars) and its probability-weighted value (dark bars)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="x")
    d = data.sort_values(order) if order and order in data else data
    d = d.iloc[::-1]
    y = np.arange(len(d))
    ax.barh(y, d[amount], height=0.7, color=PARTNER_COLOR, alpha=0.35, label=_("Open value"))
    ax.barh(y, d[weighted], height=0.4, color=PARTNER_COLOR, label=_("Weighted by win chance"))
    ax.set_yticks(y, d[stage].astype(str))
    ax.xaxis.set_major_formatter(_formatter("currency", locale, currency))
    _legend(ax)
    return ax


@_themed
def pipeline_aging(deals: pd.DataFrame, *, bucket: str = "age_bucket", amount: str = "amount",
                   stale: str | None = "stale", order: Sequence[str] | None = None, ax=None,
                   locale: str = "en", currency: str = "EUR"):
    """Open deal value by age (days open), stale deals stacked in red on top of the others."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax)
    buckets = list(order) if order is not None else list(pd.unique(deals[bucket].dropna().astype(str)))
    key = deals[bucket].astype(str)
    is_stale = deals[stale].fillna(False).astype(bool) if stale and stale in deals else pd.Series(False, deals.index)
    fresh = deals[amount].where(~is_stale, 0).groupby(key).sum().reindex(buckets, fill_value=0)
    old = deals[amount].where(is_stale, 0).groupby(key).sum().reindex(buckets, fill_value=0)
    x = np.arange(len(buckets))
    ax.bar(x, fresh, color=PARTNER_COLOR, width=0.65, label=_("On track"))
    ax.bar(x, old, bottom=fresh, color=STATUS_COLORS["red"], width=0.65, label=_("Stale"))
    ax.set_xticks(x, buckets)
    ax.set_xlabel(_("Days open"))
    ax.yaxis.set_major_formatter(_formatter("currency", locale, currency))
    _legend(ax)
    return ax


def _step_curves(data: pd.DataFrame, *, ax, group: str, days: str, value: str, ci_low: str | None,
                 ci_high: str | None, labels: Mapping[str, str] | None, colors: Mapping[str, str] | None = None,
                 widths: tuple[float, float] = (2, 2), every_band: bool = True) -> None:
    """Kaplan–Meier step lines, one per ``group`` value (in order of appearance), each with its
    confidence band (``every_band``) or the first one only; ``widths``: the first line's and the
    others'. Shared by :func:`cycle_curves` and :func:`activation_curves`."""
    for i, g in enumerate(pd.unique(data[group])):
        c = data[data[group] == g].sort_values(days, kind="stable")
        color = (colors or {}).get(g, PALETTE[i % len(PALETTE)])
        _lineplot(x=c[days].to_numpy(float), y=c[value].to_numpy(float), ax=ax, drawstyle="steps-post",
                  color=color, linewidth=widths[0] if i == 0 else widths[1], label=(labels or {}).get(g, str(g)),
                  estimator=None, errorbar=None, sort=False, legend=False)
        banded = (every_band or i == 0) and ci_low and ci_high and ci_low in c and ci_high in c
        if banded and c[ci_low].notna().any():
            ax.fill_between(c[days], c[ci_low], c[ci_high], step="post", color=color, alpha=0.15, linewidth=0)


@_themed
def cycle_curves(curves: pd.DataFrame, *, group: str = "group", days: str = "days",
                 survival: str = "survival", ci_low: str | None = "ci_low", ci_high: str | None = "ci_high",
                 labels: Mapping[str, str] | None = None, colors: Mapping[str, str] | None = None,
                 ax=None, locale: str = "en"):
    """Kaplan–Meier curves: share of deals still open after d days, one step line per group,
    with its 95% confidence band. ``labels`` maps group values to legend labels."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    _step_curves(curves, ax=ax, group=group, days=days, value=survival, ci_low=ci_low, ci_high=ci_high,
                 labels=labels, colors=colors)
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Days since the deal was registered"))
    ax.set_ylabel(_("Deals still open"))
    _legend(ax)
    return ax


@_themed
def activation_curves(data: pd.DataFrame, *, group: str = "group", days: str = "days",
                      share: str = "activated_share", ci_low: str | None = "ci_low", ci_high: str | None = "ci_high",
                      labels: Mapping[str, str] | None = None, marks: Sequence[float] = (), ax=None,
                      locale: str = "en"):
    """Activation curves (Kaplan–Meier): share of partners with a first deal within d days of
    onboarding, one rising step line per group (the first thick, with its 95% band); dotted
    vertical lines at ``marks`` (days the share is read at). ``labels`` maps groups to legend labels."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    _step_curves(data, ax=ax, group=group, days=days, value=share, ci_low=ci_low, ci_high=ci_high,
                 labels=labels, widths=(2.4, 1.4), every_band=False)
    for m in marks:
        ax.axvline(m, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Days since onboarding"))
    ax.set_ylabel(_("Partners with a first deal"))
    _legend(ax)
    return ax


@_themed
def percentile_bars(data: pd.DataFrame, *, metric: str = "label", percentile: str = "percentile",
                    ax=None, locale: str = "en"):
    """Peer benchmark: one horizontal bar per KPI at its percentile (0..100) within the peer group;
    the dotted line is the peer median (50). Bars are coloured by quartile; missing: grey stub."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, figsize=(7.5, max(1.6, 0.38 * len(data) + 0.8)), grid="x")
    d = data.iloc[::-1]
    y = np.arange(len(d))
    p = d[percentile].astype(float).to_numpy()
    colors = np.where(p >= 75, STATUS_COLORS["green"], np.where(p >= 25, PARTNER_COLOR, STATUS_COLORS["red"]))
    colors = np.where(np.isnan(p), STATUS_COLORS["no_data"], colors)
    ax.barh(y, np.where(np.isnan(p), 1.0, p), height=0.6, color=colors)
    ax.axvline(50, color="#555555", linewidth=1, linestyle=":")
    ax.set_xlim(0, 100)
    ax.set_yticks(y, d[metric].astype(str))
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.xaxis.set_major_formatter(_formatter("integer", locale))
    ax.set_xlabel(_("Percentile among peers (50 = peer median)"))
    return ax


@_themed
def tier_gap_bars(data: pd.DataFrame, *, criterion: str = "label", required: str = "required",
                  actual: str = "actual", ax=None, locale: str = "en"):
    """Progress towards each criterion of the next tier: actual ÷ required (100% = criterion met)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, figsize=(7.5, max(1.6, 0.45 * len(data) + 0.8)), grid="x")
    d = data.iloc[::-1]
    req = d[required].astype(float).to_numpy()
    progress = np.divide(d[actual].astype(float).to_numpy(), req, out=np.ones_like(req), where=req > 0)
    progress = np.clip(np.nan_to_num(progress), 0, 1.25)
    y = np.arange(len(d))
    colors = np.where(progress >= 1, STATUS_COLORS["green"], np.where(progress >= 0.9, STATUS_COLORS["amber"],
                                                                        STATUS_COLORS["red"]))
    ax.barh(y, progress, height=0.6, color=colors)
    ax.axvline(1.0, color="#333333", linewidth=1.2)
    ax.set_xlim(0, 1.25)
    ax.set_yticks(y, d[criterion].astype(str))
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Share of the requirement reached"))
    return ax


# --------------------------------------------------------------------------------------------
# network overview
# --------------------------------------------------------------------------------------------


@_themed
def kpi_trend(data: pd.DataFrame, *, x: str = "period", columns: Sequence[str], titles: Sequence[str],
              kinds: Sequence[str], axes=None, locale: str = "en", currency: str = "EUR"):
    """Small multiples: one line chart per column over ``x`` (quarters), each with its own title and
    tick format ("currency", "percent", "number"). Returns the list of Axes."""
    n = len(columns)
    if axes is None:
        axes = new_axes(figsize=(7.5, 2.4 * ((n + 1) // 2)), ncols=2, nrows=(n + 1) // 2, layout="constrained")
    flat = list(np.atleast_1d(axes).ravel())
    d = data.sort_values(x)
    pos = np.arange(len(d))
    labels = d[x].astype(str).tolist()
    step = max(1, len(labels) // 4)
    for i, ax in enumerate(flat):
        style(ax)
        if i >= n:
            ax.set_visible(False)
            continue
        _lineplot(x=pos, y=d[columns[i]].to_numpy(float), ax=ax, marker="o", markersize=3, markeredgewidth=0,
                     color=PALETTE[i % len(PALETTE)], linewidth=1.8, estimator=None, errorbar=None, sort=False,
                     legend=False)
        ax.set_title(titles[i], loc="left")
        ax.set_xticks(pos[::step], labels[::step])
        ax.set_xlim(-0.3, len(pos) - 0.7)
        fmt = {"currency": "currency", "percent": "percent"}.get(kinds[i], "number")
        ax.yaxis.set_major_formatter(_formatter(fmt, locale, currency))
    return flat[:n]


@_themed
def pareto_curve(data: pd.DataFrame, *, cum_share: str = "cum_share", ax=None, locale: str = "en",
                 threshold: float | None = 0.8):
    """Pareto: cumulative share of revenue (y) against the share of partners, largest first (x)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    y = np.r_[0, np.sort(data[cum_share].astype(float).to_numpy())]
    x = np.linspace(0, 1, len(y))
    _lineplot(x=x, y=y, ax=ax, color=PARTNER_COLOR, linewidth=2, label=_("Cumulative revenue share"),
                 estimator=None, errorbar=None, sort=False, legend=False)
    if threshold is not None:
        ax.axhline(threshold, color=PALETTE[3], linewidth=1, linestyle="--",
                   label=_("{p} of revenue").format(p=i18n.format_percent(threshold, locale)))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Share of partners, largest first"))
    _legend(ax)
    return ax


@_themed
def lorenz_curve(data: pd.DataFrame, *, value: str = "revenue", gini: float | None = None, ax=None,
                 locale: str = "en"):
    """Lorenz curve of ``value`` across partners (smallest first) against the line of equality."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    v = np.sort(np.clip(data[value].astype(float).fillna(0).to_numpy(), 0, None))
    total = v.sum()
    y = np.r_[0, np.cumsum(v) / total] if total > 0 else np.linspace(0, 1, len(v) + 1)
    x = np.linspace(0, 1, len(y))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, linestyle=":", label=_("Equal revenue"))
    label = _("Lorenz curve") if gini is None else _("Lorenz curve (Gini {g})").format(
        g=i18n.format_number(gini, locale, digits=2))
    _lineplot(x=x, y=y, ax=ax, color=PARTNER_COLOR, linewidth=2, label=label, estimator=None,
                 errorbar=None, sort=False, legend=False)
    ax.fill_between(x, y, x, color=PARTNER_COLOR, alpha=0.1, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Share of partners, smallest first"))
    ax.set_ylabel(_("Share of revenue"))
    _legend(ax)
    return ax


@_themed
def segment_matrix(data: pd.DataFrame, *, performance: str = "performance", potential: str = "potential",
                   count: str = "partners", action: str | None = "action",
                   levels: Sequence[str] = ("low", "medium", "high"),
                   level_labels: Sequence[str] | None = None, ax=None, locale: str = "en"):
    """The 3×3 performance × potential matrix: partners per cell (shade and number) and the cell's
    action. ``data`` has one row per cell (missing cells count 0)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, figsize=(6.0, 3.8), grid="none")
    n = len(levels)
    grid = np.zeros((n, n))
    text = [["" for _c in range(n)] for _r in range(n)]
    for rec in data.itertuples(index=False):
        r = getattr(rec, performance)
        c = getattr(rec, potential)
        if r in levels and c in levels:
            i, j = levels.index(r), levels.index(c)
            grid[i, j] = getattr(rec, count)
            text[i][j] = str(getattr(rec, action)) if action else ""
    labels = np.array([[f"{i18n.format_number(grid[i, j], locale, digits=0)}\n{text[i][j]}" for j in range(n)]
                       for i in range(n)], dtype=object)
    names = list(level_labels or levels)
    # row 0 ("low") at the bottom: seaborn draws the first row on top, so the rows go in reversed
    sns.heatmap(grid[::-1], ax=ax, cmap="Blues", vmin=0, vmax=max(grid.max(), 1) * 1.3, cbar=False,
                annot=labels[::-1], fmt="", annot_kws={"fontsize": 9}, linewidths=1, linecolor="white",
                xticklabels=names, yticklabels=names[::-1])
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel(_("Potential"))
    ax.set_ylabel(_("Performance"))
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


@_themed
def cohort_retention(data: pd.DataFrame, *, cohort: str = "cohort", age: str = "age_quarters",
                     value: str = "active_share", ax=None, locale: str = "en"):
    """Heatmap: share of each onboarding cohort (rows) still active after n quarters (columns)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, figsize=(7.5, max(2.0, 0.3 * data[cohort].nunique() + 1.0)), grid="none")
    table = data.pivot_table(index=cohort, columns=age, values=value, aggfunc="first").sort_index()
    values = table.to_numpy(float)
    labels = np.array([["" if np.isnan(v) else i18n.format_percent(v, locale) for v in row] for row in values],
                      dtype=object)
    sns.heatmap(values, ax=ax, cmap="Blues", vmin=0, vmax=1, cbar=False, annot=labels, fmt="",
                annot_kws={"fontsize": MIN_FONT_PT}, linewidths=1, linecolor="white",
                xticklabels=[str(c) for c in table.columns], yticklabels=[str(r) for r in table.index])
    ax.tick_params(axis="y", labelrotation=0)
    for t in ax.texts:
        t._ca_cell = True  # fit() keeps only the cell labels that have room
    ax.set_xlabel(_("Quarters since onboarding"))
    ax.set_ylabel(_("Onboarding quarter"))
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


@_themed
def mdf_return(data: pd.DataFrame, *, group: str = "tier", value: str = "mdf_return", ax=None,
               locale: str = "en", reference: float | None = 1.0):
    """MDF return per group (revenue attributed per unit of funds claimed), with the break-even line."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax)
    x = np.arange(len(data))
    ax.bar(x, data[value].astype(float).fillna(0), color=PALETTE[2], width=0.6)
    if reference is not None:
        ax.axhline(reference, color="#555555", linewidth=1, linestyle=":", label=_("Break-even"))
    ax.set_xticks(x, data[group].astype(str))
    ax.yaxis.set_major_formatter(_formatter("number", locale))
    ax.set_ylabel(_("Revenue per unit of funds claimed"))
    _legend(ax)
    return ax


@_themed
def effect_intervals(data: pd.DataFrame, *, label: str = "label", effect: str = "effect", low: str = "low",
                     high: str = "high", ax=None, locale: str = "en", xlabel: str | None = None):
    """Coefficient plot: one row per ``label`` (top to bottom in the frame's order), the point
    estimate ``effect`` with its interval ``low``..``high`` (fractions, shown as percentages) and the
    no-effect line at 0. Rows without an estimate are left out."""
    ax = _axes(ax, grid="x")
    d = data[data[effect].notna()].iloc[::-1]
    pos = np.arange(len(d))
    est = d[effect].astype(float).to_numpy()
    lo, hi = d[low].astype(float).to_numpy(), d[high].astype(float).to_numpy()
    ax.errorbar(est, pos, xerr=np.vstack([est - lo, hi - est]), fmt="o", color=PALETTE[2], ecolor=PALETTE[2],
                elinewidth=1.5, capsize=3)
    ax.axvline(0.0, color="#555555", linewidth=1, linestyle=":")
    ax.set_yticks(pos, d[label].astype(str))
    ax.set_ylim(-0.6, len(d) - 0.4)
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    if xlabel:
        ax.set_xlabel(xlabel)
    return ax


@_themed
def bars(data: pd.DataFrame, *, label: str, value: str, kind: str = "number", ax=None, locale: str = "en",
         currency: str = "EUR", color: str | None = None, horizontal: bool = True):
    """Plain bars of ``value`` per ``label`` (for simple breakdowns: pipeline by segment, status counts)."""
    ax = _axes(ax, grid="x" if horizontal else "y")
    d = data.iloc[::-1] if horizontal else data
    pos = np.arange(len(d))
    fmt = _formatter({"currency": "currency", "percent": "percent"}.get(kind, "number"),
                                    locale, currency)
    if horizontal:
        ax.barh(pos, d[value].astype(float).fillna(0), height=0.6, color=color or PARTNER_COLOR)
        ax.set_yticks(pos, d[label].astype(str))
        ax.xaxis.set_major_formatter(fmt)
    else:
        ax.bar(pos, d[value].astype(float).fillna(0), width=0.6, color=color or PARTNER_COLOR)
        ax.set_xticks(pos, d[label].astype(str))
        ax.yaxis.set_major_formatter(fmt)
    return ax


@_themed
def empty(message: str, ax=None):
    """An Axes that only says ``message`` (used when a figure has nothing to draw)."""
    return _empty(_axes(ax, grid="none"), message)
