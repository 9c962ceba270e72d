"""Tests of channel_analysis.pipeline on a hand-built set of eight deals."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from channel_analysis import pipeline as pl
from channel_analysis import salescycle as sc

STAGES = ["Qualify", "Develop", "Propose", "Negotiate"]
AS_OF = pd.Timestamp("2026-06-30").date()
D = pd.to_datetime


def opportunities() -> pd.DataFrame:
    return pd.DataFrame({
        "opportunity_id": ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"],
        "partner_id": ["P1", "P1", "P2", "P2", "P2", "P1", "P1", "P1"],
        "customer_id": None,
        "created_date": D(["2026-06-20", "2026-01-01", "2026-01-10", "2026-02-01", "2026-02-01",
                           "2026-07-05", "2025-10-01", "2026-03-15"]),
        "stage": ["Develop", "Negotiate", "Won", "Lost", "Lost", "Qualify", "Won", "Lost"],
        "amount": [100.0, 200.0, 300.0, 80.0, 60.0, 10.0, 500.0, 40.0],
        "currency": "EUR",
        "expected_close_date": D(["2026-07-15", "2026-05-31", None, None, None, "2026-09-01", None, None]),
        "closed_date": D([None, None, "2026-03-01", "2026-04-01", "2026-07-15", None, "2026-02-01", "2026-05-01"]),
        "outcome": ["open", "open", "won", "lost", "lost", "open", "won", "lost"],
    })


def history() -> pd.DataFrame:
    rows = [
        ("O1", "Qualify", "2026-06-20"), ("O1", "Develop", "2026-06-25"),
        ("O2", "Qualify", "2026-01-01"), ("O2", "Develop", "2026-02-01"), ("O2", "Propose", "2026-03-01"),
        ("O2", "Negotiate", "2026-04-01"),
        ("O3", "Qualify", "2026-01-10"), ("O3", "Develop", "2026-01-20"), ("O3", "Propose", "2026-02-01"),
        ("O3", "Negotiate", "2026-02-15"), ("O3", "Won", "2026-03-01"),
        ("O4", "Qualify", "2026-02-01"), ("O4", "Develop", "2026-02-15"), ("O4", "Lost", "2026-04-01"),
        ("O5", "Qualify", "2026-02-01"), ("O5", "Propose", "2026-03-01"), ("O5", "Lost", "2026-07-15"),
        ("O8", "Qualify", "2026-03-15"), ("O8", "Develop", "2026-03-20"), ("O8", "Propose", "2026-04-01"),
        ("O8", "Negotiate", "2026-04-10"), ("O8", "Lost", "2026-05-01"),
    ]
    return pd.DataFrame(rows, columns=["opportunity_id", "stage", "entered_date"]).assign(
        entered_date=lambda f: D(f["entered_date"]))


def test_open_pipeline_as_of_filtering():
    op = pl.open_pipeline(opportunities(), AS_OF, STAGES).set_index("opportunity_id")
    # open at 2026-06-30: O1, O2 (open), O5 (closed later, 2026-07-15); O6 created after as_of;
    # O3, O4, O7, O8 closed before
    assert sorted(op.index) == ["O1", "O2", "O5"]
    # ages: O1 06-20 -> 10 days; O2 01-01 -> 180 days; O5 02-01 -> 149 days
    assert op["age_days"].to_dict() == {"O1": 10, "O2": 180, "O5": 149}
    assert op["age_bucket"].astype(str).to_dict() == {"O1": "0-30", "O2": "91-180", "O5": "91-180"}
    # O2 expected 2026-05-31 < as_of; O1 expected after; O5 none
    assert op["past_expected_close"].to_dict() == {"O1": False, "O2": True, "O5": False}
    # O5 is "Lost" now; without history it is placed at its assumed highest stage (Negotiate)
    assert op.loc["O5", "stage"] == "Negotiate" and op.loc["O5", "stage_order"] == 4
    # with history: last stage entered by 2026-06-30 = Propose
    oph = pl.open_pipeline(opportunities(), AS_OF, STAGES, history()).set_index("opportunity_id")
    assert oph.loc["O5", "stage"] == "Propose" and oph.loc["O1", "stage"] == "Develop"
    # an earlier as_of: 2026-03-31 -> O2 (Propose then, per history), O4, O5, O8 open
    early = pl.open_pipeline(opportunities(), pd.Timestamp("2026-03-31"), STAGES, history())
    assert sorted(early["opportunity_id"]) == ["O2", "O4", "O5", "O8"]
    assert early.set_index("opportunity_id").loc["O2", "stage"] == "Propose"


def test_stage_conversion_without_history():
    c = pl.stage_conversion(opportunities(), STAGES)
    # highest stage: O1 2 (open), O2 4 (open), O6 1 (open), won O3 O7 4, lost O4 O5 O8 assumed 4.
    # Q->D: resolved = all but O6 (open at Qualify) = 7, all 7 reached Develop
    # D->P: resolved = >=2 minus O1 (open at Develop) = 6; all reached Propose
    # P->N: 6 of 6
    # N->Won: >=4 minus O2 (open at Negotiate) = O3 O4 O5 O7 O8 = 5; won 2 -> 0.4
    assert c["reached_from"].tolist() == [7, 6, 6, 5]
    assert c["reached_to"].tolist() == [7, 6, 6, 2]
    assert c["conversion_rate"].tolist() == pytest.approx([1, 1, 1, 0.4])
    assert c["to_stage"].tolist() == ["Develop", "Propose", "Negotiate", "Won"]


def test_stage_conversion_with_history():
    c = pl.stage_conversion(opportunities(), STAGES, history())
    # highest: O1 2, O2 4, O3 4, O4 2, O5 3 (skipped Develop: counts as reached), O6 1 (no history,
    # current stage), O7 4 (won, no history), O8 4.
    # Q->D: resolved 7 (all but O6), reached Develop 7          -> 1
    # D->P: resolved = O2 O3 O4 O5 O7 O8 = 6, reached Propose 5 -> 5/6
    # P->N: resolved = O2 O3 O5 O7 O8 = 5, reached Negotiate 4  -> 0.8
    # N->Won: resolved = O3 O7 O8 = 3 (O2 still open), won 2   -> 2/3
    assert c["reached_from"].tolist() == [7, 6, 5, 3]
    assert c["reached_to"].tolist() == [7, 5, 4, 2]
    assert c["conversion_rate"].tolist() == pytest.approx([1, 5 / 6, 0.8, 2 / 3])


def test_win_probability_with_and_without_history():
    # closed by 2026-06-30: O3 won, O4 lost, O7 won, O8 lost (O5 closes later)
    p = pl.win_probability(opportunities(), STAGES, AS_OF)
    # without history every lost deal is assumed to have reached every stage: 2 wins / 4 everywhere
    assert p["p_win"].tolist() == pytest.approx([0.5] * 4) and p["n"].tolist() == [4] * 4
    ph = pl.win_probability(opportunities(), STAGES, AS_OF, history())
    # with history: O4 reached Develop only; O8 reached Negotiate.
    # Qualify, Develop: n=4, 2 wins -> 0.5; Propose, Negotiate: O3 O7 O8 -> 2/3
    assert ph["n"].tolist() == [4, 4, 3, 3]
    assert ph["p_win"].tolist() == pytest.approx([0.5, 0.5, 2 / 3, 2 / 3])
    # grouped by partner: P2 closed O3 (won), O4 (lost at Develop) -> Q,D: 1/2; P,N: 1/1
    pg = pl.win_probability(opportunities(), STAGES, AS_OF, history(), by="partner_id")
    p2 = pg.loc[pg["partner_id"] == "P2"]
    assert p2["p_win"].tolist() == pytest.approx([0.5, 0.5, 1, 1]) and p2["n"].tolist() == [2, 2, 1, 1]
    # an as_of before any close: no evidence -> NaN, n 0
    none = pl.win_probability(opportunities(), STAGES, pd.Timestamp("2026-01-15"))
    assert none["n"].tolist() == [0] * 4 and none["p_win"].isna().all()


def test_weighted_pipeline_coverage_velocity():
    op = pl.open_pipeline(opportunities(), AS_OF, STAGES, history())
    p = pl.win_probability(opportunities(), STAGES, AS_OF, history())
    w = pl.weighted_pipeline(op, p).set_index("partner_id")
    # P1: O1 Develop 100 x 0.5 + O2 Negotiate 200 x 2/3 = 50 + 133.33 = 183.33; open 300
    # P2: O5 Propose 60 x 2/3 = 40
    assert w.loc["P1", "open_n"] == 2 and w.loc["P1", "open_amount"] == 300
    assert w.loc["P1", "weighted_amount"] == pytest.approx(50 + 400 / 3)
    assert w.loc["P2", "weighted_amount"] == pytest.approx(40)
    assert pl.coverage(150.0, 100.0) == 1.5
    assert np.isnan(pl.coverage(150.0, 0.0))
    cov = pl.coverage(pd.Series([50.0, 10.0]), pd.Series([100.0, -5.0]))
    assert cov.iloc[0] == 0.5 and np.isnan(cov.iloc[1])
    # 10 deals x 25% x 1000 / 50 days = 50 per day; x 91.3125 days = 4565.625 per quarter
    assert pl.velocity(10, 0.25, 1000, 50, per="day") == 50
    assert pl.velocity(10, 0.25, 1000, 50) == pytest.approx(4565.625)
    assert np.isnan(pl.velocity(10, 0.25, 1000, 0))


def test_stale_threshold_from_km():
    d = pd.DataFrame({"partner_id": "P", "days": np.arange(10, 101, 10, dtype=float), "closed": True})
    # no censoring: S(90) = 0.1 exactly -> 0.9 quantile is the midpoint of 90 and 100
    assert pl.stale_threshold_days(d, 0.9) == 95
    # heavy censoring: S(10) = 2/3 never reaches 0.1 -> longest closed cycle, 10
    d2 = pd.DataFrame({"partner_id": "P", "days": [10.0, 20.0, 30.0], "closed": [True, False, False]})
    assert pl.stale_threshold_days(d2, 0.9) == 10
    # KM, not closed deals only: 4 deals closed at 10, 20, 30, 40 plus 4 open at 50:
    # S(40) = 0.5 never <= 0.1 -> fallback 40; closed-only quantile would be ~37
    d3 = pd.DataFrame({"partner_id": "P", "days": [10.0, 20, 30, 40, 50, 50, 50, 50], "closed": [True] * 4 + [False] * 4})
    assert pl.stale_threshold_days(d3, 0.9) == 40


def test_stale_deals_rules():
    op = pl.open_pipeline(opportunities(), AS_OF, STAGES)
    s = pl.stale_deals(op, 100, AS_OF).set_index("opportunity_id")
    # O2: expected 05-31 passed and 180 days > 100 -> both; O5: 149 days, no expected date -> too old;
    # O1: 10 days, expected in July -> not stale
    assert sorted(s.index) == ["O2", "O5"]
    assert s.loc["O2", "reason"] == "both"
    assert s.loc["O5", "reason"] == "open_too_long"
    s2 = pl.stale_deals(op, np.nan, AS_OF)  # age rule unavailable
    assert s2["opportunity_id"].tolist() == ["O2"] and s2["reason"].tolist() == ["past_expected_close"]


def test_partner_pipeline_kpis():
    params = {"pipeline": {"stages": STAGES, "stale_quantile": 0.9}, "fiscal_year_start_month": 1}
    k = pl.partner_pipeline_kpis(opportunities(), params, AS_OF, ["2026Q1", "2026Q2"], history())
    k = k.set_index(["partner_id", "period"])
    # 2026-03-31: open O2 (P1, 200), O8 (P1, 40), O4 (P2, 80), O5 (P2, 60)
    assert k.loc[("P1", "2026Q1"), "pipeline_open_n"] == 2 and k.loc[("P1", "2026Q1"), "pipeline_open_amount"] == 240
    assert k.loc[("P2", "2026Q1"), "pipeline_open_amount"] == 140
    # on 2026-03-31 only O7 (2026-02-01) and O3 (2026-03-01) had closed, both won: P(win | stage) = 1
    # where reached (both passed every stage) -> weighted = open amount
    assert k.loc[("P1", "2026Q1"), "pipeline_weighted"] == pytest.approx(240)
    # 2026Q2 snapshot = as_of: the hand-computed weighted pipeline of the previous test
    assert k.loc[("P1", "2026Q2"), "pipeline_weighted"] == pytest.approx(50 + 400 / 3)
    assert k.loc[("P2", "2026Q2"), "pipeline_weighted"] == pytest.approx(40)
    # stale threshold at 2026-06-30: cycle durations 10+ (O1 open), 47 (O8), 50 (O3), 59 (O4), 123 (O7),
    # 149+ (O5 closes later), 180+ (O2). KM: S(47) = 5/6, S(50) = 4/6, S(59) = 3/6, S(123) = 1/3:
    # never <= 0.1 -> fallback to the longest closed cycle, 123 days.
    assert pl.stale_threshold_days(sc.cycle_durations(opportunities(), AS_OF), 0.9) == 123
    # stale then: O2 (180 days, past expected close) for P1, O5 (149 days) for P2; O1 (10 days) not
    assert k.loc[("P1", "2026Q2"), "stale_deals_n"] == 1 and k.loc[("P2", "2026Q2"), "stale_deals_n"] == 1
    assert list(k.columns) == ["pipeline_open_n", "pipeline_open_amount", "pipeline_weighted", "stale_deals_n"]


def test_inputs_not_mutated():
    opps, hist = opportunities(), history()
    before_o, before_h = copy.deepcopy(opps), copy.deepcopy(hist)
    params = {"pipeline": {"stages": STAGES, "stale_quantile": 0.9}}
    op = pl.open_pipeline(opps, AS_OF, STAGES, hist)
    before_op = op.copy()
    pl.stage_conversion(opps, STAGES, hist)
    p = pl.win_probability(opps, STAGES, AS_OF, hist, by="partner_id")
    pl.weighted_pipeline(op, p)
    pl.stale_deals(op, 30, AS_OF)
    pl.partner_pipeline_kpis(opps, params, AS_OF, ["2026Q2"], hist)
    pd.testing.assert_frame_equal(opps, before_o)
    pd.testing.assert_frame_equal(hist, before_h)
    pd.testing.assert_frame_equal(op, before_op)


def test_open_deals_without_any_amount_are_not_available_never_zero():
    """A CRM export with values only on won deals: the open pipeline is not available (NaN), not 0;
    a partner without open deals still has an empty (0) pipeline."""
    open_deals = pd.DataFrame({"partner_id": ["A", "A", "B"], "stage": ["Qualify"] * 3,
                               "amount": [np.nan, np.nan, 100.0]})
    p_win = pd.DataFrame({"stage": ["Qualify"], "p_win": [0.5]})
    out = pl.weighted_pipeline(open_deals, p_win).set_index("partner_id")
    assert out.loc["A", "open_n"] == 2
    assert np.isnan(out.loc["A", "open_amount"]) and np.isnan(out.loc["A", "weighted_amount"])
    assert out.loc["B", "open_amount"] == 100.0 and out.loc["B", "weighted_amount"] == 50.0
