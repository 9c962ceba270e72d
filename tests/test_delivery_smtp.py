"""Delivery through a real SMTP server (aiosmtpd on 127.0.0.1): exactly once, never to the wrong
partner, with faults injected. Fixtures (the fake run, the server) are in delivery_fixtures.py."""

from __future__ import annotations

import threading

import pytest
from filelock import FileLock

from channel_analysis.cli import build_parser
from channel_analysis.delivery import DeliveryError, run
from channel_analysis.errors import RunLockedError
from channel_analysis.delivery.ledger import Ledger
from channel_analysis.delivery.transport import SmtpTransport

from delivery_fixtures import (
    EXPECTED, PERIOD, Mailbox, assert_no_leak, attachment_of, client_tls_context, free_port,
    make_params, make_run, report_html, self_signed_cert, server_tls_context, smtp_server, write_manifest,
    write_report,
)
from channel_analysis.delivery.plan import load_manifest

ALL = set().union(*EXPECTED.values())
PARTNER_OF = {r: p for p, rs in EXPECTED.items() for r in rs}


def _send(tmp_path, port, **kw):
    params = make_params(tmp_path, port=port, **kw.pop("delivery", {}))
    return run(params, send=True, yes=True, **kw)


def _ledger(run_dir):
    return Ledger.read(run_dir / "delivery.sqlite", PERIOD).set_index("recipient")


def assert_delivered_once(box: Mailbox, run_dir, recipients=ALL):
    got = box.by_recipient()
    assert {r: len(m) for r, m in got.items()} == {r: 1 for r in recipients}
    for recipient, (msg,) in got.items():
        partner = PARTNER_OF[recipient]
        assert [a.addr_spec.lower() for a in msg["To"].addresses] == [recipient]
        _, data = attachment_of(msg)
        assert data == (run_dir / f"partners/{PERIOD}_{partner}_scorecard.html").read_bytes()
        assert_no_leak(msg, partner)
    for _, rcpts, _ in box.messages:
        assert len(rcpts) == 1  # one recipient per message: addresses stay private


def test_send_delivers_every_recipient_exactly_once_and_a_rerun_sends_nothing(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)
        again = _send(tmp_path, server.port)

    assert summary.ok, summary.format()
    assert summary.count("sent") == 4
    assert_delivered_once(box, run_dir)
    ledger = _ledger(run_dir)
    assert set(ledger.index) == ALL and set(ledger["state"]) == {"sent"}
    assert ledger["reply"].str.match(r"250 2\.0\.0 Ok: queued as Q\d").all()
    assert ledger["attempts"].tolist() == [1, 1, 1, 1]
    assert sorted(ledger["message_id"]) == sorted(m["Message-ID"] for ms in box.by_recipient().values() for m in ms)
    assert again.ok and again.count("sent") == 0 and again.count("already_sent") == 4
    assert len(box.messages) == 4


def test_send_without_yes_is_refused_with_the_count(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    with smtp_server(box) as server:
        params = make_params(tmp_path, port=server.port)
        with pytest.raises(DeliveryError, match="4 messages to 3 partners.*--yes"):
            run(params, send=True)
    assert box.messages == [] and not (run_dir / "delivery.sqlite").exists()


def test_server_down_at_start_stops_the_run_and_the_next_run_finishes(tmp_path):
    run_dir = make_run(tmp_path)
    port = free_port()

    down = _send(tmp_path, port)

    assert not down.ok and "cannot reach SMTP server" in down.aborted
    assert down.count("failed") == 1 and down.count("not_attempted") == 3  # stops, no 500 × retries
    first = _ledger(run_dir)
    assert first["state"].tolist() == ["failed"] and first["attempts"].tolist() == [3]
    assert "STOPPED" in down.format()

    box = Mailbox()
    with smtp_server(box, port=port):
        up = _send(tmp_path, port)
    assert up.ok, up.format()
    assert_delivered_once(box, run_dir)
    assert set(_ledger(run_dir)["state"]) == {"sent"}


def test_connection_dropped_mid_run_is_retried_without_duplicates(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    box.drop_data = {2}  # the second message's DATA: connection closed, message not stored
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert summary.ok, summary.format()
    assert_delivered_once(box, run_dir)
    assert sorted(_ledger(run_dir)["attempts"]) == [1, 1, 1, 2]


def test_451_is_retried_and_550_is_recorded_without_blocking_others(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    box.transient["jonas.weber@nordlicht.example"] = ["451 4.3.0 try again later"]
    box.refuse["giulia@zefiro.example"] = "550 5.1.1 no such user"
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert not summary.ok
    assert_delivered_once(box, run_dir, ALL - {"giulia@zefiro.example"})
    assert box.rcpt_calls["jonas.weber@nordlicht.example"] == 2
    assert box.rcpt_calls["giulia@zefiro.example"] == 1  # permanent: not retried
    ledger = _ledger(run_dir)
    assert ledger.loc["jonas.weber@nordlicht.example", ["state", "attempts"]].tolist() == ["sent", 2]
    giulia = ledger.loc["giulia@zefiro.example"]
    assert (giulia["state"], giulia["permanent"], giulia["attempts"]) == ("failed", 1, 1)
    assert "550 5.1.1 no such user" in giulia["error"]
    assert "giulia@zefiro.example: recipient refused: 550 5.1.1 no such user (1 attempt)" in summary.format()


def test_transient_failures_give_up_after_the_configured_attempts(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    box.transient["john@smithsons.example"] = ["452 4.2.2 mailbox full"] * 5
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert summary.aborted is None and summary.count("sent") == 3
    assert box.rcpt_calls["john@smithsons.example"] == 3  # delivery.retry.attempts
    john = _ledger(run_dir).loc["john@smithsons.example"]
    assert (john["state"], john["permanent"], john["attempts"]) == ("failed", 0, 3)


def test_a_crash_mid_run_loses_nothing_and_the_next_run_sends_the_rest(tmp_path, monkeypatch):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    real_send = SmtpTransport.send
    calls = {"n": 0}

    def crashing_send(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real_send(self, *args)

    with smtp_server(box) as server:
        monkeypatch.setattr(SmtpTransport, "send", crashing_send)
        with pytest.raises(RuntimeError, match="power cut"):
            _send(tmp_path, server.port)
        assert sorted(_ledger(run_dir)["state"]) == ["queued", "sent", "sent"]
        monkeypatch.setattr(SmtpTransport, "send", real_send)
        summary = _send(tmp_path, server.port)

    assert summary.ok and summary.count("sent") == 2 and summary.count("already_sent") == 2
    assert_delivered_once(box, run_dir)


def test_starttls_with_auth(tmp_path):
    run_dir = make_run(tmp_path)
    cert, key = self_signed_cert(tmp_path)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, session.ssl is not None))
        ok = auth_data.login == b"channel" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    box = Mailbox()
    with smtp_server(box, tls_context=server_tls_context(cert, key), require_starttls=True,
                     auth_required=True, auth_require_tls=True, authenticator=authenticator) as server:
        kw = dict(delivery={"smtp": {"security": "starttls", "username": "channel"}},
                  ssl_context=client_tls_context(cert))
        wrong = _send(tmp_path, server.port, environ={"CHANNEL_SMTP_PASSWORD": "wrong"}, **kw)
        summary = _send(tmp_path, server.port, environ={"CHANNEL_SMTP_PASSWORD": "s3cret"}, **kw)

    assert not wrong.ok and "login as channel refused: 535" in wrong.aborted
    assert summary.ok, summary.format()
    assert_delivered_once(box, run_dir)
    assert logins and all(login == b"channel" and tls for login, tls in logins)


def test_implicit_tls_verifies_the_server_certificate(tmp_path):
    run_dir = make_run(tmp_path)
    cert, key = self_signed_cert(tmp_path)
    box = Mailbox()
    with smtp_server(box, ssl_context=server_tls_context(cert, key)) as server:
        untrusted = _send(tmp_path, server.port, delivery={"smtp": {"security": "tls"}})
        summary = _send(tmp_path, server.port, delivery={"smtp": {"security": "tls"}},
                        ssl_context=client_tls_context(cert))

    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.aborted
    assert summary.ok, summary.format()
    assert_delivered_once(box, run_dir)


def test_the_lock_refuses_a_second_concurrent_sender(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    box.hold, box.inside = threading.Event(), threading.Event()
    outcome = {}
    with smtp_server(box) as server:
        first = threading.Thread(target=lambda: outcome.update(summary=_send(tmp_path, server.port)))
        first.start()
        try:
            assert box.inside.wait(10)  # the first sender is inside DATA of its first message
            with pytest.raises(DeliveryError, match="another `channel-analysis send` for 2026Q3 is running"):
                _send(tmp_path, server.port)
        finally:
            box.hold.set()
            first.join(20)
    assert outcome["summary"].ok
    assert_delivered_once(box, run_dir)

    with FileLock(run_dir / "delivery.lock"):  # any holder of the lock, e.g. a sender in another process
        with pytest.raises(DeliveryError, match="is running"):
            run(make_params(tmp_path))
    # a render of the period holds the run lock: no send (dry run included) reads the run meanwhile
    outbox = run_dir / "outbox"
    with FileLock(run_dir / ".render.lock"):
        with pytest.raises(RunLockedError, match="cannot send 2026Q3: another render or send"):
            run(make_params(tmp_path))
    assert not outbox.exists()


def test_oversize_message_is_not_sent_and_is_recorded(tmp_path):
    run_dir = make_run(tmp_path)
    reports = load_manifest(run_dir, PERIOD)["reports"]
    reports["P005"] = write_report(run_dir, "P005", report_html("P005", "Zefiro Srl", padding=60_000))
    write_manifest(run_dir, reports)
    box = Mailbox()
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port, delivery={"max_message_bytes": 40_000})

    assert not summary.ok and summary.count("oversize") == 1
    assert_delivered_once(box, run_dir, ALL - {"giulia@zefiro.example"})
    giulia = _ledger(run_dir).loc["giulia@zefiro.example"]
    assert giulia["state"] == "failed" and "over delivery.max_message_bytes" in giulia["error"]


def test_a_report_changed_after_rendering_is_refused(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / f"partners/{PERIOD}_P002_scorecard.html").write_bytes(b"<html>tampered</html>")
    box = Mailbox()
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert not summary.ok and summary.count("sha_mismatch") == 1
    assert_delivered_once(box, run_dir, ALL - {"john@smithsons.example"})


def test_a_rerendered_report_is_sent_again_only_with_resend(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    with smtp_server(box) as server:
        _send(tmp_path, server.port)
        reports = load_manifest(run_dir, PERIOD)["reports"]
        reports["P001"] = write_report(run_dir, "P001", report_html("P001", "Nordlicht GmbH", version=2))
        write_manifest(run_dir, reports)

        held = _send(tmp_path, server.port)
        assert held.ok and held.count("sent") == 0 and held.count("needs_resend") == 2
        assert "--resend" in held.format()

        params = make_params(tmp_path, port=server.port)
        resent = run(params, send=True, yes=True, resend=True)
        assert resent.count("sent") == 2 and resent.count("already_sent") == 2

        final = _send(tmp_path, server.port)
        assert final.count("sent") == 0

    got = box.by_recipient()
    new_report = (run_dir / f"partners/{PERIOD}_P001_scorecard.html").read_bytes()
    for recipient in EXPECTED["P001"]:
        first, second = got[recipient]
        assert attachment_of(second)[1] == new_report != attachment_of(first)[1]
        assert first["Message-ID"] != second["Message-ID"]
    assert all(len(got[r]) == 1 for r in ALL - EXPECTED["P001"])


def test_a_refused_sender_address_stops_the_run(tmp_path):
    run_dir = make_run(tmp_path)

    class RefuseSender(Mailbox):
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            return "550 5.7.1 sender not allowed to relay"

    box = RefuseSender()
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert summary.aborted.startswith("the server refuses the sender channel-team@example.com: 550 5.7.1")
    assert summary.count("failed") == 1 and summary.count("not_attempted") == 3
    assert box.messages == [] and _ledger(run_dir)["state"].tolist() == ["failed"]
    # a refused sender says nothing about the recipient: not permanent, the next run tries it again
    assert _ledger(run_dir)["permanent"].tolist() == [0]


def test_a_permanent_refusal_is_recorded_and_retried_only_with_retry_failed(tmp_path):
    run_dir = make_run(tmp_path)
    box = Mailbox()
    box.refuse["giulia@zefiro.example"] = "550 5.1.1 no such user"
    with smtp_server(box) as server:
        first = _send(tmp_path, server.port)
        again = _send(tmp_path, server.port)
        outbox = run(make_params(tmp_path, port=server.port))  # the dry run shows what --send would do
        box.refuse.clear()  # the address was fixed on the server side
        retried = _send(tmp_path, server.port, retry_failed=True)
        final = _send(tmp_path, server.port, retry_failed=True)

    assert not first.ok and first.count("failed") == 1  # the refusal itself fails that run (exit 1)
    # the re-run does not ask the server again; only an already recorded refusal remains: ok (exit 0)
    assert again.ok and again.count("refused_earlier") == 1 and again.count("failed") == 0
    assert again.count("already_sent") == 3 and box.rcpt_calls["giulia@zefiro.example"] == 2
    text = again.format()
    assert "warning: refused permanently by the server earlier (use --retry-failed): 1" in text
    assert "giulia@zefiro.example: the server refused it permanently: recipient refused: 550 5.1.1" in text
    assert outbox.count("refused_earlier") == 1 and outbox.count("written") == 0
    # --retry-failed asks again (the server now accepts it); nothing else goes twice
    assert retried.ok and retried.count("sent") == 1 and retried.count("already_sent") == 3
    assert final.count("sent") == 0 and final.count("already_sent") == 4
    assert_delivered_once(box, run_dir)
    giulia = _ledger(run_dir).loc["giulia@zefiro.example"]
    assert (giulia["state"], giulia["attempts"]) == ("sent", 2)
    assert build_parser().parse_args(["send", "--retry-failed"]).retry_failed


def test_a_message_stored_before_the_connection_drops_is_sent_again_with_the_same_message_id(tmp_path):
    # docs/delivery.md, "The duplicate SMTP cannot exclude": the server stores the message, then
    # the connection drops before its 250 reply; the client cannot know it was stored and retries
    run_dir = make_run(tmp_path)

    class DropAfterStore(Mailbox):
        async def handle_DATA(self, server, session, envelope):
            reply = await super().handle_DATA(server, session, envelope)
            if self.data_calls == 1:
                server.transport.close()  # stored, but the reply never reaches the client
            return reply

    box = DropAfterStore()
    with smtp_server(box) as server:
        summary = _send(tmp_path, server.port)

    assert summary.ok, summary.format()
    got = box.by_recipient()
    twice = [r for r, ms in got.items() if len(ms) == 2]
    assert len(twice) == 1 and sum(len(ms) for ms in got.values()) == 5
    first, second = got[twice[0]]
    assert first["Message-ID"] == second["Message-ID"]  # what the receiving side can drop it by
    row = _ledger(run_dir).loc[twice[0]]
    assert (row["state"], row["attempts"], row["message_id"]) == ("sent", 2, first["Message-ID"])
