"""``run()``: the delivery step of a quarterly run, and its summary.

1. Take the period's lock (``reports/<period>/delivery.lock``): one sender per period at a time;
   then the run lock (``.render.lock``): no render of the period while this one reads and sends.
2. Plan: the manifest's reports that rendered and still match their sha256 × each partner's
   contacts with ``receives_scorecard`` (as the run recorded them: :mod:`.snapshot`) → one message
   per recipient; minus what the ledger says was already sent (a changed report only with
   ``resend``).
3. Dry run (default): write every planned message to ``outbox/`` + ``outbox.csv``.
   ``send``: refuse without ``yes``; otherwise hand each message to the SMTP server and record
   queued → sent / failed in the ledger, one committed transaction per event.
4. Return a :class:`DeliverySummary` (``format()``, ``ok``).
"""

from __future__ import annotations

import datetime as dt
import email.errors
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd
from filelock import FileLock, Timeout

from ..files import safe_name, sha256_bytes
from ..runlock import run_lock
from . import message as msgs
from ..render.index_page import write_index
from .errors import DeliveryError
from .ledger import Ledger, refused_rows
from .outbox import Outbox
from .plan import PROBLEM_COLUMNS, check_reports, decide, load_manifest, plan_messages, read_kpis, read_targets
from .snapshot import read_snapshot
from .transport import ConnectFailure, RetryPolicy, SendFailure, SmtpSettings, SmtpTransport
from .wording import compose

#: Result statuses, in the order the summary lists them, with a short label.
STATUS_LABELS = {
    "sent": "sent",
    "written": "written to the outbox",
    "failed": "failed",
    "not_attempted": "not attempted (run stopped)",
    "oversize": "too large",
    "build_error": "message could not be built",
    "sha_mismatch": "report changed after rendering",
    "missing_file": "report file missing",
    "not_in_manifest": "not rendered in this run",
    "unknown_partner": "not in the partners table",
    "already_sent": "already sent earlier",
    "needs_resend": "changed since sent (use --resend)",
    "refused_earlier": "refused permanently by the server earlier (use --retry-failed)",
    "render_failed": "report did not render",
    "no_recipients": "no recipients",
}
DONE = frozenset({"sent", "written"})
#: Reported, but a run with only these is still ok (nothing this step could have delivered failed).
#: ``refused_earlier``: a permanent refusal recorded by an earlier run is not a failure of this one.
WARNINGS = frozenset({"already_sent", "needs_resend", "refused_earlier", "render_failed", "no_recipients"})
MAX_LINES = 50


@dataclass
class DeliverySummary:
    """What one delivery run did: one row per message (or per partner that got none) in
    ``results`` (``partner_id, recipient, status, detail``)."""

    period: str
    mode: str  # "outbox" or "smtp"
    destination: str
    results: pd.DataFrame = field(repr=False)
    aborted: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run was not stopped and every problem is only a warning (see WARNINGS)."""
        bad = ~self.results["status"].isin(DONE | WARNINGS)
        return self.aborted is None and not bool(bad.any())

    def count(self, status: str) -> int:
        """Number of result rows with ``status``."""
        return int((self.results["status"] == status).sum())

    def format(self) -> str:
        """A readable report: totals, then every problem (at most 50 lines per kind)."""
        r = self.results
        done = r[r["status"].isin(DONE)]
        verb = "sent" if self.mode == "smtp" else "written"
        how = "SMTP" if self.mode == "smtp" else "dry run, nothing sent"
        lines = [f"delivery {self.period} ({how}): {len(done)} messages {verb} for "
                 f"{done['partner_id'].nunique()} partners — {self.destination}"]
        for status, label in STATUS_LABELS.items():
            rows = r[r["status"] == status]
            if status in DONE or rows.empty:
                continue
            kind = "warning" if status in WARNINGS else "NOT SENT"
            lines.append(f"  {kind}: {label}: {len(rows)}")
            if status == "already_sent":
                continue  # the normal state of a re-run; the ledger has the details
            for row in rows.head(MAX_LINES).itertuples(index=False):
                who = row.partner_id + (f"  {row.recipient}" if isinstance(row.recipient, str) else "")
                lines.append(f"    {who}: {row.detail}")
            if len(rows) > MAX_LINES:
                lines.append(f"    … and {len(rows) - MAX_LINES} more")
        if self.aborted:
            lines.append(f"STOPPED: {self.aborted}. Fix it and run the same command again: "
                         "messages already sent are not sent twice.")
        if self.mode == "outbox" and len(done):
            lines.append("To send for real: add --send --yes (see docs/delivery.md).")
        return "\n".join(lines)

    summary = format

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        import html

        head = html.escape(self.format().splitlines()[0])
        return f"<p><b>{head}</b></p>" + self.results.to_html(index=False, na_rep="")


@dataclass(frozen=True)
class _Built:
    data: bytes
    subject: str
    filename: str
    message_id: str


class _Builder:
    """Builds the encoded message of one planned row; keeps the current partner's report bytes."""

    def __init__(self, params: dict, run_dir: Path, extra_headers: Mapping[str, str], date: dt.datetime,
                 partners: pd.DataFrame | None = None):
        self.cfg = params["delivery"]
        self.period = params["period"]
        self.currency = params["reporting_currency"]
        # each partner's contract currency and rate (as its scorecard shows amounts)
        self.manager_of: dict[str, str] = {}
        if partners is not None and "account_manager" in partners.columns:
            self.manager_of = {str(pid): str(m) for pid, m in zip(partners["partner_id"], partners["account_manager"])
                               if isinstance(m, str) and m}
        self.money_of: dict[str, tuple[str, float]] = {}
        if partners is not None and {"currency", "fx_rate"} <= set(partners.columns):
            for pid, cur, rate in zip(partners["partner_id"], partners["currency"], partners["fx_rate"]):
                if isinstance(cur, str) and pd.notna(rate) and rate > 0:
                    self.money_of[str(pid)] = (cur, float(rate))
        self.kpis = read_kpis(run_dir, self.period)
        self.targets = read_targets(run_dir, self.period)
        self.extra = extra_headers
        self.date = date
        self._report: tuple[str, bytes] | None = None

    def _report_bytes(self, row) -> bytes:
        if self._report is None or self._report[0] != row.report_path:
            self._report = (row.report_path, Path(row.report_path).read_bytes())
        return self._report[1]

    def build(self, row) -> _Built | tuple[str, str]:
        """The encoded message, or ``(status, detail)`` when it cannot or must not be sent."""
        try:
            report = self._report_bytes(row)
        except OSError as exc:
            return "missing_file", f"cannot read {row.report_path}: {exc}"
        if sha256_bytes(report) != row.report_sha256:
            return "sha_mismatch", f"{Path(row.report_path).name} changed after rendering; re-render"
        pdf = None
        if isinstance(row.pdf_path, str) and row.pdf_path:
            try:
                pdf = Path(row.pdf_path).read_bytes()
            except OSError as exc:
                return "missing_file", f"cannot read {row.pdf_path}: {exc}"
            if sha256_bytes(pdf) != row.pdf_sha256:
                return "sha_mismatch", f"{Path(row.pdf_path).name} changed after rendering; re-render"
        kpis = None
        if self.kpis is not None and row.partner_id in self.kpis.index:
            kpis = self.kpis.loc[row.partner_id].to_dict()
        targets = None
        if self.targets is not None:
            targets = self.targets[self.targets["partner_id"] == row.partner_id]
        contact = row.contact_name if isinstance(row.contact_name, str) else None
        currency, fx_rate = self.money_of.get(row.partner_id, (self.currency, 1.0))
        mid = msgs.message_id(self.period, row.partner_id, row.recipient, row.report_sha256,
                              self.cfg["from_address"])
        filename = msgs.attachment_filename(row.partner_name, row.partner_id, self.period)
        try:
            content = compose(partner_name=row.partner_name, contact_name=contact,
                              period=self.period, locale=row.locale, currency=currency, fx_rate=fx_rate,
                              sender_name=self.cfg["from_name"], kpis=kpis, targets=targets,
                              account_manager=self.manager_of.get(row.partner_id))
            message = msgs.build_message(
                content=content, from_address=self.cfg["from_address"], from_name=self.cfg["from_name"],
                to_address=row.address, to_name=contact, message_id=mid, report=report,
                filename=filename, pdf=pdf, date=self.date, reply_to=self.cfg["reply_to"], extra_headers=self.extra,
            )
            data = msgs.encode(message)
        except (ValueError, TypeError, email.errors.MessageError) as exc:
            return "build_error", f"{type(exc).__name__}: {exc}"
        limit = int(self.cfg["max_message_bytes"])
        if len(data) > limit:
            return "oversize", (f"message is {len(data):,} bytes after encoding, over "
                                f"delivery.max_message_bytes = {limit:,}")
        return _Built(data, content.subject, filename, mid)


def run(
    params: dict,
    *,
    send: bool = False,
    yes: bool = False,
    resend: bool = False,
    retry_failed: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    environ: Mapping[str, str] | None = None,
) -> DeliverySummary:
    """Email each partner of ``params["period"]`` its scorecard (dry run into the outbox unless
    ``send``).

    ``yes`` confirms a real send (without it a send is refused, saying how many messages would go
    to how many partners). ``resend`` re-sends reports that changed since they were sent.
    ``retry_failed`` tries again the messages the server refused permanently (SMTP 5xx) in an
    earlier run; without it they are listed (``refused_earlier``, a warning) and not sent.
    ``params["render"]["partners"]`` restricts the partners. Partners and recipients are those the
    run recorded in ``kpis/partners.parquet`` and ``kpis/recipients.parquet`` (:mod:`.snapshot`);
    the data source is not read. ``ssl_context`` replaces the system's TLS verification (tests
    with a self-signed server); ``environ`` replaces ``os.environ`` for the password lookup.

    Raises :class:`DeliveryError` when nothing can start: no manifest or partner snapshot, lock
    held, send without ``yes``, bad SMTP settings; :class:`~channel_analysis.errors.RunLockedError`
    while a render of the period holds the run lock (:mod:`channel_analysis.runlock`).
    """
    period = params["period"]
    run_dir = Path(params["output_dir"]) / period
    if not run_dir.is_dir():
        raise DeliveryError(f"no reports for {period} under {run_dir}: render them first "
                            f"(make reports PERIOD={period})")
    extra_headers = msgs.check_extra_headers(params["delivery"]["headers"])
    lock_path = run_dir / "delivery.lock"
    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise DeliveryError(
            f"another `channel-analysis send` for {period} is running (it holds {lock_path}); "
            "wait for it to finish, then run again — the ledger makes sure nothing is sent twice"
        ) from None
    try:
        with run_lock(run_dir, period, action="send"):  # no render of this period meanwhile
            summary = _run_locked(params, run_dir, extra_headers, send=send, yes=yes, resend=resend,
                                  retry_failed=retry_failed, ssl_context=ssl_context, environ=environ)
            if (run_dir / "manifest.json").is_file():  # the run's index shows each partner's delivery state
                write_index(run_dir, delivery=delivery_states(summary.results))
        return summary
    finally:
        lock.release()


def delivery_states(results: pd.DataFrame) -> dict[str, str]:
    """partner id → its delivery state in words ("sent 2", "written to the outbox 1, failed 1", …)."""
    states = {}
    for pid, rows in results.groupby("partner_id", sort=True):
        counts = rows["status"].value_counts()
        states[str(pid)] = ", ".join(f"{STATUS_LABELS.get(s, s)} {n}" if s in DONE | {"failed", "not_attempted"}
                                     else STATUS_LABELS.get(s, s) for s, n in counts.items())
    return states


def _run_locked(params, run_dir, extra_headers, *, send, yes, resend, retry_failed, ssl_context, environ):
    period = params["period"]
    manifest = load_manifest(run_dir, period)
    reports = check_reports(manifest, run_dir, params["render"]["partners"])
    partners, recipients = read_snapshot(run_dir, period)
    planned, problems = plan_messages(reports, partners, recipients,
                                      fallback_locale=params["locale"]["fallback"])
    ledger_path = run_dir / "delivery.sqlite"
    history = Ledger.read(ledger_path, period)
    refused = refused_rows(history)
    planned = decide(planned, history.loc[history["state"] == "sent"], resend=resend,
                     refused=None if retry_failed else refused)
    why = {(r.partner_id, r.recipient, r.report_sha256): f"{r.error} ({r.failed_at})"
           for r in refused.itertuples(index=False)}

    results: list[dict] = problems.to_dict("records")
    for row in planned.loc[planned["action"] != "send"].itertuples(index=False):
        if row.action == "already_sent":
            detail = "this report was already delivered to this address"
        elif row.action == "refused_earlier":
            detail = (f"the server refused it permanently: {why[(row.partner_id, row.recipient, row.report_sha256)]}; "
                      "fix the address in partner_contacts and re-render, or add --retry-failed")
        else:
            detail = "an earlier version of the report was sent to this address; add --resend to send the new one"
        results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                        "status": row.action, "detail": detail})
    todo = planned.loc[planned["action"] == "send"]

    smtp = params["delivery"]["smtp"]
    if send and not yes and len(todo):
        raise DeliveryError(
            f"refusing to send without --yes: this would email {len(todo)} messages to "
            f"{todo['partner_id'].nunique()} partners through {smtp['host']}:{smtp['port']}. "
            "Check the outbox first (run without --send), then add --yes."
        )
    builder = _Builder(params, run_dir, extra_headers, dt.datetime.now(dt.timezone.utc), partners)
    if not send:
        outbox = Outbox(run_dir / "outbox")
        seen: dict[str, int] = {}
        for row in todo.itertuples(index=False):
            built = builder.build(row)
            if isinstance(built, tuple):
                results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                                "status": built[0], "detail": built[1]})
                continue
            seen[row.partner_id] = seen.get(row.partner_id, 0) + 1
            name = f"{period}_{safe_name(row.partner_id)}_{seen[row.partner_id]:02d}"
            outbox.add(name, built.data, partner_id=row.partner_id, recipients=row.address,
                       subject=built.subject, attachment=built.filename, message_id=built.message_id)
            results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                            "status": "written", "detail": f"{name}.eml"})
        csv = outbox.close()
        return DeliverySummary(period, "outbox", f"outbox: {csv}", _results(results))

    settings = SmtpSettings.from_params(params, environ=environ, ssl_context=ssl_context)
    aborted = None
    with Ledger(ledger_path) as ledger, SmtpTransport(settings, RetryPolicy.from_params(params)) as transport:
        for row in todo.itertuples(index=False):
            key = (period, row.partner_id, row.recipient, row.report_sha256)
            if aborted:
                results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                                "status": "not_attempted", "detail": "the run stopped before this message"})
                continue
            built = builder.build(row)
            if isinstance(built, tuple):
                if built[0] in {"oversize", "build_error"}:
                    ledger.queue(*key, msgs.message_id(period, row.partner_id, row.recipient,
                                                       row.report_sha256, params["delivery"]["from_address"]))
                    ledger.mark_failed(*key, error=built[1], attempts=0, permanent=True)
                results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                                "status": built[0], "detail": built[1]})
                continue
            ledger.queue(*key, built.message_id)
            try:
                reply, attempts = transport.send(built.data, params["delivery"]["from_address"], row.address)
            except SendFailure as exc:
                # permanent = this recipient or message was refused (5xx); a refused login or sender
                # (ConnectFailure) says nothing about the recipient: the next run tries it again
                ledger.mark_failed(*key, error=exc.reason, attempts=exc.attempts,
                                   permanent=not exc.transient and not isinstance(exc, ConnectFailure))
                tries = f"{exc.attempts} attempt{'s' if exc.attempts != 1 else ''}"
                results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                                "status": "failed", "detail": f"{exc.reason} ({tries})"})
                if isinstance(exc, ConnectFailure):
                    aborted = exc.reason
                continue
            ledger.mark_sent(*key, reply=reply, attempts=attempts)
            results.append({"partner_id": row.partner_id, "recipient": row.recipient,
                            "status": "sent", "detail": reply})
    return DeliverySummary(period, "smtp", f"SMTP {settings.describe()}; ledger: {ledger_path}",
                           _results(results), aborted=aborted)


def _results(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return frame.sort_values(["partner_id", "recipient"], kind="stable", na_position="first").reset_index(drop=True)
