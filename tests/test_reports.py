"""The real notebooks, rendered end to end on a small generated network (issue 4's checks).

One module-scoped run of ``render.run`` with ``quarter.run`` and the real notebooks, then:
sections and figures present, self-contained HTML (no external URL, no input code), privacy (no
report mentions another partner), failure isolation, re-run skipping, and a real headless browser
with every network request caught by a logging proxy.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from pathlib import Path

import pytest

import page_browser

from channel_analysis import audit, i18n, quarter, render, sample
from channel_analysis.params import load_params
from channel_analysis.scorecard import SECTIONS

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    data = tmp / "data"
    sample.write(sample.generate(partners=14, quarters=6, seed=5), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 6,
                                "data": {"source": str(data)}, "output_dir": str(tmp / "out"),
                                "render": {"workers": 2}})
    summary = quarter.run(params, progress=False)
    run_dir = Path(params["output_dir"]) / "2026Q3"
    partners = __import__("pandas").read_parquet(data / "partners.parquet")
    return {"params": params, "summary": summary, "dir": run_dir, "partners": partners}


def _reports(run) -> dict[str, str]:
    folder = run["dir"] / "partners"
    return {p.name.split("_")[1]: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.html"))}


def test_every_active_partner_overview_and_index_rendered(run):
    summary = run["summary"]
    assert summary.ok, summary.format()
    manifest = json.loads((run["dir"] / "manifest.json").read_text())
    reports = _reports(run)
    assert set(reports) == set(manifest["reports"]) == set(summary.rendered)
    assert len(reports) >= 10
    for pid, entry in manifest["reports"].items():
        assert entry["status"] == "ok" and entry["output"].endswith(f"2026Q3_{pid}_scorecard.html")
    assert (run["dir"] / "network_overview.html").stat().st_size > 10_000
    index = (run["dir"] / "index.html").read_text()
    assert all(f"2026Q3_{pid}_scorecard.html" in index for pid in reports)


def test_every_section_and_figures_present_in_the_partners_language(run):
    partners = run["partners"].set_index("partner_id")
    for pid, text in _reports(run).items():
        locale = i18n.pick_locale(partners.loc[pid, "locale"], "en")
        _ = i18n.translator(locale).gettext
        assert text.count('class="ca-section-title"') == len(SECTIONS), pid
        for heading, _intro in SECTIONS.values():
            assert html.escape(_(heading), quote=False) in text, (pid, heading)
        figures = text.count('<figure class="ca-figure"')
        # every figure is embedded; revenue trend, category mix and peer benchmark always exist
        assert text.count('src="data:image/png;base64,') == figures >= 3, pid
        assert 50_000 < len(text.encode()) < 600_000, pid


def test_reports_are_self_contained_without_code(run):
    for name, text in {**_reports(run), "overview": (run["dir"] / "network_overview.html").read_text()}.items():
        assert not EXTERNAL.search(text), (name, EXTERNAL.search(text))
        if name != "overview":  # the internal overview has its table script; partner pages none
            assert "<script" not in text.lower(), name
        for code in ("import channel_analysis", "report.header()", "bundle_path", "In&nbsp;[", "In ["):
            assert code not in text, (name, code)


def _visible(text: str) -> str:
    """The report without embedded images (base64 can contain any short string by chance)."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "data:", text)


def test_no_report_mentions_another_partner(run):
    partners = run["partners"]
    for pid, raw in _reports(run).items():
        text = _visible(raw)
        assert pid in text
        for other in partners.itertuples():
            if other.partner_id == pid:
                continue
            assert other.partner_id not in text, (pid, other.partner_id)
            for form in {other.name, html.escape(other.name), html.escape(other.name, quote=False)}:
                assert form not in text, (pid, other.name)


def test_markup_in_a_partner_name_is_shown_as_text(run):
    partners = run["partners"]
    for pid, text in _reports(run).items():
        name = partners.set_index("partner_id").loc[pid, "name"]
        assert html.escape(name, quote=False) in text or html.escape(name) in text
        if "<" in name:
            assert name not in text  # never as live markup


def test_rerun_skips_everything_unchanged(run):
    before = {p: p.stat().st_mtime_ns for p in (run["dir"] / "partners").glob("*.html")}
    summary = quarter.run(run["params"], progress=False)
    assert summary.ok and summary.rendered == [] and len(summary.skipped) == len(before)
    assert {p: p.stat().st_mtime_ns for p in (run["dir"] / "partners").glob("*.html")} == before


def test_a_partner_whose_data_breaks_a_cell_fails_alone(run, tmp_path):
    """Corrupt one partner's bundle between statistics and rendering: only that report fails."""
    params = {**run["params"], "output_dir": str(tmp_path / "out")}
    prepared = quarter.prepare(params)
    victim = prepared.partners[0]
    Path(victim.bundle_path).write_bytes(b"not a bundle")  # the notebook's loading cell raises
    subset = [job.partner_id for job in prepared.partners[:3]]
    params["render"] = {**params["render"], "partners": subset}
    prepared.network = None
    summary = render.run(prepared, params["render"], progress=False)
    assert not summary.ok
    assert list(summary.failed) == [victim.partner_id]
    assert sorted(summary.rendered) == sorted(subset[1:])
    out = tmp_path / "out" / "2026Q3"
    assert not (out / "partners" / f"2026Q3_{victim.partner_id}_scorecard.html").exists()
    assert (out / "failed" / f"{victim.partner_id}.ipynb").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reports"][victim.partner_id]["status"] == "failed"
    assert "BundleError" in manifest["reports"][victim.partner_id]["error"]  # a tampered bundle is refused, never run
    for pid in subset[1:]:
        assert manifest["reports"][pid]["status"] == "ok"


@pytest.mark.browser
@pytest.mark.skipif(not page_browser.AVAILABLE, reason=page_browser.SKIP_REASON)
def test_report_renders_offline_in_a_real_browser_without_any_request(run, tmp_path):
    pid = next(iter(_reports(run)))
    report = run["dir"] / "partners" / f"2026Q3_{pid}_scorecard.html"
    ARTIFACTS.mkdir(exist_ok=True)
    with page_browser.Browser(tmp_path / "profile") as b:
        b.open(report.as_uri())
        shot = b.screenshot(ARTIFACTS / "scorecard.png")
        events = b.network()
    requested = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    fetched = [u for u in requested if not u.startswith("data:")]  # embedded images are not fetched
    assert fetched == [report.as_uri()], fetched
    assert not [e for e in events if e["method"] == "Network.loadingFailed"]
    assert shot.stat().st_size > 20_000  # a real, non-blank page (look at test-artifacts/scorecard.png)


def test_every_shown_value_equals_the_exported_table(run):
    """The page shows what the table holds: every tagged value against kpis/network.parquet."""
    result = audit.check_run(run["dir"])
    assert result.ok, result.summary()
    partner_pages = [p for p in result.checked if p.startswith("partners/")]
    assert len(partner_pages) == len(run["summary"].rendered) + len(run["summary"].skipped)
    assert min(result.checked[p] for p in partner_pages) >= 20  # tiles, tables, pipeline, sales cycle


def test_the_audit_catches_a_page_that_differs(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run["dir"], copy)
    page = next((copy / "partners").glob("*.html"))
    text = page.read_text(encoding="utf-8")
    tampered = re.sub(r'(data-measure="revenue" data-window="quarter" data-value=")([^"]+)"',
                      lambda m: m.group(1) + repr(float(m.group(2)) + 1) + '"', text, count=1)
    assert tampered != text
    page.write_text(tampered, encoding="utf-8")
    result = audit.check_run(copy)
    assert list(result.problems["problem"]) == ["differs from the table"]
    assert list(result.problems["measure"]) == ["revenue"]


def _embedded(font) -> bool:
    """A PDF font whose program is in the file (a composite font: in its descendant's descriptor)."""
    if "/DescendantFonts" in font:
        font = font["/DescendantFonts"][0].get_object()
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and any(k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def test_every_outbox_message_carries_its_own_partners_pdf_and_html(run):
    """The email attaches the scorecard twice: a PDF (paginated, fonts embedded, in the partner's
    language, naming the partner) and the HTML; both are that partner's own, as rendered."""
    from email import message_from_bytes, policy

    from pypdf import PdfReader

    from channel_analysis import delivery

    summary = delivery.run(run["params"])
    assert summary.ok, summary.format()
    manifest = json.loads((run["dir"] / "manifest.json").read_text())
    names = run["partners"].set_index("partner_id")["name"]
    messages = sorted((run["dir"] / "outbox").glob("*.eml"))
    assert messages
    for path in messages:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        pid = next(p for p in manifest["reports"] if f"_{p}_" in path.name)
        entry = manifest["reports"][pid]
        parts = {part.get_content_type(): part.get_payload(decode=True) for part in msg.iter_attachments()}
        assert set(parts) == {"application/pdf", "text/html"}
        assert parts["text/html"] == (run["dir"] / entry["output"]).read_bytes()
        assert parts["application/pdf"] == (run["dir"] / entry["pdf"]).read_bytes()
        reader = PdfReader(io.BytesIO(parts["application/pdf"]))
        text = " ".join(page.extract_text() for page in reader.pages)
        assert len(reader.pages) >= 2 and " ".join(names[pid].split()) in " ".join(text.split())
        title = i18n.translator(entry["locale"]).gettext("Partner scorecard")
        assert title in text, (pid, entry["locale"], title)
        fonts = [f.get_object() for page in reader.pages for f in (page["/Resources"].get("/Font") or {}).values()]
        assert fonts and all(_embedded(f) for f in fonts)  # fonts travel with the file
        # the email quotes the page's numbers: every tagged headline value is the page's, same text
        body = next(part for part in msg.walk() if part.get_content_type() == "text/html"
                    and not part.get_filename()).get_content()
        page = parts["text/html"].decode("utf-8")
        email_values = {(v["measure"], v.get("window")): v["value"] for v in audit.tagged_values(body)}
        page_values = {(v["measure"], v.get("window")): v["value"] for v in audit.tagged_values(page)}
        assert email_values and all(page_values.get(k) == v for k, v in email_values.items()), (pid, page_values)


def test_partner_pages_carry_no_script(run):
    for pid, text in _reports(run).items():
        assert "<script" not in text.lower(), pid


@pytest.mark.browser
@pytest.mark.skipif(not page_browser.AVAILABLE, reason=page_browser.SKIP_REASON)
def test_overview_partner_table_sorts_and_filters_in_a_browser(run, tmp_path):
    overview = run["dir"] / "network_overview.html"
    js_sort = """(() => {
      const t = [...document.querySelectorAll('table.ca-grid')].pop();
      const th = [...t.tHead.rows[0].cells].find(c => c.textContent.trim() === 'Revenue');
      th.click();
      const vals = [...t.tBodies[0].rows].map(r => parseFloat(r.cells[th.cellIndex].querySelector('[data-value]').dataset.value));
      const input = t.parentNode.parentNode.querySelector('input.ca-filter');
      input.value = t.tBodies[0].rows[0].cells[1].textContent.trim();
      input.dispatchEvent(new Event('input'));
      const shown = [...t.tBodies[0].rows].filter(r => !r.hidden).length;
      return {vals, shown, action: [...t.tHead.rows[0].cells].findIndex(c => c.textContent.trim() === 'Action')};
    })()"""
    with page_browser.Browser(tmp_path / "profile") as b:
        b.open(overview.as_uri())
        got = b.evaluate(js_sort)
    assert got["vals"] == sorted(got["vals"]) and len(got["vals"]) > 5
    assert 1 <= got["shown"] < len(got["vals"])
    assert got["action"] == 2  # the action is the third column: no sideways scrolling to see it
