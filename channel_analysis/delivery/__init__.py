"""Emailing each partner its rendered scorecard: outbox (dry run) or SMTP, exactly once.

``run(params, send=False, yes=False, resend=False)`` is the whole step (``channel-analysis send``).
The subpackage keeps one job per module:

  snapshot   the partners and recipients the run recorded (kpis/partners.parquet,
             kpis/recipients.parquet): read_snapshot for delivery, write_* for the run
  plan       which reports may be sent, to whom, and what the ledger says is already done
             (pure functions on the manifest and the snapshot's partners / recipients frames)
  wording    every user-facing string of the email, routed through one translation hook
  message    the MIME message: HTML + plain-text alternative + the scorecard attached; Message-ID
  ledger     the SQLite delivery ledger: queued / sent / failed per (period, partner, recipient, sha)
  transport  SMTP connection, retries with backoff, transient vs permanent failures
  outbox     the dry run: one ``.eml`` per message and ``outbox.csv``
  dispatch   run(): lock, plan, build, write or send, record, summarize
"""

from .dispatch import DeliverySummary, run
from .errors import DeliveryError

__all__ = ["DeliveryError", "DeliverySummary", "run"]
