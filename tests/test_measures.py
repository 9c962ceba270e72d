"""The measure catalog: every KPI column declared once, labelled in every language, documented."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from channel_analysis import build, i18n, kpis, measures, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.params import load_params
from channel_analysis.scorecard import Scorecard
from bundle_factory import partner_bundle


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    sample.write(sample.generate(partners=16, quarters=6, seed=3), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 6,
                                "data": {"source": str(data)}})
    return build.compute(load_dataset(params), params)


def test_every_kpi_column_is_declared(stats):
    assert measures.undeclared(stats.kpis.columns) == []


def test_every_network_column_is_declared(stats):
    assert measures.undeclared(stats.network.columns) == []


def test_the_lists_other_modules_use_come_from_the_catalog():
    assert kpis.SAMPLED == tuple(m.key for m in measures.MEASURES.values() if m.sampled and m.table == "kpis")
    assert kpis.TARGET_ACTUALS == {m.target: m.key for m in measures.MEASURES.values() if m.target}
    assert set(measures.TARGET_METRICS) == {"revenue", "gross_margin", "new_customers", "registration_rate",
                                           "certified_reps", "pipeline", "win_rate", "csat"}
    assert measures.HEADLINE == ("revenue", "revenue_growth_yoy", "registration_rate", "win_rate")


@pytest.mark.parametrize("language", [lang for lang in i18n.available_languages() if lang != "en"])
def test_every_label_is_translated_in_every_shipped_catalog(language):
    with open(i18n.catalog_path(language), "rb") as fh:
        catalog = {m.id: m for m in read_po(fh) if m.id}
    missing = [m.label for m in measures.MEASURES.values()
               if m.label not in catalog or not catalog[m.label].string or catalog[m.label].fuzzy]
    assert missing == []


def test_an_undeclared_measure_is_an_error_not_a_raw_label():
    report = Scorecard(partner_bundle())
    assert report.measure_label("win_rate") == "Win rate"
    with pytest.raises(KeyError, match="measure catalog"):
        report.measure_label("win_rate_unknown")


def test_companion_columns_belong_to_their_measure():
    assert measures.companion_of("win_rate_n") == "win_rate"
    assert measures.companion_of("win_rate_low") == "win_rate"
    assert measures.companion_of("csat_mean_low_sample") == "csat_mean"
    assert measures.companion_of("sales_cycle_ci_high") == "sales_cycle_median_days"
    assert measures.companion_of("revenue_n") is None  # revenue is not sampled: no companion
    assert measures.undeclared(["revenue", "win_rate_n", "mystery"]) == ["mystery"]


def test_kpi_doc_carries_the_current_catalog_and_defines_every_measure():
    text = measures.KPI_DOC.read_text(encoding="utf-8")
    assert text == measures.with_catalog(text), "run `channel-analysis docs` to regenerate docs/kpis.md"
    catalog_start = text.index("## Measure catalog")
    defined = set(re.findall(r"^\| `([a-z0-9_]+)`", text[:catalog_start], flags=re.M))
    defined |= {name for row in re.findall(r"^\| (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)+) \|", text[:catalog_start], flags=re.M)
                for name in re.findall(r"`([a-z0-9_]+)`", row)}
    assert sorted(set(measures.MEASURES) - defined) == []


def test_a_bad_declaration_is_refused():
    with pytest.raises(ValueError, match="kind/direction/table"):
        measures.Measure("x", "X", "furlongs", "doc")
