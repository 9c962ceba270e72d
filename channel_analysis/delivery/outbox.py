"""The dry run's output: ``reports/<period>/outbox/`` with one ``.eml`` file per message and
``outbox.csv`` (one row per message: partner_id, recipients, subject, size_bytes, attachment,
eml_file, message_id).

The outbox shows exactly what ``--send`` would send now; each dry run replaces the previous one.
Files are written atomically (:func:`channel_analysis.files.write_atomic`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..files import write_atomic

CSV_COLUMNS = ["partner_id", "recipients", "subject", "size_bytes", "attachment", "eml_file", "message_id"]


class Outbox:
    """Collects the messages of a dry run into ``directory``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in [*self.directory.glob("*.eml"), self.directory / "outbox.csv"]:
            old.unlink(missing_ok=True)
        self._rows: list[dict] = []

    def add(self, name: str, data: bytes, *, partner_id: str, recipients: str, subject: str,
            attachment: str, message_id: str) -> Path:
        """Write one encoded message as ``<name>.eml`` and remember its summary row."""
        path = self.directory / f"{name}.eml"
        write_atomic(path, data)
        self._rows.append({"partner_id": partner_id, "recipients": recipients, "subject": subject,
                           "size_bytes": len(data), "attachment": attachment, "eml_file": path.name,
                           "message_id": message_id})
        return path

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> Path:
        """Write ``outbox.csv`` and return its path."""
        path = self.directory / "outbox.csv"
        write_atomic(path, pd.DataFrame(self._rows, columns=CSV_COLUMNS).to_csv(index=False))
        return path
