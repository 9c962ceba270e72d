"""Calendar and fiscal quarters.

A quarter is labelled by the fiscal year in which it ends and its number within that year, e.g.
``"2026Q3"``. With calendar quarters (``fiscal_year_start_month: 1``) this is the usual label. With a
fiscal year starting in October, 2025-10-01..2025-12-31 is ``"2026Q1"``. This is pandas' own
convention for ``Q-<month the fiscal year ends>`` periods, which the functions here wrap.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

import pandas as pd

from .errors import ParamsError

_LABEL = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_freq(fiscal_year_start_month: int = 1) -> str:
    """The pandas period frequency for quarters of a fiscal year starting in the given month."""
    if not 1 <= int(fiscal_year_start_month) <= 12:
        raise ParamsError(
            f"fiscal_year_start_month must be 1..12, got {fiscal_year_start_month!r}"
        )
    end_month = (int(fiscal_year_start_month) - 2) % 12 + 1
    return "Q-" + calendar.month_abbr[end_month].upper()


def to_quarter(dates, fiscal_year_start_month: int = 1) -> pd.PeriodIndex | pd.Series:
    """Quarter periods of a date Series / index (vectorized). NaT stays NaT."""
    freq = quarter_freq(fiscal_year_start_month)
    if isinstance(dates, pd.Series):
        return dates.dt.to_period(freq)
    return pd.DatetimeIndex(dates).to_period(freq)


def quarter_labels(dates, fiscal_year_start_month: int = 1) -> pd.Series:
    """Quarter labels ("2026Q3") of a date Series (vectorized)."""
    q = to_quarter(pd.Series(dates), fiscal_year_start_month)
    return q.astype(str).where(q.notna())


def parse_quarter(label: str, fiscal_year_start_month: int = 1) -> pd.Period:
    """The quarter named by a label like "2026Q3"; a clear error for anything else."""
    text = str(label).strip().upper()
    if not _LABEL.match(text):
        raise ParamsError(
            f"period {label!r} is not a quarter label; write it like 2026Q3 (fiscal year, quarter)"
        )
    return pd.Period(text, freq=quarter_freq(fiscal_year_start_month))


def quarter_bounds(label: str, fiscal_year_start_month: int = 1) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day and last day (inclusive, at midnight) of a quarter."""
    q = parse_quarter(label, fiscal_year_start_month)
    return q.start_time.normalize(), q.end_time.normalize()


def last_complete_quarter(as_of: dt.date, fiscal_year_start_month: int = 1) -> str:
    """The last quarter that ended on or before ``as_of``."""
    freq = quarter_freq(fiscal_year_start_month)
    current = pd.Period(pd.Timestamp(as_of), freq=freq)
    if pd.Timestamp(as_of).normalize() >= current.end_time.normalize():
        return str(current)
    return str(current - 1)


def shift(label: str, n: int, fiscal_year_start_month: int = 1) -> str:
    """The quarter ``n`` quarters after (negative: before) ``label``."""
    return str(parse_quarter(label, fiscal_year_start_month) + n)


def quarter_range(end_label: str, n: int, fiscal_year_start_month: int = 1) -> list[str]:
    """The ``n`` quarters ending with ``end_label``, oldest first."""
    end = parse_quarter(end_label, fiscal_year_start_month)
    return [str(end - k) for k in range(n - 1, -1, -1)]


def fiscal_year_quarters(label: str, fiscal_year_start_month: int = 1) -> list[str]:
    """The quarters of ``label``'s fiscal year up to and including ``label`` (year to date)."""
    q = parse_quarter(label, fiscal_year_start_month)
    return [str(q - k) for k in range(q.quarter - 1, -1, -1)]
