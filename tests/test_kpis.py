"""KPI table, monthly revenue, target attainment and network KPIs against hand-computed numbers.

The main fixture (calendar quarters, reported period 2026Q2 = 2026-04-01..2026-06-30):

partners
  P1  onboarded 2024-01-15, 2 sales reps
  P2  onboarded 2026-02-01, reps unknown
  P3  onboarded 2023-06-01, ended 2026-05-15 (churned during 2026Q2)
  P4  onboarded 2026-05-15, no sales yet

sales (line: date partner customer category qty revenue cost channel registered [date])
   1  2024-08-10 P1 A X 1  100  60 sell_in
   2  2025-05-10 P1 A X 2  200 120 sell_through 2 (2025-05-20)
   3  2026-02-10 P1 A X 1  100  50 sell_through 1 (2026-02-15)
   4  2026-04-10 P1 A X 2  300 200 sell_through 1 (2026-04-30)   lag 20 days
   5  2026-05-05 P1 A Y 1  100   — sell_through 0
   6  2026-06-01 P1 B X 4  400 300 sell_through 5 (2026-06-11)   capped at 4 units, lag 10 days
   7  2026-06-20 P1 C Y 3   50  20 sell_in
   8  2025-09-01 P1 D X 1   80  40 sell_in
   9  2026-03-15 P2 E X 1  500 400 sell_through 1 (2026-03-20)
  10  2026-05-20 P2 E X 1  250 150 sell_through 0
  11  2024-06-30 P3 F X 1 1000 500 sell_in                       (first quarter of data: 2024Q2)
  12  2025-08-01 P3 F X 1  400 200 sell_in
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import kpis
from channel_analysis.dataset import Dataset, load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.io.sources import write_tables
from channel_analysis.params import load_defaults

NaN = float("nan")
T = pd.Timestamp


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


def _params(**kpi_overrides) -> dict:
    p = load_defaults()
    p["history_quarters"] = 2
    p["kpis"].update(kpi_overrides)
    return p


def _partners(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["partner_id", "onboarded_date", "end_date", "sales_reps"])
    df["name"] = "Name " + df["partner_id"]
    df["partner_type"], df["region"], df["country"], df["currency"] = "reseller", "DACH", "DE", "EUR"
    df["onboarded_date"] = pd.to_datetime(df["onboarded_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    df["sales_reps"] = pd.array(df["sales_reps"], dtype="Int64")
    return df


def _sales(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["date", "partner_id", "customer_id", "category", "quantity", "revenue",
                                     "cost", "channel", "registered_units", "registered_date"])
    df.insert(0, "line_id", [f"L{i + 1}" for i in range(len(df))])
    df["product_id"] = "SKU-" + df["category"]
    df["date"] = pd.to_datetime(df["date"])
    df["registered_date"] = pd.to_datetime(df["registered_date"])
    df["quantity"] = df["quantity"].astype("int64")
    df["registered_units"] = df["registered_units"].astype("int64")
    df["revenue"] = df["revenue"].astype(float)
    df["cost"] = df["cost"].astype(float)
    return df


def main_dataset() -> Dataset:
    partners = _partners([
        ("P1", "2024-01-15", None, 2),
        ("P2", "2026-02-01", None, None),
        ("P3", "2023-06-01", "2026-05-15", 3),
        ("P4", "2026-05-15", None, 1),
    ])
    sales = _sales([
        ("2024-08-10", "P1", "A", "X", 1, 100, 60, "sell_in", 0, None),
        ("2025-05-10", "P1", "A", "X", 2, 200, 120, "sell_through", 2, "2025-05-20"),
        ("2026-02-10", "P1", "A", "X", 1, 100, 50, "sell_through", 1, "2026-02-15"),
        ("2026-04-10", "P1", "A", "X", 2, 300, 200, "sell_through", 1, "2026-04-30"),
        ("2026-05-05", "P1", "A", "Y", 1, 100, None, "sell_through", 0, None),
        ("2026-06-01", "P1", "B", "X", 4, 400, 300, "sell_through", 5, "2026-06-11"),
        ("2026-06-20", "P1", "C", "Y", 3, 50, 20, "sell_in", 0, None),
        ("2025-09-01", "P1", "D", "X", 1, 80, 40, "sell_in", 0, None),
        ("2026-03-15", "P2", "E", "X", 1, 500, 400, "sell_through", 1, "2026-03-20"),
        ("2026-05-20", "P2", "E", "X", 1, 250, 150, "sell_through", 0, None),
        ("2024-06-30", "P3", "F", "X", 1, 1000, 500, "sell_in", 0, None),
        ("2025-08-01", "P3", "F", "X", 1, 400, 200, "sell_in", 0, None),
    ])
    leads = pd.DataFrame({
        "lead_id": ["L1", "L2", "L3", "L4", "L5"],
        "partner_id": ["P1"] * 5,
        "assigned_date": pd.to_datetime(["2026-04-01", "2026-04-10", "2026-05-01", "2026-06-25", "2026-03-01"]),
        "accepted_date": pd.to_datetime(["2026-04-03", "2026-04-20", None, None, "2026-03-02"]),
        "status": ["converted", "accepted", "rejected", "assigned", "accepted"],
        "opportunity_id": ["O1", None, None, None, None],
    })
    opportunities = pd.DataFrame({
        "opportunity_id": ["O1", "O2", "O3", "O4", "O5", "O6"],
        "partner_id": ["P1"] * 6,
        "created_date": pd.to_datetime(["2026-01-10", "2026-04-01", "2026-04-05", "2026-05-01", "2025-11-01",
                                        "2026-02-01"]),
        "stage": ["Won", "Won", "Lost", "Propose", "Won", "Won"],
        "amount": [1000.0, 3000.0, 500.0, 2000.0, 700.0, 2000.0],
        "closed_date": pd.to_datetime(["2026-04-15", "2026-05-01", "2026-06-01", None, "2026-02-01",
                                       "2026-06-30"]),
        "outcome": ["won", "won", "lost", "open", "won", "won"],
    })
    mdf = pd.DataFrame({
        "activity_id": ["M1", "M2", "M3"],
        "partner_id": ["P1"] * 3,
        "period": ["2026Q2", "2026Q2", "2026Q1"],
        "activity_type": ["event", "digital", "event"],
        "allocated": [1000.0, 500.0, 1000.0],
        "requested": [1000.0, 500.0, 1000.0],
        "approved": [1000.0, 500.0, 1000.0],
        "claimed": [800.0, 200.0, 1000.0],
        "attributed_revenue": [4000.0, NaN, 2000.0],
    })
    trainings = pd.DataFrame({
        "partner_id": ["P1"] * 5,
        "person_id": ["R1", "R1", "R2", "R2", "R3"],
        "course": ["Cert A", "Cert B", "Cert A", "Cert C", "Intro"],
        "completed_date": pd.to_datetime(["2025-01-10", "2026-07-10", "2026-04-10", "2024-01-01", "2026-05-05"]),
        "certification": [True, True, True, True, False],
        "expires_date": pd.to_datetime(["2026-06-01", None, "2027-01-01", None, None]),
    })
    surveys = pd.DataFrame({
        "response_id": ["S1", "S2", "S3", "S4", "S5"],
        "partner_id": ["P1"] * 5,
        "date": pd.to_datetime(["2026-04-05", "2026-05-05", "2026-05-06", "2026-06-06", "2026-06-07"]),
        "csat": [5.0, 4.0, NaN, 2.0, 3.0],
        "nps": pd.array([10, 9, 7, 3, None], dtype="Int64"),
    })
    potential = pd.DataFrame({"partner_id": ["P1"], "period": ["2026Q2"], "potential": [8500.0]})
    program_costs = pd.DataFrame({
        "partner_id": ["P2", "P2", "P1"],
        "date": pd.to_datetime(["2025-12-01", "2026-02-10", "2026-05-01"]),
        "cost_type": ["recruiting", "onboarding", "enablement"],
        "amount": [3000.0, 2000.0, 1000.0],
    })
    targets = pd.DataFrame({
        "partner_id": ["P1", "P1", "P1", "P1", "P1", "P1", "P2"],
        "period": ["2026Q2"] * 6 + ["2026Q3"],
        "metric": ["revenue", "new_customers", "win_rate", "pipeline", "csat", "gross_margin", "revenue"],
        "target": [1000.0, 2.0, 0.8, 5000.0, 4.0, 0.0, 100.0],
    })
    return Dataset(partners=partners, sales=sales, as_of=dt.date(2026, 7, 5), period="2026Q2",
                   leads=leads, opportunities=opportunities, mdf=mdf, trainings=trainings,
                   surveys=surveys, potential=potential, program_costs=program_costs, targets=targets)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return main_dataset()


@pytest.fixture(scope="module")
def table(ds) -> pd.DataFrame:
    return kpis.partner_kpis(ds, _params())


def row(table: pd.DataFrame, partner: str, window: str = "quarter", period: str = "2026Q2") -> pd.Series:
    r = table[(table.partner_id == partner) & (table.window == window) & (table.period == period)]
    assert len(r) == 1, f"expected one row for {partner} {period} {window}, got {len(r)}"
    return r.iloc[0]


def check(r: pd.Series, expected: dict) -> None:
    for column, value in expected.items():
        got = r[column]
        if isinstance(value, float) and np.isnan(value):
            assert pd.isna(got), f"{column}: expected NaN, got {got!r}"
        elif isinstance(value, (bool, str)):
            assert got == value, f"{column}: expected {value!r}, got {got!r}"
        else:
            assert got == pytest.approx(value, rel=1e-6, abs=1e-9), f"{column}: expected {value}, got {got}"


# ------------------------------------------------------------------------------------------------
# keys and windows
# ------------------------------------------------------------------------------------------------


def test_rows_exist_only_for_partners_alive_in_the_window(table):
    keys = set(zip(table.partner_id, table.period, table.window))
    # P4 (onboarded 2026-05-15) has no 2026Q1 rows except the ones whose window reaches 2026Q2
    assert ("P4", "2026Q1", "quarter") not in keys
    assert ("P4", "2026Q2", "quarter") in keys and ("P4", "2026Q2", "ytd") in keys
    # P2 (onboarded 2026-02-01) exists in 2026Q1; P3 (ended 2026-05-15) still has its 2026Q2 row
    assert ("P2", "2026Q1", "quarter") in keys and ("P3", "2026Q2", "quarter") in keys
    # 2026Q1: P1, P2, P3 x 3 windows; 2026Q2: P1..P4 x 3 windows
    assert len(table) == 3 * 3 + 4 * 3
    assert list(table.columns[:5]) == kpis.KEY_COLUMNS


def test_window_bounds(table):
    # ytd of 2026Q2 = 2026Q1..2026Q2; t4q = 2025Q3..2026Q2
    check(row(table, "P1", "ytd"), {})
    assert row(table, "P1", "ytd").period_start == T("2026-01-01")
    assert row(table, "P1", "t4q").period_start == T("2025-07-01")
    assert row(table, "P1", "quarter").period_start == T("2026-04-01")
    assert row(table, "P1", "quarter").period_end == T("2026-06-30")


def test_fiscal_year_windows():
    # fiscal year starting in October: "2026Q2" = 2026-01-01..2026-03-31, its FY began 2025-10-01
    ds = main_dataset()
    ds = Dataset(partners=ds.partners, sales=ds.sales, as_of=ds.as_of, period="2026Q2", fy_start=10)
    t = kpis.partner_kpis(ds, _params(), quarters=["2026Q2"])
    r = row(t, "P1", "ytd")
    assert (r.period_start, r.period_end) == (T("2025-10-01"), T("2026-03-31"))
    # ytd revenue: line 8 is outside (2025-09-01), line 3 (100) inside
    assert r.revenue == 100


def test_default_quarters_are_the_history(ds, table):
    assert sorted(table.period.unique()) == ["2026Q1", "2026Q2"]  # history_quarters = 2, ending 2026Q2


# ------------------------------------------------------------------------------------------------
# revenue, growth, margin
# ------------------------------------------------------------------------------------------------


def test_revenue_growth_margin_quarter(table):
    check(row(table, "P1"), {
        "revenue": 850.0,                  # lines 4..7: 300 + 100 + 400 + 50
        "revenue_prev": 100.0,             # 2026Q1: line 3
        "revenue_growth_prev": 7.5,        # 850 / 100 - 1
        "revenue_yoy": 200.0,              # 2025Q2: line 2
        "revenue_growth_yoy": 3.25,        # 850 / 200 - 1
        "gross_margin": 230.0,             # (300-200) + (400-300) + (50-20); line 5 has no cost
        "gross_margin_pct": 230 / 750,     # margin / revenue of costed lines (300 + 400 + 50)
        "units": 10.0,                     # 2 + 1 + 4 + 3
        "revenue_per_rep": 425.0,          # 850 / 2 reps
    })
    check(row(table, "P2"), {
        "revenue": 250.0, "revenue_prev": 500.0,
        "revenue_growth_prev": -0.5,       # 250 / 500 - 1
        "revenue_yoy": 0.0,                # no sale in 2025Q2 ...
        "revenue_growth_yoy": NaN,         # ... so growth is undefined
        "gross_margin": 100.0, "gross_margin_pct": 0.4,
        "revenue_per_rep": NaN,            # reps unknown
    })
    # a partner without sales: zeros, not missing
    check(row(table, "P4"), {"revenue": 0.0, "units": 0.0, "gross_margin": 0.0, "customers_active": 0.0,
                             "revenue_per_rep": 0.0, "gross_margin_pct": NaN})


def test_revenue_ytd_and_t4q(table):
    check(row(table, "P1", "ytd"), {
        "revenue": 950.0,                  # 100 (2026Q1) + 850 (2026Q2)
        "revenue_prev": 80.0,              # 2025Q3..2025Q4: line 8
        "revenue_growth_prev": 950 / 80 - 1,
        "revenue_yoy": 200.0,              # 2025Q1..2025Q2: line 2
    })
    check(row(table, "P1", "t4q"), {
        "revenue": 1030.0,                 # 80 + 100 + 850
        "revenue_prev": 300.0,             # 2024Q3..2025Q2: lines 1, 2
        "revenue_yoy": 300.0,              # same four quarters for t4q
        "revenue_growth_yoy": 1030 / 300 - 1,
    })


def test_windows_before_the_data_are_not_measured(ds):
    # data start in 2024Q2 (line 11): 2024Q3's t4q window (2023Q4..2024Q3) is not covered
    t = kpis.partner_kpis(ds, _params(), quarters=["2024Q3"])
    assert np.isnan(row(t, "P1", "t4q", "2024Q3").revenue)
    assert row(t, "P1", "quarter", "2024Q3").revenue == 100


def test_monthly_revenue(ds):
    m = kpis.monthly_revenue(ds, _params())   # history 2026Q1..2026Q2 → Jan..Jun 2026
    p1 = m[m.partner_id == "P1"].set_index("month")
    assert list(p1.index) == list(pd.date_range("2026-01-01", periods=6, freq="MS"))
    assert list(p1.revenue) == [0, 100, 0, 300, 100, 450]          # Jun: 400 + 50
    assert list(p1.gross_margin) == [0, 50, 0, 100, 0, 130]        # May: line 5 has no cost
    # P3 ended 2026-05-15 → Jan..May; P4 onboarded 2026-05-15 → May, Jun; P2 from Feb
    assert (m.partner_id == "P3").sum() == 5
    assert (m.partner_id == "P4").sum() == 2
    assert (m.partner_id == "P2").sum() == 5
    assert m.revenue.sum() == 950 + 250 + 500  # everything sold in Jan..Jun 2026


# ------------------------------------------------------------------------------------------------
# share of wallet
# ------------------------------------------------------------------------------------------------


def test_potential_and_share_of_wallet(table):
    check(row(table, "P1"), {"potential": 8500.0, "share_of_wallet": 0.1})  # 850 / 8500
    # ytd: only 2026Q2 has a potential figure → revenue of that quarter only: 850 / 8500
    check(row(table, "P1", "ytd"), {"potential": 8500.0, "share_of_wallet": 0.1})
    check(row(table, "P2"), {"potential": NaN, "share_of_wallet": NaN})


# ------------------------------------------------------------------------------------------------
# end customers
# ------------------------------------------------------------------------------------------------


def test_customers_quarter(table):
    check(row(table, "P1"), {
        "customers_active": 3.0,     # A, B, C bought in 2026Q2
        "customers_new": 2.0,        # B, C (A first bought in 2024Q3)
        "customers_lost": 0.0,       # previous quarter 2026Q1: A only, who bought again
        "cross_sell_rate": 1 / 3,    # A bought X and Y; B only X; C only Y
        "cross_sell_rate_n": 3.0,
        "cross_sell_rate_low_sample": True,
        "upsell_rate": 1.0,          # repeat customers (2026Q1 and Q2): A; 100 → 400, grew
        "upsell_rate_n": 1.0,
    })
    check(row(table, "P2"), {
        "customers_active": 1.0, "customers_new": 0.0, "customers_lost": 0.0,
        "cross_sell_rate": 0.0,      # E bought only X
        "upsell_rate": 0.0,          # E: 500 → 250
        "upsell_rate_n": 1.0,
    })
    check(row(table, "P3"), {
        "customers_active": 0.0, "customers_lost": 0.0,   # F last bought in 2025Q3, not in 2026Q1
        "cross_sell_rate": NaN, "cross_sell_rate_n": 0.0, "upsell_rate": NaN, "upsell_rate_n": 0.0,
    })


def test_customers_ytd_and_t4q(table):
    check(row(table, "P1", "ytd"), {
        "customers_active": 3.0,     # A, B, C in 2026Q1..Q2
        "customers_new": 2.0,        # B, C
        "customers_lost": 1.0,       # previous window 2025Q3..2025Q4: D; D not back
        "upsell_rate": NaN,          # previous window 2025Q3..Q4: only D, not a repeat customer
        "upsell_rate_n": 0.0,
    })
    check(row(table, "P1", "t4q"), {
        "customers_active": 4.0,     # A, B, C, D in 2025Q3..2026Q2
        "customers_new": 3.0,        # B, C, D (A first in 2024Q3)
        "customers_lost": 0.0,       # previous window 2024Q3..2025Q2: A, still active
        "cross_sell_rate": 0.25,     # only A bought two categories
        "upsell_rate": 1.0,          # A: 300 (lines 1, 2) → 500 (lines 3, 4, 5)
        "upsell_rate_n": 1.0,
    })


def test_customers_lost_is_the_previous_same_length_window_for_every_window():
    """Lost = bought in the previous window of the same length, not in this one; NaN when the data
    do not reach back to that previous window. Sales start in 2024Q3 (customer T)."""
    partners = _partners([("P1", "2023-01-01", None, 1)])
    sales = _sales([
        ("2024-08-01", "P1", "T", "X", 1, 10, 5, "sell_in", 0, None),   # 2024Q3
        ("2025-05-01", "P1", "U", "X", 1, 10, 5, "sell_in", 0, None),   # 2025Q2
        ("2025-08-01", "P1", "V", "X", 1, 10, 5, "sell_in", 0, None),   # 2025Q3
        ("2025-11-01", "P1", "W", "X", 1, 10, 5, "sell_in", 0, None),   # 2025Q4
        ("2025-11-02", "P1", "Z", "X", 1, 10, 5, "sell_in", 0, None),   # 2025Q4
        ("2026-02-01", "P1", "X", "X", 1, 10, 5, "sell_in", 0, None),   # 2026Q1
        ("2026-02-02", "P1", "Y", "X", 1, 10, 5, "sell_in", 0, None),   # 2026Q1
        ("2026-04-01", "P1", "U", "X", 1, 10, 5, "sell_in", 0, None),   # 2026Q2
        ("2026-05-01", "P1", "Y", "X", 1, 10, 5, "sell_in", 0, None),   # 2026Q2
        ("2026-05-02", "P1", "Z", "X", 1, 10, 5, "sell_in", 0, None),   # 2026Q2
    ])
    ds = Dataset(partners=partners, sales=sales, as_of=dt.date(2026, 7, 1), period="2026Q2")
    t = kpis.partner_kpis(ds, _params(), quarters=["2026Q1", "2026Q2"])
    lost = {(r.period, r.window): r.customers_lost for r in t.itertuples()}
    # 2026Q2 quarter: previous quarter 2026Q1 {X, Y}; now {U, Y, Z} -> X lost
    assert lost[("2026Q2", "quarter")] == 1
    # 2026Q2 ytd (2026Q1..Q2, 2 quarters): previous 2025Q3..Q4 {V, W, Z}; now {U, X, Y, Z} -> V, W
    assert lost[("2026Q2", "ytd")] == 2
    # 2026Q2 t4q (2025Q3..2026Q2): previous 2024Q3..2025Q2 {T, U}; now {U, V, W, X, Y, Z} -> T
    assert lost[("2026Q2", "t4q")] == 1
    # 2026Q1 quarter = ytd (first fiscal quarter): previous 2025Q4 {W, Z}; now {X, Y} -> W, Z
    assert lost[("2026Q1", "quarter")] == 2 and lost[("2026Q1", "ytd")] == 2
    # 2026Q1 t4q (2025Q2..2026Q1): the previous window 2024Q2..2025Q1 starts before the data
    assert np.isnan(lost[("2026Q1", "t4q")])


# ------------------------------------------------------------------------------------------------
# registration
# ------------------------------------------------------------------------------------------------


def test_registration(table):
    check(row(table, "P1"), {
        # sell-through lines 4, 5, 6: units 2 + 1 + 4 = 7; registered 1 + 0 + min(5, 4) = 5
        "registration_rate": 5 / 7,
        "registration_rate_n": 7.0,
        "registration_rate_low_sample": False,
        # lines with registrations: 4 (20 days), 6 (10 days) → median 15
        "registration_lag_days_median": 15.0,
        "registration_lag_days_median_n": 2.0,
    })
    check(row(table, "P2"), {"registration_rate": 0.0, "registration_rate_n": 1.0,
                             "registration_lag_days_median": NaN, "registration_lag_days_median_n": 0.0})
    # P3 sold only sell-in: no units that could be registered
    check(row(table, "P3"), {"registration_rate": NaN, "registration_rate_n": 0.0})


# ------------------------------------------------------------------------------------------------
# leads and deals
# ------------------------------------------------------------------------------------------------


def test_leads(table):
    check(row(table, "P1"), {
        "leads_received": 4.0,             # L1..L4 assigned in 2026Q2 (L5 in Q1)
        "lead_accept_rate": 2 / 3,         # decided: L1, L2, L3 (L4 pending); accepted L1, L2
        "lead_accept_rate_n": 3.0,
        # Kaplan–Meier, censored at 2026-06-30: L1 accepted after 2 days (4 at risk: S = .75), L4 censored
        # at 5, L2 accepted after 10 (2 at risk: S = .375 ≤ .5), L3 censored at 60 -> median 10 (the
        # accepted leads alone would say 6)
        "lead_accept_days_median": 10.0,
        "lead_accept_days_median_n": 2.0,  # accepted leads (the events)
        "lead_conversion_rate": 1 / 3,     # L1 converted of 3 decided
        "lead_conversion_rate_n": 3.0,
    })
    check(row(table, "P1", "quarter", "2026Q1"), {"leads_received": 1.0, "lead_accept_rate": 1.0,
                                                  "lead_accept_days_median": 1.0})
    assert np.isnan(row(table, "P1")["lead_accept_days_not_reached"])
    # time to convert: L1's deal O1 was created (2026-01-10) before the lead was assigned -> day 0;
    # L2, L3, L4 censored at 81, 60, 5 days: S = .75 after day 0 and never ≤ .5 -> not reached,
    # followed for at most 81 days (L2)
    r = row(table, "P1")
    assert np.isnan(r["lead_convert_days_median"]) and r["lead_convert_days_median_n"] == 1
    assert r["lead_convert_days_not_reached"] == 81
    check(row(table, "P2"), {"leads_received": 0.0, "lead_accept_rate": NaN, "lead_accept_rate_n": 0.0})


def test_lead_accept_days_on_a_funnel_where_few_leads_are_accepted(ds):
    # a lead funnel: 40 leads a quarter, 2 accepted (after 1 and 3 days), the rest never accepted.
    # The accepted leads alone would give a median of 2 days; Kaplan–Meier never reaches 50%.
    days = pd.date_range("2026-04-01", periods=40, freq="D")
    acc = [days[0] + pd.Timedelta(days=1), days[1] + pd.Timedelta(days=3)] + [pd.NaT] * 38
    leads = pd.DataFrame({"lead_id": [f"F{i}" for i in range(40)], "partner_id": "P2", "assigned_date": days,
                          "accepted_date": acc, "status": ["accepted"] * 2 + ["rejected"] * 20 + ["expired"] * 18,
                          "opportunity_id": None})
    funnel = dataclasses.replace(ds, leads=pd.concat([ds.leads, leads], ignore_index=True))
    before = funnel.leads.copy()
    r = row(kpis.partner_kpis(funnel, _params(), ["2026Q2"]), "P2")
    pd.testing.assert_frame_equal(funnel.leads, before)
    assert np.isnan(r["lead_accept_days_median"]) and r["lead_accept_days_median_n"] == 2
    # followed until 2026-06-30: the longest, F2 (assigned 2026-04-03, never accepted), for 88 days
    assert r["lead_accept_days_not_reached"] == 88
    assert r["lead_accept_rate"] == pytest.approx(2 / 40)
    # P1 (median reached) has no "not reached" figure
    assert np.isnan(row(kpis.partner_kpis(funnel, _params(), ["2026Q2"]), "P1")["lead_accept_days_not_reached"])
    # none converted: no median, followed for 90 days (F0, assigned 2026-04-01)
    assert np.isnan(r["lead_convert_days_median"]) and r["lead_convert_days_median_n"] == 0
    assert r["lead_convert_days_not_reached"] == 90
    # without the opportunities table a conversion has no date: not available
    no_opps = row(kpis.partner_kpis(dataclasses.replace(funnel, opportunities=None), _params(), ["2026Q2"]), "P1")
    assert no_opps[["lead_convert_days_median", "lead_convert_days_not_reached"]].isna().all()
    assert no_opps["lead_accept_days_median"] == 10


def test_lead_convert_days_is_kaplan_meier_of_the_deal_creation(ds):
    # P2: four leads assigned 2026-04-01; three became deals created 5, 15 and 30 days later, one never.
    # Times 5, 15, 30 (events) and 90 (censored at 2026-06-30): S = .75, .5, .25; S is exactly .5
    # from day 15 to day 30 -> midpoint rule (as the sales cycle): (15 + 30) / 2 = 22.5
    leads = pd.DataFrame({"lead_id": ["C1", "C2", "C3", "C4"], "partner_id": "P2",
                          "assigned_date": pd.to_datetime(["2026-04-01"] * 4),
                          "accepted_date": pd.to_datetime(["2026-04-02"] * 4),
                          "status": ["converted"] * 3 + ["accepted"], "opportunity_id": ["D1", "D2", "D3", None]})
    opps = pd.DataFrame({"opportunity_id": ["D1", "D2", "D3"], "partner_id": "P2",
                         "created_date": pd.to_datetime(["2026-04-06", "2026-04-16", "2026-05-01"]),
                         "stage": "Qualify", "amount": 1.0, "closed_date": pd.NaT, "outcome": "open"})
    d = dataclasses.replace(ds, leads=pd.concat([ds.leads, leads], ignore_index=True),
                            opportunities=pd.concat([ds.opportunities, opps], ignore_index=True))
    r = row(kpis.partner_kpis(d, _params(), ["2026Q2"]), "P2")
    assert r["lead_convert_days_median"] == 22.5 and r["lead_convert_days_median_n"] == 3
    assert np.isnan(r["lead_convert_days_not_reached"])


def test_deals_and_win_rate_with_wilson_bounds(table):
    # z = 1.95996398, z² = 3.84145882, n = 4, k = 3, p = 0.75
    # denominator 1 + z²/n = 1.96036471
    # centre = (0.75 + 3.84145882 / 8) / 1.96036471 = 1.23018235 / 1.96036471 = 0.62752729
    # half   = 1.95996398 / 1.96036471 * sqrt(0.75 * 0.25 / 4 + 3.84145882 / 64)
    #        = 0.99979559 * sqrt(0.046875 + 0.06002279) = 0.99979559 * 0.32695228 = 0.32688545
    # low = 0.30064184, high = 0.95441274
    check(row(table, "P1"), {
        "deals_created": 3.0,        # O2, O3, O4
        "deals_won": 3.0,            # O1 (Apr 15), O2 (May 1), O6 (Jun 30)
        "deals_lost": 1.0,           # O3
        "win_rate": 0.75,
        "win_rate_n": 4.0,
        "win_rate_low_sample": True,
        "deal_size_mean": 2000.0,    # (1000 + 3000 + 2000) / 3
        "deal_size_median": 2000.0,
        "deal_size_median_n": 3.0,
    })
    r = row(table, "P1")
    assert r.win_rate_low == pytest.approx(0.300642, abs=1e-6)
    assert r.win_rate_high == pytest.approx(0.954413, abs=1e-6)
    check(row(table, "P1", "ytd"), {
        "deals_won": 4.0,            # + O5 (2026-02-01)
        "win_rate": 0.8,             # 4 / 5
        "deal_size_mean": 6700 / 4,  # (1000 + 3000 + 2000 + 700) / 4
        "deal_size_median": 1500.0,  # 700, 1000, 2000, 3000 → (1000 + 2000) / 2
    })
    check(row(table, "P2"), {"deals_won": 0.0, "win_rate": NaN, "win_rate_n": 0.0,
                             "win_rate_low": NaN, "win_rate_high": NaN, "deal_size_median": NaN})


def test_wilson_interval_known_values():
    low, high = kpis.wilson_interval(np.array([0, 3, 5]), np.array([5, 4, 5]))
    # k = 0, n = 5: low 0, high = (z²/2n + z·sqrt(z²/4n²)) / (1 + z²/n) = (z²/n) / (1 + z²/n)
    #   = 0.768292 / 1.768292 = 0.434482
    assert low[0] == 0.0 and high[0] == pytest.approx(0.434482, abs=1e-6)
    assert (low[1], high[1]) == pytest.approx((0.300642, 0.954413), abs=1e-6)  # see test above
    # k = n = 5: mirror image of k = 0
    assert high[2] == 1.0 and low[2] == pytest.approx(1 - 0.434482, abs=1e-6)
    low, high = kpis.wilson_interval([0, 1], [0, 0])
    assert np.isnan(low).all() and np.isnan(high).all()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=10**6), frac=st.floats(min_value=0, max_value=1),
       confidence=st.floats(min_value=0.5, max_value=0.999))
def test_wilson_interval_contains_estimate_and_stays_in_unit_interval(n, frac, confidence):
    k = int(round(frac * n))
    low, high = kpis.wilson_interval(k, n, confidence)
    p = k / n
    assert 0.0 <= low <= p <= high <= 1.0


# ------------------------------------------------------------------------------------------------
# MDF, people, satisfaction
# ------------------------------------------------------------------------------------------------


def test_mdf(table):
    check(row(table, "P1"), {
        "mdf_allocated": 1500.0, "mdf_claimed": 1000.0,   # M1 + M2
        "mdf_utilization": 1000 / 1500,
        "mdf_attributed_revenue": 4000.0,                 # M2 has no attribution
        "mdf_return": 5.0,                                # 4000 / 800 (claimed of measured M1 only)
    })
    check(row(table, "P1", "ytd"), {
        "mdf_allocated": 2500.0, "mdf_claimed": 2000.0, "mdf_utilization": 0.8,
        "mdf_attributed_revenue": 6000.0, "mdf_return": 6000 / 1800,
    })
    check(row(table, "P2"), {"mdf_allocated": 0.0, "mdf_utilization": NaN, "mdf_return": NaN})


def test_certifications_and_trainings(table):
    # 2026-06-30: R1's cert expired 2026-06-01 and the new one comes 2026-07-10 → not counted;
    # R2 holds two valid certs → one person; R3's course grants none
    check(row(table, "P1"), {"certified_reps": 1.0,
                             "trainings_completed": 2.0})   # R2 2026-04-10, R3 2026-05-05
    # 2026-03-31: R1 (valid until 2026-06-01) and R2 (2024 cert, no expiry)
    check(row(table, "P1", "quarter", "2026Q1"), {"certified_reps": 2.0, "trainings_completed": 0.0})
    # a stock at the window's end: the same for ytd and t4q
    check(row(table, "P1", "t4q"), {"certified_reps": 1.0})
    check(row(table, "P2"), {"certified_reps": 0.0})


def test_csat_and_nps(table):
    check(row(table, "P1"), {
        "csat_mean": 3.5,            # (5 + 4 + 2 + 3) / 4; S3 has no csat
        "csat_mean_n": 4.0,
        "csat_mean_low_sample": True,
        "nps": 25.0,                 # scores 10, 9, 7, 3: (2 promoters − 1 detractor) / 4 × 100
        "nps_n": 4.0,
    })
    check(row(table, "P2"), {"csat_mean": NaN, "csat_mean_n": 0.0, "nps": NaN, "nps_low_sample": True})


# ------------------------------------------------------------------------------------------------
# tenure, first deal, status
# ------------------------------------------------------------------------------------------------


def test_tenure_and_time_to_first_deal(table):
    # P1: 2024-01-15 → 2026-06-30 = 731 (to 2026-01-15) + 151 (to 06-15) + 15 = 897 days
    # the data begin on 2025-11-01 (first sale 2024-06-30, first deal created 2025-11-01: the later):
    # P1 was onboarded before, its first deal may predate the data → not measured (was 208 days,
    # counted to the first sale the data show)
    check(row(table, "P1"), {"tenure_days": 897.0, "time_to_first_deal_days": NaN, "tenure_quarter": 10.0})
    # P2: 2026-02-01 → 06-30 = 149 days; first sale 2026-03-15 = 42 days
    check(row(table, "P2"), {"tenure_days": 149.0, "time_to_first_deal_days": 42.0, "tenure_quarter": 2.0})
    # P3 ended 2026-05-15: 2023-06-01 → 2026-06-01 = 1096, minus 17 = 1079 days
    check(row(table, "P3"), {"tenure_days": 1079.0})
    # P4: 2026-05-15 → 06-30 = 46 days, no deal yet
    check(row(table, "P4"), {"tenure_days": 46.0, "time_to_first_deal_days": NaN})


def test_time_to_first_deal_uses_a_won_deal_when_earlier():
    ds = main_dataset()
    opps = ds.opportunities.copy()
    opps.loc[opps.opportunity_id == "O5", "closed_date"] = T("2024-08-01")
    opps.loc[opps.opportunity_id == "O5", "created_date"] = T("2024-06-30")
    partners = ds.partners.copy()
    partners.loc[partners.partner_id == "P1", "onboarded_date"] = T("2024-06-30")
    ds2 = Dataset(partners=partners, sales=ds.sales, as_of=ds.as_of, period=ds.period, opportunities=opps)
    # the data begin on 2024-06-30 (first sale and first deal created); P1 onboarded that day → its
    # won deal closed 2024-08-01 comes before its first sale 2024-08-10: 1 + 31 = 32 days
    assert row(kpis.partner_kpis(ds2, _params()), "P1").time_to_first_deal_days == 32


def test_status_main_fixture(table):
    assert row(table, "P1").status == "active"       # sold in 2026Q2; t4q 1030 vs 300 before
    assert row(table, "P2").status == "onboarding"   # onboarded in the last 4 quarters (ramp-up)
    assert row(table, "P3").status == "churned"      # ended 2026-05-15 ≤ 2026-06-30
    assert row(table, "P4").status == "onboarding"
    # 2026Q1: P3's last sale was in 2025Q3, none in 2025Q4..2026Q1 → at risk (not yet ended)
    assert row(table, "P3", "quarter", "2026Q1").status == "at_risk"
    # status is a per-period property: the same in the three windows
    assert row(table, "P3", "t4q").status == "churned"


def test_status_rules():
    partners = _partners([
        ("A", "2023-01-01", None, 1),           # steady
        ("B", "2023-01-01", None, 1),           # t4q 700 vs 1000 before: −30 % → at risk
        ("B2", "2023-01-01", None, 1),          # t4q 750 vs 1000: exactly −25 %, not more → active
        ("C", "2023-01-01", None, 1),           # last sale 2025Q4: none in 2026Q1..Q2 → at risk
        ("D", "2023-01-01", "2026-06-30", 1),   # ends on the period's last day → churned
        ("E", "2026-01-01", None, 1),           # onboarded in the ramp-up quarters → onboarding
        ("E2", "2025-07-01", None, 1),          # first day of the 4 ramp-up quarters (2025Q3..2026Q2)
        ("F", "2025-06-30", None, 1),           # onboarded the day before them, never sold → at risk
        ("G", "2023-01-01", "2025-12-31", 1),   # ended before 2026Q2
    ])
    sales = _sales([
        ("2024-07-01", "A", "a", "X", 1, 100, 50, "sell_in", 0, None),
        ("2026-05-01", "A", "a", "X", 1, 100, 50, "sell_in", 0, None),
        ("2024-10-01", "B", "b", "X", 1, 1000, 50, "sell_in", 0, None),
        ("2026-05-01", "B", "b", "X", 1, 700, 50, "sell_in", 0, None),
        ("2024-10-01", "B2", "b", "X", 1, 1000, 50, "sell_in", 0, None),
        ("2026-05-01", "B2", "b", "X", 1, 750, 50, "sell_in", 0, None),
        ("2025-11-01", "C", "c", "X", 1, 500, 50, "sell_in", 0, None),
        ("2026-05-01", "D", "d", "X", 1, 500, 50, "sell_in", 0, None),
        ("2025-01-01", "G", "g", "X", 1, 500, 50, "sell_in", 0, None),
    ])
    ds = Dataset(partners=partners, sales=sales, as_of=dt.date(2026, 7, 1), period="2026Q2")
    t = kpis.partner_kpis(ds, _params(), quarters=["2026Q2"])
    q = t[t.window == "quarter"].set_index("partner_id").status.to_dict()
    assert q == {"A": "active", "B": "at_risk", "B2": "active", "C": "at_risk", "D": "churned",
                 "E": "onboarding", "E2": "onboarding", "F": "at_risk"}
    # G existed during the t4q window (2025Q3..2026Q2) only
    assert row(t, "G", "t4q").status == "churned"
    # a stricter decline threshold (20 %) puts B2 at risk too
    t2 = kpis.partner_kpis(ds, _params(at_risk_decline=0.2), quarters=["2026Q2"])
    assert row(t2, "B2").status == "at_risk"
    # ramp-up read from params: with 2 quarters (2026Q1..Q2) E2, never sold in 2026Q1..Q2, is at risk
    t3 = kpis.partner_kpis(ds, _params(ramp_up_quarters=2), quarters=["2026Q2"])
    assert row(t3, "E").status == "onboarding" and row(t3, "E2").status == "at_risk"
    with pytest.raises(ParamsError, match="ramp_up_quarters"):
        kpis.partner_kpis(ds, _params(ramp_up_quarters=0), quarters=["2026Q2"])


def test_in_ramp_up_boundaries():
    # 2026Q2 with 4 ramp-up quarters: from 2025-07-01; fiscal year from October: "2026Q2" ends
    # 2026-03-31, its 4 quarters start 2025-04-01
    dates = pd.Series(pd.to_datetime(["2025-06-30", "2025-07-01", "2026-06-30", "2025-04-01"]))
    assert kpis.in_ramp_up(dates, "2026Q2", 4).tolist() == [False, True, True, False]
    fiscal = pd.Series(pd.to_datetime(["2025-03-31", "2025-04-01"]))
    assert kpis.in_ramp_up(fiscal, "2026Q2", 4, fy_start=10).tolist() == [False, True]
    assert kpis.in_ramp_up(dates, "2026Q2", 1).tolist() == [False, False, True, False]


# ------------------------------------------------------------------------------------------------
# low-sample flags
# ------------------------------------------------------------------------------------------------


def test_every_sampled_kpi_has_n_and_flag(table):
    for name in kpis.SAMPLED:
        assert name + "_n" in table and name + "_low_sample" in table
        expected = ~(table[name + "_n"] >= 5)
        assert (table[name + "_low_sample"] == expected).all()
    t = kpis.partner_kpis(main_dataset(), _params(min_sample=3))
    assert not row(t, "P1").csat_mean_low_sample        # n = 4 ≥ 3


# ------------------------------------------------------------------------------------------------
# target attainment
# ------------------------------------------------------------------------------------------------


def test_target_attainment(ds, table):
    out = kpis.target_attainment(table, ds.targets, _params())
    assert list(out.columns) == ["partner_id", "period", "metric", "target", "actual", "attainment", "status"]
    got = out.set_index(["partner_id", "period", "metric"])
    expected = {
        ("P1", "2026Q2", "revenue"): (850.0, 0.85, "red"),           # 850 / 1000 < 0.9
        ("P1", "2026Q2", "new_customers"): (2.0, 1.0, "green"),      # 2 / 2
        ("P1", "2026Q2", "win_rate"): (0.75, 0.9375, "amber"),       # 0.75 / 0.8 in [0.9, 1)
        ("P1", "2026Q2", "pipeline"): (NaN, NaN, "no_data"),         # column merged later
        ("P1", "2026Q2", "csat"): (3.5, 0.875, "red"),               # 3.5 / 4
        ("P1", "2026Q2", "gross_margin"): (230.0, NaN, "green"),     # a zero target is met
        ("P2", "2026Q3", "revenue"): (NaN, NaN, "no_data"),          # period not in the table
    }
    for key, (actual, attainment, status) in expected.items():
        r = got.loc[key]
        check(r, {"actual": actual, "attainment": attainment, "status": status})
    # a pipeline column, once merged, is used
    with_pipe = table.assign(pipeline_open=6000.0)
    out2 = kpis.target_attainment(with_pipe, ds.targets, _params()).set_index(["partner_id", "period", "metric"])
    check(out2.loc[("P1", "2026Q2", "pipeline")], {"actual": 6000.0, "attainment": 1.2, "status": "green"})


def test_target_attainment_without_targets(table):
    out = kpis.target_attainment(table, None, _params())
    assert out.empty and list(out.columns) == kpis.TARGET_COLUMNS


# ------------------------------------------------------------------------------------------------
# network
# ------------------------------------------------------------------------------------------------


def test_network_kpis(ds):
    net = kpis.network_kpis(ds, _params())
    assert list(net.period) == ["2026Q1", "2026Q2"]
    q2 = net.set_index("period").loc["2026Q2"]
    check(q2, {
        "partners_active_start": 3.0,   # P1, P2, P3 on 2026-04-01
        "partners_active_end": 3.0,     # P1, P2, P4 after 2026-06-30
        "partners_onboarded": 1.0,      # P4
        "partners_churned": 1.0,        # P3
        "retention_rate": 2 / 3,        # P1, P2 of P1, P2, P3
        "churn_rate": 1 / 3,
        "retention_rate_n": 3.0,
        "retention_rate_low_sample": True,
        # cohort: onboarded 2025-07-01.. with its 90 days over by 2026-06-30 → P2 (P4 too recent);
        # P2 sold 42 days after onboarding → activated
        "activation_cohort": 1.0,
        "partners_activated": 1.0,
        "activation_rate": 1.0,
        "program_costs_cohort": 5000.0,          # P2: 3000 recruiting + 2000 onboarding
        "cost_to_acquire_and_onboard_per_activated_partner": 5000.0,    # 5000 / 1
        "program_costs": 1000.0,                 # costs dated in 2026Q2: P1 enablement
        "mdf_claimed": 1000.0,                   # M1 + M2
        "revenue": 1100.0,                       # 850 + 250
        "gross_margin": 330.0,                   # 230 + 100
        "channel_return": 0.55,                  # 1100 / (1000 + 1000)
    })
    q1 = net.set_index("period").loc["2026Q1"]
    check(q1, {
        "partners_active_start": 2.0,   # P1, P3 (P2 onboarded 2026-02-01)
        "partners_onboarded": 1.0,
        "retention_rate": 1.0,
        "activation_cohort": 0.0,       # P2's 90 days end 2026-05-02 > 2026-03-31
        "activation_rate": NaN,
        "program_costs": 2000.0,        # P2 onboarding 2026-02-10
        "mdf_claimed": 1000.0,          # M3
        "revenue": 600.0,               # 100 (P1) + 500 (P2)
        "channel_return": 0.2,          # 600 / (2000 + 1000)
    })


def test_activation_days_from_params(ds):
    # with 30 days P2 (first sale after 42 days) is in the cohort for 2026Q1 but not activated
    net = kpis.network_kpis(ds, _params(activation_days=30)).set_index("period")
    check(net.loc["2026Q1"], {"activation_cohort": 1.0, "partners_activated": 0.0, "activation_rate": 0.0,
                              "cost_to_acquire_and_onboard_per_activated_partner": NaN})


# ------------------------------------------------------------------------------------------------
# optional tables missing, no mutation
# ------------------------------------------------------------------------------------------------


def test_missing_optional_tables_give_nan_not_a_crash():
    full = main_dataset()
    sales = full.sales.drop(columns=["cost", "registered_date"])
    partners = full.partners.drop(columns=["end_date", "sales_reps"])
    ds = Dataset(partners=partners, sales=sales, as_of=full.as_of, period=full.period)
    t = kpis.partner_kpis(ds, _params())
    r = row(t, "P1")
    for column in ["gross_margin", "gross_margin_pct", "revenue_per_rep", "potential", "share_of_wallet",
                   "registration_lag_days_median", "leads_received", "lead_accept_rate", "deals_won",
                   "win_rate", "win_rate_low", "deal_size_median", "mdf_allocated", "mdf_return",
                   "certified_reps", "trainings_completed", "csat_mean", "nps"]:
        assert pd.isna(r[column]), column
    assert r.revenue == 850 and r.registration_rate == pytest.approx(5 / 7)
    assert r.lead_accept_rate_low_sample and r.win_rate_low_sample
    assert set(t.columns) == set(kpis.partner_kpis(full, _params()).columns)
    net = kpis.network_kpis(ds, _params())
    assert net.channel_return.isna().all()
    assert net.cost_to_acquire_and_onboard_per_activated_partner.isna().all()
    assert net.gross_margin.isna().all() and (net.revenue > 0).all()
    m = kpis.monthly_revenue(ds, _params())
    assert m.gross_margin.isna().all()
    out = kpis.target_attainment(t, full.targets, _params())
    assert (out.set_index("metric").loc["win_rate", "status"] == "no_data")


def test_inputs_are_not_mutated():
    ds = main_dataset()
    before = {name: frame.copy(deep=True) for name, frame in ds.tables.items()}
    params = _params()
    params_before = copy.deepcopy(params)
    table = kpis.partner_kpis(ds, params)
    table_before = table.copy(deep=True)
    kpis.monthly_revenue(ds, params)
    kpis.network_kpis(ds, params)
    kpis.target_attainment(table, ds.targets, params)
    for name, frame in ds.tables.items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)
    pd.testing.assert_frame_equal(table, table_before)
    assert params == params_before


# ------------------------------------------------------------------------------------------------
# the vectorized customer and median figures agree with a naive computation on random data
# ------------------------------------------------------------------------------------------------


def _random_dataset(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    n_p, n = 6, 400
    partners = _partners([(f"P{i}", "2023-01-01", None, 2) for i in range(n_p)])
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    qty = rng.integers(1, 4, n)
    reg = rng.integers(0, 4, n)
    sales = _sales([
        (days[i], f"P{rng.integers(n_p)}", f"C{rng.integers(8)}", f"K{rng.integers(3)}", qty[i],
         float(rng.integers(1, 100)), float(rng.integers(0, 50)),
         "sell_through" if rng.random() < 0.7 else "sell_in", reg[i],
         days[i] + pd.Timedelta(days=int(rng.integers(0, 30))) if reg[i] else None)
        for i in range(n)
    ])
    return Dataset(partners=partners, sales=sales, as_of=dt.date(2026, 7, 1), period="2026Q2")


def _naive(ds: Dataset, partner: str, lo: pd.Timestamp, hi: pd.Timestamp, prev_lo: pd.Timestamp) -> dict:
    s = ds.sales[ds.sales.partner_id == partner]
    win = s[(s.date >= lo) & (s.date <= hi)]
    prev = s[(s.date >= prev_lo) & (s.date < lo)]
    active = set(win.customer_id)
    first = s.groupby("customer_id").date.min()
    spend, spend_prev = win.groupby("customer_id").revenue.sum(), prev.groupby("customer_id").revenue.sum()
    repeat = active & set(prev.customer_id)
    ncat = win.groupby("customer_id").category.nunique()
    reg = win[(win.channel == "sell_through") & (win.registered_units > 0) & win.registered_date.notna()]
    lag = (reg.registered_date - reg.date).dt.days
    return {
        "customers_active": len(active),
        "customers_new": sum((first[c] >= lo) for c in active),
        "customers_lost": len(set(prev.customer_id) - active),
        "cross_sell_rate": (ncat >= 2).sum() / len(active) if active else NaN,
        "upsell_rate": (sum(spend[c] > spend_prev[c] for c in repeat) / len(repeat)) if repeat else NaN,
        "registration_lag_days_median": lag.median() if len(lag) else NaN,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorized_customer_figures_match_naive_computation(seed):
    ds = _random_dataset(seed)
    t = kpis.partner_kpis(ds, _params(), quarters=["2026Q1", "2026Q2"])
    cases = {  # window → (start, previous window start)
        ("2026Q2", "quarter"): ("2026-04-01", "2026-01-01"),
        ("2026Q2", "ytd"): ("2026-01-01", "2025-07-01"),
        ("2026Q2", "t4q"): ("2025-07-01", "2024-07-01"),
        ("2026Q1", "t4q"): ("2025-04-01", "2024-04-01"),
    }
    for (period, window), (lo, prev_lo) in cases.items():
        for pid in ds.partners.partner_id:
            r = row(t, pid, window, period)
            check(r, _naive(ds, pid, T(lo), r.period_end, T(prev_lo)))


def test_large_key_space_path_gives_the_same_figures(monkeypatch):
    # when (partner, customer, category, quarter) does not fit one int64 key, pairs are numbered first
    ds = _random_dataset(4)
    expected = kpis.partner_kpis(ds, _params())
    monkeypatch.setattr(kpis, "_KEY_LIMIT", 1.0)
    pd.testing.assert_frame_equal(kpis.partner_kpis(ds, _params()), expected)


def test_every_interval_rate_carries_its_wilson_interval(table):
    """Each proportion the catalog marks ``interval`` has _low/_high equal to statsmodels' Wilson."""
    from statsmodels.stats.proportion import proportion_confint

    from channel_analysis import measures

    checked = 0
    for rate in measures.WITH_INTERVAL:
        rows = table[table[rate + "_n"] > 0]
        k = np.round(rows[rate] * rows[rate + "_n"])
        low, high = proportion_confint(k, rows[rate + "_n"], alpha=0.05, method="wilson")
        np.testing.assert_allclose(rows[rate + "_low"], low, atol=1e-9)
        np.testing.assert_allclose(rows[rate + "_high"], high, atol=1e-9)
        assert (rows[rate + "_low"] <= rows[rate] + 1e-12).all() and (rows[rate] <= rows[rate + "_high"] + 1e-12).all()
        assert table.loc[~(table[rate + "_n"] > 0), rate + "_low"].isna().all()
        checked += len(rows)
    assert checked > 0


# --- minimal extracts: absent inputs are not available, never 0 -------------------------------------

def _loaded(raw, params):
    write_tables(raw, params["data"]["source"], "parquet")
    return load_dataset(params, progress=False)


def _quarter(table, pid="P001", period="2026Q3"):
    return table[(table["partner_id"] == pid) & (table["period"] == period) & (table["window"] == "quarter")].iloc[0]


def test_no_cost_column_gives_no_gross_margin_not_zero(raw, params):
    # the bug: validation added the absent cost column empty, so "cost" in sales was always true and
    # every scorecard printed "Gross margin $0"
    raw["sales"] = raw["sales"].drop(columns=["cost"])
    ds = _loaded(raw, params)
    table = kpis.partner_kpis(ds, params)
    assert table["gross_margin"].isna().all() and table["gross_margin_pct"].isna().all()
    assert table["revenue"].notna().any()
    assert kpis.network_kpis(ds, params)["gross_margin"].isna().all()
    assert kpis.monthly_revenue(ds, params)["gross_margin"].isna().all()


def test_no_attributed_revenue_column_gives_no_mdf_return(raw, params):
    raw["mdf"] = raw["mdf"].drop(columns=["attributed_revenue"])
    table = kpis.partner_kpis(_loaded(raw, params), params)
    assert table["mdf_return"].isna().all() and table["mdf_attributed_revenue"].isna().all()
    assert _quarter(table)["mdf_claimed"] == 7600


def test_without_sales_revenue_is_not_available_and_deals_still_count(raw, params):
    del raw["sales"]
    raw["partners"].loc[raw["partners"]["partner_id"] == "P001", "onboarded_date"] = "2026-04-02"
    ds = _loaded(raw, params)
    table = kpis.partner_kpis(ds, params)
    for col in ("revenue", "units", "customers_active", "registration_rate", "revenue_growth_prev"):
        assert table[col].isna().all(), col
    assert _quarter(table)["deals_won"] == 1
    # first deal = the first won deal (O1 closed 2026-09-18; P001 onboarded 2026-04-02, the day the
    # data begin: the first deal created)
    assert _quarter(table)["time_to_first_deal_days"] == (pd.Timestamp("2026-09-18") - pd.Timestamp("2026-04-02")).days
    assert kpis.network_kpis(ds, params)["revenue"].isna().all()
    assert kpis.monthly_revenue(ds, params)["revenue"].isna().all()


def test_sales_without_customer_id_registration_or_category(raw, params):
    raw["sales"] = raw["sales"].drop(columns=["customer_id", "registered_units", "registered_date", "category"])
    table = kpis.partner_kpis(_loaded(raw, params), params)
    for col in ("customers_active", "customers_new", "customers_lost", "cross_sell_rate", "upsell_rate",
                "registration_rate", "registration_lag_days_median"):
        assert table[col].isna().all(), col
    assert _quarter(table, "007")["revenue"] == 500


def test_sales_without_category_keep_the_customer_counts(raw, params):
    raw["sales"] = raw["sales"].drop(columns=["category"])
    table = kpis.partner_kpis(_loaded(raw, params), params)
    assert _quarter(table, "P002")["customers_active"] == 1
    assert table["cross_sell_rate"].isna().all()


def test_sales_without_channel_count_every_line_for_registration(raw, params):
    # 007's line (5 units, 5 registered) is sell-through anyway; P002's two sell-in lines (3 units, 1
    # registered) count once the channel is unknown
    raw["sales"] = raw["sales"].drop(columns=["channel"])
    table = kpis.partner_kpis(_loaded(raw, params), params)
    assert _quarter(table, "P002")["registration_rate"] == pytest.approx(1 / 3)
    assert _quarter(table, "007")["registration_rate"] == 1.0


def test_leads_without_partner_count_in_the_network_funnel_only(raw, params):
    raw["leads"] = pd.concat([raw["leads"], pd.DataFrame({
        "lead_id": ["L3", "L4"], "partner_id": [None, None], "assigned_date": ["2026-07-02", "2026-08-01"],
        "accepted_date": [None, None], "status": ["expired", "assigned"], "opportunity_id": [None, None]})],
        ignore_index=True)
    ds = _loaded(raw, params)
    table = kpis.partner_kpis(ds, params)
    q3 = table[(table["period"] == "2026Q3") & (table["window"] == "quarter")]
    assert q3["leads_received"].sum() == 1  # L2 (P002): the unassigned leads belong to no partner
    net = kpis.network_kpis(ds, params).set_index("period").loc["2026Q3"]
    assert net["leads_received"] == 3 and net["leads_unassigned"] == 2
    # decided: L3 (expired, not converted); L2 and L4 are still assigned
    assert net["lead_conversion_rate_n"] == 1 and net["lead_conversion_rate"] == 0.0


def test_deals_without_amount_for_open_and_lost_ones(raw, params):
    raw["opportunities"]["amount"] = ["48000", None, None]
    table = kpis.partner_kpis(_loaded(raw, params), params)
    assert _quarter(table)["deal_size_mean"] == 48000
