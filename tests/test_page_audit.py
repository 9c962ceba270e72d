"""The page audit: every sample partner's scorecard, in every language, read as a partner would.

One module-scoped quarterly run on the shipped sample (every partner, every locale it has), then:
- every page: no English UI text or English sentences on a translated page, no raw column name, no
  nan/None/NaT/inf, no note repeated in a section, ``<html lang>`` = the language of its words;
- every sample locale has a catalog (else its partners read English: the page must then say so);
- every shown number equals the exported table (audit.check_run);
- in headless Chromium at 390 px: no page wider than the screen, no text below 9 CSS px; and the
  screenshots at 1280 and 390 px of an English, French, Polish and German scorecard are saved in
  test-artifacts/ for people to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import page_browser
from channel_analysis import audit, delivery, i18n, quarter, sample
from channel_analysis.params import load_params

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SHOWN_LANGUAGES = ("en", "fr", "pl", "de")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sample-run")
    data = tmp / "data"
    sample.write(sample.generate(), data)  # the shipped sample: every locale, every situation
    params = load_params(ROOT / "params" / "sample.yaml",
                         {"data": {"source": str(data)}, "output_dir": str(tmp / "out"),
                          "render": {"pdf": False}})  # the PDF is tested in test_reports
    summary = quarter.run(params, progress=False)
    delivery.run(params)  # the dry run: every message into the outbox
    run_dir = Path(params["output_dir"]) / params["period"]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    partners = pd.read_parquet(data / "partners.parquet").set_index("partner_id")
    return {"summary": summary, "dir": run_dir, "manifest": manifest, "partners": partners, "data": data}


def _pages(run):
    for pid, entry in run["manifest"]["reports"].items():
        if entry.get("status") == "ok":
            yield pid, entry, (run["dir"] / entry["output"]).read_text(encoding="utf-8")


def test_the_run_renders_every_reported_partner(sample_run):
    assert sample_run["summary"].ok, sample_run["summary"].format()
    assert len(sample_run["summary"].rendered) > 150


def test_every_sample_locale_has_a_catalog(sample_run):
    languages = {str(loc).split("_")[0] for loc in sample_run["partners"]["locale"].dropna()}
    assert sorted(languages - set(i18n.available_languages())) == []


def test_every_page_reads_clean_in_its_own_language(sample_run):
    problems = []
    for pid, entry, page in _pages(sample_run):
        name = str(sample_run["partners"].loc[pid, "name"])
        found = audit.page_problems(page, entry["locale"], data_values=(name,))
        lang = re.search(r'<html lang="([^"]+)"', page).group(1)
        expected = i18n.text_language(entry["locale"]).replace("_", "-")
        if lang != expected:
            found.append(f'<html lang="{lang}"> but the words are {expected}')
        problems += [f"{pid} ({entry['locale']}): {p}" for p in found]
    assert problems == [], "\n".join(problems[:40]) + f"\n… {len(problems)} problems in all"


def test_the_tier_shown_is_the_official_tier_and_churned_partners_get_nothing(sample_run):
    partners, as_of = sample_run["partners"], pd.Timestamp("2026-10-05")
    shown = {}
    for pid, _entry, page in _pages(sample_run):
        shown[pid] = re.search(r'data-fact="tier" data-value="([^"]*)"', page).group(1)
    recorded = partners["tier"].reindex(list(shown)).fillna("")
    assert {pid: t for pid, t in shown.items() if recorded[pid] and t != recorded[pid]} == {}
    churned = set(partners.index[partners["end_date"].notna() & (partners["end_date"] <= as_of)])
    assert churned and not churned & set(sample_run["manifest"]["reports"])
    outbox = pd.read_csv(sample_run["dir"] / "outbox" / "outbox.csv", dtype=str)
    assert len(outbox) > 100 and not churned & set(outbox["partner_id"])


def test_every_shown_number_is_the_exported_table_value(sample_run):
    result = audit.check_run(sample_run["dir"])
    assert result.ok, result.summary()
    assert sum(result.checked.values()) > 150 * 20


def test_the_audit_finds_what_it_looks_for():
    page = ('<html lang="fr"><body><h2>Pipeline</h2><p class="ca-note">Bof.</p><p class="ca-note">Bof.</p>'
            '<p>Taux nan</p><p>win_rate_shrunk</p><p>Your revenue and the target</p></body></html>')
    found = audit.page_problems(page, "fr_FR")
    assert any("note repeated" in p for p in found)
    assert any("'nan'" in p for p in found)
    assert any("raw name 'win_rate_shrunk'" in p for p in found)
    assert any("English words" in p for p in found)
    assert audit.page_problems("<p>Chiffre d’affaires : 12 €</p>", "fr_FR") == []
    # one note quoting the same amount twice is one note, not a repetition
    twice = ('<h2>Revenu</h2><p class="ca-note">Objectif <span>8 800 €</span>, il manque <span>8 800 €</span>.</p>')
    assert audit.page_problems(twice, "fr_FR") == []


@pytest.mark.browser
@pytest.mark.skipif(not page_browser.AVAILABLE, reason=page_browser.SKIP_REASON)
def test_pages_fit_a_phone_and_keep_text_readable(sample_run, tmp_path):
    """One scorecard per language (and the overview) at 390 px: nothing wider than the screen, no
    text below 9 CSS px. Screenshots of en/fr/pl/de at 1280 and 390 px go to test-artifacts/."""
    by_language: dict[str, Path] = {}
    for pid, entry, _page in _pages(sample_run):
        by_language.setdefault(i18n.text_language(entry["locale"]).split("_")[0], sample_run["dir"] / entry["output"])
    pages = dict(by_language)
    pages["overview"] = sample_run["dir"] / "network_overview.html"
    ARTIFACTS.mkdir(exist_ok=True)
    problems = []
    with page_browser.Browser(tmp_path / "profile") as b:
        for key, path in sorted(pages.items()):
            b.open(path.as_uri(), width=390)
            layout = b.evaluate(page_browser.LAYOUT_JS)
            if layout["scrollWidth"] > layout["width"] + 1:
                problems.append(f"{key}: page is {layout['scrollWidth']} px wide on a {layout['width']} px screen")
            problems += [f"{key}: text below 9 px: {s}" for s in layout["small"][:5]]
            if key in SHOWN_LANGUAGES:
                b.screenshot(ARTIFACTS / f"scorecard-{key}-390.png")
                b.open(path.as_uri(), width=1280)
                b.screenshot(ARTIFACTS / f"scorecard-{key}-1280.png")
    assert problems == [], "\n".join(problems)
    assert all((ARTIFACTS / f"scorecard-{k}-390.png").exists() for k in SHOWN_LANGUAGES)
