"""Tiers: qualification, anti-flapping assignment, migration, gap to next tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import tiers
from channel_analysis.errors import DataValidationError, ParamsError

LEVELS = [
    {"name": "Registered", "criteria": {}},
    {"name": "Silver", "criteria": {"revenue": 100, "certified_reps": 1}},
    {"name": "Gold", "criteria": {"revenue": 500, "certified_reps": 3}},
    # certified_reps is not repeated: Platinum still needs 3 (criteria are cumulative)
    {"name": "Platinum", "criteria": {"revenue": 2000, "csat_mean": 4.0}},
]
NAMES = [lv["name"] for lv in LEVELS]


def kpis(rows: list[tuple], period: str = "2026Q3") -> pd.DataFrame:
    """rows: (partner_id, revenue, certified_reps, csat_mean), t4q window."""
    frame = pd.DataFrame(rows, columns=["partner_id", "revenue", "certified_reps", "csat_mean"])
    return frame.assign(period=period, window="t4q").astype({"revenue": float, "certified_reps": float,
                                                              "csat_mean": float})


def qualifying(sequence: dict[str, list], start: str = "2025Q1") -> pd.DataFrame:
    """partner -> list of qualifying tier names (None = no row that quarter)."""
    quarters = pd.period_range(start, periods=max(map(len, sequence.values())), freq="Q").astype(str)
    rows = [
        (p, q, t) for p, seq in sequence.items() for q, t in zip(quarters, seq) if t is not None
    ]
    return pd.DataFrame(rows, columns=["partner_id", "period", "qualifying_tier"])


def test_levels_are_cumulative_and_checked():
    req = tiers.requirements(LEVELS)
    plat = dict(req.loc[req["tier"] == "Platinum", ["criterion", "required"]].values)
    assert plat == {"revenue": 2000, "certified_reps": 3, "csat_mean": 4.0}
    with pytest.raises(ParamsError, match="lowest tier must have none"):
        tiers.parse_levels([{"name": "Silver", "criteria": {"revenue": 1}}])
    with pytest.raises(ParamsError, match="twice"):
        tiers.parse_levels([{"name": "A", "criteria": {}}, {"name": "A", "criteria": {}}])


def test_qualifying_tier_hand_computed():
    k = kpis(
        [
            ("P1", 2500, 2, 4.5),  # Platinum's own minimums met, but 2 reps < 3 (Gold, cumulative) -> Silver
            ("P2", 2500, 3, 4.5),  # everything met -> Platinum
            ("P3", 600, 5, np.nan),  # Gold; csat missing only matters for Platinum
            ("P4", 99, 9, 5.0),  # revenue 99 < 100 -> Registered
            ("P5", 150, np.nan, 5.0),  # reps missing = not met -> Registered
            ("P6", 500, 3, 1.0),  # exactly at the Gold minimums -> Gold
        ]
    )
    out = tiers.qualifying_tier(k, LEVELS)
    assert out["qualifying_tier"].astype(str).tolist() == [
        "Silver", "Platinum", "Gold", "Registered", "Registered", "Gold"
    ]
    assert list(out["qualifying_tier"].cat.categories) == NAMES


def test_qualifying_tier_reads_window_suffix():
    k = pd.concat([kpis([("P1", 0, 5, 5)]), kpis([("P1", 999, 5, 5)]).assign(window="quarter")])
    levels = [{"name": "Base", "criteria": {}}, {"name": "Top", "criteria": {"revenue_quarter": 900}}]
    assert tiers.qualifying_tier(k, levels)["qualifying_tier"].tolist() == ["Top"]
    with pytest.raises(ParamsError, match="revenu"):
        tiers.qualifying_tier(k, [{"name": "Base", "criteria": {}}, {"name": "T", "criteria": {"revenu": 1}}])


def test_assign_tiers_hand_computed():
    q = qualifying(
        {
            # Q1 new Silver; Q2 Gold: up run 1; Q3 Platinum: run 2 -> promoted to the lowest tier
            # qualified throughout (Gold); Q4 Platinum: run 1 vs Gold; Q5 Silver: down run 1;
            # Q6 Registered: down run 2 -> relegated to the highest tier of the run (Silver)
            "A": ["Silver", "Gold", "Platinum", "Platinum", "Silver", "Registered"],
            # Q3 missing breaks the run: Q2 run 1, Q4 run 1 again, Q5 run 2 -> promoted
            "B": ["Silver", "Gold", None, "Gold", "Gold", "Gold"],
        }
    )
    out = tiers.assign_tiers(q, LEVELS, promote_after=2, relegate_after=2)
    a = out[out["partner_id"] == "A"]
    assert a["tier"].astype(str).tolist() == ["Silver", "Silver", "Gold", "Gold", "Gold", "Silver"]
    assert a["change"].tolist() == ["new", "unchanged", "promoted", "unchanged", "unchanged", "relegated"]
    assert pd.isna(a["previous_tier"].iloc[0])
    assert a["previous_tier"].astype(str).tolist()[1:] == ["Silver", "Silver", "Gold", "Gold", "Gold"]
    b = out[out["partner_id"] == "B"]
    assert b["period"].tolist() == ["2025Q1", "2025Q2", "2025Q4", "2026Q1", "2026Q2"]
    assert b["tier"].astype(str).tolist() == ["Silver", "Silver", "Silver", "Gold", "Gold"]
    assert b["change"].tolist() == ["new", "unchanged", "unchanged", "promoted", "unchanged"]


def test_assign_tiers_initial_and_immediate_rules():
    q = qualifying(
        {"A": ["Silver", "Silver", "Silver"], "B": ["Gold", "Silver", "Gold"], "C": ["Gold", "Gold", "Gold"]}
    )
    initial = pd.Series({"A": "Gold", "B": None, "Z": "Gold"})
    out = tiers.assign_tiers(q, LEVELS, 2, 2, initial=initial)
    # A starts at its recorded Gold: Q1 misses (down run 1, unchanged), Q2 misses again -> Silver
    a = out[out["partner_id"] == "A"]
    assert a["tier"].astype(str).tolist() == ["Gold", "Silver", "Silver"]
    assert a["change"].tolist() == ["unchanged", "relegated", "unchanged"]
    assert str(a["previous_tier"].iloc[0]) == "Gold"
    # promote_after = relegate_after = 1: every change of qualification moves the tier at once
    fast = tiers.assign_tiers(q, LEVELS, 1, 1)
    b = fast[fast["partner_id"] == "B"]
    assert b["tier"].astype(str).tolist() == ["Gold", "Silver", "Gold"]
    assert b["change"].tolist() == ["new", "relegated", "promoted"]
    with pytest.raises(DataValidationError, match="Diamond"):
        tiers.assign_tiers(q, LEVELS, 2, 2, initial=pd.Series({"A": "Diamond"}))
    with pytest.raises(ParamsError, match="promote_after"):
        tiers.assign_tiers(q, LEVELS, 0, 2)


def test_migration_matrix_and_movements():
    q = qualifying(
        {
            "A": ["Silver", "Gold", "Gold"],  # promoted in Q3
            "B": ["Gold", "Silver", "Silver"],  # relegated in Q3
            "C": ["Silver", "Silver", "Silver"],
            "D": ["Registered", None, "Registered"],  # absent in Q2: counts only in Q1 -> Q3
        }
    )
    out = tiers.assign_tiers(q, LEVELS, 2, 2)
    m = tiers.migration_matrix(out, "2025Q1", "2025Q3")
    assert list(m.index) == NAMES and list(m.columns) == NAMES
    # Q1 -> Q3: A Silver->Gold, B Gold->Silver, C Silver->Silver, D Registered->Registered
    assert m.loc["Silver", "Gold"] == 1 and m.loc["Gold", "Silver"] == 1
    assert m.loc["Silver", "Silver"] == 1 and m.loc["Registered", "Registered"] == 1
    assert m.to_numpy().sum() == 4
    assert tiers.migration_matrix(out, "2025Q1", "2025Q2").to_numpy().sum() == 3  # D absent in Q2
    mv = tiers.movements(out, "2025Q3")
    assert mv[["partner_id", "change"]].values.tolist() == [["A", "promoted"], ["B", "relegated"]]
    assert mv["previous_tier"].astype(str).tolist() == ["Silver", "Gold"]


def test_gap_to_next_tier_hand_computed():
    k = kpis([("P1", 300, 3, np.nan), ("P2", 2500, 6, 4.5), ("P3", 50, np.nan, 4.0)])
    assigned = tiers.assign_tiers(tiers.qualifying_tier(k, LEVELS), LEVELS, 2, 2)
    gap = tiers.gap_to_next_tier(k, assigned, LEVELS)
    p1 = gap[gap["partner_id"] == "P1"]  # Silver -> Gold: revenue 500 (has 300), reps 3 (has 3)
    assert p1["next_tier"].tolist() == ["Gold", "Gold"]
    assert p1["criterion"].tolist() == ["revenue", "certified_reps"]
    assert p1["gap"].tolist() == [200, 0]
    assert p1["met"].tolist() == [False, True]
    p2 = gap[gap["partner_id"] == "P2"]  # Platinum: top tier, one row without a next tier
    assert len(p2) == 1 and pd.isna(p2["next_tier"].iloc[0]) and pd.isna(p2["met"].iloc[0])
    p3 = gap[gap["partner_id"] == "P3"]  # Registered -> Silver: revenue gap 50, reps unknown
    assert p3["gap"].tolist()[0] == 50 and np.isnan(p3["gap"].tolist()[1])
    assert p3["met"].tolist() == [False, False]


# KPI values that qualify for exactly one tier (revenue, certified_reps, csat_mean)
QUALIFY = {"Registered": (50, 0, np.nan), "Silver": (150, 1, np.nan), "Gold": (600, 3, np.nan),
           "Platinum": (2500, 3, 4.5)}


def history(sequence: dict[str, list], start: str = "2025Q4") -> pd.DataFrame:
    """partner -> qualifying tier per quarter (None = no row) as t4q KPI rows."""
    quarters = pd.period_range(start, periods=max(map(len, sequence.values())), freq="Q").astype(str)
    frames = [kpis([(p, *QUALIFY[t])], period=q) for p, seq in sequence.items()
              for q, t in zip(quarters, seq) if t is not None]
    return pd.concat(frames, ignore_index=True)


def test_tier_status_official_tier_and_recommendation_hand_computed():
    k = history({           # quarters 2025Q4, 2026Q1, 2026Q2 (the period)
        "A": ["Gold", "Gold", "Silver"],           # official Gold, misses it once -> hold
        "B": ["Gold", "Silver", "Silver"],         # official Gold, misses it twice -> relegate to Silver
        "B2": ["Gold", "Registered", "Silver"],    # ... relegate to the highest of the run: Silver
        "C": ["Platinum", "Platinum", "Gold"],     # official Silver: above it twice -> promote to Gold
        "D": ["Silver", "Gold", "Gold"],           # nothing recorded: computed (new Silver, promoted Gold)
        "E": ["Registered", "Registered", "Registered"],  # recorded "Diamond" is no level: computed
        "F": ["Gold", None, "Gold"],               # official Silver: the missing quarter breaks the run
        "G": ["Gold", "Gold", None],               # no row in the period: not listed
    })
    before = k.copy()
    official = pd.Series({"A": "Gold", "B": "Gold", "B2": "Gold", "C": "Silver", "D": None, "E": "Diamond",
                          "F": "Silver", "G": "Gold", "Z": "Gold"})
    out = tiers.tier_status(k, LEVELS, official, promote_after=2, relegate_after=2, period="2026Q2")
    pd.testing.assert_frame_equal(k, before)
    assert list(out.columns) == ["partner_id", "period", "official_tier", "tier_source", "tier", "qualified_tier",
                                 "recommendation", "recommended_tier", "quarters_qualified"]
    got = {r.partner_id: (None if pd.isna(r.official_tier) else str(r.official_tier), r.tier_source, str(r.tier),
                          str(r.qualified_tier), r.recommendation, str(r.recommended_tier), r.quarters_qualified)
           for r in out.itertuples()}
    assert got == {
        "A": ("Gold", "recorded", "Gold", "Silver", "hold", "Gold", 0),
        "B": ("Gold", "recorded", "Gold", "Silver", "relegate", "Silver", 2),
        "B2": ("Gold", "recorded", "Gold", "Silver", "relegate", "Silver", 2),
        "C": ("Silver", "recorded", "Silver", "Gold", "promote", "Gold", 3),
        "D": (None, "computed", "Gold", "Gold", "hold", "Gold", 2),
        "E": (None, "computed", "Registered", "Registered", "hold", "Registered", 3),
        "F": ("Silver", "recorded", "Silver", "Gold", "hold", "Silver", 1),
    }
    assert (out["period"] == "2026Q2").all()
    assert list(out["tier"].cat.categories) == NAMES and out["recommended_tier"].cat.ordered
    # one quarter earlier B has missed Gold only once: hold
    early = tiers.tier_status(k, LEVELS, official, 2, 2, period="2026Q1").set_index("partner_id")
    assert early.loc["B", "recommendation"] == "hold" and early.loc["B", "quarters_qualified"] == 0
    # promote_after = 1: C would be recommended Gold on its last quarter alone, F too
    fast = tiers.tier_status(k, LEVELS, official, 1, 2, period="2026Q2").set_index("partner_id")
    assert fast.loc["F", ["recommendation", "recommended_tier"]].astype(str).tolist() == ["promote", "Gold"]


def test_tier_status_without_a_tier_column_is_computed():
    k = history({"A": ["Silver", "Gold", "Gold"], "B": ["Gold", "Silver", "Silver"]})
    out = tiers.tier_status(k, LEVELS, None, 2, 2).set_index("partner_id")
    assert (out["tier_source"] == "computed").all() and out["official_tier"].isna().all()
    # A: new Silver, promoted to Gold in 2026Q2; B: new Gold, relegated to Silver in 2026Q2
    assert out["tier"].astype(str).tolist() == ["Gold", "Silver"]
    assert out["recommendation"].tolist() == ["hold", "hold"]
    # quarters meeting the tier's criteria: A Gold in 2026Q1..Q2 (2); B Silver or better in all 3
    assert out["quarters_qualified"].tolist() == [2, 3]


def test_recommendation_matrix_and_gap_from_the_official_tier():
    k = history({"A": ["Gold", "Gold", "Silver"], "B": ["Gold", "Silver", "Silver"],
                 "C": ["Platinum", "Platinum", "Gold"], "D": ["Silver", "Silver", "Silver"]})
    official = pd.Series({"A": "Gold", "B": "Gold", "C": "Silver", "D": "Silver"})
    status = tiers.tier_status(k, LEVELS, official, 2, 2)
    m = tiers.recommendation_matrix(status, LEVELS)
    assert list(m.index) == NAMES and list(m.columns) == NAMES
    assert m.index.name == "tier" and m.columns.name == "recommended_tier"
    # A Gold -> Gold (hold), B Gold -> Silver, C Silver -> Gold, D Silver -> Silver
    assert m.loc["Gold", "Gold"] == 1 and m.loc["Gold", "Silver"] == 1
    assert m.loc["Silver", "Gold"] == 1 and m.loc["Silver", "Silver"] == 1
    assert m.to_numpy().sum() == 4
    # A qualifies only for Silver but is officially Gold: its next tier is Platinum
    gap = tiers.gap_to_next_tier(k, status, LEVELS)
    a = gap[gap["partner_id"] == "A"]
    assert a["current_tier"].unique().tolist() == ["Gold"] and a["next_tier"].unique().tolist() == ["Platinum"]
    assert a["criterion"].tolist() == ["revenue", "certified_reps", "csat_mean"]
    assert a["gap"].tolist()[:2] == [1850, 2] and np.isnan(a["gap"].tolist()[2])  # 2000-150, 3-1
    c = gap[gap["partner_id"] == "C"]  # officially Silver (qualifies Gold): next tier Gold, all met
    assert c["next_tier"].unique().tolist() == ["Gold"] and c["met"].all()


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------

kpi_values = st.tuples(
    st.floats(0, 5000, allow_nan=False), st.integers(0, 10), st.floats(0, 5, allow_nan=False)
)


@given(st.lists(st.tuples(kpi_values, st.integers(0, 2), st.floats(0, 3000)), min_size=1, max_size=30))
@settings(max_examples=25, deadline=None)
def test_raising_a_kpi_never_lowers_the_qualifying_tier(cases):
    # each partner gets one of its KPIs raised by a non-negative amount
    base = kpis([(f"P{i:02d}", *values) for i, (values, _, _) in enumerate(cases)])
    raised = base.copy()
    for i, (_, which, increase) in enumerate(cases):
        col = ["revenue", "certified_reps", "csat_mean"][which]
        raised.loc[i, col] += increase
    before = base.copy()
    lo = tiers.qualifying_tier(base, LEVELS)["qualifying_tier"].cat.codes.to_numpy()
    hi = tiers.qualifying_tier(raised, LEVELS)["qualifying_tier"].cat.codes.to_numpy()
    assert (hi >= lo).all()
    pd.testing.assert_frame_equal(base, before)


@given(st.integers(1, 3), st.integers(0, 1), st.integers(2, 10), st.booleans())
@settings(max_examples=30, deadline=None)
def test_alternating_qualification_never_changes_tier(start_rank, direction, length, start_with_miss):
    # the partner's tier is `start_rank`; it alternates between qualifying for it and for a
    # neighbouring tier (above or below): with promote_after = relegate_after = 2 nothing moves
    other = start_rank + (1 if direction else -1)
    other = min(max(other, 0), 3)
    pattern = [other, start_rank] if start_with_miss else [start_rank, other]
    seq = [NAMES[pattern[i % 2]] for i in range(length)]
    q = qualifying({"A": seq})
    before = q.copy()
    out = tiers.assign_tiers(q, LEVELS, 2, 2, initial=pd.Series({"A": NAMES[start_rank]}))
    assert (out["tier"].astype(str) == NAMES[start_rank]).all()
    assert (out["change"] == "unchanged").all()
    pd.testing.assert_frame_equal(q, before)


@given(st.lists(st.lists(st.sampled_from(NAMES + [None]), min_size=4, max_size=4), min_size=1, max_size=12),
       st.integers(0, 3), st.integers(0, 3))
@settings(max_examples=25, deadline=None)
def test_migration_matrix_totals_equal_partner_counts(rows, i, j):
    seq = {f"P{n}": r for n, r in enumerate(rows)}
    q = qualifying(seq)
    if q.empty:
        return
    out = tiers.assign_tiers(q, LEVELS, 2, 2)
    quarters = pd.period_range("2025Q1", periods=4, freq="Q").astype(str)
    m = tiers.migration_matrix(out, quarters[i], quarters[j])
    in_both = set(out.loc[out["period"] == quarters[i], "partner_id"]) & set(
        out.loc[out["period"] == quarters[j], "partner_id"]
    )
    assert m.to_numpy().sum() == len(in_both)
    assert m.shape == (4, 4)
    # the tier never jumps without a run: with promote_after 2 the first quarter cannot promote
    assert not ((out["change"] == "promoted") & (out["previous_tier"].isna())).any()
