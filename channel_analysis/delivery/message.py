"""The MIME message of one scorecard email.

Structure (built with :class:`email.message.EmailMessage`)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain   (quoted-printable, from the same Content as the HTML)
    │   └── text/html    (tables, inline CSS via css_inline; no scripts, no external resources)
    ├── application/pdf attachment "Scorecard_<period>_<partner>.pdf" (when the run made the PDF)
    └── text/html attachment "Scorecard_<period>_<partner>.html" (base64, the rendered report's bytes)

Partner and contact names are data: they are HTML-escaped in the body and stripped of control
characters (CR/LF) in headers. The Message-ID is deterministic per (period, partner, recipient,
report sha256), so a message re-sent after a crash carries the same id.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import html
import re
import textwrap
import unicodedata
from pathlib import Path
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Mapping

import css_inline

from ..markup import tagged
from .errors import DeliveryError
from .wording import Content, one_line

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
#: Headers the package sets itself; delivery.headers may not override them.
RESERVED_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "sender", "reply-to", "subject", "date", "message-id",
    "mime-version", "content-type", "content-transfer-encoding", "content-disposition",
    "content-language", "auto-submitted", "return-path", "received",
})

_CSS = """
body { margin: 0; padding: 0; background: #f3f4f6; color: #1f2937;
       font-family: Arial, Helvetica, sans-serif; }
.outer { width: 100%; background: #f3f4f6; border-collapse: collapse; }
.card { width: 100%; max-width: 600px; background: #ffffff; border-collapse: collapse; }
.head { background: #1f3a5f; padding: 20px 24px; }
.title { margin: 0; font-size: 20px; font-weight: bold; color: #ffffff; }
.partner { margin: 4px 0 0 0; font-size: 15px; color: #dbe4f0; }
.main { padding: 20px 24px 8px 24px; font-size: 15px; line-height: 1.5; }
.para { margin: 0 0 12px 0; }
.kpi-title { margin: 16px 0 8px 0; font-size: 16px; font-weight: bold; color: #1f3a5f; }
.kpis { width: 100%; border-collapse: collapse; margin: 0 0 16px 0; }
.kpi-label { padding: 8px 6px; border-bottom: 1px solid #e5e7eb; font-size: 14px; }
.kpi-value { padding: 8px 6px; border-bottom: 1px solid #e5e7eb; font-size: 14px;
             font-weight: bold; text-align: right; white-space: nowrap; }
.kpi-note { padding: 8px 6px; border-bottom: 1px solid #e5e7eb; font-size: 12px; color: #6b7280; }
.foot { padding: 12px 24px 20px 24px; font-size: 12px; color: #6b7280; }
"""

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False,
                                 keep_link_tags=False)


def clean_header(value) -> str:
    """A header value as one line: control characters (CR, LF, tab, ...) and runs of whitespace
    become one space."""
    return one_line("" if value is None else str(value))


def message_id(period: str, partner_id: str, recipient: str, report_sha256: str,
               from_address: str) -> str:
    """``<sha1(period, partner, recipient, sha)@domain>``, the domain taken from ``from_address``."""
    key = "\x1f".join([str(period), str(partner_id), str(recipient).lower(), str(report_sha256)])
    domain = re.sub(r"[^A-Za-z0-9.-]", "", str(from_address).rpartition("@")[2]) or "channel-analysis"
    return f"<{hashlib.sha1(key.encode('utf-8')).hexdigest()}@{domain}>"


def attachment_filename(partner_name: str, partner_id: str, period: str) -> str:
    """``Scorecard_2026Q3_Nordlicht-GmbH.html``: ASCII, no spaces; the partner id if the name
    has no usable letters."""
    ascii_name = unicodedata.normalize("NFKD", str(partner_name)).encode("ascii", "ignore").decode()
    slug = "-".join(re.findall(r"[A-Za-z0-9]+", ascii_name))[:60].strip("-")
    slug = slug or re.sub(r"[^A-Za-z0-9-]", "", str(partner_id)) or "partner"
    return f"Scorecard_{period}_{slug}.html"


def _value(h) -> str:
    """A headline value; a KPI value says which table cell it is (as on the scorecard)."""
    if h.measure is None:
        return html.escape(h.value)
    return str(tagged(h.value, h.measure, h.raw, h.window))


def render_html(content: Content) -> str:
    """The HTML body: a 600px table layout, CSS inlined, every text escaped."""
    e = html.escape
    rows = "".join(
        f'<tr><td class="kpi-label">{e(h.label)}</td><td class="kpi-value">{_value(h)}</td>'
        f'<td class="kpi-note">{e(h.note)}</td></tr>'
        for h in content.headlines
    )
    kpis = (f'<p class="kpi-title">{e(content.headlines_title)}</p>'
            f'<table class="kpis" role="presentation" cellpadding="0" cellspacing="0">{rows}</table>'
            if content.headlines else "")
    paragraphs = "".join(f'<p class="para">{e(p)}</p>' for p in content.paragraphs)
    closing = "<br>".join(e(line) for line in content.closing)
    lang = e(content.language.replace("_", "-"))
    page = f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(content.subject)}</title><style>{_CSS}</style></head>
<body>
<table class="outer" role="presentation" cellpadding="0" cellspacing="0"><tr><td align="center">
<table class="card" role="presentation" cellpadding="0" cellspacing="0">
<tr><td class="head"><p class="title">{e(content.title)}</p><p class="partner">{e(content.partner_line)}</p></td></tr>
<tr><td class="main"><p class="para">{e(content.greeting)}</p>{paragraphs}{kpis}<p class="para">{closing}</p></td></tr>
<tr><td class="foot">{e(content.footer)}</td></tr>
</table></td></tr></table>
</body></html>
"""
    return _INLINER.inline(page)


def render_text(content: Content) -> str:
    """The plain-text alternative, from the same content as :func:`render_html`."""
    def wrap(text: str) -> str:
        return textwrap.fill(text, width=72, break_long_words=False, break_on_hyphens=False)

    parts = [f"{content.title}\n{content.partner_line}", content.greeting]
    parts += [wrap(p) for p in content.paragraphs]
    if content.headlines:
        lines = [content.headlines_title]
        for h in content.headlines:
            lines.append(f"  - {h.label}: {h.value}" + (f" ({h.note})" if h.note else ""))
        parts.append("\n".join(lines))
    parts.append("\n".join(content.closing))
    parts.append("-- \n" + wrap(content.footer))
    return "\n\n".join(parts) + "\n"


def check_extra_headers(headers: Mapping) -> dict[str, str]:
    """``delivery.headers`` as clean name → value; a :class:`DeliveryError` for a malformed or
    reserved name (From, To, Cc, Bcc, Subject, ... are set by the package only)."""
    out = {}
    for name, value in (headers or {}).items():
        name = str(name).strip()
        if not _HEADER_NAME.match(name):
            raise DeliveryError(f"delivery.headers: {name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise DeliveryError(f"delivery.headers: {name!r} is set by channel-analysis and cannot be "
                                "overridden; remove it from the run file")
        out[name] = clean_header(value)
    return out


def build_message(
    *,
    content: Content,
    from_address: str,
    from_name: str,
    to_address: str,
    to_name: str | None,
    message_id: str,
    report: bytes,
    filename: str,
    date: dt.datetime,
    pdf: bytes | None = None,
    reply_to: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """One email to one recipient (see the module docstring for the structure).

    Raises ``ValueError`` (or an ``email.errors`` error) for an address that cannot be encoded.
    """
    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = Address(display_name=clean_header(from_name), addr_spec=clean_header(from_address))
    msg["To"] = Address(display_name=clean_header(to_name), addr_spec=clean_header(to_address))
    if reply_to:
        msg["Reply-To"] = clean_header(reply_to)
    msg["Subject"] = clean_header(content.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(render_text(content), subtype="plain", cte="quoted-printable")
    msg.add_alternative(render_html(content), subtype="html", cte="quoted-printable")
    if pdf is not None:  # what mail clients open, print and forward; the HTML is the accessible copy
        msg.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=str(Path(filename).with_suffix(".pdf")))
    msg.add_attachment(report, maintype="text", subtype="html", filename=filename)
    msg["Content-Language"] = content.language.replace("_", "-")  # after set_content clears Content-*
    return msg


def encode(msg: EmailMessage) -> bytes:
    """The message as sent over SMTP (CRLF line ends); its length is the size the guard checks."""
    return msg.as_bytes(policy=email.policy.SMTP)
