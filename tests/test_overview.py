"""Network overview composition (channel_analysis.overview)."""

import pandas as pd
import pytest

from bundle_factory import network_bundle
from channel_analysis.bundle import NetworkBundle
from channel_analysis.overview import SECTIONS, Overview

BLOCKS = ["header", "totals", "trends", "pareto", "lorenz", "segment_matrix", "tier_migration", "tier_moves",
          "pipeline_health", "cycle_curves", "cohorts", "mdf_by_tier", "at_risk", "partner_table"]


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


def test_tier_moves_lists_promoted_and_relegated():
    # the factory moves partner 3 and 6 (index 2 and 5) off their current tier in the previous quarter
    b = network_bundle(n_partners=20)
    tiers = b["tiers"]
    cur = tiers[tiers["period"] == "2026Q3"]
    moved = set(cur.loc[cur["change"].isin(["promoted", "relegated"]), "partner_id"])
    html = Overview(b).tier_moves().markup
    assert moved and all(pid in html for pid in moved)


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
