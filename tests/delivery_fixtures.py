"""Fixtures shared by the delivery tests: a fake rendered run and a real SMTP server (aiosmtpd).

The run (period 2026Q3) has five partners:

====  ====================  ===========================================================
P001  Nordlicht GmbH        ok; 2 recipients (+1 contact not receiving); KPIs + target
P002  Smith & Sons <Pro>    ok; 1 recipient listed twice (case differs) → one message
P003  Ostwind AG            ok; its only contact does not receive the scorecard
P004  Failed Ltd            render failed
P005  Zefiro Srl            ok; 1 recipient; no KPI row
====  ====================  ===========================================================

→ 4 deliverable messages to 3 partners.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import json
import socket
import ssl
import subprocess
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from aiosmtpd.controller import Controller

from channel_analysis.delivery.snapshot import snapshot_paths
from channel_analysis.params import load_params

PERIOD = "2026Q3"

PARTNERS = pd.DataFrame({
    "partner_id": ["P001", "P002", "P003", "P004", "P005"],
    "name": ["Nordlicht GmbH", "Smith & Sons <Pro>", "Ostwind AG", "Failed Ltd", "Zefiro Srl"],
    "locale": ["de_DE", "en_GB", "de_DE", None, "it_IT"],
})

CONTACTS = pd.DataFrame({
    "partner_id": ["P001", "P001", "P001", "P002", "P002", "P003", "P005"],
    "name": ["Anna Schmidt", "Jonas Weber", "Marketing", "John Smith", "John Smith", "Eva Ost",
             "Giulia Rossi"],
    "email": ["anna.schmidt@nordlicht.example", "jonas.weber@nordlicht.example",
              "marketing@nordlicht.example", "john@smithsons.example", "JOHN@smithsons.example",
              "eva@ostwind.example", "giulia@zefiro.example"],
    "role": ["owner", "sales manager", "marketing", "owner", "owner", "owner", "owner"],
    "receives_scorecard": [True, True, False, True, True, False, True],
})

#: partner id → recipient addresses (lower-cased) that must get exactly one message each.
EXPECTED = {
    "P001": {"anna.schmidt@nordlicht.example", "jonas.weber@nordlicht.example"},
    "P002": {"john@smithsons.example"},
    "P005": {"giulia@zefiro.example"},
}


def report_html(partner_id: str, name: str, version: int = 1, padding: int = 0) -> bytes:
    import html

    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)} {PERIOD}"
            f"</title></head><body><h1>{html.escape(name)}</h1><p>Partner {partner_id}, version "
            f"{version}. Umsatz ↑ 12 %.</p><!-- {'x' * padding} --></body></html>").encode("utf-8")


def write_report(run_dir: Path, partner_id: str, data: bytes) -> dict:
    """Write a partner's HTML and return its manifest entry."""
    rel = f"partners/{PERIOD}_{partner_id}_scorecard.html"
    (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (run_dir / rel).write_bytes(data)
    locale = PARTNERS.set_index("partner_id").loc[partner_id, "locale"]
    return {"partner_id": partner_id, "status": "ok", "output": rel,
            "sha256": hashlib.sha256(data).hexdigest(), "seconds": 1.0, "error": None,
            "locale": locale, "fingerprint": "f"}


def write_manifest(run_dir: Path, reports: dict) -> None:
    manifest = {"period": PERIOD, "as_of": "2026-10-05", "reports": reports,
                "network_overview": {"status": "ok", "output": "network_overview.html", "sha256": "x",
                                     "seconds": 1.0, "error": None}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def write_snapshot(run_dir: Path) -> None:
    """The run's record of its partners and contacts, as the run writes it: ``kpis/partners.parquet``
    (here with a column delivery does not use) and ``kpis/recipients.parquet``."""
    partners_path, recipients_path = snapshot_paths(run_dir)
    partners_path.parent.mkdir(parents=True, exist_ok=True)
    PARTNERS.assign(region="DACH").to_parquet(partners_path, index=False)
    CONTACTS[["partner_id", "email", "name", "receives_scorecard"]].to_parquet(recipients_path, index=False)


def make_run(tmp_path: Path, *, kpis: bool = True, snapshot: bool = True) -> Path:
    """A rendered run under tmp_path/reports/2026Q3 (see the module docstring); ``snapshot``
    writes the partners and recipients tables delivery reads."""
    run_dir = tmp_path / "reports" / PERIOD
    run_dir.mkdir(parents=True)
    if snapshot:
        write_snapshot(run_dir)
    reports = {}
    for pid, name in PARTNERS[["partner_id", "name"]].itertuples(index=False):
        if pid == "P004":
            reports[pid] = {"partner_id": pid, "status": "failed", "output": None, "sha256": None,
                            "seconds": 0.5, "error": "KeyError: 'revenue'", "locale": "en", "fingerprint": "f"}
        else:
            reports[pid] = write_report(run_dir, pid, report_html(pid, name))
    write_manifest(run_dir, reports)
    if kpis:
        (run_dir / "kpis").mkdir(exist_ok=True)
        pd.DataFrame({
            "partner_id": ["P001", "P001", "P001", "P002", "P003"],
            "period": [PERIOD, PERIOD, "2026Q2", PERIOD, PERIOD],
            "window": ["quarter", "ytd", "quarter", "quarter", "quarter"],
            "revenue": [1234567.4, 9e6, 7e5, 5000.0, 10.0],
            "revenue_growth_yoy": [0.123, 0.5, -0.1, -0.05, None],
            "win_rate": [0.5, 0.4, 0.3, None, None],
            "win_rate_low_sample": [True, False, False, False, False],
            "registration_rate": [0.8, 0.7, 0.6, 0.9, None],
        }).to_parquet(run_dir / "kpis" / "kpis.parquet")
        pd.DataFrame({
            "partner_id": ["P001", "P001"], "period": [PERIOD, "2026Q2"], "metric": ["revenue", "revenue"],
            "target": [1341921.0, 1e6], "actual": [1234567.4, 7e5], "attainment": [0.92, 0.7],
            "status": ["amber", "red"],
        }).to_parquet(run_dir / "kpis" / "targets.parquet")
    return run_dir


def make_params(tmp_path: Path, *, port: int = 25, security: str = "none", smtp: dict | None = None,
                **delivery) -> dict:
    """Params for the fake run: SMTP on 127.0.0.1:port (``smtp`` overrides more settings),
    3 tries with tiny waits; other keyword arguments are ``delivery`` parameters."""
    overrides = {
        "as_of": "2026-10-05", "period": PERIOD, "output_dir": str(tmp_path / "reports"),
        "delivery": {"smtp": {"host": "127.0.0.1", "port": port, "security": security, "timeout": 5,
                              **(smtp or {})},
                     "retry": {"attempts": 3, "wait_seconds": 0}, **delivery},
    }
    params = load_params(None, overrides, root=tmp_path)
    params["delivery"]["retry"]["wait_seconds"] = 0.01  # backoff exercised, but tiny
    return params


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def attachment_of(msg) -> tuple[str, bytes]:
    (part,) = list(msg.iter_attachments())
    return part.get_filename(), part.get_payload(decode=True)


def decoded_text(msg) -> str:
    """Every header and every decoded part of a message, as one string (for leak checks)."""
    out = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        if part.is_multipart():
            continue
        out.extend(f"{k}: {v}" for k, v in part.items())
        out.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return "\n".join(out)


def assert_no_leak(msg, partner_id: str) -> None:
    """The message names no other partner (id, name) and carries no other partner's address."""
    text = decoded_text(msg)
    for other in PARTNERS.itertuples(index=False):
        if other.partner_id == partner_id:
            continue
        assert other.partner_id not in text, f"{other.partner_id} leaked into {partner_id}'s message"
        assert other.name not in text and other.name.split()[0] not in text, (
            f"{other.name} leaked into {partner_id}'s message")
    for contact in CONTACTS.itertuples(index=False):
        if contact.partner_id != partner_id:
            assert contact.email.lower() not in text.lower(), f"{contact.email} in {partner_id}'s message"


# --- a real SMTP server ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler storing every accepted message, with fault injection:

    - ``refuse[address] = "550 ..."``: RCPT for that address always refused;
    - ``transient[address] = ["451 ...", ...]``: the next RCPTs get these replies, then accepted;
    - ``drop_data = {n, ...}``: the n-th DATA (1-based) is answered by dropping the connection
      (the message is not stored);
    - ``hold``: a threading.Event DATA waits for (``inside`` is set while waiting).
    """

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self.transient: dict[str, list[str]] = {}
        self.drop_data: set[int] = set()
        self.rcpt_calls: Counter = Counter()
        self.data_calls = 0
        self.hold = None
        self.inside = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_calls[address.lower()] += 1
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        queue = self.transient.get(address.lower())
        if queue:
            return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        if self.data_calls in self.drop_data:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        if self.hold is not None:
            self.inside.set()
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 10)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                              or envelope.content))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    def by_recipient(self) -> dict[str, list]:
        """recipient (lower-cased) → parsed messages it received."""
        out: dict[str, list] = {}
        for _, rcpts, data in self.messages:
            for r in rcpts:
                out.setdefault(r.lower(), []).append(parse(data))
        return out


@contextmanager
def smtp_server(handler: Mailbox, port: int | None = None, **kwargs):
    """A running aiosmtpd Controller on 127.0.0.1 (a free port unless given)."""
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 / localhost (openssl), returned as (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def client_tls_context(cert: Path) -> ssl.SSLContext:
    """Verifies the server against the test certificate (as a real client verifies a real one)."""
    return ssl.create_default_context(cafile=str(cert))
