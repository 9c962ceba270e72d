"""Calendar and fiscal quarters."""

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from channel_analysis import periods
from channel_analysis.errors import ParamsError


def test_calendar_quarters():
    dates = pd.Series(pd.to_datetime(["2026-01-01", "2026-03-31", "2026-04-01", "2026-12-31", None]))
    assert periods.quarter_labels(dates).tolist()[:4] == ["2026Q1", "2026Q1", "2026Q2", "2026Q4"]
    assert pd.isna(periods.quarter_labels(dates).iloc[4])


def test_fiscal_year_starting_october_is_named_by_the_year_it_ends():
    dates = pd.Series(pd.to_datetime(["2025-10-01", "2025-12-31", "2026-01-01", "2026-09-30"]))
    assert periods.quarter_labels(dates, 10).tolist() == ["2026Q1", "2026Q1", "2026Q2", "2026Q4"]
    start, end = periods.quarter_bounds("2026Q1", 10)
    assert (start, end) == (pd.Timestamp("2025-10-01"), pd.Timestamp("2025-12-31"))


def test_last_complete_quarter():
    assert periods.last_complete_quarter(dt.date(2026, 10, 5)) == "2026Q3"
    assert periods.last_complete_quarter(dt.date(2026, 9, 30)) == "2026Q3"  # ends that day
    assert periods.last_complete_quarter(dt.date(2026, 9, 29)) == "2026Q2"


def test_ranges_and_shifts():
    assert periods.quarter_range("2026Q2", 4) == ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    assert periods.shift("2026Q1", -1) == "2025Q4"
    assert periods.fiscal_year_quarters("2026Q3") == ["2026Q1", "2026Q2", "2026Q3"]


def test_bad_inputs():
    with pytest.raises(ParamsError, match="2026Q3"):
        periods.parse_quarter("2026-Q3")
    with pytest.raises(ParamsError, match="1..12"):
        periods.quarter_freq(13)


@given(st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2090, 12, 31)), st.integers(1, 12))
def test_every_date_lies_within_its_quarter(day, fy_start):
    label = periods.quarter_labels(pd.Series([pd.Timestamp(day)]), fy_start).iloc[0]
    start, end = periods.quarter_bounds(label, fy_start)
    assert start <= pd.Timestamp(day) <= end
    assert start.month == ((fy_start - 1 + 3 * (int(label[-1]) - 1)) % 12) + 1
