"""``manifest.json``: one entry per report of a run, kept current while the run goes on.

Format (docs/architecture.md): ``{"period", "as_of", "reports": {partner_id: entry},
"network_overview": entry}``; an entry has status (``ok``/``failed``; ``pending`` while a run is
rendering it), output, sha256, seconds, error, locale, fingerprint (and failed_notebook).

Crash safety: every finished report is appended to a journal (``.manifest.journal.jsonl``, one JSON
line, flushed) before anything else, and manifest.json is rewritten atomically at most every
``flush_seconds`` and at the end. The next run folds a leftover journal into the manifest, so a
crash loses no finished report. Reports a crashed run had not finished stay ``pending``, which
delivery never sends.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..files import sha256_file, write_atomic
from .jobs import ReportResult

MANIFEST = "manifest.json"
JOURNAL = ".manifest.journal.jsonl"
OVERVIEW_KEY = "network_overview"


class Manifest:
    """The manifest of one run folder: load, update entry by entry, save atomically."""

    def __init__(self, run_dir: str | Path, *, period: str, as_of: str | None,
                 flush_seconds: float = 2.0):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / MANIFEST
        self.journal_path = self.run_dir / JOURNAL
        self.flush_seconds = flush_seconds
        self.data: dict[str, Any] = {"period": period, "as_of": as_of, "reports": {},
                                     OVERVIEW_KEY: None}
        self._last_save = 0.0
        self._journal = None
        self._load()
        self.data["period"], self.data["as_of"] = period, as_of

    # -- reading ---------------------------------------------------------------------------------
    def _load(self) -> None:
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}  # unreadable: everything renders again
            if isinstance(old, dict):
                self.data["reports"] = dict(old.get("reports") or {})
                self.data[OVERVIEW_KEY] = old.get(OVERVIEW_KEY)
        if self.journal_path.exists():  # a previous run crashed: fold in what it finished
            for line in self.journal_path.read_text(encoding="utf-8").splitlines():
                try:
                    key, entry = json.loads(line)
                except ValueError:
                    continue  # a line cut by the crash
                self._set(key, entry)

    def entry(self, key: str) -> dict | None:
        """The entry of a partner id, or of the overview with key ``network_overview``."""
        return self.data[OVERVIEW_KEY] if key == OVERVIEW_KEY else self.data["reports"].get(key)

    def is_current(self, key: str, fingerprint: str, *, pdf: bool = False) -> bool:
        """True when the entry is ok, has this fingerprint, and its HTML (and its PDF, when ``pdf``)
        still has the recorded sha256."""
        entry = self.entry(key)
        if not entry or entry.get("status") != "ok" or entry.get("fingerprint") != fingerprint:
            return False
        files = [(entry.get("output"), entry.get("sha256"))] + ([(entry.get("pdf"), entry.get("pdf_sha256"))]
                                                                if pdf else [])
        for output, sha in files:
            if not output or not sha:
                return False
            path = self.run_dir / output
            if not (path.is_file() and sha256_file(path) == sha):
                return False
        return True

    # -- writing ---------------------------------------------------------------------------------
    def _set(self, key: str, entry: dict | None) -> None:
        if key == OVERVIEW_KEY:
            self.data[OVERVIEW_KEY] = entry
        elif entry is None:
            self.data["reports"].pop(key, None)
        else:
            self.data["reports"][key] = entry

    def mark_pending(self, key: str, *, locale: str | None, fingerprint: str) -> None:
        """Record that a report is being rendered: it is not deliverable until it finishes ok."""
        entry = ReportResult(partner_id=None if key == OVERVIEW_KEY else key, status="pending",
                             locale=locale, fingerprint=fingerprint).to_entry()
        self._set(key, entry)

    def drop(self, keys) -> None:
        """Remove entries (partners no longer in the run)."""
        for key in keys:
            self._set(key, None)

    def record(self, key: str, result: ReportResult) -> None:
        """Store a finished report: journal line first (crash-safe), manifest at most every few seconds."""
        entry = result.to_entry()
        self._set(key, entry)
        if self._journal is None:
            self._journal = open(self.journal_path, "a", encoding="utf-8")
        self._journal.write(json.dumps([key, entry]) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        if time.monotonic() - self._last_save >= self.flush_seconds:
            self.save(keep_journal=True)

    def save(self, *, keep_journal: bool = False) -> Path:
        """Write manifest.json atomically; the journal is removed unless ``keep_journal``."""
        reports = dict(sorted(self.data["reports"].items()))
        data = {"period": self.data["period"], "as_of": self.data["as_of"], "reports": reports,
                OVERVIEW_KEY: self.data[OVERVIEW_KEY]}
        write_atomic(self.path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        self._last_save = time.monotonic()
        if not keep_journal:
            self.close()
            self.journal_path.unlink(missing_ok=True)
        return self.path

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
