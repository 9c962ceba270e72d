"""Figures: tidy data in, Axes out, with the expected artists (channel_analysis.plots)."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle

from channel_analysis import plots

NBSP = "\xa0"


def bars_of(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def tick_texts(ax, axis="x"):
    ax.figure.canvas.draw()  # tick labels are formatted at draw time
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks]


@pytest.fixture
def history():
    return pd.DataFrame({
        "period": ["2026Q1", "2026Q2", "2026Q3", "2026Q4"],
        "revenue": [100.0, 120.0, 110.0, np.nan],
        "forecast": [np.nan, np.nan, np.nan, 115.0],
        "lower": [np.nan, np.nan, np.nan, 90.0],
        "upper": [np.nan, np.nan, np.nan, 140.0],
        "kind": ["actual", "actual", "actual", "forecast"],
    })


def test_revenue_trend_draws_history_forecast_and_band(history):
    ax = plots.revenue_trend(history, locale="en")
    assert isinstance(ax, Axes)
    actual, fc = ax.lines
    assert list(actual.get_ydata()) == [100.0, 120.0, 110.0]
    # the forecast line starts at the last actual quarter (x=2, 110) and ends at the forecast (x=3, 115)
    assert list(fc.get_xdata()) == [2, 3] and list(fc.get_ydata()) == [110.0, 115.0]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Revenue", "Forecast range", "Forecast"]


def test_revenue_trend_without_forecast_has_one_line(history):
    ax = plots.revenue_trend(history[history["kind"] == "actual"])
    assert len(ax.lines) == 1 and not ax.collections


def test_revenue_axis_uses_french_compact_currency(history):
    big = history.assign(revenue=history["revenue"] * 1e4, forecast=history["forecast"] * 1e4,
                         lower=history["lower"] * 1e4, upper=history["upper"] * 1e4)
    labels = tick_texts(plots.revenue_trend(big, locale="fr_FR"), "y")
    # ticks every 200,000: "0 €", "200 k €", ..., "1,2 M €" (CLDR fr compact: "k", "M", comma decimal)
    assert f"1,2{NBSP}M{NBSP}€" in labels and f"200{NBSP}k{NBSP}€" in labels


def test_category_mix_bars_sorted_largest_on_top():
    mix = pd.DataFrame({"category": ["A", "B", "C"], "revenue": [5.0, 30.0, 10.0],
                        "revenue_prev_year": [4.0, 20.0, np.nan]})
    ax = plots.category_mix(mix)
    assert len(bars_of(ax)) == 6  # 3 this year + 3 last year
    # barh draws bottom-up: the largest (B) is last, i.e. on top
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "C", "B"]


def test_pipeline_by_stage_follows_stage_order():
    d = pd.DataFrame({"stage": ["Propose", "Qualify"], "stage_order": [2, 0],
                      "open_amount": [100.0, 50.0], "weighted_amount": [45.0, 5.0]})
    ax = plots.pipeline_by_stage(d)
    assert len(bars_of(ax)) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Propose", "Qualify"]  # Qualify on top


def test_pipeline_aging_stacks_stale_on_fresh():
    deals = pd.DataFrame({"age_bucket": ["0-30", "0-30", "181+"], "amount": [10.0, 5.0, 7.0],
                          "stale": [False, True, True]})
    ax = plots.pipeline_aging(deals, order=["0-30", "31-90", "181+"])
    fresh, stale = bars_of(ax)[:3], bars_of(ax)[3:]
    # fresh: 0-30 -> 10, 31-90 -> 0, 181+ -> 0; stale: 0-30 -> 5 on top of 10, 181+ -> 7
    assert [b.get_height() for b in fresh] == [10.0, 0.0, 0.0]
    assert [b.get_height() for b in stale] == [5.0, 0.0, 7.0]
    assert stale[0].get_y() == 10.0


def test_cycle_curves_one_step_line_and_band_per_group():
    days = [0, 10, 20]
    c = pd.DataFrame({"group": ["partner"] * 3 + ["peers"] * 3, "days": days * 2,
                      "survival": [1, 0.6, 0.2, 1, 0.8, 0.5], "ci_low": [1, 0.5, 0.1, 1, 0.7, 0.4],
                      "ci_high": [1, 0.7, 0.3, 1, 0.9, 0.6]})
    ax = plots.cycle_curves(c, labels={"partner": "You", "peers": "Peers"})
    assert len(ax.lines) == 3  # two curves + median reference line
    assert len(ax.collections) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["You", "Peers"]


def test_percentile_bars_colour_by_quartile_and_missing_is_grey():
    d = pd.DataFrame({"label": ["a", "b", "c", "d"], "percentile": [90.0, 50.0, 10.0, np.nan]})
    ax = plots.percentile_bars(d)
    bars = bars_of(ax)[::-1]  # drawn bottom-up
    colours = [b.get_facecolor() for b in bars]
    from matplotlib.colors import to_rgba
    assert colours[0] == to_rgba(plots.STATUS_COLORS["green"])
    assert colours[1] == to_rgba(plots.PARTNER_COLOR)
    assert colours[2] == to_rgba(plots.STATUS_COLORS["red"])
    assert colours[3] == to_rgba(plots.STATUS_COLORS["no_data"])
    assert ax.get_xlim() == (0, 100)


def test_tier_gap_bars_progress_is_actual_over_required():
    d = pd.DataFrame({"label": ["rev", "reps"], "required": [500.0, 3.0], "actual": [250.0, 3.0]})
    ax = plots.tier_gap_bars(d)
    widths = [b.get_width() for b in bars_of(ax)][::-1]
    assert widths == [0.5, 1.0]  # 250/500, 3/3


def test_pareto_and_lorenz():
    p = pd.DataFrame({"value": [60.0, 30.0, 10.0], "cum_share": [0.6, 0.9, 1.0]})
    ax = plots.pareto_curve(p)
    assert list(ax.lines[0].get_ydata()) == [0, 0.6, 0.9, 1.0]
    ax = plots.lorenz_curve(p, value="value", gini=0.33)
    # smallest first: 10, 30, 60 of 100 -> cumulative 0, .1, .4, 1
    assert np.allclose(ax.lines[1].get_ydata(), [0, 0.1, 0.4, 1.0])
    assert "0.33" in ax.lines[1].get_label()


def test_segment_matrix_counts_cells():
    cells = pd.DataFrame({"performance": ["high", "low"], "potential": ["high", "medium"],
                          "partners": [3, 2], "action": ["Invest", "Monitor"]})
    ax = plots.segment_matrix(cells)
    texts = [t.get_text() for t in ax.texts]
    assert "3\nInvest" in texts and "2\nMonitor" in texts and texts.count("0\n") == 7


def test_cohort_retention_heatmap_annotates_cells():
    c = pd.DataFrame({"cohort": ["2026Q1", "2026Q1", "2026Q2"], "age_quarters": [0, 1, 0],
                      "active_share": [1.0, 0.5, 1.0]})
    ax = plots.cohort_retention(c)
    assert sorted(t.get_text() for t in ax.texts) == ["100%", "100%", "50%"]


def test_mdf_return_and_kpi_trend():
    ax = plots.mdf_return(pd.DataFrame({"tier": ["Silver", "Gold"], "mdf_return": [4.0, 7.5]}))
    assert [b.get_height() for b in bars_of(ax)] == [4.0, 7.5]
    net = pd.DataFrame({"period": ["2026Q1", "2026Q2"], "revenue": [1.0, 2.0], "retention_rate": [0.9, 0.8]})
    axes = plots.kpi_trend(net, columns=["revenue", "retention_rate"], titles=["Revenue", "Retention"],
                           kinds=["currency", "percent"])
    assert len(axes) == 2 and [a.get_title(loc="left") for a in axes] == ["Revenue", "Retention"]


def test_draws_on_given_axes_and_does_not_use_pyplot():
    ax = plots.new_axes()
    assert plots.category_mix(pd.DataFrame({"category": ["A"], "revenue": [1.0]}), ax=ax, previous=None) is ax
    assert ax.figure.canvas.manager is None  # not registered with pyplot: nothing shows by itself


# ---- layout and PNG export: one draw per figure, fixed size, nothing clipped ----------------------

def _count_draws(fig):
    calls = []
    draw = fig.draw
    fig.draw = lambda renderer: calls.append(1) or draw(renderer)
    return calls


def _drawn(ax, axis="x"):
    """The tick labels a draw shows: those of ticks inside the view limits."""
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    i = 0 if axis == "x" else 1
    return [t for t in labels if t.get_text() and lo - 1e-9 <= t.get_position()[i] <= hi + 1e-9]


def _inside(box, frame, tol=0.5):
    return (box.x0 >= frame.x0 - tol and box.y0 >= frame.y0 - tol
            and box.x1 <= frame.x1 + tol and box.y1 <= frame.y1 + tol)


def test_png_bytes_draws_once_at_the_fixed_size():
    from PIL import Image
    import io
    from channel_analysis import blocks

    ax = plots.revenue_trend(pd.DataFrame({"period": ["2026Q1", "2026Q2"], "revenue": [1.0, 2.0],
                                           "kind": ["actual", "actual"]}))
    calls = _count_draws(ax.figure)
    png = blocks.png_bytes(ax)
    assert len(calls) == 1
    image = Image.open(io.BytesIO(png))
    # FIGSIZE 7.5 x 3.0 in at dpi 100 -> 750 x 300 px (no tight bounding box cropping or growing it)
    assert image.size == (750, 300) and image.mode == "P"
    assert blocks.png_bytes(ax) == png  # deterministic


def test_fit_leaves_room_for_long_labels_and_a_legend_above():
    from channel_analysis import blocks

    long = "A product category with a rather long name"
    mix = pd.DataFrame({"category": [long, "B", "C"], "revenue": [5e6, 3e6, 1e6],
                        "revenue_prev_year": [4e6, 2e6, 1e6]})
    ax = plots.category_mix(mix, locale="fr_FR")
    ax.set_xlabel("Chiffre d'affaires")
    blocks.png_bytes(ax)  # lays out, then draws: the artists now know where they are
    fig, frame = ax.figure, ax.figure.bbox
    texts = [*_drawn(ax, "x"), *_drawn(ax, "y"), ax.xaxis.label]
    assert all(_inside(t.get_window_extent(), frame) for t in texts if t.get_text())
    legend = ax.get_legend().get_window_extent()
    assert _inside(legend, frame) and legend.y0 >= ax.bbox.y1 - 1  # above the plot area, not over it
    assert ax.get_yticklabels()[-1].get_text() == long
    assert ax.bbox.width > 0.3 * frame.width  # the plot area keeps most of the width


def test_fit_pins_axis_labels_beside_the_tick_labels():
    from channel_analysis import blocks

    d = pd.DataFrame({"label": ["Revenue", "Win rate"], "percentile": [80.0, 20.0]})
    ax = plots.percentile_bars(d)
    ax.set_ylabel("Measure")
    blocks.png_bytes(ax)
    ticks = [t.get_window_extent() for t in _drawn(ax, "y")]
    ylabel, xlabel = ax.yaxis.label.get_window_extent(), ax.xaxis.label.get_window_extent()
    assert ylabel.x1 <= min(b.x0 for b in ticks) + 0.5 and ylabel.x0 >= -0.5
    assert xlabel.y1 <= min(t.get_window_extent().y0 for t in _drawn(ax, "x")) + 0.5 and xlabel.y0 >= -0.5


def test_small_multiples_keep_constrained_layout():
    from channel_analysis import blocks

    net = pd.DataFrame({"period": ["2026Q1", "2026Q2"], "revenue": [1e6, 2e6], "retention_rate": [0.9, 0.8]})
    axes = plots.kpi_trend(net, columns=["revenue", "retention_rate"], titles=["Revenue", "Retention"],
                           kinds=["currency", "percent"])
    fig = axes[0].figure
    assert fig.get_layout_engine() is not None
    calls = _count_draws(fig)
    blocks.png_bytes(axes)
    assert len(calls) == 1
    assert all(_inside(t.get_window_extent(), fig.bbox) for a in axes for t in [a.title, *_drawn(a, "y")])


def test_memoized_tick_labels_match_babel():
    from channel_analysis import i18n

    fmt = plots._formatter("currency", "fr_FR", "EUR")
    plain = i18n.matplotlib_formatter("currency", "fr_FR", "EUR")
    for value in (0.0, 1_200_000.0, 200_000.0, 1_200_000.0):
        assert fmt(value) == plain(value)
    assert fmt(1_200_000.0) == f"1,2{NBSP}M{NBSP}€"


def test_rotated_tick_labels_fall_back_to_tight_layout():
    from channel_analysis import blocks

    ax = plots.bars(pd.DataFrame({"segment": ["A rather long segment name", "B"], "v": [1.0, 2.0]}),
                    label="segment", value="v", horizontal=False)
    ax.tick_params(axis="x", labelrotation=60)
    blocks.png_bytes(ax)
    assert all(_inside(t.get_window_extent(), ax.figure.bbox) for t in _drawn(ax, "x"))


def test_png_of_any_figure_even_transparent_or_constrained():
    from PIL import Image
    import io
    from matplotlib.figure import Figure
    from channel_analysis import blocks

    fig = Figure(figsize=(2, 1), dpi=50, layout="constrained")  # no Agg canvas, a layout engine
    fig.subplots().plot([0, 1])
    assert Image.open(io.BytesIO(blocks.png_bytes(fig, dpi=50))).size == (100, 50)
    clear = Figure(figsize=(2, 1), facecolor="none")
    clear.subplots().plot([0, 1])
    image = Image.open(io.BytesIO(blocks.png_bytes(clear, dpi=50, colors=None)))
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0  # the corner stays transparent


# ---- seaborn look, legible and unambiguous figures (issue "Partner-ready pages") ------------------

import inspect

import matplotlib as mpl

#: The public signatures callers rely on (tidy data first, keyword columns, optional ax/axes).
SIGNATURES = {
    "revenue_trend": "(history: 'pd.DataFrame', *, period: 'str' = 'period', actual: 'str' = 'revenue', forecast: 'str' = 'forecast', lower: 'str' = 'lower', upper: 'str' = 'upper', kind: 'str' = 'kind', target: 'str | None' = 'target', ax=None, locale: 'str' = 'en', currency: 'str' = 'EUR', interval: 'float | None' = None)",
    "category_mix": "(data: 'pd.DataFrame', *, category: 'str' = 'category', value: 'str' = 'revenue', previous: 'str | None' = 'revenue_prev_year', ax=None, locale: 'str' = 'en', currency: 'str' = 'EUR', top: 'int' = 8)",
    "pipeline_by_stage": "(data: 'pd.DataFrame', *, stage: 'str' = 'stage', order: 'str | None' = 'stage_order', amount: 'str' = 'open_amount', weighted: 'str' = 'weighted_amount', ax=None, locale: 'str' = 'en', currency: 'str' = 'EUR')",
    "pipeline_aging": "(deals: 'pd.DataFrame', *, bucket: 'str' = 'age_bucket', amount: 'str' = 'amount', stale: 'str | None' = 'stale', order: 'Sequence[str] | None' = None, ax=None, locale: 'str' = 'en', currency: 'str' = 'EUR')",
    "cycle_curves": "(curves: 'pd.DataFrame', *, group: 'str' = 'group', days: 'str' = 'days', survival: 'str' = 'survival', ci_low: 'str | None' = 'ci_low', ci_high: 'str | None' = 'ci_high', labels: 'Mapping[str, str] | None' = None, colors: 'Mapping[str, str] | None' = None, ax=None, locale: 'str' = 'en')",
    "percentile_bars": "(data: 'pd.DataFrame', *, metric: 'str' = 'label', percentile: 'str' = 'percentile', ax=None, locale: 'str' = 'en')",
    "tier_gap_bars": "(data: 'pd.DataFrame', *, criterion: 'str' = 'label', required: 'str' = 'required', actual: 'str' = 'actual', ax=None, locale: 'str' = 'en')",
    "kpi_trend": "(data: 'pd.DataFrame', *, x: 'str' = 'period', columns: 'Sequence[str]', titles: 'Sequence[str]', kinds: 'Sequence[str]', axes=None, locale: 'str' = 'en', currency: 'str' = 'EUR')",
    "pareto_curve": "(data: 'pd.DataFrame', *, cum_share: 'str' = 'cum_share', ax=None, locale: 'str' = 'en', threshold: 'float | None' = 0.8)",
    "lorenz_curve": "(data: 'pd.DataFrame', *, value: 'str' = 'revenue', gini: 'float | None' = None, ax=None, locale: 'str' = 'en')",
    "segment_matrix": "(data: 'pd.DataFrame', *, performance: 'str' = 'performance', potential: 'str' = 'potential', count: 'str' = 'partners', action: 'str | None' = 'action', levels: 'Sequence[str]' = ('low', 'medium', 'high'), level_labels: 'Sequence[str] | None' = None, ax=None, locale: 'str' = 'en')",
    "cohort_retention": "(data: 'pd.DataFrame', *, cohort: 'str' = 'cohort', age: 'str' = 'age_quarters', value: 'str' = 'active_share', ax=None, locale: 'str' = 'en')",
    "mdf_return": "(data: 'pd.DataFrame', *, group: 'str' = 'tier', value: 'str' = 'mdf_return', ax=None, locale: 'str' = 'en', reference: 'float | None' = 1.0)",
    "effect_intervals": "(data: 'pd.DataFrame', *, label: 'str' = 'label', effect: 'str' = 'effect', low: 'str' = 'low', high: 'str' = 'high', ax=None, locale: 'str' = 'en', xlabel: 'str | None' = None)",
    "bars": "(data: 'pd.DataFrame', *, label: 'str', value: 'str', kind: 'str' = 'number', ax=None, locale: 'str' = 'en', currency: 'str' = 'EUR', color: 'str | None' = None, horizontal: 'bool' = True)",
    "empty": "(message: 'str', ax=None)",
}


def _realistic(locale="en"):
    """One call per plot function with data as the reports see it (percent axes near 100% included).
    Returns {name: Axes or list of Axes}."""
    quarters = [f"{y}Q{q}" for y in (2024, 2025, 2026) for q in (1, 2, 3, 4)][:11]
    rev = 410_000 * (1 + 0.04 * np.arange(10))
    hist = pd.DataFrame({"period": quarters, "revenue": [*rev, np.nan], "forecast": [np.nan] * 10 + [rev[-1] * 1.03],
                         "lower": [np.nan] * 10 + [rev[-1] * 0.8], "upper": [np.nan] * 10 + [rev[-1] * 1.3],
                         "kind": ["actual"] * 10 + ["forecast"]})
    mix = pd.DataFrame({"category": ["Controllers", "Sensors", "Drives", "Software", "Services", "HMI panels"],
                        "revenue": [205e3, 140e3, 95e3, 8e3, 5e3, 1.2e3],
                        "revenue_prev_year": [180e3, 150e3, 70e3, 9e3, np.nan, 2e3]})
    stages = pd.DataFrame({"stage": ["Qualify", "Develop", "Propose", "Negotiate"], "stage_order": [0, 1, 2, 3],
                           "open_amount": [120e3, 84e3, 230e3, 61e3], "weighted_amount": [12e3, 21e3, 103e3, 43e3]})
    rng = np.random.default_rng(3)
    deals = pd.DataFrame({"age_bucket": rng.choice(["0-30", "31-90", "91-180", "181+"], 30),
                          "amount": rng.lognormal(10.5, 0.6, 30), "stale": rng.random(30) < 0.3})
    deals.loc[0, ["age_bucket", "stale"]] = ["0-30", False]
    days = np.arange(0, 301, 10)
    curves = pd.concat([pd.DataFrame({"group": g, "days": days, "survival": np.exp(-days / k),
                                      "ci_low": np.clip(np.exp(-days / k) - 0.08, 0, 1),
                                      "ci_high": np.clip(np.exp(-days / k) + 0.08, 0, 1)})
                        for g, k in (("partner", 70), ("peers", 85))])
    pct = pd.DataFrame({"label": ["Revenue", "Revenue growth vs same quarter last year", "Gross margin %",
                                  "Win rate", "Lead acceptance time (median)", "Customer satisfaction"],
                        "percentile": [81.0, 45.5, 12.0, np.nan, 60.0, 97.0]})
    gap = pd.DataFrame({"label": ["Revenue (last 4 quarters)", "Certified sales reps", "Registration rate"],
                        "required": [500e3, 3.0, 0.7], "actual": [455e3, 3.0, 0.58]})
    net = pd.DataFrame({"period": quarters[:10], "revenue": rev * 40, "retention_rate": np.linspace(0.97, 1.0, 10),
                        "active_partners": np.arange(120, 130), "win_rate": np.linspace(0.41, 0.43, 10)})
    share = np.sort(rng.pareto(1.5, 200))[::-1]
    cum = pd.DataFrame({"cum_share": np.cumsum(share) / share.sum(), "value": share})
    cells = pd.DataFrame({"performance": ["high", "high", "medium", "low", "low"],
                          "potential": ["high", "low", "medium", "medium", "high"], "partners": [12, 3, 40, 22, 7],
                          "action": ["Invest", "Maintain", "Develop", "Monitor", "Activate"]})
    cohorts = pd.DataFrame([{"cohort": f"2025-{m:02d}", "months": a, "retained_share": 1.0 - 0.012 * a}
                            for m in range(1, 13) for a in range(0, 37 - 3 * m) if a <= 36])
    return {
        "revenue_trend": plots.revenue_trend(hist, locale=locale, interval=0.8),
        "category_mix": plots.category_mix(mix, locale=locale),
        "pipeline_by_stage": plots.pipeline_by_stage(stages, locale=locale),
        "pipeline_aging": plots.pipeline_aging(deals, order=["0-30", "31-90", "91-180", "181+"], locale=locale),
        "cycle_curves": plots.cycle_curves(curves, labels={"partner": "You", "peers": "Similar partners"},
                                           locale=locale),
        "percentile_bars": plots.percentile_bars(pct, locale=locale),
        "tier_gap_bars": plots.tier_gap_bars(gap, locale=locale),
        "kpi_trend": plots.kpi_trend(net, columns=["revenue", "retention_rate", "active_partners", "win_rate"],
                                     titles=["Revenue", "Retention", "Active partners", "Win rate"],
                                     kinds=["currency", "percent", "number", "percent"], locale=locale),
        "pareto_curve": plots.pareto_curve(cum, locale=locale),
        "lorenz_curve": plots.lorenz_curve(cum, value="value", gini=0.61, locale=locale),
        "segment_matrix": plots.segment_matrix(cells, locale=locale),
        "cohort_retention": plots.cohort_retention(cohorts, cohort="cohort", age="months", value="retained_share",
                                                   locale=locale),
        "mdf_return": plots.mdf_return(pd.DataFrame({"tier": ["Registered", "Silver", "Gold", "Platinum"],
                                                     "mdf_return": [2.1, 4.0, 7.5, 9.2]}), locale=locale),
        "effect_intervals": plots.effect_intervals(
            pd.DataFrame({"label": ["Network", "event", "digital campaign", "trade show"],
                          "effect": [0.12, 0.31, -0.04, np.nan], "low": [0.03, 0.08, -0.21, np.nan],
                          "high": [0.22, 0.58, 0.16, np.nan]}), locale=locale, xlabel="Revenue lift from MDF"),
        "bars": plots.bars(pd.DataFrame({"segment": ["reseller · West", "reseller · East", "distributor"],
                                         "v": [0.985, 0.99, 1.0]}), label="segment", value="v", kind="percent",
                           locale=locale),
        "empty": plots.empty("No data this quarter"),
    }


def _axes_of(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _drawn_texts(fig):
    """Every text a drawn figure shows, with its window extent: tick labels (inside the view), axis
    labels, titles, legend texts, and other visible texts (heatmap cells)."""
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for t in [*_drawn(ax, "x"), *_drawn(ax, "y"), ax.xaxis.label, ax.yaxis.label, ax.title,
                  ax._left_title, ax._right_title, *ax.texts]:
            if t.get_visible() and t.get_text().strip():
                out.append(t)
        if ax.get_legend() is not None:
            out += [t for t in ax.get_legend().get_texts() if t.get_text()]
    return out


def assert_no_repeated_tick_labels(fig):
    """No two neighbouring tick labels of any axis of ``fig`` read the same (call after drawing)."""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in ("x", "y"):
            labels = [t.get_text() for t in _drawn(ax, axis)]
            repeats = [(a, b) for a, b in zip(labels, labels[1:]) if a == b]
            assert not repeats, (axis, labels)


def assert_no_overlapping_text(fig, tol=0.5):
    """No two texts of a drawn figure overlap, and every text lies inside the figure."""
    texts = _drawn_texts(fig)
    boxes = [t.get_window_extent() for t in texts]
    for t, b in zip(texts, boxes):
        assert _inside(b, fig.bbox, tol=1.0), t.get_text()
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_w <= tol or overlap_h <= tol, (texts[i].get_text(), texts[j].get_text())


def test_public_signatures_are_unchanged():
    for name, signature in SIGNATURES.items():
        assert str(inspect.signature(getattr(plots, name))) == signature, name


@pytest.mark.parametrize("locale", ["en", "fr_FR"])
def test_every_figure_returns_axes_and_reads_unambiguously_wide_and_on_a_phone(locale):
    from channel_analysis import blocks

    for name, result in _realistic(locale).items():
        axes = _axes_of(result)
        assert axes and all(isinstance(a, Axes) for a in axes), name
        fig = axes[0].figure
        for layout in ("wide", "phone"):
            if layout == "phone":
                plots.phone_layout(fig)
            blocks.png_bytes(fig, dpi=plots.PHONE_DPI if layout == "phone" else plots.DPI)
            try:
                assert_no_repeated_tick_labels(fig)
                assert_no_overlapping_text(fig)
            except AssertionError as exc:
                raise AssertionError(f"{name} ({layout}, {locale}): {exc}") from None


def test_the_checks_catch_repeated_and_overlapping_labels():
    ax = plots.new_axes()
    ax.plot([0, 1], [0.99, 1.0])
    ax.set_yticks([0.99, 0.995, 1.0], ["99%", "100%", "100%"])
    ax.set_xticks([0.0, 0.01], ["a long label here", "and another one"])
    ax.figure.canvas.draw()
    with pytest.raises(AssertionError):
        assert_no_repeated_tick_labels(ax.figure)
    with pytest.raises(AssertionError):
        assert_no_overlapping_text(ax.figure)


def test_percent_ticks_near_100_get_the_decimals_that_tell_them_apart():
    fmt = plots._formatter("percent", "en")
    assert fmt.format_ticks([0.97, 0.98, 0.99, 1.0]) == ["97%", "98%", "99%", "100%"]
    assert fmt.format_ticks([0.98, 0.985, 0.99, 0.995, 1.0]) == ["98.0%", "98.5%", "99.0%", "99.5%", "100.0%"]
    money = plots._formatter("currency", "fr_FR", "EUR").format_ticks([1.2e6, 1.25e6, 1.3e6])
    assert len(set(money)) == 3 and money[1] == f"1,25{NBSP}M{NBSP}€"
    # a retention axis from 98% to 100%: what the old pages showed as 100%, 100%, 98%, 98%
    axes = plots.kpi_trend(pd.DataFrame({"period": ["2026Q1", "2026Q2", "2026Q3"], "r": [0.981, 0.999, 0.99]}),
                           columns=["r"], titles=["Retention"], kinds=["percent"])
    axes[0].figure.canvas.draw()
    assert_no_repeated_tick_labels(axes[0].figure)


def test_pipeline_aging_legend_is_clear_of_every_bar_and_line():
    from channel_analysis import blocks

    deals = pd.DataFrame({"age_bucket": ["0-30", "0-30", "31-90", "91-180", "181+"],
                          "amount": [90e3, 10e3, 40e3, 30e3, 95e3], "stale": [False, True, False, True, True]})
    ax = plots.pipeline_aging(deals, order=["0-30", "31-90", "91-180", "181+"])
    for layout in ("wide", "phone"):
        if layout == "phone":
            plots.phone_layout(ax.figure)
        blocks.png_bytes(ax)
        legend = ax.get_legend().get_window_extent()
        artists = [p for p in ax.patches if p.get_height()] + list(ax.lines)
        assert len(artists) == 5  # 2 on-track and 3 stale bars have a height
        for artist in artists:
            box = artist.get_window_extent()
            assert not legend.overlaps(box), (layout, box)
        assert legend.y0 >= ax.bbox.y1 - 0.5  # above the plot area: no future bar can sit under it


def test_figures_are_drawn_with_seaborn_without_global_side_effects(monkeypatch):
    import seaborn as sns

    assert plots.sns is sns
    before = dict(mpl.rcParams)
    calls = []
    for fn in ("lineplot", "heatmap"):
        real = getattr(sns, fn)
        monkeypatch.setattr(sns, fn, lambda *a, _real=real, _fn=fn, **k: calls.append(_fn) or _real(*a, **k))
    figures = _realistic()
    assert {"lineplot", "heatmap"} <= set(calls)
    assert dict(mpl.rcParams) == before  # the theme lived only while the figures were drawn
    whitegrid = sns.axes_style("whitegrid")
    ax = figures["pipeline_aging"]
    assert mpl.colors.to_hex(ax.yaxis.get_gridlines()[0].get_color()) == mpl.colors.to_hex(whitegrid["grid.color"])
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()  # sns.despine
    assert plots.PALETTE == sns.color_palette("deep").as_hex()
    assert set(plots.STATUS_COLORS) == {"green", "amber", "red", "no_data"}


def test_chart_text_is_at_least_9_css_px_on_a_390_px_phone():
    from PIL import Image
    import io
    from channel_analysis import blocks

    for name, result in _realistic().items():
        fig = _axes_of(result)[0].figure
        plots.phone_layout(fig)
        png = blocks.png_bytes(fig, dpi=plots.PHONE_DPI)
        width = Image.open(io.BytesIO(png)).size[0]
        assert width == round(plots.PHONE_WIDTH * plots.PHONE_DPI)
        sizes = [t.get_fontsize() for t in _drawn_texts(fig)]
        assert sizes and min(sizes) >= plots.MIN_FONT_PT, name
        # shown PHONE_CSS_WIDTH CSS px wide: points / 72 * css px per inch of the figure
        assert min(plots.phone_size_px(s) for s in sizes) >= 9, name


def test_figure_block_has_a_phone_rendering_and_keeps_its_caption():
    import base64
    import io
    import re
    from PIL import Image
    from channel_analysis import blocks

    html = blocks.figure(plots.revenue_trend(pd.DataFrame({"period": ["2026Q1", "2026Q2"], "revenue": [1.0, 2.0],
                                                           "kind": ["actual", "actual"]})), "Revenue per quarter").markup
    m = re.fullmatch(r'<figure class="ca-figure"><picture><source media="\(max-width: 600px\)" '
                     r'srcset="data:image/png;base64,([^" ]+) 2x" width="(\d+)" height="(\d+)"/>'
                     r'<img class="ca-img" src="data:image/png;base64,([^"]+)" alt="Revenue per quarter" '
                     r'width="750" height="300"/></picture><figcaption class="ca-caption">Revenue per quarter'
                     r'</figcaption></figure>', html)
    assert m
    phone = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
    wide = Image.open(io.BytesIO(base64.b64decode(m.group(4))))
    assert wide.size == (750, 300)
    assert phone.size == (int(m.group(2)) * 2, int(m.group(3)) * 2) == (800, 600)


def test_revenue_trend_marks_each_quarters_target(history):
    data = history.assign(target=np.where(history["kind"] == "actual", 250_000.0, np.nan))
    ax = plots.revenue_trend(data, locale="en")
    marks = [c for c in ax.collections if c.get_label() == "Target"]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == int((history["kind"] == "actual").sum())
    assert not [c for c in plots.revenue_trend(history).collections if c.get_label() == "Target"]
