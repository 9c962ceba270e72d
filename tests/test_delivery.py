"""Delivery without a server: planning, wording, message structure, the outbox (dry run).

The SMTP path (real aiosmtpd server, faults, ledger, lock) is in test_delivery_smtp.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd
import pytest

from channel_analysis.delivery import DeliveryError, run
from channel_analysis.delivery import message as msgs
from channel_analysis.delivery.plan import check_reports, decide, load_manifest, plan_messages
from channel_analysis.delivery.snapshot import read_snapshot, snapshot_paths
from channel_analysis.delivery.transport import SmtpSettings
from channel_analysis.delivery.wording import compose, one_line, translator

from delivery_fixtures import (
    CONTACTS, EXPECTED, PARTNERS, PERIOD, assert_no_leak, attachment_of, make_params, make_run,
    parse, report_html,
)


# --- plan ---------------------------------------------------------------------------------------

def test_check_reports_accepts_only_rendered_reports_that_match_their_sha(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / f"partners/{PERIOD}_P002_scorecard.html").write_bytes(b"<html>edited</html>")
    (run_dir / f"partners/{PERIOD}_P005_scorecard.html").unlink()
    manifest = load_manifest(run_dir, PERIOD)

    status = check_reports(manifest, run_dir).set_index("partner_id")["status"].to_dict()

    assert status == {"P001": "ok", "P002": "sha_mismatch", "P003": "ok", "P004": "render_failed",
                      "P005": "missing_file"}
    selected = check_reports(manifest, run_dir, ["P001", "P999"])
    assert selected[["partner_id", "status"]].values.tolist() == [["P001", "ok"], ["P999", "not_in_manifest"]]


def test_load_manifest_errors_name_the_file_and_what_to_do(tmp_path):
    with pytest.raises(DeliveryError, match="make reports"):
        load_manifest(tmp_path, PERIOD)
    run_dir = make_run(tmp_path)
    with pytest.raises(DeliveryError, match="2026Q3.*not '2026Q2'"):
        load_manifest(run_dir, "2026Q2")


def test_plan_messages_one_per_flagged_contact_and_reports_partners_without_recipients(tmp_path):
    run_dir = make_run(tmp_path)
    reports = check_reports(load_manifest(run_dir, PERIOD), run_dir)
    partners = PARTNERS.copy()
    before = (partners.copy(), CONTACTS.copy())

    messages, problems = plan_messages(reports, partners, CONTACTS, fallback_locale="en")

    got = messages.groupby("partner_id")["recipient"].apply(set).to_dict()
    assert got == EXPECTED  # P002's address listed twice (JOHN@ / john@) → one message
    assert messages.set_index("recipient").loc["john@smithsons.example", "address"] == "john@smithsons.example"
    assert messages.groupby("partner_id")["locale"].first().to_dict() == {
        "P001": "de_DE", "P002": "en_GB", "P005": "it_IT"}
    assert problems.set_index("partner_id")["status"].to_dict() == {
        "P003": "no_recipients", "P004": "render_failed"}
    pd.testing.assert_frame_equal(partners, before[0])
    pd.testing.assert_frame_equal(CONTACTS, before[1])


def test_plan_messages_without_contacts_table_and_with_unknown_partner(tmp_path):
    run_dir = make_run(tmp_path)
    reports = check_reports(load_manifest(run_dir, PERIOD), run_dir)
    partners = PARTNERS[PARTNERS["partner_id"] != "P005"]

    messages, problems = plan_messages(reports, partners, None)

    assert messages.empty
    status = problems.set_index("partner_id")["status"].to_dict()
    assert status == {"P001": "no_recipients", "P002": "no_recipients", "P003": "no_recipients",
                      "P004": "render_failed", "P005": "unknown_partner"}
    assert "not provided" in problems.set_index("partner_id").loc["P001", "detail"]


def test_decide_skips_sent_and_holds_changed_reports_unless_resend():
    messages = pd.DataFrame({"partner_id": ["P1", "P1", "P2"], "recipient": ["a@x.io", "b@x.io", "c@y.io"],
                             "report_sha256": ["new", "new", "s2"]})
    sent = pd.DataFrame({"partner_id": ["P1", "P2", "P2"], "recipient": ["a@x.io", "c@y.io", "c@y.io"],
                         "report_sha256": ["old", "s2", "older"]})

    # a@x.io got "old" only → changed; b@x.io never got anything; c@y.io got "s2" → done
    assert decide(messages, sent)["action"].tolist() == ["needs_resend", "send", "already_sent"]
    assert decide(messages, sent, resend=True)["action"].tolist() == ["send", "send", "already_sent"]
    assert "action" not in messages.columns


# --- snapshot (the partners and recipients the run recorded) ------------------------------------

def test_read_snapshot_returns_what_the_run_wrote_without_other_columns(tmp_path):
    run_dir = make_run(tmp_path)

    partners, recipients = read_snapshot(run_dir, PERIOD)

    pd.testing.assert_frame_equal(partners, PARTNERS, check_dtype=False)  # the extra "region" is left out
    assert list(recipients.columns) == ["partner_id", "email", "name", "receives_scorecard"]
    assert recipients["email"].tolist() == CONTACTS["email"].tolist()
    assert recipients["receives_scorecard"].tolist() == CONTACTS["receives_scorecard"].tolist()


def test_delivery_without_the_snapshot_says_to_render_the_period(tmp_path):
    make_run(tmp_path, snapshot=False)

    with pytest.raises(DeliveryError, match=r"partners\.parquet is missing.*make reports PERIOD=2026Q3"):
        run(make_params(tmp_path))


def test_snapshot_with_a_missing_column_or_a_bad_flag_names_the_file_and_column(tmp_path):
    run_dir = make_run(tmp_path)
    recipients_path = snapshot_paths(run_dir)[1]
    CONTACTS.drop(columns="receives_scorecard").to_parquet(recipients_path)
    with pytest.raises(DeliveryError, match=r"recipients\.parquet has no column receives_scorecard.*make reports"):
        read_snapshot(run_dir, PERIOD)

    CONTACTS.assign(receives_scorecard="yes").to_parquet(recipients_path)
    with pytest.raises(DeliveryError, match="receives_scorecard must be true or false, found 'yes' for partner P001"):
        read_snapshot(run_dir, PERIOD)


# --- message ------------------------------------------------------------------------------------

def test_message_id_is_deterministic_per_period_partner_recipient_and_sha():
    a = msgs.message_id(PERIOD, "P001", "Anna@X.example", "s1", "team@channel.example")
    assert a == msgs.message_id(PERIOD, "P001", "anna@x.example", "s1", "team@channel.example")
    assert a != msgs.message_id(PERIOD, "P001", "anna@x.example", "s2", "team@channel.example")
    assert a != msgs.message_id("2026Q4", "P001", "anna@x.example", "s1", "team@channel.example")
    key = "\x1f".join([PERIOD, "P001", "anna@x.example", "s1"]).encode()
    assert a == f"<{hashlib.sha1(key).hexdigest()}@channel.example>"


def test_attachment_filename_is_clear_and_ascii():
    assert msgs.attachment_filename("Nordlicht GmbH", "P001", PERIOD) == "Scorecard_2026Q3_Nordlicht-GmbH.html"
    assert msgs.attachment_filename("Smith & Sons <Pro>", "P002", PERIOD) == "Scorecard_2026Q3_Smith-Sons-Pro.html"
    assert msgs.attachment_filename("Łódź Sp. z o.o.", "P9", PERIOD) == "Scorecard_2026Q3_odz-Sp-z-o-o.html"
    assert msgs.attachment_filename("東京", "P/9", PERIOD) == "Scorecard_2026Q3_P9.html"


def _build(partner_name="Nordlicht GmbH", contact="Anna Schmidt", report=b"<html>r</html>", **kw):
    content = compose(partner_name=partner_name, contact_name=contact, period=PERIOD, locale="en",
                      currency="EUR", sender_name="Channel team", **kw)
    return msgs.build_message(
        content=content, from_address="team@channel.example", from_name="Channel team",
        to_address="anna@nordlicht.example", to_name=contact, message_id="<x@channel.example>",
        report=report, filename="Scorecard.html", date=dt.datetime(2026, 10, 6, tzinfo=dt.timezone.utc))


def test_partner_name_is_escaped_in_html_and_cannot_inject_headers():
    name = "Smith & Sons <Pro>\r\nBcc: victim@evil.example"
    msg = parse(msgs.encode(_build(partner_name=name, contact="Eve\nCc: x@evil.example")))

    assert msg["Subject"] == "Smith & Sons <Pro> Bcc: victim@evil.example — partner scorecard Q3 2026"
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert msg["To"].addresses[0].addr_spec == "anna@nordlicht.example"
    html = msg.get_body(("html",)).get_content()
    assert "Smith &amp; Sons &lt;Pro&gt;" in html
    assert "<Pro>" not in html


def test_email_html_is_client_safe():
    msg = parse(msgs.encode(_build(kpis={"revenue": 10.0})))
    html = msg.get_body(("html",)).get_content()

    assert "<script" not in html.lower() and "<link" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?https?:", html, re.I)
    assert "url(" not in html and "@import" not in html
    assert 'style="' in html and "<table" in html  # inline CSS, table layout


def test_headline_figures_formatted_for_the_locale():
    kpis = {"revenue": 1234567.4, "revenue_growth_yoy": 0.123, "win_rate": 0.5, "win_rate_low_sample": True,
            "registration_rate": float("nan")}
    targets = pd.DataFrame({"metric": ["revenue"], "attainment": [0.92], "status": ["amber"]})

    en = compose(partner_name="N", contact_name=None, period=PERIOD, locale="en", currency="EUR",
                 sender_name="T", kpis=kpis, targets=targets)
    de = compose(partner_name="N", contact_name=None, period=PERIOD, locale="de_DE", currency="EUR",
                 sender_name="T", kpis=kpis, targets=targets)

    # the scorecard's labels and formats (the measure catalog): 1,234,567.4 → €1,234,567; 0.123 → 12%;
    # the NaN registration rate is left out; each KPI line says which table cell it is
    assert [(h.label, h.value, h.note) for h in en.headlines] == [
        ("Revenue", "€1,234,567", ""),
        ("Growth vs a year earlier", "12%", ""),
        ("Win rate", "50%", "few observations"),
        ("Revenue target", "92% reached", "nearly met"),
    ]
    assert [(h.measure, h.raw) for h in en.headlines] == [
        ("revenue", 1234567.4), ("revenue_growth_yoy", 0.123), ("win_rate", 0.5), (None, None)]
    de_ = translator("de_DE")  # German text from the German catalog; the numbers are what we check
    assert [h.value for h in de.headlines] == ["1.234.567\xa0€", "12\xa0%", "50\xa0%",
                                              de_("{percent} reached").format(percent="92\xa0%")]
    assert en.greeting == "Hello,"


def test_every_user_facing_string_goes_through_the_translation_hook():
    content = compose(partner_name="Nordlicht GmbH", contact_name="Anna", period=PERIOD, locale="en",
                      currency="EUR", sender_name="Channel team",
                      kpis={"revenue": 1.0, "win_rate": 0.5, "win_rate_low_sample": True},
                      targets=pd.DataFrame({"metric": ["revenue"], "attainment": [1.0], "status": ["green"]}),
                      translate=lambda s: "§" + s)

    strings = [content.subject, content.title, content.greeting, content.headlines_title, content.footer,
               *content.paragraphs, *content.closing[:2]]
    strings += [h.label for h in content.headlines] + [h.note for h in content.headlines if h.note]
    assert all(s.startswith("§") for s in strings), strings
    assert content.closing[2] == "Channel team" and content.partner_line == "Nordlicht GmbH"  # data


def test_reserved_extra_headers_are_refused():
    assert msgs.check_extra_headers({"X-Campaign": "Q3\r\nBcc: a@b.c"}) == {"X-Campaign": "Q3 Bcc: a@b.c"}
    with pytest.raises(DeliveryError, match="Bcc"):
        msgs.check_extra_headers({"Bcc": "archive@channel.example"})
    with pytest.raises(DeliveryError, match="not a valid header name"):
        msgs.check_extra_headers({"X Bad": "1"})


def test_password_from_environment_or_dotenv_never_from_params(tmp_path):
    params = make_params(tmp_path)
    params["delivery"]["smtp"]["username"] = "channel"
    env_file = tmp_path / ".env"
    env_file.write_text("CHANNEL_SMTP_PASSWORD=from-dotenv\n")

    from_env = SmtpSettings.from_params(params, environ={"CHANNEL_SMTP_PASSWORD": "from-env"},
                                        env_files=(env_file,))
    from_file = SmtpSettings.from_params(params, environ={}, env_files=(env_file,))

    assert (from_env.password, from_file.password) == ("from-env", "from-dotenv")
    assert "from-env" not in repr(from_env) and "from-env" not in from_env.describe()
    with pytest.raises(DeliveryError, match="CHANNEL_SMTP_PASSWORD"):
        SmtpSettings.from_params(params, environ={}, env_files=())


# --- dry run (outbox) ---------------------------------------------------------------------------

def test_dry_run_writes_one_eml_per_recipient_and_outbox_csv(tmp_path):
    run_dir = make_run(tmp_path)
    params = make_params(tmp_path)

    summary = run(params)

    assert summary.ok, summary.format()
    outbox = run_dir / "outbox"
    table = pd.read_csv(outbox / "outbox.csv", dtype=str)
    assert list(table.columns) == ["partner_id", "recipients", "subject", "size_bytes", "attachment",
                                   "eml_file", "message_id"]
    assert sorted(table["recipients"].str.lower()) == sorted(set().union(*EXPECTED.values()))
    assert sorted(p.name for p in outbox.glob("*.eml")) == sorted(table["eml_file"])
    for row in table.itertuples(index=False):
        data = (outbox / row.eml_file).read_bytes()
        assert int(row.size_bytes) == len(data)
        msg = parse(data)
        assert [a.addr_spec for a in msg["To"].addresses] == [row.recipients]
        assert msg["Subject"] == row.subject and msg["Message-ID"] == row.message_id
        assert_no_leak(msg, row.partner_id)
    assert not (run_dir / "delivery.sqlite").exists()  # a dry run records nothing as sent
    text = summary.format()
    assert "4 messages written for 3 partners" in text
    assert "P003: no contact with receives_scorecard = true" in text
    assert "P004: report did not render: KeyError" in text


def test_sample_eml_structure_text_html_alternative_and_attachment(tmp_path):
    run_dir = make_run(tmp_path)
    run(make_params(tmp_path))
    table = pd.read_csv(run_dir / "outbox" / "outbox.csv", dtype=str)
    eml = table.loc[table["recipients"] == "anna.schmidt@nordlicht.example", "eml_file"].item()

    msg = parse((run_dir / "outbox" / eml).read_bytes())

    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert attachment.get_content_disposition() == "attachment"
    name, data = attachment_of(msg)
    assert name == "Scorecard_2026Q3_Nordlicht-GmbH.html"
    assert data == (run_dir / f"partners/{PERIOD}_P001_scorecard.html").read_bytes()
    _ = translator("de_DE")  # P001 writes German: texts as its catalog has them
    quarter = _("Q{quarter} {year}").format(quarter=PERIOD[-1], year=PERIOD[:4])  # the quarter in words
    assert msg["Subject"] == _("{partner} — partner scorecard {period}").format(partner="Nordlicht GmbH",
                                                                                period=quarter)
    assert msg["From"] == "Channel team <channel-team@example.com>"
    assert msg["To"] == "Anna Schmidt <anna.schmidt@nordlicht.example>"
    assert msg["Content-Language"] == "de-DE"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # the same content in both: greeting and headline figures (KPI row P001 / 2026Q3 / quarter)
    for expected in [_("Dear {name},").format(name="Anna Schmidt"),
                     _("{metric} target").format(metric=_("Revenue")),
                     _("{percent} reached").format(percent="92\xa0%"), "1.234.567\xa0€",
                     _("few observations")]:
        assert expected in text and expected.replace("\xa0", "&nbsp;") in html.replace("\xa0", "&nbsp;")


def test_kpi_block_left_out_when_kpi_tables_are_missing(tmp_path):
    run_dir = make_run(tmp_path, kpis=False)
    run(make_params(tmp_path))
    msg = parse(next((run_dir / "outbox").glob("*_P001_01.eml")).read_bytes())

    assert "Headline figures" not in msg.get_body(("plain",)).get_content()
    assert "Headline figures" not in msg.get_body(("html",)).get_content()


def test_dry_run_replaces_the_previous_outbox_and_honours_the_partner_filter(tmp_path):
    run_dir = make_run(tmp_path)
    run(make_params(tmp_path))
    params = make_params(tmp_path)
    params["render"]["partners"] = ["P002"]

    summary = run(params)

    assert sorted(p.name for p in (run_dir / "outbox").glob("*.eml")) == [f"{PERIOD}_P002_01.eml"]
    assert summary.count("written") == 1 and summary.ok
    params["render"]["partners"] = ["P999"]
    missing = run(params)
    assert not missing.ok and missing.count("not_in_manifest") == 1


def test_dry_run_reports_sha_mismatch_and_oversize_without_writing_them(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / f"partners/{PERIOD}_P002_scorecard.html").write_bytes(report_html("P002", "Smith", version=2))
    big = run_dir / f"partners/{PERIOD}_P005_scorecard.html"
    big.write_bytes(report_html("P005", "Zefiro Srl", padding=60_000))
    manifest = load_manifest(run_dir, PERIOD)
    manifest["reports"]["P005"]["sha256"] = hashlib.sha256(big.read_bytes()).hexdigest()
    (run_dir / "manifest.json").write_text(__import__("json").dumps(manifest))

    summary = run(make_params(tmp_path, max_message_bytes=40_000))

    assert not summary.ok
    by = summary.results.groupby("status")["partner_id"].apply(sorted).to_dict()
    assert by["sha_mismatch"] == ["P002"] and by["oversize"] == ["P005"] and by["written"] == ["P001", "P001"]
    assert "over delivery.max_message_bytes = 40,000" in summary.format()
    assert sorted(pd.read_csv(run_dir / "outbox" / "outbox.csv", dtype=str)["partner_id"]) == ["P001", "P001"]


def test_no_run_directory_is_a_clear_error(tmp_path):
    with pytest.raises(DeliveryError, match="render them first"):
        run(make_params(tmp_path))


# --- properties ---------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(min_size=1, max_size=40), contact=st.text(max_size=30))
def test_any_partner_or_contact_name_stays_data(name, contact):
    """Whatever the names hold, the message has exactly our headers, a one-line subject, and the
    HTML shows the names as text (never markup)."""
    msg = parse(msgs.encode(_build(partner_name=name, contact=contact)))

    assert sorted(k.lower() for k in msg.keys()) == sorted(
        ["from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version",
         "content-type", "content-language"])
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
    assert [a.addr_spec for a in msg["To"].addresses] == ["anna@nordlicht.example"]
    html = msg.get_body(("html",)).get_content()
    text = one_line(name)  # as HTML text: &, <, >, no-break space escaped; nothing else
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\xa0", "&nbsp;")
    assert re.search(r'<p class="partner"[^>]*>(.*?)</p>', html, re.S).group(1) == escaped
