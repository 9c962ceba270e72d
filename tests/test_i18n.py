"""Locale resolution, gettext fallback and Babel formatting (channel_analysis.i18n)."""

import math

import numpy as np
import pandas as pd
import pytest

from channel_analysis import i18n

NNBSP, NBSP = "\u202f", "\xa0"


def test_currency_french_uses_narrow_nbsp_grouping_and_nbsp_before_symbol():
    # CLDR fr: group separator U+202F, decimal comma, "¤" after the number with U+00A0
    assert i18n.format_currency(1234.5, "fr_FR", "EUR") == f"1{NNBSP}234,50{NBSP}€"


def test_currency_polish_uses_nbsp_grouping_and_zloty_sign():
    # CLDR pl: group separator U+00A0, decimal comma, "zł" after the number with U+00A0
    assert i18n.format_currency(1234.5, "pl_PL", "PLN") == f"1{NBSP}234,50{NBSP}zł"


def test_currency_english():
    assert i18n.format_currency(1234.5, "en", "EUR") == "€1,234.50"


def test_currency_with_fixed_digits():
    # 1234.5 rounded half-even to 0 decimals -> 1234 ("€1,234")
    assert i18n.format_currency(1234.5, "en", "EUR", digits=0) == "€1,234"


def test_compact_currency_french_and_polish():
    assert i18n.format_compact_currency(1_234_567, "fr_FR", "EUR") == f"1,2{NBSP}M{NBSP}€"
    assert i18n.format_compact_currency(1_234_567, "pl_PL", "EUR") == f"1,2{NBSP}mln{NBSP}€"
    assert i18n.format_compact_currency(1_234_567, "en", "EUR") == "€1.2M"


def test_compact_currency_small_amounts_are_plain():
    assert i18n.format_compact_currency(950, "en", "EUR") == "€950"


def test_percent_follows_locale_spacing():
    # 0.125 -> 12.5 % with one decimal; fr puts U+00A0 before %, en none
    assert i18n.format_percent(0.125, "fr_FR", digits=1) == f"12,5{NBSP}%"
    assert i18n.format_percent(0.125, "en", digits=1) == "12.5%"
    assert i18n.format_percent(0.5, "en") == "50%"



def test_percent_trimmed_to_at_most_the_digits_and_signed_gains():
    # the email's headline figures: one decimal when there is one, a plus sign before a gain only
    assert i18n.format_percent(0.5, "en", 1, trim=True) == "50%"
    assert i18n.format_percent(0.123, "de_DE", 1, trim=True, signed=True) == f"+12,3{NBSP}%"
    assert i18n.format_percent(-0.05, "en", 1, trim=True, signed=True) == "-5%"
    assert i18n.format_percent(0, "en", 1, trim=True, signed=True) == "0%"
    assert i18n.format_percent(None, "en", 1, signed=True) == i18n.MISSING


def test_a_percent_that_rounds_to_nothing_has_no_sign():
    # −0.04 % shown with no decimal was "-0 %": a loss that is not there
    assert i18n.format_percent(-0.0004, "fr_FR") == f"0{NBSP}%"
    assert i18n.format_percent(0.0004, "en", signed=True) == "0%"
    assert i18n.format_percent(-0.0004, "en", 1) == "0.0%"
    assert i18n.format_percent(-0.006, "en") == "-1%"

def test_number_and_date():
    assert i18n.format_number(1234.567, "en", digits=1) == "1,234.6"
    assert i18n.format_number(1234.567, "fr", digits=1) == f"1{NNBSP}234,6"
    assert i18n.format_date(pd.Timestamp("2026-10-05"), "en") == "Oct 5, 2026"
    assert i18n.format_date("2026-10-05", "fr_FR") == "5 oct. 2026"


@pytest.mark.parametrize("missing", [None, math.nan, np.nan, pd.NA, pd.NaT])
def test_missing_values_show_a_dash(missing):
    assert i18n.format_number(missing) == "—"
    assert i18n.format_percent(missing, "fr") == "—"
    assert i18n.format_currency(missing, "pl_PL", "PLN") == "—"
    assert i18n.format_compact_currency(missing) == "—"
    assert i18n.format_date(missing) == "—"


def test_pick_locale_falls_back_in_order():
    assert i18n.pick_locale("fr-FR", "pl") == "fr_FR"
    assert i18n.pick_locale(None, "pl_PL") == "pl_PL"
    assert i18n.pick_locale("", "xx_YY", float("nan")) == "en"
    assert i18n.pick_locale("xx_YY", "pl") == "pl"


def test_translator_unknown_locale_falls_back_to_english_ids():
    tr = i18n.translator("xx_YY", fallback="zz")
    assert tr.locale == "en"
    assert tr.gettext("Revenue") == "Revenue"
    assert tr._("Revenue") == "Revenue"


def test_translator_without_catalog_returns_msgids_with_plural_rules():
    tr = i18n.translator("it_IT")  # no Italian catalog: English message ids, English plural rule
    assert tr.locale == "it_IT"
    assert tr.gettext("Pipeline") == "Pipeline"
    assert tr.ngettext("{n} deal", "{n} deals", 1) == "{n} deal"
    assert tr.ngettext("{n} deal", "{n} deals", 3) == "{n} deals"


def test_N_marks_without_translating():
    assert i18n.N_("Win rate") == "Win rate"


def test_matplotlib_formatter_uses_locale():
    fmt = i18n.matplotlib_formatter("currency", "fr_FR", "EUR")
    assert fmt(1_200_000, 0) == f"1,2{NBSP}M{NBSP}€"
    assert i18n.matplotlib_formatter("percent", "en")(0.25, 0) == "25%"
    assert i18n.matplotlib_formatter("percentile", "en")(0.25, 0) == "25"


def test_join_list():
    assert i18n.join_list(["a", "b", "c"], "en") == "a, b, and c"
    assert i18n.join_list(["a", "b", "c"], "fr") == "a, b et c"


def test_percent_ticks_get_decimals_when_they_are_close():
    formatter = i18n.matplotlib_formatter("percent", "en")
    formatter.set_locs([0.980, 0.985, 0.990])  # half a point apart: one decimal
    assert [formatter(x) for x in (0.980, 0.985)] == ["98.0%", "98.5%"]
    formatter.set_locs([0.0, 0.2, 0.4])
    assert formatter(0.2) == "20%"


def test_a_page_without_a_catalog_for_its_language_is_english():
    assert i18n.text_language("fr_BE") == "fr_BE"
    assert i18n.text_language("pl") == "pl"
    assert i18n.text_language("it_IT") == "en"  # no Italian catalog: English words, lang="en"
    assert i18n.text_language(None) == "en"
