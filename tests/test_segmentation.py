"""Segmentation: Pareto/ABC, Lorenz/Gini, weighted score, performance x potential."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import segmentation as seg
from channel_analysis.errors import ParamsError

CELLS = [f"{p}_{q}" for p in ("low", "medium", "high") for q in ("low", "medium", "high")]
ACTIONS = {cell: cell.upper() for cell in CELLS}


def kpis(**cols) -> pd.DataFrame:
    """A one-period t4q KPI frame with partners P1, P2, ... and the given columns."""
    n = len(next(iter(cols.values())))
    frame = pd.DataFrame({"partner_id": [f"P{i + 1}" for i in range(n)], "period": "2026Q3", "window": "t4q"})
    for name, values in cols.items():
        frame[name] = np.asarray(values, dtype=float)
    return frame


# ---------------------------------------------------------------------------------------------
# Pareto / ABC
# ---------------------------------------------------------------------------------------------


def test_pareto_hand_computed():
    k = kpis(revenue=[15, 50, 5, 30])
    out = seg.pareto(k)
    # sorted descending: P2 50, P4 30, P1 15, P3 5; total 100
    assert out["partner_id"].tolist() == ["P2", "P4", "P1", "P3"]
    assert out["share"].tolist() == pytest.approx([0.50, 0.30, 0.15, 0.05])
    assert out["cum_share"].tolist() == pytest.approx([0.50, 0.80, 0.95, 1.00])
    assert out["rank"].tolist() == [1, 2, 3, 4]
    # share before each: 0, .50, .80, .95 -> A (<.8), A (<.8), B (.8 is not < .8 but < .95),
    # C (.95 is not < .95)
    assert out["abc_class"].tolist() == ["A", "A", "B", "C"]


def test_pareto_partner_crossing_a_is_class_a():
    out = seg.pareto(kpis(revenue=[70, 20, 10]))
    # before: 0, .7, .9 -> the second partner takes the cumulative share from 70% to 90%,
    # crossing 80%: still A; the third starts at 90% -> B
    assert out["abc_class"].tolist() == ["A", "A", "B"]


def test_pareto_negative_and_zero_total():
    out = seg.pareto(kpis(revenue=[10, -5, 0]))
    # negatives count 0: contributions 10, 0, 0 -> shares 1, 0, 0; before: 0, 1, 1
    assert out["share"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert out["abc_class"].tolist() == ["A", "C", "C"]
    assert out["value"].tolist() == [10, 0, -5]  # sorted by value: the negative partner last
    zero = seg.pareto(kpis(revenue=[0, 0, -1]))
    assert zero["share"].isna().all() and zero["cum_share"].isna().all()
    assert zero["abc_class"].tolist() == ["C", "C", "C"]


def test_pareto_nan_value_listed_last_without_class():
    out = seg.pareto(kpis(revenue=[np.nan, 10, 30]))
    assert out["partner_id"].tolist() == ["P3", "P2", "P1"]
    assert out["cum_share"].iloc[1] == 1.0
    assert pd.isna(out["abc_class"].iloc[2]) and pd.isna(out["rank"].iloc[2])


def test_pareto_selects_window_and_latest_period():
    k = pd.concat(
        [
            kpis(revenue=[1, 2]).assign(period="2026Q2"),
            kpis(revenue=[9, 1]),
            kpis(revenue=[100, 100]).assign(window="quarter"),
        ]
    )
    out = seg.pareto(k)  # latest period 2026Q3, t4q rows: 9 and 1
    assert out["value"].tolist() == [9, 1]
    assert seg.pareto(k, period="2026Q2")["value"].tolist() == [2, 1]
    with pytest.raises(ParamsError, match="2025Q1"):
        seg.pareto(k, period="2025Q1")
    with pytest.raises(ParamsError, match="ytd"):
        seg.pareto(k, window="ytd")


def test_pareto_bad_abc_params():
    with pytest.raises(ParamsError, match="a <= b"):
        seg.pareto(kpis(revenue=[1.0]), abc={"a": 0.9, "b": 0.8})


# ---------------------------------------------------------------------------------------------
# Lorenz / Gini
# ---------------------------------------------------------------------------------------------


def test_lorenz_curve_hand_computed():
    out = seg.lorenz_curve([50, 5, 30, 15])
    # ascending 5, 15, 30, 50 of 100: cumulative 0, 5, 20, 50, 100
    assert out["population_share"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert out["value_share"].tolist() == pytest.approx([0, 0.05, 0.20, 0.50, 1])
    assert seg.lorenz_curve([]).values.tolist() == [[0.0, 0.0]]


def test_gini_hand_computed():
    # sorted 5, 15, 30, 50: sum i*x = 5 + 30 + 90 + 200 = 325; G = 2*325/(4*100) - 5/4 = .375
    # check: sum over pairs |xi - xj| = 10+25+45+15+35+20 = 150; 2*150 / (2 * 16 * 25) = .375
    assert seg.gini([50, 5, 30, 15]) == pytest.approx(0.375)
    # one partner holds all of 3: 2*3*1/(3*1) - 4/3 = 2/3 = 1 - 1/n
    assert seg.gini([0, 0, 1]) == pytest.approx(2 / 3)
    assert np.isnan(seg.gini([0, 0])) and np.isnan(seg.gini([]))
    assert seg.gini([4, np.nan, 4]) == 0.0


def test_concentration_summary():
    res = seg.concentration(kpis(revenue=[15, 50, 5, 30]))
    assert res.gini == pytest.approx(0.375)
    assert res.top20_share == pytest.approx(0.5)  # top ceil(0.2*4) = 1 partner: 50 of 100
    assert res.class_counts.tolist() == [2, 1, 1]
    assert res.class_shares.tolist() == pytest.approx([0.8, 0.15, 0.05])
    text = res.summary()
    assert "Gini 0.375" in text and "2026Q3" in text and "50.0%" in text
    assert "<pre>" in res._repr_html_()


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=30, deadline=None)
def test_pareto_shares_sum_to_one_and_cum_share_monotone(values):
    k = kpis(revenue=values)
    before = k.copy()
    out = seg.pareto(k)
    pd.testing.assert_frame_equal(k, before)
    if sum(values) > 0:
        assert out["share"].sum() == pytest.approx(1.0)
        assert out["cum_share"].is_monotonic_increasing
        assert out["cum_share"].iloc[-1] == pytest.approx(1.0)
        assert out["abc_class"].iloc[0] == "A"
        assert out["abc_class"].is_monotonic_increasing  # A, then B, then C
    else:
        assert out["share"].isna().all()


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=30, deadline=None)
def test_gini_in_unit_interval(values):
    g = seg.gini(values)
    if sum(values) > 0:
        assert 0 <= g < 1
        curve = seg.lorenz_curve(values)
        # G = 1 - 2 * trapezoid area under the Lorenz curve
        area = np.trapezoid(curve["value_share"], curve["population_share"])
        assert g == pytest.approx(1 - 2 * area, abs=1e-9)
    else:
        assert np.isnan(g)


@given(st.floats(min_value=0.01, max_value=1e9), st.integers(min_value=1, max_value=50))
def test_gini_zero_for_equal_values(value, n):
    assert seg.gini([value] * n) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# weighted score
# ---------------------------------------------------------------------------------------------


def test_weighted_score_hand_computed():
    k = kpis(revenue=[50, 30, 15, 5], csat_mean=[4, 3, np.nan, 5])
    out = seg.weighted_score(k, {"revenue": 0.5, "csat_mean": 0.5})
    # revenue percentiles (rank - .5)/4: P1 3.5/4=.875, P2 .625, P3 .375, P4 .125
    assert out["pct_revenue"].tolist() == pytest.approx([87.5, 62.5, 37.5, 12.5])
    # csat among 3 values 3 < 4 < 5: P1 1.5/3=.5, P2 .5/3, P3 NaN, P4 2.5/3
    assert out["pct_csat_mean"].tolist()[:2] == pytest.approx([50, 100 / 6])
    # renormalize: P1 (.875+.5)/2 = .6875; P2 (.625+.1667)/2 = .39583; P3 .375 alone;
    # P4 (.125+.8333)/2 = .47917
    assert out["score"].tolist() == pytest.approx([68.75, 39.5833333, 37.5, 47.9166667])
    assert out["criteria_used"].tolist() == [2, 2, 1, 2]
    assert out["criteria_missing"].tolist() == ["", "", "csat_mean", ""]
    zero = seg.weighted_score(k, {"revenue": 0.5, "csat_mean": 0.5}, missing="zero")
    # P3: (.5 * .375 + .5 * 0) / 1 = .1875
    assert zero["score"].tolist() == pytest.approx([68.75, 39.5833333, 18.75, 47.9166667])


def test_weighted_score_ties_direction_and_alias():
    k = pd.concat(
        [
            kpis(lag=[1, 1, 2], revenue=[0, 0, 0]),
            kpis(lag=[0, 0, 0], revenue=[10, 30, 20]).assign(window="quarter"),
        ]
    )
    out = seg.weighted_score(k, {"-lag": 1.0})
    # lower lag is better: -lag = -1, -1, -2 -> ranks 2.5, 2.5, 1 -> (r - .5)/3 = 2/3, 2/3, 1/6
    assert out["pct_lag"].tolist() == pytest.approx([200 / 3, 200 / 3, 100 / 6])
    # revenue_quarter read from the quarter rows: 10, 30, 20 -> 1/6, 5/6, 1/2
    alias = seg.weighted_score(k, {"revenue_quarter": 1.0})
    assert alias["score"].tolist() == pytest.approx([100 / 6, 500 / 6, 50])


def test_weighted_score_errors():
    k = kpis(revenue=[1, 2])
    with pytest.raises(ParamsError, match=r"'margin_pct'.*available columns: revenue"):
        seg.weighted_score(k, {"margin_pct": 1})
    with pytest.raises(ParamsError, match="missing"):
        seg.weighted_score(k, {"revenue": 1}, missing="drop")
    with pytest.raises(ParamsError, match="non-negative"):
        seg.weighted_score(k, {"revenue": -1})


def test_weighted_score_renormalize_without_any_criterion_is_nan():
    out = seg.weighted_score(kpis(a=[np.nan, 1.0]), {"a": 1})
    assert np.isnan(out["score"].iloc[0]) and out["score"].iloc[1] == pytest.approx(50)


# ---------------------------------------------------------------------------------------------
# performance x potential
# ---------------------------------------------------------------------------------------------


def test_performance_potential_hand_computed():
    k = kpis(revenue=[50, 30, 15, 5], potential=[100, 40, np.nan, 50])
    scores = pd.DataFrame({"partner_id": ["P1", "P2", "P3", "P4"], "score": [68.75, 39.58, 37.5, 47.92]})
    out = seg.performance_potential(scores, k, cuts=[0.333, 0.667], actions=ACTIONS)
    # score percentiles: ranks 4, 2, 1, 3 -> .875 high, .375 medium, .125 low, .625 medium
    assert out["performance"].tolist() == ["high", "medium", "low", "medium"]
    # headroom = potential - revenue: 50, 10, NaN, 45 -> ranks 3, 1, -, 2 of 3
    # -> 5/6 high, 1/6 low, unknown, 1/2 medium
    assert out["headroom"].tolist()[:2] == [50, 10]
    assert out["potential"].tolist() == ["high", "low", "unknown", "medium"]
    assert out["action"].tolist() == ["HIGH_HIGH", "MEDIUM_LOW", seg.UNKNOWN_POTENTIAL_ACTION, "MEDIUM_MEDIUM"]
    counts = seg.matrix_counts(out)
    assert counts.loc["high", "high"] == 1 and counts.loc["low", "unknown"] == 1
    assert counts.to_numpy().sum() == 4


def test_performance_potential_without_potential_column_and_errors():
    k = kpis(revenue=[1, 2, 3])
    scores = seg.weighted_score(k, {"revenue": 1})
    out = seg.performance_potential(scores, k, actions={**ACTIONS, "high_unknown": "Look"})
    assert (out["potential"] == "unknown").all()
    assert out["action"].tolist() == [seg.UNKNOWN_POTENTIAL_ACTION] * 2 + ["Look"]
    with pytest.raises(ParamsError, match="low_low"):
        seg.performance_potential(scores, k, actions={c: c for c in CELLS if c != "low_low"})
    with pytest.raises(ParamsError, match="matrix_cuts"):
        seg.performance_potential(scores, k, cuts=[0.7, 0.3])


def test_ramp_up_and_churned_partners_get_life_cycle_actions():
    # same cells as the hand-computed matrix test; P3 is in ramp-up, P4 churned, P1 active
    k = kpis(revenue=[50, 30, 15, 5], potential=[100, 40, np.nan, 50])
    k["status"] = ["active", "at_risk", "onboarding", "churned"]
    scores = pd.DataFrame({"partner_id": ["P1", "P2", "P3", "P4"], "score": [68.75, 39.58, 37.5, 47.92]})
    out = seg.performance_potential(scores, k, cuts=[0.333, 0.667], actions=ACTIONS, ramp_up_action="Ramp-up plan")
    assert out["status"].tolist() == ["active", "at_risk", "onboarding", "churned"]
    # the matrix cells are unchanged: life cycle only replaces the action
    assert out["performance"].tolist() == ["high", "medium", "low", "medium"]
    assert out["matrix_action"].tolist() == ["HIGH_HIGH", "MEDIUM_LOW", seg.UNKNOWN_POTENTIAL_ACTION, "MEDIUM_MEDIUM"]
    assert out["action"].tolist()[:3] == ["HIGH_HIGH", "MEDIUM_LOW", "Ramp-up plan"]
    assert pd.isna(out["action"].iloc[3])  # churned: no action
    # without a ramp-up action only the churned partner loses its action
    plain = seg.performance_potential(scores, k, cuts=[0.333, 0.667], actions=ACTIONS)
    assert plain["action"].tolist()[:3] == ["HIGH_HIGH", "MEDIUM_LOW", seg.UNKNOWN_POTENTIAL_ACTION]
    assert pd.isna(plain["action"].iloc[3])


def test_inputs_not_mutated():
    k = kpis(revenue=[50, 30, 15, 5], potential=[100, 40, np.nan, 50], csat_mean=[4, 3, np.nan, 5])
    before = k.copy()
    scores = seg.weighted_score(k, {"revenue_t4q": 1, "csat_mean": 1})
    scores_before = scores.copy()
    seg.performance_potential(scores, k, actions=ACTIONS)
    seg.concentration(k)
    pd.testing.assert_frame_equal(k, before)
    pd.testing.assert_frame_equal(scores, scores_before)
