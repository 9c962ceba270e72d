"""Translation catalogs (channel_analysis/locale) and localized reports and emails (issue 7).

(a) every message id used in the code is in every catalog, translated, not fuzzy, placeholders kept;
(b) French and Polish scorecards (every block, several data situations) show no English UI text,
    and every message the code asks for at run time is in the catalogs;
(c) the email (subject, HTML and plain-text parts) is in the partner's language;
(d) numbers, money, dates and chart ticks follow the locale (CLDR via Babel);
(e) the network overview stays in the channel team's language.
"""

from __future__ import annotations

import functools
import html.parser
import re
import string
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.messages.plurals import get_plural

import delivery_fixtures as fx
from bundle_factory import network_bundle, partner_bundle
from channel_analysis import blocks, i18n, plots
from channel_analysis.audit import english_leftovers
from channel_analysis.delivery import message as email_message
from channel_analysis.delivery.dispatch import run as deliver
from channel_analysis.delivery.wording import compose
from channel_analysis.overview import Overview
from channel_analysis.scorecard import SECTIONS, Scorecard

ROOT = Path(__file__).resolve().parents[1]
NBSP, NNBSP = "\xa0", "\u202f"
#: Every catalog but English must translate every message (English ones may stay empty: the ids are English).
CATALOGS = i18n.available_languages()

SCORECARD_BLOCKS = ["header", "how_to_read", "kpi_tiles", "revenue_trend", "revenue_table", "category_mix", "deals",
                    "customers", "pipeline_summary", "pipeline_by_stage", "pipeline_aging", "stale_deals",
                    "sales_cycle", "leads", "registration", "mdf", "certifications", "satisfaction",
                    "tier_status", "tier_gap", "peer_benchmark", "benchmark_table", "focus", "glossary"]
OVERVIEW_BLOCKS = ["header", "totals", "trends", "pareto", "lorenz", "segment_matrix", "tier_migration",
                   "tier_moves", "pipeline_health", "cycle_curves", "cohorts", "mdf_by_tier", "mdf_incrementality",
                   "at_risk", "churn_risk", "partner_table"]
EVERY_OPTIONAL = ("leads", "mdf", "surveys", "trainings", "opportunities", "targets", "forecast",
                  "benchmarks", "category_mix")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _key(msgid):
    return msgid if isinstance(msgid, str) else tuple(msgid)


@functools.lru_cache(maxsize=1)
def extracted_messages() -> dict:
    """Message id (str, or (singular, plural)) → files using it, extracted from the package and the
    notebooks now, with the mapping of babel.cfg and Babel's default keywords (_, ngettext, N_, ...)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict = {}
    for folder in ("channel_analysis", "notebooks"):
        for filename, _lineno, msgid, _comments, _context in extract_from_dir(
                ROOT / folder, method_map, options_map, keywords=DEFAULT_KEYWORDS):
            found.setdefault(_key(msgid), set()).add(f"{folder}/{filename}")
    return found


def read_catalog(language: str):
    with open(i18n.catalog_path(language), "rb") as po:
        return read_po(po, locale=language)


def placeholders(text: str) -> set[str]:
    """{name}-style fields and %(name)s-style fields of a message."""
    fields = {f"{{{name}}}" for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    return fields | set(re.findall(r"%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]", text))


def normalize(text: str) -> str:
    return " ".join(text.replace(NBSP, " ").replace(NNBSP, " ").split())


class _Text(html.parser.HTMLParser):
    """Visible text of an HTML document: text nodes, plus alt/title attributes."""

    def __init__(self):
        super().__init__()
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.nodes += [v for k, v in attrs if k in ("alt", "title") and v]

    def handle_data(self, data):
        if data.strip():
            self.nodes.append(data)


def visible_text(markup: str) -> list[str]:
    parser = _Text()
    parser.feed(markup)
    return [normalize(n) for n in parser.nodes]


@pytest.fixture
def figure_texts(monkeypatch):
    """Figures are not encoded as PNG (fast); their texts (titles, axis labels, legends, category
    ticks) are collected instead, with the Axes for tick-format checks."""
    import matplotlib.text

    seen = {"texts": [], "axes": []}

    def fake_png(fig_or_ax, dpi=100):
        if isinstance(fig_or_ax, (list, tuple)):
            fig_or_ax = fig_or_ax[0]
        fig = fig_or_ax if hasattr(fig_or_ax, "savefig") else fig_or_ax.figure
        seen["axes"] += list(fig.axes)
        seen["texts"] += [normalize(t.get_text()) for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
        return b"png"

    monkeypatch.setattr(blocks, "png_bytes", fake_png)
    return seen


@pytest.fixture
def requested(monkeypatch):
    """Every message id the code asks a translator for while the test runs."""
    asked: set = set()
    real = i18n.translator

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        def gettext(self, message):
            asked.add(message)
            return self.inner.gettext(message)

        def ngettext(self, singular, plural, n):
            asked.add((singular, plural))
            return self.inner.ngettext(singular, plural, n)

        def pgettext(self, context, message):
            asked.add(message)
            return self.inner.pgettext(context, message)

    def recording_translator(locale=i18n.DEFAULT_LOCALE, fallback=i18n.DEFAULT_LOCALE):
        tr = real(locale, fallback)
        return i18n.Translator(locale=tr.locale, translations=Recording(tr.translations))

    monkeypatch.setattr(i18n, "translator", recording_translator)
    return asked


def scorecard_bundles(locale: str, currency: str = "EUR"):
    """The scorecard in three situations: complete data, few observations and no targets, and every
    optional table missing (the "not available" notes)."""
    full = partner_bundle(locale=locale, currency=currency)
    full.facts["forecast_method"] = "exp_smoothing"  # as build.py passes it: a forecast.py method code
    full.partner.update(recommendation="promote", recommended_tier="Gold", qualified_tier="Gold",
                        quarters_qualified=2)  # a recommended move up
    few = partner_bundle(locale=locale, currency=currency, low_sample=True, missing=("targets",))
    few.facts["forecast_method"] = "seasonal_naive"
    bare = partner_bundle(locale=locale, currency=currency, missing=EVERY_OPTIONAL, tier="Platinum")
    return [full, few, bare]


def render_scorecard(bundle, locale: str) -> str:
    report = Scorecard(bundle, locale=locale)
    parts = [report.section(key) for key in SECTIONS] + [getattr(report, m)() for m in SCORECARD_BLOCKS]
    return blocks.esc(report.title()) + "".join(str(p) for p in parts)


# --------------------------------------------------------------------------------------------
# (a) catalogs
# --------------------------------------------------------------------------------------------


def test_catalogs_exist_for_english_french_polish_with_cldr_plural_forms():
    assert {"en", "fr", "pl"} <= set(i18n.available_languages())
    for language in i18n.available_languages():
        catalog = read_catalog(language)
        # Babel's CLDR rules: fr 2 forms (n > 1), pl 3 forms (1 / 2-4 except 12-14 / other)
        assert catalog.num_plurals == get_plural(language).num_plurals, language
    assert read_catalog("pl").num_plurals == 3 and read_catalog("fr").num_plurals == 2


def test_template_pot_lists_every_message_used_in_the_code():
    with open(i18n.LOCALE_DIR / "messages.pot", "rb") as pot:
        in_pot = {_key(m.id) for m in read_po(pot) if m.id}
    used = extracted_messages()
    missing = {k: sorted(v) for k, v in used.items() if k not in in_pot}
    assert not missing, f"messages.pot is out of date, run `make messages`: {missing}"


@pytest.mark.parametrize("language", CATALOGS)
def test_every_message_in_the_code_is_in_the_catalog_translated_and_not_fuzzy(language):
    catalog = read_catalog(language)
    entries = {_key(m.id): m for m in catalog if m.id}
    problems = []
    used = extracted_messages()
    for msgid, files in sorted(used.items(), key=str):
        m = entries.get(msgid)
        where = f"{msgid!r} ({', '.join(sorted(files))})"
        if m is None:
            problems.append(f"missing: {where}")
            continue
        if m.fuzzy:
            problems.append(f"fuzzy (review it, then remove the fuzzy flag): {where}")
        forms = [m.string] if isinstance(m.string, str) else list(m.string)
        if language != "en" and not all(forms):
            problems.append(f"untranslated: {where}")
        ids = [msgid] if isinstance(msgid, str) else list(msgid)
        required = placeholders(ids[0])   # every form keeps the singular's fields ...
        allowed = set().union(*(placeholders(i) for i in ids))  # ... and uses no unknown one
        for form in filter(None, forms):
            if not required <= placeholders(form) <= allowed:
                problems.append(f"placeholders {sorted(placeholders(form))} != {sorted(allowed)}: {where}")
    unused = sorted(str(k) for k in entries if k not in used)
    if unused:
        problems.append(f"no longer used (run `make messages`): {unused}")
    assert not problems, f"{i18n.catalog_path(language)}:\n" + "\n".join(problems)


def test_catalogs_load_from_po_without_compiled_files():
    # the .po is compiled in memory: no .mo file is needed (nor shipped)
    assert not list(i18n.LOCALE_DIR.rglob("*.mo")), "compiled .mo files are never used: delete them"
    fr, pl = i18n.translator("fr_FR"), i18n.translator("pl-PL")
    assert fr.has_catalog and fr.gettext("Revenue") == "Chiffre d’affaires"
    assert pl.gettext("Revenue") == "Przychody"
    # Polish: 1 → one, 2-4 → few, 5-21 → many, 22-24 → few again
    forms = [pl.ngettext("{n} day", "{n} days", n).format(n=n) for n in (1, 2, 5, 12, 22, 25)]
    assert forms == ["1 dzień", "2 dni", "5 dni", "12 dni", "22 dni", "25 dni"]
    deals = [pl.ngettext("{n} open deal", "{n} open deals", n).format(n=n) for n in (1, 3, 5, 23)]
    assert deals == ["1 otwarta transakcja", "3 otwarte transakcje", "5 otwartych transakcji",
                     "23 otwarte transakcje"]
    # French: 0 and 1 are singular
    assert [fr.ngettext("{n} day", "{n} days", n).format(n=n) for n in (0, 1, 2)] == ["0 jour", "1 jour", "2 jours"]


def test_fallback_chain_partner_locale_then_run_fallback_then_english():
    # a language without a catalog: the run's fallback language, else English message ids
    assert i18n.translator("it_IT", fallback="fr").gettext("Revenue") == "Chiffre d’affaires"
    assert i18n.translator("it_IT").gettext("Revenue") == "Revenue"
    assert i18n.translator("it_IT").locale == "it_IT"  # numbers still formatted for it_IT
    assert i18n.translator(None, fallback="pl_PL").gettext("Revenue") == "Przychody"
    assert i18n.translator("en_GB").gettext("Revenue") == "Revenue"
    # a message a catalog lacks shows in English, never in another language
    assert i18n.translator("fr_FR", fallback="pl").gettext("not a message id") == "not a message id"


# --------------------------------------------------------------------------------------------
# (b) French and Polish scorecards
# --------------------------------------------------------------------------------------------


def test_english_check_sees_english_text(figure_texts):
    # the check below is only meaningful if it finds the English report's text
    html = "".join(render_scorecard(b, "en") for b in scorecard_bundles("en"))
    found = english_leftovers(visible_text(html) + figure_texts["texts"], "fr")
    assert len(found) > 100
    assert "How you compare with similar partners" in found and "Days open" in found


@pytest.mark.parametrize("locale, currency", [("fr_FR", "EUR"), ("pl_PL", "PLN")])
def test_scorecard_shows_no_english_ui_text(locale, currency, figure_texts, requested):
    html = "".join(render_scorecard(b, locale) for b in scorecard_bundles(locale, currency))
    nodes = visible_text(html) + figure_texts["texts"]

    assert english_leftovers(nodes, locale[:2]) == []
    # every message the code asked for is in the catalog (catches ids pybabel cannot see)
    catalog = {_key(m.id) for m in read_catalog(locale[:2]) if m.id}
    assert requested and not {k for k in requested if k not in catalog}
    # data stays data: the partner's name, escaped
    assert "Smith &amp; Sons &lt;Pro&gt;" in html


def test_every_forecast_method_has_words():
    # the scorecard names the method in words; a method code would show untranslated
    # (a partner without a forecast gets its own sentence: scorecard.NOT_ENOUGH_HISTORY)
    from channel_analysis import forecast
    from channel_analysis.scorecard import FORECAST_METHODS, NOT_ENOUGH_HISTORY

    assert NOT_ENOUGH_HISTORY == forecast.NOT_ENOUGH_HISTORY
    assert set(getattr(forecast, "METHODS", FORECAST_METHODS)) - {NOT_ENOUGH_HISTORY} <= set(FORECAST_METHODS)


def test_french_scorecard_reads_french(figure_texts):
    html = render_scorecard(scorecard_bundles("fr_FR")[0], "fr_FR")
    assert '<h2 class="ca-section-title">Priorités pour le trimestre prochain</h2>' in html
    assert "<h1>Tableau de bord partenaire</h1>" in html
    assert "Méthode de prévision\xa0: lissage exponentiel" in html
    assert "<dd>T3 2026 (du 1 juil. 2026 au 30 sept. 2026)</dd>" in html
    # the recommended move up (the factory's full bundle), in French, with the tier name translated
    assert ("Vos résultats remplissent les exigences du niveau Or depuis 2\u00a0trimestres consécutifs"
            in html or "Vos résultats remplissent les exigences du niveau Or depuis 2 trimestres consécutifs" in html)
    assert "Chiffre d’affaires" in figure_texts["texts"]  # the revenue chart's legend


def test_polish_scorecard_reads_polish(figure_texts):
    html = render_scorecard(scorecard_bundles("pl_PL", "PLN")[0], "pl_PL")
    assert '<h2 class="ca-section-title">Rejestracja produktów</h2>' in html
    assert "<dd>3. kwartał 2026 (1 lip 2026 – 30 wrz 2026)</dd>" in html
    assert "Dni od otwarcia" in figure_texts["texts"]  # the pipeline-aging x axis


# --------------------------------------------------------------------------------------------
# (c) email
# --------------------------------------------------------------------------------------------

KPIS = {"revenue": 1234567.4, "revenue_growth_yoy": 0.123, "win_rate": 0.5, "win_rate_low_sample": True}
TARGETS = pd.DataFrame({"metric": ["revenue"], "attainment": [0.92], "status": ["amber"]})


def _email(locale, contact="Anna Nowak", currency="EUR"):
    return compose(partner_name="Nordlicht GmbH", contact_name=contact, period="2026Q3", locale=locale,
                   currency=currency, sender_name="Channel team", kpis=KPIS, targets=TARGETS)


def test_french_email():
    c = _email("fr_FR")
    assert c.subject == "Nordlicht GmbH — tableau de bord partenaire T3 2026"
    assert c.greeting == "Bonjour Anna Nowak,"
    assert c.paragraphs[0] == "Vous trouverez en pièce jointe votre tableau de bord partenaire pour T3 2026."
    assert c.closing[:2] == ("Une question sur ces chiffres\u202f? Il vous suffit de répondre à cet e-mail.",
                             "Cordialement,")
    # the scorecard's labels and formats (measure catalog): 1,234,567.4 € → whole euros, fr grouping
    # U+202F, "€" after U+00A0; 0.123 → 12 %; 0.92 → 92 %
    assert [(h.label, h.value, h.note) for h in c.headlines] == [
        ("Chiffre d’affaires", f"1{NNBSP}234{NNBSP}567{NBSP}€", ""),
        ("Croissance sur un an", f"12{NBSP}%", ""),
        ("Taux de transformation", f"50{NBSP}%", "peu d’observations"),
        ("Objectif – Chiffre d’affaires", f"atteint à 92{NBSP}%", "presque atteint"),
    ]
    assert c.language == "fr_FR"


def test_polish_email():
    c = _email("pl_PL", contact=None, currency="PLN")
    assert c.subject == "Nordlicht GmbH — karta wyników partnera za 3. kwartał 2026"
    assert c.greeting == "Dzień dobry,"
    assert c.closing[1] == "Z poważaniem,"
    # pl: grouping U+00A0, "zł" after U+00A0, percent without a space
    assert [h.value for h in c.headlines] == [f"1{NBSP}234{NBSP}567{NBSP}zł", "12%", "50%",
                                              "92% realizacji"]
    assert c.headlines[3].label == "Cel – Przychody" and c.headlines[3].note == "prawie osiągnięty"


@pytest.mark.parametrize("locale", ["fr_FR", "pl_PL"])
def test_email_parts_have_no_english_ui_text(locale):
    c = _email(locale)
    text = email_message.render_text(c)
    page = email_message.render_html(c)
    nodes = [normalize(line.strip(" -")) for line in text.splitlines() if line.strip()] + visible_text(page)
    assert english_leftovers(nodes + [c.subject], locale[:2]) == []
    assert f'lang="{locale.replace("_", "-")}"' in page


def test_dry_run_writes_each_email_in_the_partners_language(tmp_path, monkeypatch):
    # P001 French, P002 Polish, P005 no locale → the run's fallback (fr)
    partners = fx.PARTNERS.assign(locale=["fr_FR", "pl_PL", "de_DE", None, None])
    monkeypatch.setattr(fx, "PARTNERS", partners)
    run_dir = fx.make_run(tmp_path)
    params = fx.make_params(tmp_path)
    params["locale"]["fallback"] = "fr"

    assert deliver(params).ok
    table = pd.read_csv(run_dir / "outbox" / "outbox.csv", dtype=str).set_index("recipients")
    subject = table["subject"].to_dict()
    assert subject["anna.schmidt@nordlicht.example"] == "Nordlicht GmbH — tableau de bord partenaire T3 2026"
    assert subject["john@smithsons.example"] == "Smith & Sons <Pro> — karta wyników partnera za 3. kwartał 2026"
    assert subject["giulia@zefiro.example"] == "Zefiro Srl — tableau de bord partenaire T3 2026"
    msg = fx.parse((run_dir / "outbox" / table.loc["john@smithsons.example", "eml_file"]).read_bytes())
    assert msg["Content-Language"] == "pl-PL"
    assert "Dzień dobry, John Smith," in msg.get_body(("plain",)).get_content()


# --------------------------------------------------------------------------------------------
# (d) number, money, date and chart formats
# --------------------------------------------------------------------------------------------


def test_money_in_french_and_polish_cldr_style():
    # fr: group U+202F, decimal comma, U+00A0 before €; pl: group U+00A0, U+00A0 before zł
    assert i18n.format_currency(1234.5, "fr_FR", "EUR") == f"1{NNBSP}234,50{NBSP}€"
    assert i18n.format_currency(1234.5, "pl_PL", "PLN") == f"1{NBSP}234,50{NBSP}zł"
    assert i18n.format_number(1234.5, "fr_FR", digits=1) == f"1{NNBSP}234,5"
    assert i18n.format_date("2026-09-30", "pl_PL") == "30 wrz 2026"


def test_scorecard_values_follow_the_locale(figure_texts):
    fr = Scorecard(partner_bundle(locale="fr_FR"), locale="fr_FR")
    pl = Scorecard(partner_bundle(locale="pl_PL", currency="PLN"), locale="pl_PL")
    # 1234.5 rounded half-even to whole units → 1234
    assert fr.money(1234.5) == f"1{NNBSP}234{NBSP}€" and pl.money(1234.5) == f"1{NBSP}234{NBSP}zł"
    assert fr.fmt(0.125, "percent") == f"12{NBSP}%" and pl.fmt(0.125, "percent") == "12%"
    assert pl.fmt(2, "days") == "2 dni" and fr.fmt(1, "days") == "1 jour"


@pytest.mark.parametrize("locale, currency, million, percent", [
    ("fr_FR", "EUR", f"1,2{NBSP}M{NBSP}€", f"25{NBSP}%"),
    ("pl_PL", "PLN", f"1,2{NBSP}mln{NBSP}zł", "25%"),
])
def test_chart_ticks_use_the_locale(locale, currency, million, percent, figure_texts):
    report = Scorecard(partner_bundle(locale=locale, currency=currency), locale=locale)
    report.revenue_trend()
    ax = figure_texts["axes"][0]  # the wide rendering (the phone one follows it)
    assert ax.yaxis.get_major_formatter()(1_200_000, 0) == million
    report.sales_cycle()
    assert figure_texts["axes"][-1].yaxis.get_major_formatter()(0.25, 0) == percent
    assert plots.category_mix(report.b.category_mix, locale=locale, currency=currency) \
        .xaxis.get_major_formatter()(1_200_000, 0) == million


# --------------------------------------------------------------------------------------------
# (e) network overview: the channel team's language
# --------------------------------------------------------------------------------------------


def test_network_overview_stays_in_the_channel_teams_language(figure_texts):
    bundle = network_bundle(n_partners=12)  # partners in fr_FR, pl_PL and en: irrelevant here
    english = "".join(str(getattr(Overview(bundle, locale="en"), m)()) for m in OVERVIEW_BLOCKS)
    assert "<h1>Channel network overview</h1>" in english
    assert ("Tier moves the results recommend at the next review (anti-flapping rules met); a programme manager "
            "approves each one." in english or "No tier move is recommended this quarter." in english)

    figure_texts["texts"].clear()
    french = "".join(str(getattr(Overview(bundle, locale="fr"), m)()) for m in OVERVIEW_BLOCKS)
    assert "<h1>Synthèse du réseau de partenaires</h1>" in french
    assert english_leftovers(visible_text(french) + figure_texts["texts"], "fr") == []
