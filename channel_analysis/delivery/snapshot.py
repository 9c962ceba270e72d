"""The partners and recipients a run reported on, as the run wrote them: delivery's only view of them.

The run writes two small tables into ``reports/<period>/kpis/`` (the same folder as the KPI
tables), so delivery uses the partners and contacts the reports were made from, not whatever the
data source holds by the time the emails go out, and never re-reads or re-validates the source:

``partners.parquet``
    ``partner_id`` (str), ``name`` (str), ``locale`` (str or null); other columns are ignored.
``recipients.parquet``
    one row per contact of a reported partner: ``partner_id`` (str), ``email`` (str), ``name``
    (str or null), ``receives_scorecard`` (bool).

:func:`channel_analysis.exports.partners` and :func:`~channel_analysis.exports.recipients` make them
and the run writes them with the other exported tables; :func:`read_snapshot`
reads and checks them, raising :class:`DeliveryError` with what to do when they are missing or
incomplete.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DeliveryError

#: Folder of the snapshot inside a run folder (shared with the KPI tables).
SNAPSHOT_DIR = "kpis"
PARTNERS_FILE = "partners.parquet"
RECIPIENTS_FILE = "recipients.parquet"
#: Columns delivery reads from each file (others are left out).
PARTNER_COLUMNS = ["partner_id", "name", "locale"]
RECIPIENT_COLUMNS = ["partner_id", "email", "name", "receives_scorecard"]
#: Read when present: the contract currency the email quotes amounts in, and its rate.
PARTNER_OPTIONAL = ["currency", "fx_rate", "account_manager"]


def snapshot_paths(run_dir: str | Path) -> tuple[Path, Path]:
    """``(partners.parquet, recipients.parquet)`` of the run folder ``reports/<period>``."""
    folder = Path(run_dir) / SNAPSHOT_DIR
    return folder / PARTNERS_FILE, folder / RECIPIENTS_FILE


def _read(path: Path, columns: list[str], period: str, optional: tuple[str, ...] = ()) -> pd.DataFrame:
    if not path.is_file():
        raise DeliveryError(
            f"{path} is missing: delivery sends to the partners and contacts a run recorded. "
            f"Render the reports of {period} first: make reports PERIOD={period}"
        )
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"{path} cannot be read as Parquet ({exc}); re-render the reports of "
                            f"{period}: make reports PERIOD={period}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DeliveryError(
            f"{path} has no column {', '.join(missing)} (it needs {', '.join(columns)}); re-render "
            f"the reports of {period}: make reports PERIOD={period}"
        )
    frame = frame[columns + [c for c in optional if c in frame.columns]].copy()
    frame["partner_id"] = frame["partner_id"].astype(str)
    return frame


def read_snapshot(run_dir: str | Path, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(partners, recipients)`` as the run of ``period`` wrote them into ``run_dir/kpis/``.

    ``partners`` has :data:`PARTNER_COLUMNS`, ``recipients`` :data:`RECIPIENT_COLUMNS` (what
    :func:`.plan.plan_messages` takes as ``partners`` and ``contacts``); ids are strings.
    Raises :class:`DeliveryError` naming the file when one is missing, unreadable, lacks a column,
    or holds a ``receives_scorecard`` that is not true/false.
    """
    partners_path, recipients_path = snapshot_paths(run_dir)
    partners = _read(partners_path, PARTNER_COLUMNS, period, tuple(PARTNER_OPTIONAL))
    recipients = _read(recipients_path, RECIPIENT_COLUMNS, period)
    flags = recipients["receives_scorecard"]
    bad = flags.notna() & ~flags.isin([True, False])
    if bad.any():
        raise DeliveryError(
            f"{recipients_path}: receives_scorecard must be true or false, found "
            f"{flags[bad].iloc[0]!r} for partner {recipients.loc[bad, 'partner_id'].iloc[0]}; "
            f"re-render the reports of {period}: make reports PERIOD={period}"
        )
    recipients["receives_scorecard"] = flags.fillna(False).astype(bool)
    return partners, recipients
