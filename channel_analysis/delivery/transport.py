"""SMTP delivery of one message to one recipient, with retries.

Settings come from params ``delivery.smtp`` (host, port, security ``starttls`` | ``tls`` | ``none``,
username, timeout); the password from the environment variable named by ``password_env`` or, when
that is unset, from a git-ignored ``.env`` file — never from a params file.

Failures are classified:

- *transient*: connection refused / dropped / timed out, SMTP 4xx replies. Retried for the same
  recipient with exponential backoff (tenacity): ``delivery.retry.attempts`` tries, waiting
  ``wait_seconds``, 2×, 4×, … (at most 60 s) between them; the connection is re-opened as needed.
- *permanent*: SMTP 5xx replies. Recorded, not retried; the next recipient goes ahead.
- *fatal* (:class:`ConnectFailure`): the server cannot be reached after all retries, or refuses
  TLS, the login or the sender address (5xx to MAIL FROM). Nothing else can be sent: the run
  stops and says why.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import tenacity
from dotenv import dotenv_values

from ..params import PROJECT_ROOT
from .errors import DeliveryError


class SendFailure(Exception):
    """One attempt to deliver failed. ``transient`` failures are worth retrying."""

    def __init__(self, reason: str, *, transient: bool, code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.code = code
        self.attempts = 1


class ConnectFailure(SendFailure):
    """Could not open an SMTP session (connect, TLS, login). Fatal for the run once retries are
    exhausted (transient) or at once (permanent: TLS or login refused)."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. ``ssl_context`` None: the system's default verification."""

    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_params(
        cls,
        params: dict,
        *,
        environ: Mapping[str, str] | None = None,
        env_files: tuple[Path, ...] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> "SmtpSettings":
        """Settings from ``params["delivery"]["smtp"]``; the password from ``environ`` (default
        ``os.environ``) or the first ``.env`` file that has it (default: ``./.env``, then the
        project's ``.env``). A :class:`DeliveryError` when a username is set but no password."""
        smtp = params["delivery"]["smtp"]
        password = None
        username = smtp.get("username") or None
        var = smtp.get("password_env")
        if username and var:
            environ = os.environ if environ is None else environ
            password = environ.get(var)
            files = env_files if env_files is not None else (Path.cwd() / ".env", PROJECT_ROOT / ".env")
            for path in files:
                if password:
                    break
                if Path(path).is_file():
                    password = dotenv_values(path).get(var)
            if not password:
                raise DeliveryError(
                    f"delivery.smtp.username is {username!r} but no password was found: set the "
                    f"environment variable {var} or put {var}=... in the git-ignored .env file"
                )
        elif username:
            raise DeliveryError("delivery.smtp.username is set but delivery.smtp.password_env is empty")
        return cls(host=str(smtp["host"]), port=int(smtp["port"]), security=str(smtp["security"]),
                   username=username, password=password, timeout=float(smtp["timeout"]),
                   ssl_context=ssl_context)

    def describe(self) -> str:
        """``smtp.example.com:587 (starttls, login as x)`` — never the password."""
        login = f", login as {self.username}" if self.username else ""
        return f"{self.host}:{self.port} ({self.security}{login})"


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries per recipient; waits ``wait_seconds`` × 2^k between them (≤ 60 s)."""

    attempts: int = 5
    wait_seconds: float = 2.0

    @classmethod
    def from_params(cls, params: dict) -> "RetryPolicy":
        retry = params["delivery"]["retry"]
        return cls(attempts=max(1, int(retry["attempts"])), wait_seconds=max(0.0, float(retry["wait_seconds"])))


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}".strip()


def _reply_failure(step: str, code: int, reply) -> SendFailure:
    text = _reply_text(code, reply)
    return SendFailure(f"{step} refused: {text}", transient=400 <= code < 500, code=code)


class SmtpTransport:
    """One SMTP session, re-opened when it drops; :meth:`send` delivers one message to one
    recipient with retries. Use as a context manager (closes the session)."""

    def __init__(self, settings: SmtpSettings, retry: RetryPolicy):
        self.settings = settings
        self.retry = retry
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "SmtpTransport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT (or just drop the socket if the server is gone)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = s.ssl_context or (ssl.create_default_context() if s.security != "none" else None)
        smtp = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ConnectFailure(f"{s.host}:{s.port} does not offer STARTTLS; "
                                         "check delivery.smtp.port / security", transient=False)
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
            return smtp
        except ConnectFailure:
            self._close_quietly(smtp)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self._close_quietly(smtp)
            raise ConnectFailure(f"login as {s.username} refused: {_reply_text(exc.smtp_code, exc.smtp_error)}; "
                                 f"check delivery.smtp.username and the password", transient=False) from None
        except smtplib.SMTPNotSupportedError as exc:
            self._close_quietly(smtp)
            raise ConnectFailure(f"{s.host}:{s.port}: {exc}", transient=False) from None
        except ssl.SSLError as exc:
            self._close_quietly(smtp)
            raise ConnectFailure(f"TLS with {s.host}:{s.port} failed: {exc}", transient=False) from None
        except smtplib.SMTPResponseException as exc:
            self._close_quietly(smtp)
            raise ConnectFailure(f"{s.host}:{s.port} refused the session: "
                                 f"{_reply_text(exc.smtp_code, exc.smtp_error)}",
                                 transient=not 500 <= exc.smtp_code < 600, code=exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._close_quietly(smtp)
            raise ConnectFailure(f"cannot reach SMTP server {s.host}:{s.port}: "
                                 f"{type(exc).__name__}: {exc}", transient=True) from None

    @staticmethod
    def _close_quietly(smtp) -> None:
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _send_once(self, data: bytes, from_addr: str, to_addr: str) -> str:
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            for step, call in (("sender", lambda: smtp.mail(from_addr)),
                               ("recipient", lambda: smtp.rcpt(to_addr)),
                               ("message", lambda: smtp.data(data))):
                code, reply = call()
                if code == 421:  # the server is closing the session
                    self._drop()
                    raise _reply_failure(step, code, reply)
                if not 200 <= code < 300:
                    try:
                        smtp.rset()
                    except (smtplib.SMTPException, OSError):
                        self._drop()
                    if step == "sender" and code >= 500:  # e.g. 530 auth required, 550 not allowed
                        raise ConnectFailure(f"the server refuses the sender {from_addr}: "
                                             f"{_reply_text(code, reply)}; check delivery.from_address "
                                             "and delivery.smtp", transient=False, code=code)
                    raise _reply_failure(step, code, reply)
            return _reply_text(code, reply)
        except SendFailure:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendFailure(f"connection lost: {type(exc).__name__}: {exc}", transient=True) from None

    def send(self, data: bytes, from_addr: str, to_addr: str) -> tuple[str, int]:
        """Deliver ``data`` (an encoded message) to ``to_addr``; returns (server reply, attempts).

        Raises :class:`SendFailure` (``.attempts`` set) when it finally fails; a
        :class:`ConnectFailure` means the server is unusable for the rest of the run.
        """
        counter = {"n": 0}

        def attempt() -> str:
            counter["n"] += 1
            return self._send_once(data, from_addr, to_addr)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.attempts),
            wait=tenacity.wait_exponential(multiplier=self.retry.wait_seconds, min=self.retry.wait_seconds,
                                           max=max(60.0, self.retry.wait_seconds)),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, SendFailure) and e.transient),
            reraise=True,
        )
        try:
            reply = retrying(attempt)
        except SendFailure as exc:
            exc.attempts = counter["n"]
            raise
        return reply, counter["n"]
