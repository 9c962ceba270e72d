"""Scorecard composition (channel_analysis.scorecard) and both report notebooks end to end."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundle_factory import network_bundle, partner_bundle
from channel_analysis import audit, blocks, i18n
from channel_analysis import bundle as bundle_mod
from channel_analysis.scorecard import SECTIONS, Scorecard, tile_status
from channel_analysis.settings import FOCUS_RULES

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = ["header", "how_to_read", "kpi_tiles", "revenue_trend", "revenue_table", "category_mix", "customers", "deals",
          "pipeline_summary", "pipeline_by_stage", "pipeline_aging", "stale_deals", "sales_cycle", "leads",
          "registration", "mdf", "certifications", "satisfaction", "tier_status", "tier_gap", "peer_benchmark",
          "benchmark_table", "focus", "glossary"]


@pytest.mark.parametrize("attainment, expected", [
    (1.0, "green"), (1.3, "green"), (0.95, "amber"), (0.9, "amber"), (0.899, "red"), (0.0, "red"),
    (np.nan, "no_data"), (None, "no_data"),
])
def test_tile_status_from_attainment(attainment, expected):
    assert tile_status(attainment, green=1.0, amber=0.9) == expected


def test_tiles_take_status_from_attainment_when_missing():
    b = partner_bundle()
    b.targets = pd.DataFrame({"period": ["2026Q3"] * 3, "metric": ["csat", "revenue", "win_rate"],
                              "target": [4.0, 100.0, 0.5], "actual": [4.0, 95.0, 0.2],
                              "attainment": [1.0, 0.95, 0.4], "status": [None, None, None]})
    tiles = Scorecard(b).tiles()
    # displayed in TARGET_KPI order: revenue, win_rate, csat
    assert [t.label for t in tiles] == ["Revenue", "Win rate", "Customer satisfaction (1–5)"]
    assert [t.status for t in tiles] == ["amber", "red", "green"]
    assert [t.status_text for t in tiles] == ["Close to target", "Below target", "On target"]
    assert tiles[0].value.text == "€95" and tiles[0].detail == "Target €100 · 95% reached"
    # the shown value says which cell of the KPI table it is
    assert 'data-measure="revenue" data-window="quarter" data-value="95.0"' in tiles[0].value.markup


def test_tiles_markup_has_status_classes_and_words():
    html = Scorecard(partner_bundle()).kpi_tiles().markup
    assert 'class="ca-tiles"' in html
    assert re.search(r'class="ca-tile ca-(green|amber|red)"', html)
    assert "On target" in html or "Below target" in html


def test_no_targets_shows_headline_tiles_and_note():
    html = Scorecard(partner_bundle(missing=("targets",))).kpi_tiles().markup
    assert "No targets were agreed" in html and "ca-tile ca-nodata" in html


def _focus_bundle():
    """A bundle whose gaps are set by hand (no benchmarks, no coverage KPI)."""
    b = partner_bundle(missing=("benchmarks",))
    b.kpis["pipeline_coverage"] = np.nan
    b.targets = pd.DataFrame({"period": ["2026Q3"], "metric": ["revenue"], "target": [200.0], "actual": [100.0],
                              "attainment": [0.5], "status": ["red"]})
    b.tier_gap = pd.DataFrame({"next_tier": ["Gold", "Gold"], "criterion": ["certified_reps", "revenue_t4q"],
                               "required": [3.0, 500.0], "actual": [1.0, 900.0], "gap": [2.0, 0.0],
                               "met": [False, True]})
    b.open_deals = pd.DataFrame({"opportunity_id": ["a", "b", "c", "d"], "stage": "Propose", "amount": [25.0] * 4,
                                 "age_days": [10, 20, 200, 30], "age_bucket": "0-30",
                                 "stale": [False, False, True, False], "stale_reason": ["", "", "open_too_long", ""]})
    return b


def test_focus_rules_ranked_by_weighted_gap():
    items = Scorecard(_focus_bundle()).focus_items()
    # tier: certified reps 1 of 3 -> gap (3-1)/3 = 0.667 x 0.9 = 0.6
    # target: revenue attainment 0.5 -> gap 0.5 x 1.0 = 0.5
    # mdf: utilization 0.35 (factory) -> gap 0.65 x 0.6 = 0.39
    # stale: 25 of 100 open value -> 0.25 x 0.8 = 0.2
    # revenue_t4q criterion is met -> no item
    assert [(i.rule, i.topic) for i in items] == [("tier", "certified_reps"), ("target", "revenue"),
                                                  ("mdf", "mdf_utilization"), ("stale", "stale_deals")]
    assert [i.severity for i in items] == pytest.approx([0.6, 0.5, 0.39, 0.2])
    assert items[0].text == "Certified sales reps: raise it from 1 to 3 to reach the Gold tier."
    assert items[3].text == "Update or close your stale deal worth €25."
    assert set(FOCUS_RULES) >= {i.rule for i in items}


def test_focus_keeps_one_item_per_topic_and_at_most_five():
    b = _focus_bundle()
    # the same topic from a missed target and an open tier criterion: keep the larger
    b.targets = pd.DataFrame({"period": ["2026Q3"], "metric": ["certified_reps"], "target": [2.0], "actual": [1.0],
                              "attainment": [0.5], "status": ["red"]})
    items = Scorecard(b).focus_items()
    topics = [i.topic for i in items]
    assert topics.count("certified_reps") == 1
    # tier rule 0.6 beats target rule 0.5 x 1.0
    assert next(i for i in items if i.topic == "certified_reps").rule == "tier"
    assert len(Scorecard(partner_bundle(seed=3)).focus_items()) <= 5


def test_focus_skips_low_sample_rates():
    b = _focus_bundle()
    b.targets = pd.DataFrame({"period": ["2026Q3"], "metric": ["csat"], "target": [4.5], "actual": [3.0],
                              "attainment": [0.667], "status": ["red"]})
    b.kpis["csat_mean_low_sample"] = True
    assert "csat_mean" not in [i.topic for i in Scorecard(b).focus_items()]


def test_focus_with_no_gaps_says_so():
    b = partner_bundle(missing=("benchmarks", "targets", "mdf", "opportunities"))
    b.tier_gap = b.tier_gap.iloc[0:0]
    sc = Scorecard(b)
    assert sc.focus_items() == []
    assert "Nothing stands out" in sc.focus().markup


def test_low_sample_captions_say_so():
    sc = Scorecard(partner_bundle(low_sample=True))
    cycle = sc.sales_cycle().markup
    assert "ca-note-lowsample" in cycle and "Based on only 3 observations" in cycle
    sat = sc.satisfaction().markup
    assert "Customer satisfaction (1–5) *" in sat and "fewer than 5 observations" in sat
    assert "Only 3 observations" in sc.kpi_tiles().markup  # csat target tile on 3 answers


def test_partner_name_is_escaped_everywhere():
    sc = Scorecard(partner_bundle(name='Smith & Sons <Pro> "x"'))
    html = "".join(getattr(sc, m)().markup for m in BLOCKS)
    assert "<Pro>" not in html
    assert "Smith &amp; Sons &lt;Pro&gt; &quot;x&quot;" in sc.header().markup
    assert sc.title() == 'Partner scorecard — Smith & Sons <Pro> "x" — Q3 2026'  # plain text for <title>


def test_data_strings_in_tables_are_escaped():
    b = partner_bundle()
    b.open_deals.loc[b.open_deals["stale"], "stage"] = "<b>Negotiate</b>"
    html = Scorecard(b).stale_deals().markup
    assert "&lt;b&gt;Negotiate&lt;/b&gt;" in html and "<b>" not in html


@pytest.mark.parametrize("missing", [("leads", "mdf", "surveys", "trainings"), ("opportunities",),
                                     ("targets", "forecast", "benchmarks", "category_mix")])
def test_missing_optional_data_shows_notes_not_errors(missing):
    b = partner_bundle(missing=missing)
    out = {m: getattr(Scorecard(b), m)().markup for m in BLOCKS}  # each block on its own
    assert all(isinstance(v, str) for v in out.values())
    if "leads" in missing:
        assert "ca-note-unavailable" in out["leads"] and "ca-note-unavailable" in out["mdf"]
    if "opportunities" in missing:
        for m in ("pipeline_summary", "pipeline_by_stage", "pipeline_aging", "stale_deals", "sales_cycle"):
            assert "ca-note-unavailable" in out[m], m
    if "forecast" in missing:
        assert "ca-note-unavailable" in out["revenue_trend"] and "ca-note-unavailable" in out["peer_benchmark"]


def test_empty_kpi_table_does_not_fail():
    b = partner_bundle()
    b.kpis = pd.DataFrame()
    sc = Scorecard(b)
    for m in BLOCKS:
        getattr(sc, m)()
    assert "ca-note-unavailable" in Scorecard(b).customers().markup


def test_a_section_says_not_available_once_and_repeats_no_note():
    sc = Scorecard(partner_bundle(missing=("opportunities",)))
    section = [str(sc.section("pipeline"))] + [str(getattr(sc, m)()) for m in
                                               ("pipeline_summary", "pipeline_by_stage", "pipeline_aging",
                                                "stale_deals")]
    assert "".join(section).count("ca-note-unavailable") == 1
    sc.section("sales_cycle")  # a new section may say it again
    assert "ca-note-unavailable" in str(sc.sales_cycle())


def test_figures_are_embedded_pngs_with_captions():
    html = Scorecard(partner_bundle()).revenue_trend().markup
    assert html.count('<img class="ca-img" src="data:image/png;base64,') == 1
    assert '<figcaption class="ca-caption">Your revenue per quarter and our forecast for Q4 2026' in html
    assert len(html) < 80_000  # a small PNG


def test_french_report_formats_numbers_and_dates():
    sc = Scorecard(partner_bundle(locale="fr_FR"), locale="fr_FR")
    head = sc.header().markup
    assert "1 juil. 2026" in head and "30 sept. 2026" in head
    assert "\xa0€" in sc.kpi_tiles().markup


def test_locale_falls_back_to_partner_then_english():
    assert Scorecard(partner_bundle(locale="pl_PL"), locale=None).locale == "pl_PL"
    assert Scorecard(partner_bundle(locale="pl_PL"), locale="xx").locale == "pl_PL"
    b = partner_bundle()
    b.partner["locale"] = None
    assert Scorecard(b, locale="").locale == "en"


def test_every_section_has_a_heading():
    sc = Scorecard(partner_bundle())
    for key in SECTIONS:
        assert '<h2 class="ca-section-title">' in sc.section(key).markup


def test_benchmark_percentile_turned_round_for_lower_is_better():
    b = partner_bundle()
    b.benchmarks = pd.DataFrame({"metric": ["win_rate", "lead_accept_days_median"], "value": [0.5, 3.0],
                                 "percentile": [80.0, 80.0], "peer_median": [0.4, 2.0]})
    rows = Scorecard(b).benchmark_rows()
    # win rate: higher is better -> 80; days to accept: 80% of peers are faster -> 100 - 80 = 20
    assert rows["percentile"].tolist() == [80.0, 20.0]


# --------------------------------------------------------------------------------------------
# notebooks end to end (papermill, real kernel)
# --------------------------------------------------------------------------------------------


def _execute(notebook: str, tmp_path: Path, parameters: dict):
    import jupytext
    import nbformat
    import papermill as pm

    nb = jupytext.read(ROOT / "notebooks" / notebook)
    src = tmp_path / (Path(notebook).stem + ".ipynb")
    nbformat.write(nb, src)
    out = tmp_path / ("out_" + src.name)
    pm.execute_notebook(str(src), str(out), parameters=parameters, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    return nbformat.read(out, as_version=4)


def _html_outputs(nb) -> str:
    return "".join(o.get("data", {}).get("text/html", "") if isinstance(o.get("data", {}).get("text/html"), str)
                   else "".join(o.get("data", {}).get("text/html", []))
                   for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _no_code_logic(source: str):
    code = "\n".join(line for line in source.splitlines() if not line.startswith("#"))
    assert not re.search(r"^\s*(def|for|while|if|class|with|lambda)\b", code, re.M)


@pytest.mark.slow
def test_partner_scorecard_notebook_runs_end_to_end(tmp_path):
    path = bundle_mod.save(partner_bundle(name="Smith & Sons <Pro>", locale="fr_FR"), tmp_path / "P0001.bundle")
    nb = _execute("partner_scorecard.py", tmp_path, {"partner_id": "P0001", "period": "2026Q3",
                                                     "bundle_path": str(path), "locale": "fr_FR"})
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    html = _html_outputs(nb)
    french = i18n.translator("fr_FR").gettext  # the partner's language (issue 7)
    for heading in ("At a glance", "Revenue", "End customers", "Pipeline", "Sales cycle", "Leads",
                    "Product registration", "Marketing development funds", "Certifications and training",
                    "Customer satisfaction", "Partner tier", "How you compare with similar partners",
                    "Focus for next quarter", "Glossary"):
        assert f'<h2 class="ca-section-title">{blocks.esc(french(heading))}</h2>' in html, heading
    assert "L’essentiel" in html and "At a glance" not in html
    assert html.count('<img class="ca-img" src="data:image/png;base64,') == 7  # one per figure (each also has a phone <source>)
    assert "Smith &amp; Sons &lt;Pro&gt;" in html and "<Pro>" not in html
    assert len(html) < 400_000
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'partner_id: str = "P0001"' in params[0].source
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            _no_code_logic(cell.source)


@pytest.mark.slow
def test_network_overview_notebook_runs_end_to_end(tmp_path):
    path = bundle_mod.save(network_bundle(), tmp_path / "network.bundle")
    nb = _execute("network_overview.py", tmp_path, {"period": "2026Q3", "bundle_path": str(path), "locale": "en"})
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    html = _html_outputs(nb)
    for heading in ("Totals and trends", "Concentration", "Performance and potential", "Tier migration",
                    "Pipeline health by segment", "Sales cycle by segment", "Onboarding cohorts",
                    "MDF return by tier", "Partners at risk", "Every partner"):
        assert f'<h2 class="ca-section-title">{heading}</h2>' in html, heading
    assert html.count('<img class="ca-img" src="data:image/png;base64,') == 9  # one per figure (each also has a phone <source>)
    assert "ca-note-unavailable" not in html
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            _no_code_logic(cell.source)


# ---- KPI lookups: indexed once per report -----------------------------------------------------

def test_kpi_lookup_matches_the_bundle_rows_and_filters_nothing_per_call(monkeypatch):
    b = partner_bundle(low_sample=True)
    sc = Scorecard(b)
    monkeypatch.setattr(type(b), "kpi", lambda *a, **k: pytest.fail("Scorecard must use its own KPI index"))
    for rec in b.kpis.itertuples(index=False):
        # every (window, period) row of the factory's KPI table, looked up by window and quarter label
        assert sc.kpi("revenue", rec.window, rec.period) == pytest.approx(rec.revenue)
    # the reported quarter is the default period; low-sample flags come from the same row
    q = b.kpis[(b.kpis["window"] == "quarter") & (b.kpis["period"] == "2026Q3")].iloc[0]
    assert sc.kpi("csat_mean") == pytest.approx(q["csat_mean"])
    assert sc.low_sample("csat_mean") == (bool(q["csat_mean_low_sample"]), 3.0)  # factory: csat_mean_n = 3
    assert np.isnan(sc.kpi("revenue", "quarter", "1999Q1")) and np.isnan(sc.kpi("no_such_column"))
    assert sc.low_sample("csat_mean", window="no_such_window") == (False, pytest.approx(np.nan, nan_ok=True))


def test_kpi_lookup_without_a_kpi_table_is_nan():
    b = partner_bundle()
    b.kpis = pd.DataFrame()
    sc = Scorecard(b)
    assert np.isnan(sc.kpi("revenue")) and sc.low_sample("win_rate")[0] is False


def test_cached_frames_are_copies():
    sc = Scorecard(partner_bundle())
    rows = sc.benchmark_rows()
    rows["percentile"] = -1.0
    assert (sc.benchmark_rows()["percentile"] >= 0).all()
    targets = sc.target_rows()
    targets.loc[:, "status"] = "no_data"
    assert len(sc.target_rows()) == 6  # the factory agrees six targets
    assert (sc.target_rows()["status"] != "no_data").all()


def test_tiles_carry_a_sparkline_of_the_last_quarters():
    html = Scorecard(partner_bundle()).kpi_tiles().markup
    assert html.count('<svg class="ca-spark"') == len(Scorecard(partner_bundle()).tiles()) > 0
    assert 'aria-label="Revenue over the last 8 quarters"' in html
    assert "<script" not in html


# ---- short history, lead times not reached, incomplete quarter (issue 12) ----------------------

LANGUAGES = ("en", "fr", "pl", "de", "nl", "da", "es", "pt", "sv", "cs", "sk", "fi")


def _issue12_bundle(locale: str = "en") -> bundle_mod.PartnerBundle:
    """A partner with too short a history for a forecast, a lead funnel where fewer than half the
    leads were accepted, and a reported quarter whose data end on 30 Aug 2026."""
    b = partner_bundle(locale=locale)
    b.forecast = b.forecast[b.forecast["kind"] == "actual"].tail(1).reset_index(drop=True)
    b.facts = {**b.facts, "forecast_method": "not_enough_history", "data_end": "2026-08-30"}
    k = b.kpis.copy()
    k["lead_accept_days_median"] = np.nan
    k["lead_accept_days_not_reached"] = 88.0
    k["lead_convert_days_median"] = np.nan
    k["lead_convert_days_not_reached"] = 61.0
    b.kpis = k
    return b


def test_short_history_says_not_enough_history_instead_of_a_forecast():
    sc = Scorecard(_issue12_bundle())
    html = sc.revenue_trend().markup
    assert "Not enough history for a forecast yet: it needs 2 quarters of revenue." in html
    assert "our forecast" not in html and "Forecast method" not in html and "—" not in html


def test_lead_median_not_reached_says_so():
    html = Scorecard(_issue12_bundle()).leads().markup
    assert "fewer than half accepted within 88 days" in re.sub(r"<[^>]+>", "", html)
    assert "fewer than half converted within 61 days" in re.sub(r"<[^>]+>", "", html)
    assert "Median days to convert a lead" in html
    assert 'data-measure="lead_accept_days_not_reached" data-window="quarter" data-value="88.0"' in html
    assert "Median days to accept a lead" in html


def test_incomplete_quarter_is_stated_in_the_header():
    html = Scorecard(_issue12_bundle()).header().markup
    assert ("The data for Q3 2026 end on Aug 30, 2026, before the quarter is over: growth, at-risk flags "
            "and the forecast are not reported for this quarter.") in html
    assert "ca-partial" not in Scorecard(partner_bundle()).header().markup  # a complete quarter: silent


@pytest.mark.parametrize("locale", LANGUAGES)
def test_issue12_texts_render_in_every_language(locale):
    sc = Scorecard(_issue12_bundle(locale), locale=locale)
    parts = {"header": sc.header().markup, "revenue": sc.revenue_trend().markup, "leads": sc.leads().markup}
    language = i18n.text_language(locale)
    tr = sc.tr
    history = ("Not enough history for a forecast yet: it needs {n} quarter of revenue.",
               "Not enough history for a forecast yet: it needs {n} quarters of revenue.")
    for msgid, where, text in ((history[1], "revenue", tr.ngettext(*history, 2)),
                               ("fewer than half accepted within {days}", "leads", None),
                               ("fewer than half converted within {days}", "leads", None)):
        text = text or tr.gettext(msgid)
        assert locale == "en" or text != msgid, (locale, msgid)
        head = text.split("{")[0].strip()
        assert head and head in parts[where], (locale, head)
    assert "ca-partial" in parts["header"]
    for name, markup in parts.items():  # (an English page has no leftovers to look for)
        assert locale == "en" or audit.english_leftovers(audit.visible_text(markup), language) == [], (locale, name)


# ---- tables as DataFrames, styles in a notebook ---------------------------------------------

def test_a_table_block_holds_the_numbers_it_shows_and_a_styler_of_them():
    sc = Scorecard(partner_bundle(), locale="en")
    deals = sc.deals()
    assert isinstance(deals, blocks.Table)
    frame = deals.frame.set_index("Measure")
    label = sc.measure_label("deals_won").rstrip(" *")
    row = next(r for r in frame.index if r.rstrip(" *") == label)
    for window, header in (("quarter", "This quarter"), ("ytd", "Year to date"), ("t4q", "Last 4 quarters")):
        expected = sc.kpi("deals_won", window)
        assert frame.loc[row, header] == expected or (np.isnan(expected) and np.isnan(frame.loc[row, header]))
    styled = deals.styler()
    assert styled.data is deals.frame
    html = styled.to_html()
    for text in deals.shown["This quarter"]:  # the Styler shows the page's texts, not raw floats
        assert f">{blocks.esc(text)}</td>" in html
    # sorting the frame is the analyst's: the block's own markup is unchanged
    before = deals.markup
    deals.frame.sort_values("Measure")
    assert deals.markup == before and 'class="ca-table"' in before


def test_the_lab_stylesheet_styles_the_blocks_and_leaves_jupyterlab_alone():
    css = blocks.lab_stylesheet().markup
    assert css.startswith('<style class="ca-lab-style">') and css.endswith("</style>")
    for rule in (".ca-tile.ca-green{", ".ca-badge.ca-red{", "table.ca-table th{", ".ca-note{"):
        assert rule in css, rule
    assert "--ca-green:" in css  # the colour variables the rules use
    # rules that would restyle JupyterLab itself (page-wide, its cell classes, print) are left out
    assert ".jp-" not in css and "body" not in css and "@page" not in css and "@media print" not in css
    assert not re.search(r"(^|\})\s*(h1|h2|a|\*)[\s,{]", css)
