"""Network overview composition (channel_analysis.overview)."""

import html
import json
import math
import re

import pandas as pd
import pytest

from bundle_factory import network_bundle
from channel_analysis import audit, build, exports, i18n, measures, sample
from channel_analysis.bundle import NetworkBundle
from channel_analysis.dataset import load_dataset
from channel_analysis.overview import SECTIONS, Overview
from channel_analysis.params import load_params

BLOCKS = ["header", "totals", "trends", "pareto", "lorenz", "segment_matrix", "tier_migration", "tier_moves",
          "pipeline_health", "cycle_curves", "cohorts", "mdf_by_tier", "at_risk", "partner_table", "account_coverage",
          "treatments", "mdf_incrementality", "activation_curve", "churn_risk"]


@pytest.fixture(scope="module")
def overview():
    return Overview(network_bundle(n_partners=20), locale="en")


def test_every_block_renders(overview):
    for m in BLOCKS:
        html = getattr(overview, m)().markup
        assert html and "ca-note-unavailable" not in html, m
    for key in SECTIONS:
        assert "<h2" in overview.section(key).markup


def test_partner_names_escaped_in_tables(overview):
    html = overview.partner_table().markup
    assert "Smith &amp; Sons &lt;Pro&gt;" in html and "<Pro>" not in html
    assert html.count("<tr>") == 21  # header + 20 partners


def test_tier_moves_lists_the_recommended_moves():
    # the factory recommends moving partner 3 and 6 (index 2 and 5) off their official tier
    b = network_bundle(n_partners=20)
    moved = set(b["movements"]["partner_id"])
    html = Overview(b).tier_moves().markup
    assert moved and all(pid in html for pid in moved)
    b.tables["movements"] = b["movements"].iloc[:0]
    assert "No tier move is recommended this quarter." in Overview(b).tier_moves().markup


def test_pareto_caption_counts_partners_to_80_percent():
    b = NetworkBundle(period="2026Q3", as_of=pd.Timestamp("2026-10-05"), reporting_currency="EUR",
                      tables={"pareto": pd.DataFrame({"partner_id": list("abcd"), "value": [50.0, 30.0, 15.0, 5.0],
                                                      "cum_share": [0.5, 0.8, 0.95, 1.0],
                                                      "abc_class": ["A", "A", "B", "C"]})})
    html = Overview(b).pareto().markup
    # cum shares below 0.8: only "a" (0.5) -> 1 + 1 = 2 partners of 4 (50%) reach 80%
    assert "2 of 4 partners (50%) make 80% of revenue" in html
    assert "ABC classes: 2 A, 1 B, 1 C partners." in html


def test_empty_bundle_shows_not_available_everywhere():
    o = Overview(NetworkBundle(period="2026Q3", as_of=pd.Timestamp("2026-10-05"), reporting_currency="EUR"))
    for m in BLOCKS[1:]:
        assert "ca-note-unavailable" in getattr(o, m)().markup, m


# --------------------------------------------------------------------------------------------
# the overview of a real (small, generated) network: what the bundle holds, nothing recomputed
# --------------------------------------------------------------------------------------------

PERIOD = "2026Q3"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """(stats, exported tables, network bundle) of a generated network of 24 partners (seed 5: one
    partner at risk)."""
    data = tmp_path_factory.mktemp("data") / "sample"
    sample.write(sample.generate(partners=24, quarters=6, seed=5), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": PERIOD, "history_quarters": 6,
                                "data": {"source": str(data)}})
    stats = build.compute(load_dataset(params, progress=False), params)
    return stats, exports.network_tables(stats), exports.network_bundle(stats)


class _Recording(dict):
    """A bundle's tables that remember which ones were read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def _render_all(bundle) -> str:
    o = Overview(bundle, locale="en")
    return "".join(getattr(o, m)().markup for m in BLOCKS)


def test_every_bundle_table_is_shown_and_every_block_renders(real):
    _stats, _tables, b = real
    recording = _Recording(b.tables)
    html_all = _render_all(NetworkBundle(period=b.period, as_of=b.as_of, reporting_currency=b.reporting_currency,
                                         tables=recording, notes=b.notes))
    assert recording.read == set(b.tables), "the network bundle holds tables the overview never reads"
    assert "ca-note-unavailable" not in html_all


def test_exported_tables_in_the_bundle_are_the_exported_frames(real):
    _stats, tables, b = real
    for name in ("network", "tier_migration", "at_risk"):
        pd.testing.assert_frame_equal(b[name], tables[name])


_VALUE = re.compile(r'<span class="ca-value"([^>]*)>')
_ATTR = re.compile(r'data-([a-z]+)="([^"]*)"')


def test_every_tagged_value_is_the_exported_table_cell(real):
    stats, tables, b = real
    page = _render_all(b)
    kpis = tables["kpis"][tables["kpis"]["period"] == PERIOD].set_index(["partner_id", "window"])
    network = tables["network"].set_index("period").loc[PERIOD]
    spans = [{k: html.unescape(v) for k, v in _ATTR.findall(attrs)} for attrs in _VALUE.findall(page)]
    # values of another exported table (data-table, data-row: the MDF incrementality rows)
    _check_other_tables([s for s in spans if "table" in s], tables)
    spans = [s for s in spans if "table" not in s]
    # the programme section's values (treatments block) live in the exported programme_value table
    value = tables["programme_value"].set_index("partner_id")
    programme = [s for s in spans if measures.get(s["measure"]).table == "programme_value"]
    for s in programme:
        expected = value.loc[s["partner"], s["measure"]] if "partner" in s else value[s["measure"]].sum(min_count=1)
        assert (s["value"] == "" and pd.isna(expected)) or math.isclose(float(s["value"]), float(expected),
                                                                       rel_tol=1e-9), (s, expected)
    assert {s["measure"] for s in programme} == {"programme_value", "next_tier_extra_value", "rebate_earned",
                                                 "benefits_value"}
    spans = [s for s in spans if s not in programme]
    per_partner = [s for s in spans if "partner" in s]
    # every partner of the table of every partner: six tagged KPI values each (+ the at-risk rows)
    assert len(per_partner) == 6 * (len(tables["at_risk"]) + len(b["key_figures"]))
    lifts = {"mdf_incremental_effect", "mdf_incremental_effect_low", "mdf_incremental_effect_high"}
    assert {s["measure"] for s in spans if "partner" not in s} - lifts == {
        "revenue", "revenue_growth_prev", "partners_active_end", "retention_rate", "activation_rate",
        "channel_return", "revenue_gini_t4q", "accounts_promoted", "accounts_relegated",
        "activation_km_partners", "activation_share_90d",
        "activation_share_180d", "activation_share_365d", "activation_median_days"}
    checked = 0
    for s in spans:
        assert s["window"] in ("quarter", "t4q"), s
        if "partner" in s:
            expected = kpis.loc[(s["partner"], s["window"]), s["measure"]]
        else:
            assert s["window"] == "quarter"
            expected = network[s["measure"]]
        if s["value"] == "":
            assert pd.isna(expected), s
            continue
        got = float(s["value"])
        assert math.isclose(got, float(expected), rel_tol=1e-9, abs_tol=1e-9), (s, expected)
        checked += 1
    assert checked > 100


def _check_other_tables(spans, tables) -> int:
    """Every value tagged with data-table/data-row equals that table's cell; returns how many."""
    for s in spans:
        frame = tables[s["table"]]
        match = pd.Series(True, index=frame.index)
        for col, value in json.loads(s["row"]).items():
            match &= frame[col].astype(object).where(frame[col].notna(), "").astype(str) == value
        assert int(match.sum()) == 1, s
        expected = frame.loc[match, s["measure"]].iloc[0]
        if s["value"] == "":
            assert pd.isna(expected), s
        else:
            assert math.isclose(float(s["value"]), float(expected), rel_tol=1e-9, abs_tol=1e-9), (s, expected)
    return len(spans)


def test_matrix_lists_the_partners_of_each_cell(real):
    stats, tables, b = real
    block = Overview(b, locale="en").segment_matrix().markup
    assert "The partners in each cell of the matrix" in block
    names = stats.dataset.partners.set_index("partner_id")["name"]
    seg = tables["segments"]
    cells = b["segment_cells"]
    assert cells["partners"].sum() == len(seg)
    for rec in seg.itertuples():
        cell = cells[(cells["performance"] == (rec.performance if isinstance(rec.performance, str) else "unknown"))
                     & (cells["potential"] == (rec.potential if isinstance(rec.potential, str) else "unknown"))]
        assert len(cell) == 1 and names[rec.partner_id] in cell["names"].iloc[0].split("; ")
        assert html.escape(names[rec.partner_id]) in block


def test_tier_migration_shows_the_exported_counts(real):
    _stats, tables, b = real
    block = Overview(b, locale="en").tier_migration().markup
    mig = tables["tier_migration"]
    rows = re.findall(r"<tr>(.*?)</tr>", block)[1:]  # the first is the header
    levels = list(dict.fromkeys(mig["from_tier"]))
    assert len(rows) == len(levels)
    for row, level in zip(rows, levels):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert cells[0] == level
        assert [int(c) for c in cells[1:]] == mig[mig["from_tier"] == level]["partners"].tolist()


@pytest.mark.parametrize("locale", ["en", "de", "fi"])
def test_incomplete_quarter_is_stated_in_the_header(locale):
    b = network_bundle(n_partners=12)
    assert "ca-partial" not in Overview(b, locale=locale).header().markup  # complete quarter: silent
    b.notes = {**b.notes, "data_end": "2026-08-30"}
    head = Overview(b, locale=locale).header().markup
    assert "ca-partial" in head and i18n.format_date("2026-08-30", locale) in head and b.period in head
    if locale == "en":
        assert "The data for 2026Q3 end on Aug 30, 2026, before the quarter is over" in head
    else:
        assert "before the quarter is over" not in head
        assert audit.english_leftovers(audit.visible_text(head), i18n.text_language(locale)) == []
