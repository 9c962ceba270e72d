"""The delivery ledger: ``reports/<period>/delivery.sqlite``.

One row per (period, partner_id, recipient, report_sha256) — one version of one partner's report
to one address — in table ``deliveries``:

=============== ===============================================================================
state           ``queued`` (about to be handed to the server), ``sent`` (the server accepted it)
                or ``failed`` (the last try failed; ``error`` says why; ``permanent`` 1 when the
                message could never go as it is: the server refused it or its recipient with a
                5xx reply, or it could not be built / is too large; 0 for a transient failure or
                a refused connection, login or sender)
message_id      the deterministic Message-ID the message carried
attempts        tries so far, over all runs
reply           the server's reply to the accepted message, e.g. ``250 2.0.0 Ok: queued as X``
queued_at …     UTC timestamps (ISO 8601) of the events
=============== ===============================================================================

Every state change is its own committed transaction, written immediately after the event, so a
crash loses at most the knowledge of the one message in flight (left ``queued``; the next run
sends it again with the same Message-ID). A ``sent`` row is never changed again.

A message the server refused permanently (``failed``, ``permanent`` 1, at least one attempt:
:func:`refused_rows`) is not tried again by later runs unless ``send --retry-failed``.

Check it with ``sqlite3 reports/2026Q3/delivery.sqlite "select state, count(*) from deliveries
group by state"``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    period        TEXT NOT NULL,
    partner_id    TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    report_sha256 TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    reply         TEXT,
    error         TEXT,
    permanent     INTEGER,
    queued_at     TEXT,
    sent_at       TEXT,
    failed_at     TEXT,
    PRIMARY KEY (period, partner_id, recipient, report_sha256)
);
"""

COLUMNS = ["period", "partner_id", "recipient", "report_sha256", "message_id", "state", "attempts",
           "reply", "error", "permanent", "queued_at", "sent_at", "failed_at"]


def _now() -> str:
    """Event time (a record, not a statistic): UTC, ISO 8601, seconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """The ledger of one run directory. Use as a context manager (closes the connection)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA synchronous = FULL")
        with self._db:
            self._db.executescript(SCHEMA)

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def read(path: Path, period: str | None = None) -> pd.DataFrame:
        """Every row (of ``period``) of the ledger at ``path``, read-only; an empty frame with the
        ledger's columns when there is no ledger yet."""
        path = Path(path)
        if not path.is_file():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30) as db:
            query = "SELECT * FROM deliveries" + (" WHERE period = ?" if period else "")
            frame = pd.read_sql_query(query, db, params=(period,) if period else ())
        db.close()
        return frame[COLUMNS]

    def rows(self, period: str | None = None) -> pd.DataFrame:
        """Every row (of ``period``) of this ledger."""
        return Ledger.read(self.path, period)

    def queue(self, period: str, partner_id: str, recipient: str, sha: str, message_id: str) -> None:
        """Record that the message is about to be handed to the server (never touches a sent row)."""
        with self._db:
            self._db.execute(
                """INSERT INTO deliveries (period, partner_id, recipient, report_sha256, message_id,
                                           state, queued_at)
                   VALUES (?, ?, ?, ?, ?, 'queued', ?)
                   ON CONFLICT (period, partner_id, recipient, report_sha256) DO UPDATE
                   SET state = 'queued', message_id = excluded.message_id, queued_at = excluded.queued_at
                   WHERE deliveries.state != 'sent'""",
                (period, partner_id, recipient, sha, message_id, _now()),
            )

    def mark_sent(self, period: str, partner_id: str, recipient: str, sha: str, *,
                  reply: str, attempts: int) -> None:
        """Record the server's acceptance (committed before anything else happens)."""
        with self._db:
            self._db.execute(
                """UPDATE deliveries SET state = 'sent', reply = ?, error = NULL, permanent = NULL,
                          attempts = attempts + ?, sent_at = ?
                   WHERE period = ? AND partner_id = ? AND recipient = ? AND report_sha256 = ?""",
                (reply, attempts, _now(), period, partner_id, recipient, sha),
            )

    def mark_failed(self, period: str, partner_id: str, recipient: str, sha: str, *,
                    error: str, attempts: int, permanent: bool) -> None:
        """Record a failure with its reason (a sent row stays sent)."""
        with self._db:
            self._db.execute(
                """UPDATE deliveries SET state = 'failed', error = ?, permanent = ?,
                          attempts = attempts + ?, failed_at = ?
                   WHERE period = ? AND partner_id = ? AND recipient = ? AND report_sha256 = ?
                     AND state != 'sent'""",
                (error, int(permanent), attempts, _now(), period, partner_id, recipient, sha),
            )


def refused_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows (of :meth:`Ledger.read`) the SMTP server refused permanently: ``failed`` with
    ``permanent`` 1 after at least one attempt (a message too large or impossible to build is
    recorded with 0 attempts: it is checked again on every run, never skipped)."""
    permanent = pd.to_numeric(rows["permanent"], errors="coerce").fillna(0).astype(int) == 1
    attempts = pd.to_numeric(rows["attempts"], errors="coerce").fillna(0)
    return rows.loc[(rows["state"] == "failed") & permanent & (attempts > 0)]
