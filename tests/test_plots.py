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
