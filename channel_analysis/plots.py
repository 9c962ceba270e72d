"""Figures of the reports: tidy data in, a matplotlib Axes out.

Every function takes a tidy DataFrame first, its column names as keywords, an optional ``ax`` to
draw on, and ``locale``/``currency`` for the tick labels (Babel formats: "1,2 M €" in French). It
returns the Axes (a list of Axes for small multiples) and never shows, saves or closes anything:
:func:`channel_analysis.blocks.figure` embeds a figure in a report.

The look follows seaborn's "whitegrid" theme and "deep" palette, drawn with plain matplotlib: seaborn
imports scipy (about a second per report kernel), which thousands of partner renders cannot afford.
Figures are created with the object-oriented API (:class:`matplotlib.figure.Figure`, no pyplot), so
a notebook shows only what the report embeds.

Speed (thousands of reports per run): a figure has a fixed size and is laid out once, before it is
drawn, by :func:`fit` (margins from the measured tick labels, axis labels, titles and legends), so
saving it costs exactly one draw; no constrained layout, no ``bbox_inches="tight"`` (each of those
draws the figure again). Tick formatters memoize their Babel output.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from . import i18n

#: seaborn's "deep" palette.
PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3",
           "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]
PARTNER_COLOR = PALETTE[0]
PEER_COLOR = PALETTE[7]
STATUS_COLORS = {"green": "#2E8540", "amber": "#E0A100", "red": "#C44E52", "no_data": "#B0B0B0"}
GRID_COLOR = "#DDDDDD"
TEXT_COLOR = "#262626"
#: Default size (inches) and resolution of a report figure: 750 px wide at dpi 100.
FIGSIZE = (7.5, 3.0)
DPI = 100
#: White space (inches) kept around everything :func:`fit` places: labels, titles, legends.
PAD = 0.06


def new_axes(figsize: tuple[float, float] = FIGSIZE, ncols: int = 1, nrows: int = 1, sharex: bool = False,
             layout: str | None = None):
    """A new figure (no pyplot; an Agg canvas) and its Axes (an array of Axes when ncols/nrows > 1).

    ``layout`` None: the figure is laid out once by :func:`fit` when it is saved (one draw);
    "constrained" (small multiples) lets matplotlib lay it out while drawing.
    """
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout)
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
    return max(w for w, _h, _d in sizes), line_h * (1 + 0.2 * (len(lines) - 1))


def _tick_labels(axis, renderer) -> tuple[list[float], list[tuple[float, float]], float]:
    """The visible major ticks of ``axis``: positions as fractions of the axis (0..1), label sizes in
    pixels, and the label's distance from the spine (pixels: tick length + pad)."""
    if not axis.get_visible() or not axis._major_tick_kw.get("label1On", True):
        return [], [], 0.0
    locs = np.asarray(axis.get_majorticklocs(), dtype=float)
    if not len(locs):
        return [], [], 0.0
    lo, hi = sorted(axis.get_view_interval())
    labels = axis.major.formatter.format_ticks(locs)
    tick = axis.get_major_ticks(len(locs))[0]
    prop = tick.label1.get_fontproperties()
    span = (hi - lo) or 1.0
    tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
    keep = [(float((x - lo) / span), lab) for x, lab in zip(locs, labels) if lo - tol <= x <= hi + tol]
    if axis.get_scale() != "linear":  # fractions only matter for the ends; keep it simple elsewhere
        keep = [(0.5, lab) for _f, lab in keep]
    dist = (tick.get_tick_padding() + tick.get_pad()) * axis.get_figure(root=True).dpi / 72
    return [f for f, _l in keep], [_text_extent(renderer, lab, prop) for _f, lab in keep], dist


def fit(fig, pad: float = PAD):
    """Lay out a one-Axes figure without drawing it: margins just wide enough for the tick labels,
    axis labels, title and any legend placed outside the plot area; axis labels are pinned where the
    margins put them. Figures with several Axes get one ``tight_layout``; figures with a layout
    engine are left to it. Every figure gets an Agg canvas (what :func:`blocks.png_bytes` draws on).
    Returns the figure. Call it after everything is drawn on it (calling it again changes nothing).
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
    fig.subplots_adjust(left=left / W, right=1 - right / W, bottom=bottom / H, top=1 - top / H)
    # a legend outside the plot area (e.g. above it): make room for it, then place the axes again
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        box, frame = legend.get_window_extent(renderer), ax.bbox
        top = max(top, p + max(0.0, box.y1 - frame.y1))
        bottom = max(bottom, p + max(0.0, frame.y0 - box.y0))
        left = max(left, p + max(0.0, frame.x0 - box.x0))
        right = max(right, p + max(0.0, box.x1 - frame.x1))
        fig.subplots_adjust(left=left / W, right=1 - right / W, bottom=bottom / H, top=1 - top / H)
    # pin the axis labels (even empty ones): drawing then skips measuring the tick labels again
    axw, axh = W - left - right, H - bottom - top
    ax.xaxis.set_label_coords(0.5, -(below + xl_pad) / axh)
    ax.yaxis.set_label_coords(-(beside + yl_pad) / axw, 0.5)
    return fig


#: Babel tick labels already formatted, per (kind, locale, currency): axes share the same ticks.
_TICK_CACHE: dict[tuple, dict] = {}


def _formatter(kind: str, locale: str = "en", currency: str = "EUR") -> FuncFormatter:
    """:func:`i18n.matplotlib_formatter` with its labels memoized (a tick value is formatted once
    per process, however many figures and draws show it)."""
    base = i18n.matplotlib_formatter(kind, locale, currency)
    memo = _TICK_CACHE.setdefault((kind, str(locale), currency), {})

    def label(x, pos=None):
        text = memo.get(x)
        if text is None:
            text = memo[x] = base(x, pos)
        return text

    return FuncFormatter(label)


def style(ax, grid: str = "y"):
    """Apply the whitegrid look to an Axes (light grid, no top/right spines, small type)."""
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#BBBBBB")
    ax.tick_params(labelsize=9, colors=TEXT_COLOR, length=0)
    ax.set_axisbelow(True)
    ax.grid(False)
    if grid in ("x", "y", "both"):
        ax.grid(True, axis=grid, color=GRID_COLOR, linewidth=0.8)
    ax.title.set_fontsize(10.5)
    ax.xaxis.label.set_fontsize(9)
    ax.yaxis.label.set_fontsize(9)
    return ax


def _axes(ax, figsize=FIGSIZE, grid: str = "y"):
    if ax is None:
        ax = new_axes(figsize)
    return style(ax, grid)


def _legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(frameon=False, fontsize=8.5, **kw)


def _empty(ax, message: str):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --------------------------------------------------------------------------------------------
# partner scorecard
# --------------------------------------------------------------------------------------------


def revenue_trend(history: pd.DataFrame, *, period: str = "period", actual: str = "revenue",
                  forecast: str = "forecast", lower: str = "lower", upper: str = "upper",
                  kind: str = "kind", ax=None, locale: str = "en", currency: str = "EUR",
                  interval: float | None = None):
    """Quarterly revenue (solid line) and the next-quarter forecast with its prediction band.

    ``history`` has one row per quarter: ``kind`` "actual" rows carry ``actual``; "forecast" rows
    carry ``forecast``/``lower``/``upper``. The band joins the last actual quarter to the interval.
    """
    _ = i18n.translator(locale).gettext
    ax = _axes(ax)
    data = history.sort_values(period).reset_index(drop=True)
    labels = data[period].astype(str).tolist()
    x = np.arange(len(data))
    is_actual = (data[kind] == "actual").to_numpy()
    ax.plot(x[is_actual], data.loc[is_actual, actual], marker="o", markersize=4, color=PARTNER_COLOR,
            linewidth=2, label=_("Revenue"))
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
        ax.plot(xs, mid, linestyle="--", marker="o", markersize=4, color=PALETTE[1], linewidth=1.5,
                label=_("Forecast"))
    ax.set_xticks(x, labels)
    ax.yaxis.set_major_formatter(_formatter("currency", locale, currency))
    ax.set_ylim(bottom=0)
    _legend(ax, loc="upper left")
    return ax


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
    _legend(ax, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    return ax


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
    _legend(ax, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    return ax


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
    _legend(ax, loc="upper right")
    return ax


def cycle_curves(curves: pd.DataFrame, *, group: str = "group", days: str = "days",
                 survival: str = "survival", ci_low: str | None = "ci_low", ci_high: str | None = "ci_high",
                 labels: Mapping[str, str] | None = None, colors: Mapping[str, str] | None = None,
                 ax=None, locale: str = "en"):
    """Kaplan–Meier curves: share of deals still open after d days, one step line per group,
    with its 95% confidence band. ``labels`` maps group values to legend labels."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    groups = list(pd.unique(curves[group]))
    for i, g in enumerate(groups):
        c = curves[curves[group] == g].sort_values(days)
        color = (colors or {}).get(g, PALETTE[i % len(PALETTE)])
        label = (labels or {}).get(g, str(g))
        ax.step(c[days], c[survival], where="post", color=color, linewidth=2, label=label)
        if ci_low and ci_high and ci_low in c and ci_high in c and c[ci_low].notna().any():
            ax.fill_between(c[days], c[ci_low], c[ci_high], step="post", color=color, alpha=0.15, linewidth=0)
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Days since the deal was registered"))
    ax.set_ylabel(_("Deals still open"))
    _legend(ax, loc="upper right")
    return ax


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
        ax.plot(pos, d[columns[i]], marker="o", markersize=3, color=PALETTE[i % len(PALETTE)], linewidth=1.8)
        ax.set_title(titles[i], loc="left")
        ax.set_xticks(pos[::step], labels[::step])
        fmt = {"currency": "currency", "percent": "percent"}.get(kinds[i], "number")
        ax.yaxis.set_major_formatter(_formatter(fmt, locale, currency))
    return flat[:n]


def pareto_curve(data: pd.DataFrame, *, cum_share: str = "cum_share", ax=None, locale: str = "en",
                 threshold: float | None = 0.8):
    """Pareto: cumulative share of revenue (y) against the share of partners, largest first (x)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, grid="both")
    y = np.r_[0, np.sort(data[cum_share].astype(float).to_numpy())]
    x = np.linspace(0, 1, len(y))
    ax.plot(x, y, color=PARTNER_COLOR, linewidth=2, label=_("Cumulative revenue share"))
    if threshold is not None:
        ax.axhline(threshold, color=PALETTE[3], linewidth=1, linestyle="--",
                   label=_("{p} of revenue").format(p=i18n.format_percent(threshold, locale)))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Share of partners, largest first"))
    _legend(ax, loc="lower right")
    return ax


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
    ax.plot(x, y, color=PARTNER_COLOR, linewidth=2, label=label)
    ax.fill_between(x, y, x, color=PARTNER_COLOR, alpha=0.1, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(_formatter("percent", locale))
    ax.yaxis.set_major_formatter(_formatter("percent", locale))
    ax.set_xlabel(_("Share of partners, smallest first"))
    ax.set_ylabel(_("Share of revenue"))
    _legend(ax, loc="upper left")
    return ax


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
    ax.imshow(grid, cmap="Blues", origin="lower", aspect="auto", vmin=0, vmax=max(grid.max(), 1) * 1.3)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{i18n.format_number(grid[i, j], locale, digits=0)}\n{text[i][j]}",
                    ha="center", va="center", fontsize=9, color=TEXT_COLOR)
    names = list(level_labels or levels)
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel(_("Potential"))
    ax.set_ylabel(_("Performance"))
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def cohort_retention(data: pd.DataFrame, *, cohort: str = "cohort", age: str = "age_quarters",
                     value: str = "active_share", ax=None, locale: str = "en"):
    """Heatmap: share of each onboarding cohort (rows) still active after n quarters (columns)."""
    _ = i18n.translator(locale).gettext
    ax = _axes(ax, figsize=(7.5, max(2.0, 0.3 * data[cohort].nunique() + 1.0)), grid="none")
    table = data.pivot_table(index=cohort, columns=age, values=value, aggfunc="first").sort_index()
    ax.imshow(table.to_numpy(float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(table.to_numpy(float)):
        if not np.isnan(v):
            ax.text(j, i, i18n.format_percent(v, locale), ha="center", va="center", fontsize=7.5,
                    color="white" if v > 0.6 else TEXT_COLOR)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index])
    ax.set_xlabel(_("Quarters since onboarding"))
    ax.set_ylabel(_("Onboarding quarter"))
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


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
    _legend(ax, loc="upper right")
    return ax


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


def empty(message: str, ax=None):
    """An Axes that only says ``message`` (used when a figure has nothing to draw)."""
    return _empty(_axes(ax, grid="none"), message)
