"""Tests of channel_analysis.salescycle against hand-computed Kaplan-Meier / Aalen-Johansen numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import salescycle as sc


def durations(days, closed, won=None, partner="P1"):
    won = won if won is not None else [False] * len(days)
    return pd.DataFrame({"opportunity_id": [f"O{i}" for i in range(len(days))], "partner_id": partner,
                         "days": np.asarray(days, dtype=float), "closed": closed, "won": won})


# six deals: events at 2, 4, 4, 8; censored (still open) at 3 and 6
HAND = durations([2, 3, 4, 4, 6, 8], [True, False, True, True, False, True])


def test_km_curve_by_hand():
    curve = sc.km_curve(HAND)
    # day 0: S = 1 (start row, 6 at risk)
    # day 2: 6 at risk, 1 closes      S = 5/6               = 0.833333
    # day 4: 4 at risk (one closed at 2, one censored at 3), 2 close: S = 5/6 * 2/4 = 5/12 = 0.416667
    # day 8: 1 at risk (censored at 6), 1 closes: S = 0
    assert curve["days"].tolist() == [0, 2, 4, 8]
    assert curve["survival"].tolist() == pytest.approx([1, 5 / 6, 5 / 12, 0])
    assert curve["at_risk"].tolist() == [6, 6, 4, 1]
    # Greenwood at day 2: se = S sqrt(d / (n (n - d))) = 5/6 * sqrt(1/30) = 0.152145
    s, se = 5 / 6, 5 / 6 * np.sqrt(1 / 30)
    # log(-log) interval: S ** exp(±1.959964 se / (S log S))
    sd = se / abs(s * np.log(s))
    row = curve.iloc[1]
    assert row["ci_low"] == pytest.approx(s ** np.exp(1.959964 * sd), rel=1e-5)
    assert row["ci_high"] == pytest.approx(s ** np.exp(-1.959964 * sd), rel=1e-5)
    assert (curve["ci_low"].fillna(0) <= curve["survival"] + 1e-12).all()


def test_km_median_by_hand():
    m = sc.km_median(HAND)
    # S first falls to <= 0.5 at day 4 (S = 5/12): median 4; 6 deals, 4 closed
    assert m.loc[0, "median_days"] == 4
    assert (m.loc[0, "n"], m.loc[0, "events"]) == (6, 4)
    assert m.loc[0, "ci_low"] <= 4 <= m.loc[0, "ci_high"]


def test_km_median_tie_uses_midpoint_and_strict_matches_statsmodels():
    d = durations([1, 2, 3, 4], [True] * 4)
    # S = 0.75, 0.5, 0.25, 0: S is exactly 0.5 on [2, 3) -> median (2 + 3) / 2 = 2.5 (= plain median)
    assert sc.km_median(d).loc[0, "median_days"] == 2.5
    # statsmodels' rule (first S < 0.5) gives 3
    assert sc.km_median(d, convention="strict").loc[0, "median_days"] == 3


def test_median_not_reached_is_nan():
    d = durations([5, 10, 20], [True, False, False])  # S(5) = 2/3 never <= 0.5
    m = sc.km_median(d)
    assert np.isnan(m.loc[0, "median_days"]) and m.loc[0, "events"] == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=40))
def test_censoring_free_km_median_is_plain_median(days):
    d = durations(days, [True] * len(days))
    assert sc.km_median(d, by=None).loc[0, "median_days"] == pytest.approx(float(np.median(days)))


def test_vectorized_km_median_equals_survfuncright():
    from statsmodels.duration.survfunc import SurvfuncRight

    rng = np.random.default_rng(7)
    n = 600
    d = pd.DataFrame({"partner_id": rng.choice([f"P{i:02d}" for i in range(25)], n),
                      "days": rng.integers(0, 200, n).astype(float), "closed": rng.random(n) < 0.7})
    strict = sc.km_median(d, convention="strict").set_index("group")
    default = sc.km_median(d).set_index("group")
    for pid, part in d.groupby("partner_id"):
        sf = SurvfuncRight(part["days"].to_numpy(), part["closed"].to_numpy().astype(float))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            low, high = sf.quantile_ci(0.5)
        row = strict.loc[pid]
        assert row["median_days"] == sf.quantile(0.5) or (np.isnan(row["median_days"]) and np.isnan(sf.quantile(0.5)))
        assert row["ci_low"] == low or (np.isnan(row["ci_low"]) and np.isnan(low))
        assert row["ci_high"] == high or (np.isnan(row["ci_high"]) and np.isnan(high))
        # the default (midpoint) convention differs only where S is exactly 0.5 on a stretch
        if not np.isclose(sf.surv_prob, 0.5).any():
            assert default.loc[pid, "median_days"] == row["median_days"] or np.isnan(row["median_days"])


def test_cycle_durations_censoring_and_as_of():
    opps = pd.DataFrame({
        "opportunity_id": ["A", "B", "C", "D"], "partner_id": "P1",
        "created_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-03-01", "2026-07-01"]),
        "closed_date": pd.to_datetime(["2026-01-31", "2026-07-15", None, None]),
        "outcome": ["won", "lost", "open", "open"], "stage": ["Won", "Lost", "Qualify", "Qualify"],
        "amount": 1.0})
    before = opps.copy()
    d = sc.cycle_durations(opps, pd.Timestamp("2026-06-30").date())
    pd.testing.assert_frame_equal(opps, before)
    # A: closed after 30 days (won); B: closed after as_of -> open, censored at 2026-06-30 = 180 days;
    # C: open, 2026-03-01..2026-06-30 = 121 days; D created after as_of -> excluded
    assert d["opportunity_id"].tolist() == ["A", "B", "C"]
    assert d["days"].tolist() == [30, 180, 121]
    assert d["closed"].tolist() == [True, False, False]
    assert d["won"].tolist() == [True, False, False]


# five deals: won at 2, lost at 3, open (censored) at 4, won at 5, lost at 7
CR = durations([2, 3, 4, 5, 7], [True, True, False, True, True], [True, False, False, True, False])


def test_cumulative_incidence_by_hand():
    res = sc.time_to_win(CR)
    c = res.curve
    # t=2: n=5, 1 win: CIF_win = 1 * 1/5 = 0.2; S = 4/5
    # t=3: n=4, 1 loss: CIF_loss = 0.8 * 1/4 = 0.2; S = 0.8 * 3/4 = 0.6
    # t=5: n=2 (one censored at 4), 1 win: CIF_win = 0.2 + 0.6 * 1/2 = 0.5; S = 0.3
    # t=7: n=1, 1 loss: CIF_loss = 0.2 + 0.3 = 0.5
    assert c["days"].tolist() == [2, 3, 5, 7]
    assert c["cif_win"].tolist() == pytest.approx([0.2, 0.2, 0.5, 0.5])
    assert c["cif_loss"].tolist() == pytest.approx([0, 0.2, 0.2, 0.5])
    m = res.medians.iloc[0]
    # P(eventually won) = 0.5; among winners CIF_win / 0.5 = 0.4 at day 2, 1.0 at day 5 -> median 5
    assert m["p_win"] == pytest.approx(0.5) and m["median_days_to_win"] == 5
    assert (m["wins"], m["losses"], m["n"]) == (2, 2, 5)
    # lost deals censored instead (wrong): 1 - KM = 1 - (4/5)(1/2) = 0.6 at day 5 > 0.5 (overstates)
    wrong = sc.km_curve(CR.assign(closed=CR["won"]))
    assert 1 - wrong["survival"].iloc[-1] == pytest.approx(0.6)
    assert "Aalen-Johansen" in res.summary()


def test_cumulative_incidence_matches_statsmodels():
    from statsmodels.duration.survfunc import CumIncidenceRight

    rng = np.random.default_rng(3)
    n = 80
    closed = rng.random(n) < 0.75
    won = closed & (rng.random(n) < 0.4)
    d = durations(rng.integers(1, 90, n), closed, won)
    status = np.where(won, 1, np.where(closed, 2, 0))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ci = CumIncidenceRight(d["days"].to_numpy(), status)
    curve = sc.time_to_win(d).curve
    ref = pd.Series(ci.cinc[0], index=ci.times).reindex(curve["days"].to_numpy())
    np.testing.assert_allclose(curve["cif_win"].to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_time_to_win_censoring_free_median_is_plain_median_of_win_times():
    days = [3, 8, 5, 12, 7, 20]
    won = [True, False, True, True, False, True]  # win times 3, 5, 12, 20 -> median 8.5
    res = sc.time_to_win(durations(days, [True] * 6, won))
    assert res.medians.loc[0, "median_days_to_win"] == 8.5


def test_compare_to_peers_uses_survdiff():
    from statsmodels.duration.survfunc import survdiff

    a = durations([5, 6, 7, 8, 30], [True] * 5, partner="A")
    b = durations([20, 25, 30, 35, 40, 45], [True, True, True, False, True, True], partner="B")
    c = durations([22, 28, 33], [True, True, True], partner="C")
    d = pd.concat([a, b, c], ignore_index=True)
    res = sc.compare_to_peers(d, "A", ["A", "B", "C"])
    peers = pd.concat([b, c])
    stat, p = survdiff(np.r_[a["days"], peers["days"]], np.r_[a["closed"], peers["closed"]].astype(float),
                       np.r_[["partner"] * 5, ["peers"] * len(peers)])
    assert res.statistic == pytest.approx(stat) and res.pvalue == pytest.approx(p)
    assert (res.n_partner, res.n_peers, res.events_partner, res.events_peers) == (5, 9, 5, 8)
    assert res.median_partner == 7  # S = 0.8, 0.6, 0.4 at 5, 6, 7
    assert "partner A" in res.summary()
    empty = sc.compare_to_peers(d, "A", [])
    assert np.isnan(empty.pvalue) and "no test" in empty.summary()


def test_time_to_first_deal_by_hand():
    partners = pd.DataFrame({
        "partner_id": ["A", "B", "C", "D"],
        "onboarded_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01", "2026-04-01"]),
        "end_date": pd.to_datetime([None, None, "2026-01-21", None])})
    opps = pd.DataFrame({
        "opportunity_id": ["1", "2", "3"], "partner_id": ["A", "A", "B"],
        "closed_date": pd.to_datetime(["2026-01-31", "2026-01-10", "2026-02-01"]),
        "outcome": ["won", "lost", "lost"]})
    d = sc.time_to_first_deal(partners, opps, pd.Timestamp("2026-03-02").date())
    # A: first WON deal 2026-01-31 -> 30 days, event; B: only a lost deal -> censored at as_of: 60 days;
    # C: churned 2026-01-21 without a deal -> censored at end_date: 20 days; D onboarded after as_of: out
    assert d["partner_id"].tolist() == ["A", "B", "C"]
    assert d["days"].tolist() == [30, 60, 20]
    assert d["first_deal"].tolist() == [True, False, False]
    # the same with first dates given directly
    d2 = sc.time_to_first_deal(partners, pd.Series({"A": pd.Timestamp("2026-01-31")}), pd.Timestamp("2026-03-02"))
    pd.testing.assert_frame_equal(d, d2)
    assert sc.km_median(d, by=None, event="first_deal").loc[0, "events"] == 1


def test_time_to_first_deal_when_no_partner_has_won_a_deal():
    # raised "TypeError: Cannot cast DatetimeArray to dtype float64" (every sales-only extract)
    partners = pd.DataFrame({"partner_id": ["A", "B"], "onboarded_date": pd.to_datetime(["2026-01-01", "2026-02-01"])})
    lost = pd.DataFrame({"opportunity_id": ["1"], "partner_id": ["A"], "outcome": ["lost"],
                         "closed_date": pd.to_datetime(["2026-01-10"])})
    for source in (lost, lost.iloc[:0], pd.Series(dtype="datetime64[ns]")):
        d = sc.time_to_first_deal(partners, source, pd.Timestamp("2026-03-02").date())
        assert d["days"].tolist() == [60, 29] and not d["first_deal"].any()


def test_partner_retention_by_hand():
    partners = pd.DataFrame({
        "partner_id": ["A", "B", "C", "D"],
        "onboarded_date": pd.to_datetime(["2025-01-15", "2025-02-01", "2025-03-31", "2025-07-01"]),
        "end_date": pd.to_datetime([None, "2025-06-01", "2026-01-01", None])})
    res = sc.partner_retention(partners, pd.Timestamp("2025-12-31").date())
    d = res.durations.set_index("partner_id")
    # B churned 2025-02-01 -> 2025-06-01 = 120 days; C's end date is after as_of: censored at
    # 2025-12-31 = 275 days; A: 350 days censored
    assert d.loc["B", "days"] == 120 and d.loc["B", "churned"]
    assert d.loc["C", "days"] == 275 and not d.loc["C", "churned"]
    assert d.loc["A", "days"] == 350
    c = res.cohorts.set_index(["cohort", "months"])
    # cohort 2025Q1 = A, B, C. At 3 months all still active (B ends 2025-06-01 > 2025-05-01): 3/3
    assert c.loc[("2025Q1", 3), "retained_share"] == 1
    # at 6 months: B ended 2025-06-01 <= 2025-08-01 -> 2/3
    assert c.loc[("2025Q1", 6), "retained"] == 2 and c.loc[("2025Q1", 6), "partners"] == 3
    # at 9 months only A (2025-10-15) and B (2025-11-01) are observable (C's is 2025-12-31 <= as_of too): 3
    assert c.loc[("2025Q1", 9), "partners"] == 3
    # at 12 months nobody in 2025Q1 has reached the anniversary by 2025-12-31 -> no row
    assert ("2025Q1", 12) not in c.index
    # cohort 2025Q3 (D, 2025-07-01): 0 and 3 months observable (6 months = 2026-01-01 > as_of)
    assert c.loc[("2025Q3", 3), "retained_share"] == 1 and ("2025Q3", 6) not in c.index
    assert "retention" in res.summary().lower()


def test_km_curve_by_group_and_inputs_not_mutated():
    d = pd.concat([HAND, HAND.assign(partner_id="P2")], ignore_index=True)
    before = d.copy()
    curve = sc.km_curve(d, by="partner_id")
    assert set(curve["group"]) == {"P1", "P2"}
    sc.km_median(d)
    sc.time_to_win(d, by="partner_id")
    pd.testing.assert_frame_equal(d, before)


def test_logrank_each_vs_rest_matches_statsmodels_survdiff():
    from statsmodels.duration.survfunc import survdiff

    rng = np.random.default_rng(3)
    n = 120
    durations = pd.DataFrame({
        "partner_id": rng.choice(["A", "B", "C", "D"], n),
        "peer": rng.choice(["g1", "g2"], n),
        "days": rng.integers(1, 60, n).astype(float),  # ties on purpose
        "closed": rng.random(n) < 0.7,
    })
    got = sc.logrank_each_vs_rest(durations, "peer").set_index(["group", "member"])
    for (group, member), row in got.iterrows():
        sub = durations[durations["peer"] == group]
        side = np.where(sub["partner_id"] == member, "member", "rest")
        stat, pvalue = survdiff(sub["days"].to_numpy(), sub["closed"].to_numpy().astype(float), side)
        assert row["statistic"] == pytest.approx(stat, rel=1e-9)
        assert row["pvalue"] == pytest.approx(pvalue, rel=1e-9)
        assert row["n_member"] == (side == "member").sum()
        assert row["events_rest"] == sub["closed"][side == "rest"].sum()


def test_logrank_each_vs_rest_by_hand():
    # member A: 2, 4 (both events); rest B: 3 (event), 5 (censored).
    # t=2: n=4, d=1, nA=2 -> E=0.5, V=(.5)(.5)(3)(1)/3=0.25
    # t=3: n=3, d=1, nA=1 -> E=1/3, V=(1/3)(2/3)(2)(1)/2=2/9
    # t=4: n=2, d=1, nA=1 -> E=0.5, V=(.5)(.5)(1)(1)/1=0.25
    # O=2, E=4/3, V=13/18 -> stat=(2/3)^2/(13/18)=8/13
    d = pd.DataFrame({"partner_id": ["A", "A", "B", "B"], "g": "x", "days": [2.0, 4, 3, 5],
                      "closed": [True, True, True, False]})
    got = sc.logrank_each_vs_rest(d, "g").set_index("member")
    assert got.loc["A", "statistic"] == pytest.approx(8 / 13)
    assert got.loc["B", "statistic"] == pytest.approx(8 / 13)  # two members: symmetric


# ---------------------------------------------------------------------------------------------
# km_curve: the vectorized curve equals one statsmodels SurvfuncRight fit per group
# ---------------------------------------------------------------------------------------------

CURVE_COLS = ["group", "days", "survival", "ci_low", "ci_high", "at_risk", "events"]


def km_curve_reference(durations, by=None, *, event="closed", alpha=0.05):
    """Reference only (not production): the former per-group loop over statsmodels SurvfuncRight."""
    from scipy.stats import norm
    from statsmodels.duration.survfunc import SurvfuncRight

    z = norm.ppf(1 - alpha / 2)
    codes, labels = sc._group_codes(durations, by)
    days = durations["days"].to_numpy(dtype="float64")
    status = durations[event].to_numpy().astype("float64")
    frames = []
    for k, label in enumerate(labels):
        rows = np.flatnonzero(codes == k)
        sf = SurvfuncRight(days[rows], status[rows])
        s, se = sf.surv_prob, sf.surv_prob_se
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = se / np.abs(s * np.log(s))
            theta = np.log(-np.log(s))
            low = np.exp(-np.exp(theta + z * sd))
            high = np.exp(-np.exp(theta - z * sd))
        part = pd.DataFrame({"group": label, "days": sf.surv_times.astype("float64"), "survival": s,
                             "ci_low": low, "ci_high": high, "at_risk": sf.n_risk.astype(np.int64),
                             "events": sf.n_events.astype(np.int64)})
        if len(part) == 0 or part["days"].iloc[0] > 0:
            start = pd.DataFrame({"group": [label], "days": [0.0], "survival": [1.0], "ci_low": [1.0],
                                  "ci_high": [1.0], "at_risk": [len(rows)], "events": [0]})
            part = pd.concat([start, part], ignore_index=True)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def assert_same_curve(got, ref):
    assert got.columns.tolist() == CURVE_COLS
    pd.testing.assert_index_equal(got.index, ref.index)
    pd.testing.assert_series_equal(got.dtypes, ref.dtypes)
    for col in ["group", "days", "at_risk", "events"]:
        assert got[col].tolist() == ref[col].tolist(), col
    for col in ["survival", "ci_low", "ci_high"]:
        a, b = got[col].to_numpy(), ref[col].to_numpy()
        assert (np.isnan(a) == np.isnan(b)).all(), col  # NaN exactly where statsmodels has NaN
        assert np.allclose(a, b, rtol=1e-12, atol=1e-14, equal_nan=True), col


def edge_case_durations():
    """~30 random groups (ties on purpose) plus hand-picked edge cases."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 40, 30)
    pid = np.repeat([f"R{i:02d}" for i in range(30)], sizes)
    n = len(pid)
    frames = [pd.DataFrame({"partner_id": pid, "days": rng.integers(0, 60, n).astype(float),
                            "closed": rng.random(n) < 0.6})]
    edge = {
        "E_all_events": ([1, 2, 2, 5], [True] * 4),              # S reaches 0 (CI NaN there)
        "E_all_censored": ([3, 4, 9], [False] * 3),              # only the day-0 row
        "E_one_event": ([7], [True]),                            # one row: S = 0 at 7
        "E_one_censored": ([7], [False]),                        # one row, no event
        "E_day0_event": ([0, 0, 3, 4], [True, False, True, False]),  # event on day 0: no start row
        "E_day0_all": ([0, 0], [True, True]),                    # S = 0 on day 0
        "E_tied_end": ([2, 5, 5, 5], [False, True, True, True]),  # n = d at the last time
        "E_last_censored": ([1, 2, 3], [True, True, False]),     # S stays > 0
        "E_censor_tie": ([4, 4, 4, 6], [True, False, False, True]),  # censored at an event time
    }
    for name, (days, closed) in edge.items():
        frames.append(pd.DataFrame({"partner_id": name, "days": np.asarray(days, dtype=float), "closed": closed}))
    d = pd.concat(frames, ignore_index=True)
    return d.sample(frac=1.0, random_state=5, ignore_index=True)  # rows not grouped on input


def test_vectorized_km_curve_equals_survfuncright():
    d = edge_case_durations()
    before = d.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = km_curve_reference(d, by="partner_id")
    got = sc.km_curve(d, by="partner_id")
    pd.testing.assert_frame_equal(d, before)
    assert_same_curve(got, ref)
    # the edge cases really occur: S = 0 with NaN CI, day-0 rows, a group with only its start row
    assert ((got["survival"] == 0) & got["ci_low"].isna()).any()
    c = got.set_index("group")
    assert c.loc[["E_all_censored"], "days"].tolist() == [0.0]
    assert c.loc[["E_all_censored"], "at_risk"].tolist() == [3]
    # E_day0_event: first event on day 0 -> no start row; n = 4, d = 1: S = 3/4
    assert c.loc[["E_day0_event"], "days"].tolist() == [0.0, 3.0]
    assert c.loc[["E_day0_event"], "survival"].tolist() == pytest.approx([3 / 4, 3 / 4 * 1 / 2])
    # E_tied_end: start row (4 at risk), then t=5: n = 3, d = 3 -> S = 0, se undefined
    e = c.loc[["E_tied_end"]]
    assert e["days"].tolist() == [0.0, 5.0] and e["survival"].tolist() == [1.0, 0.0]
    assert e["at_risk"].tolist() == [4, 3] and e["events"].tolist() == [0, 3]
    assert np.isnan(e["ci_low"].iloc[1]) and np.isnan(e["ci_high"].iloc[1])


def test_vectorized_km_curve_by_none_and_alpha_equal_survfuncright():
    d = edge_case_durations()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for alpha in (0.05, 0.2):
            got = sc.km_curve(d, alpha=alpha)
            assert_same_curve(got, km_curve_reference(d, alpha=alpha))
            assert set(got["group"]) == {sc.ALL}
    # a narrower level gives a narrower interval (inside the 95% one)
    wide, narrow = sc.km_curve(d), sc.km_curve(d, alpha=0.2)
    ok = wide["ci_low"].notna()
    assert (narrow["ci_low"][ok] >= wide["ci_low"][ok] - 1e-12).all()


@pytest.mark.parametrize("labels", [
    ["b", "a", "c"],                         # strings (str dtype)
    [30, 10, 20],                            # integers stay int64
    pd.Categorical(["y", "x", "z"]),         # categorical -> labels as strings, as before
])
def test_km_curve_group_labels_dtype_and_order_as_survfuncright(labels):
    rng = np.random.default_rng(2)
    n = 45
    lab = pd.Series(labels).iloc[rng.integers(0, 3, n)].reset_index(drop=True)
    d = pd.DataFrame({"seg": lab, "days": rng.integers(0, 10, n).astype(float), "closed": rng.random(n) < 0.8})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_curve(sc.km_curve(d, by="seg"), km_curve_reference(d, by="seg"))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12), st.booleans()), min_size=1, max_size=30))
def test_km_curve_property_equals_survfuncright(rows):
    g, days, closed = zip(*rows)
    d = pd.DataFrame({"partner_id": [f"P{x}" for x in g], "days": np.asarray(days, dtype=float),
                      "closed": list(closed)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = km_curve_reference(d, by="partner_id")
    assert_same_curve(sc.km_curve(d, by="partner_id"), ref)


def test_km_curve_empty_frames():
    empty = durations([], [])
    # by=None: the whole (empty) frame is one group with only its day-0 row and nobody at risk
    assert_same_curve(sc.km_curve(empty), km_curve_reference(empty))
    # by a column: no groups, no rows (the per-group loop raised here); columns still there
    got = sc.km_curve(empty, by="partner_id")
    assert got.columns.tolist() == CURVE_COLS and len(got) == 0
