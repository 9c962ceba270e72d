"""MDF incrementality (channel_analysis.incrementality): difference-in-differences of partners starting
MDF against matched partners without, hand-computed on tiny frames, its invariances (hypothesis),
the sample's planted effect recovered, and the overview's values equal to the exported table."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings as hsettings, strategies as st

from channel_analysis import audit, build, exports, incrementality, quarter, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.markup import tagged
from channel_analysis.overview import Overview
from channel_analysis.params import load_params
from channel_analysis.settings import IncrementalitySettings

QUARTERS = ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]


def _settings(**kw) -> IncrementalitySettings:
    base = dict(pre_quarters=2, post_quarters=2, min_treated=1, min_controls=1, size_bands=1, match_on=(),
                confidence=0.95)
    return IncrementalitySettings(**{**base, **kw})


def _revenue(rows: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"partner_id": p, "period": q, "revenue": v}
                         for p, values in rows.items() for q, v in zip(QUARTERS, values)])


def _mdf(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["partner_id", "period", "activity_type", "claimed"])


def _attrs(ids, **cols) -> pd.DataFrame:
    return pd.DataFrame({"partner_id": list(ids), **cols})


# --------------------------------------------------------------------------------------------
# hand-computed
# --------------------------------------------------------------------------------------------

def test_did_of_one_stratum_is_the_difference_of_mean_log_changes():
    sample_rows = pd.DataFrame({
        "partner_id": ["A", "B", "C", "D"], "treated": [True, True, False, False],
        "pre": [100.0, 200.0, 100.0, 50.0], "post": [150.0, 260.0, 110.0, 60.0], "stratum": "s"})
    sample_rows["y"] = np.log(sample_rows["post"] / sample_rows["pre"])
    est = incrementality.did(sample_rows, 0.95)
    # (log 1.5 + log 1.3) / 2 − (log 1.1 + log 1.2) / 2
    assert est.beta == pytest.approx(0.5 * math.log(1.5 * 1.3) - 0.5 * math.log(1.1 * 1.2))
    assert est.effect == pytest.approx(math.sqrt(1.5 * 1.3 / (1.1 * 1.2)) - 1)
    assert (est.n_treated, est.n_controls, est.n_strata) == (2, 2, 1)
    assert est.ci_low < est.beta < est.ci_high and 0 < est.p_value < 1


def test_strata_fixed_effects_compare_within_each_stratum_only():
    # stratum a: treated +50 %, control +10 %; stratum b: treated −20 %, control −40 %; a control-only
    # stratum c (left out). With one treated and one control per stratum, β = mean within-stratum gap.
    rows = pd.DataFrame({"partner_id": ["T1", "C1", "T2", "C2", "C3"], "treated": [True, False, True, False, False],
                         "y": np.log([1.5, 1.1, 0.8, 0.6, 3.0]), "stratum": ["a", "a", "b", "b", "c"]})
    est = incrementality.did(rows, 0.95)
    gap_a, gap_b = math.log(1.5 / 1.1), math.log(0.8 / 0.6)
    assert est.beta == pytest.approx((gap_a + gap_b) / 2)
    assert (est.n_treated, est.n_controls, est.n_strata) == (2, 2, 2)  # C3's stratum has no treated partner


def test_events_windows_and_controls_on_a_tiny_history():
    # T: first MDF in 2025Q3 (none in the two quarters before): event 2025Q3, pre Q1–Q2, post Q3–Q4.
    # X: MDF in 2025Q1 and 2025Q3: its 2025Q3 quarter is no onset (2025Q1 is in the pre window), and
    #    2025Q1 has no pre window in the history: X is never treated, and a control only where its
    #    windows are free of MDF (event quarter 2026Q1: pre 2025Q3.. no; 2026Q2 has no post window).
    # C: never any MDF: a control of every event quarter.
    revenue = _revenue({"T": [100, 100, 150, 150, 150, 150], "C": [200, 200, 220, 220, 220, 220],
                        "X": [50, 50, 50, 50, 50, 50]})
    claims = incrementality.quarterly_claims(_mdf([("T", "2025Q3", "event", 500.0), ("X", "2025Q1", "event", 10.0),
                                                   ("X", "2025Q3", "trade show", 10.0),
                                                   ("C", "2025Q4", "event", 0.0)]))  # claimed 0: no MDF
    s = incrementality.stacked_sample(revenue, claims, _attrs("TCX"), QUARTERS, _settings())
    assert sorted(s["event_quarter"].unique()) == ["2025Q3", "2025Q4", "2026Q1"]
    t = s[s["treated"]]
    assert t[["event_quarter", "partner_id", "types", "pre", "post"]].values.tolist() == [
        ["2025Q3", "T", "event", 100.0, 150.0]]
    assert set(s.loc[~s["treated"] & (s["event_quarter"] == "2025Q3"), "partner_id"]) == {"C"}
    assert "X" not in set(s["partner_id"])  # MDF in 2025Q1 or 2025Q3 touches every window
    result = incrementality.estimate(revenue, _mdf([("T", "2025Q3", "event", 500.0)]), _attrs("TCX"), QUARTERS,
                                     _settings())
    net = result.network()
    # controls C and X in 2025Q3 (X has no MDF in this call): log 1.5 − mean(log 1.1, log 1.0)
    assert net["status"] == "ok" and (net["n_treated"], net["n_controls"]) == (1, 2)
    assert net["log_effect"] == pytest.approx(math.log(1.5) - (math.log(1.1) + math.log(1.0)) / 2)
    assert net["mdf_incremental_effect"] == pytest.approx(1.5 / math.sqrt(1.1) - 1)


def test_a_comparison_group_below_the_minimum_gives_a_reason_not_an_estimate():
    revenue = _revenue({"T1": [100] * 2 + [130] * 4, "T2": [80] * 2 + [90] * 4, "C": [50] * 6})
    mdf = _mdf([("T1", "2025Q3", "event", 1.0), ("T2", "2025Q3", "event", 1.0)])
    r = incrementality.estimate(revenue, mdf, _attrs(["T1", "T2", "C"]), QUARTERS,
                                _settings(min_controls=2))
    net = r.network()
    assert net["status"] == incrementality.TOO_FEW_CONTROLS and pd.isna(net["mdf_incremental_effect"])
    assert (net["n_treated"], net["n_controls"]) == (2, 1)
    assert "comparison group too small" in r.summary()
    r = incrementality.estimate(revenue, mdf, _attrs(["T1", "T2", "C"]), QUARTERS, _settings(min_treated=3))
    assert r.network()["status"] == incrementality.TOO_FEW_TREATED


def test_a_history_shorter_than_the_windows_gives_no_estimate_and_no_error():
    # 3 quarters cannot hold 2 before + 2 from the event: no event at all (the sample is empty)
    revenue = _revenue({"T": [100, 100, 150], "C": [50, 50, 50]})
    r = incrementality.estimate(revenue, _mdf([("T", "2025Q3", "event", 1.0)]), _attrs("TC"), QUARTERS[:3],
                                _settings())
    assert r.sample.empty and list(r.table["scope"]) == [incrementality.NETWORK]
    net = r.network()
    assert net["status"] == incrementality.TOO_FEW_TREATED and (net["n_treated"], net["n_controls"]) == (0, 0)


def test_matching_keeps_treated_and_controls_of_the_same_tier_apart_from_others():
    # the Gold treated partner has only a Silver control: no comparison (no stratum with both)
    revenue = _revenue({"T": [100] * 2 + [150] * 4, "C": [100] * 6})
    mdf = _mdf([("T", "2025Q3", "event", 1.0)])
    r = incrementality.estimate(revenue, mdf, _attrs("TC", tier=["Gold", "Silver"]), QUARTERS,
                                _settings(match_on=("tier",)))
    assert r.network()["n_treated"] == 0 and r.network()["status"] == incrementality.TOO_FEW_TREATED


def test_the_settings_refuse_impossible_designs():
    with pytest.raises(ParamsError, match=r"mdf\.incrementality\.pre_quarters must be ≥ 1"):
        _settings(pre_quarters=0)
    with pytest.raises(ParamsError, match="confidence must lie between 0 and 1"):
        _settings(confidence=1.5)
    with pytest.raises(ParamsError, match="match_on takes each of"):
        _settings(match_on=("colour",))


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

_changes = st.lists(st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), min_size=2, max_size=6)


@hsettings(max_examples=40, deadline=None)
@given(treated=_changes, controls=_changes, n_strata=st.integers(1, 2))
def test_swapping_treated_and_controls_flips_the_sign(treated, controls, n_strata):
    rows = pd.DataFrame({"partner_id": [f"T{i}" for i in range(len(treated))] + [f"C{i}" for i in range(len(controls))],
                         "treated": [True] * len(treated) + [False] * len(controls), "y": treated + controls})
    rows["stratum"] = [str(i % n_strata) for i in range(len(treated))] + [str(i % n_strata) for i in range(len(controls))]
    a = incrementality.did(rows, 0.9)
    b = incrementality.did(rows.assign(treated=~rows["treated"]), 0.9)
    assert b.beta == pytest.approx(-a.beta, abs=1e-9)
    if np.isfinite(a.std_error) and np.isfinite(b.std_error):
        assert b.std_error == pytest.approx(a.std_error, rel=1e-6, abs=1e-12)


@hsettings(max_examples=30, deadline=None)
@given(ys=st.lists(st.floats(min_value=-2.0, max_value=2.0, allow_nan=False), min_size=8, max_size=16),
       seed=st.integers(0, 10_000), confidence=st.sampled_from([0.8, 0.9, 0.95]))
def test_absorbed_strata_give_what_statsmodels_gives_with_one_dummy_per_stratum(ys, seed, confidence):
    rng = np.random.default_rng(seed)
    n = len(ys)
    rows = pd.DataFrame({"partner_id": [f"P{i}" for i in rng.integers(0, max(3, n // 2), n)],
                         "treated": [i % 2 == 0 for i in range(n)], "y": ys,
                         "stratum": [f"s{i % 3}" for i in range(n // 2) for _ in (0, 1)] + ["s0"] * (n % 2)})
    est = incrementality.did(rows, confidence)
    x = pd.concat([rows["treated"].astype(float), pd.get_dummies(rows["stratum"], dtype=float)], axis=1)
    groups = pd.factorize(rows["partner_id"])[0]
    if not np.isfinite(est.std_error):
        return  # no spread: compared through the swap property above
    ref = sm.OLS(rows["y"], x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    assert est.beta == pytest.approx(ref.params["treated"], abs=1e-9)
    assert est.std_error == pytest.approx(ref.bse["treated"], rel=1e-6)
    low, high = ref.conf_int(alpha=1 - confidence).loc["treated"]
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high), rel=1e-6, abs=1e-9)
    assert est.p_value == pytest.approx(ref.pvalues["treated"], rel=1e-6, abs=1e-12)


_levels = st.lists(st.floats(min_value=10.0, max_value=1e6, allow_nan=False), min_size=6, max_size=6)


@hsettings(max_examples=25, deadline=None)
@given(t1=_levels, t2=_levels, c1=_levels, c2=_levels, c3=_levels, factor=st.floats(0.1, 10.0))
def test_scaling_every_partners_post_window_leaves_the_effect_unchanged(t1, t2, c1, c2, c3, factor):
    """A network-wide shock to every partner's revenue after the event (× factor) is what the
    comparison removes: the estimate and its interval do not move. (On the log scale this is the
    level DiD's "add a constant to every partner's post revenue".)"""
    revenue = _revenue({"T1": t1, "T2": t2, "C1": c1, "C2": c2, "C3": c3})
    mdf = _mdf([("T1", "2025Q3", "event", 1.0), ("T2", "2025Q3", "event", 1.0)])
    attrs = _attrs(["T1", "T2", "C1", "C2", "C3"])
    design = _settings(size_bands=1)
    post = revenue["period"].isin(["2025Q3", "2025Q4"])
    shocked = revenue.assign(revenue=np.where(post, revenue["revenue"] * factor, revenue["revenue"]))
    a = incrementality.estimate(revenue, mdf, attrs, QUARTERS[:4], design).network()
    b = incrementality.estimate(shocked, mdf, attrs, QUARTERS[:4], design).network()
    assert a["status"] == b["status"]
    assert b["log_effect"] == pytest.approx(a["log_effect"], abs=1e-9, nan_ok=True)
    assert b["std_error"] == pytest.approx(a["std_error"], rel=1e-6, abs=1e-9, nan_ok=True)


# --------------------------------------------------------------------------------------------
# the sample's planted experiment, through the whole statistics step
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "sample"
    sample.write(sample.generate(), data)  # the shipped sample (make sample): 200 partners, 8 quarters, seed 7
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "data": {"source": str(data)}})
    stats = build.compute(load_dataset(params, progress=False), params)
    return stats, exports.network_tables(stats), params


def test_the_planted_lift_is_recovered_within_its_interval_and_the_null_type_covers_zero(run):
    stats, tables, _params = run
    t = tables["mdf_incrementality"].set_index("activity_type")
    for kind, lift in sample.MDF_PLANTED_LIFT.items():
        row = t.loc[kind]
        assert row["status"] == "ok", row
        assert row["mdf_incremental_effect_low"] <= lift <= row["mdf_incremental_effect_high"], (kind, row)
    assert t.loc["joint roadshow", "mdf_incremental_effect_low"] > 0  # the lift is detected, not only covered
    assert t.loc["joint roadshow", "n_treated"] >= 20 and t.loc["webinar series", "n_treated"] >= 20
    # the network estimate is on the reported quarter's row of the network table, and only there
    net = tables["network"].set_index("period")
    row = tables["mdf_incrementality"].query("scope == 'network'").iloc[0]
    assert net.loc["2026Q3", "mdf_incremental_effect"] == row["mdf_incremental_effect"]
    assert net.drop(index="2026Q3")["mdf_incremental_effect"].isna().all()
    assert "joint roadshow" in stats.mdf_incrementality.summary()


def test_the_planted_types_are_only_on_study_partners_with_one_activity_each(run):
    stats, _tables, _params = run
    mdf = stats.dataset.mdf
    planted = mdf[mdf["activity_type"].isin(list(sample.MDF_PLANTED_LIFT))]
    assert planted["partner_id"].is_unique  # one event each, and no random MDF row beside it
    assert not mdf[mdf["partner_id"].isin(planted["partner_id"])]["activity_type"].isin(
        sample.MDF_ACTIVITIES).any()


def test_without_mdf_the_measure_is_skipped_and_the_section_not_available(tmp_path):
    tables = sample.generate(partners=12, quarters=4, seed=3, lines=3000)
    del tables["mdf"]
    data = tmp_path / "data"
    sample.write(tables, data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 4,
                                "data": {"source": str(data)}})
    stats = build.compute(load_dataset(params, progress=False), params)
    assert stats.mdf_incrementality is None
    assert "mdf_incremental_effect" in set(stats.skipped["item"])
    exported = exports.network_tables(stats)
    assert exported["mdf_incrementality"].empty and list(exported["mdf_incrementality"]) == incrementality.COLUMNS
    html = Overview(exports.network_bundle(stats, exported)).mdf_incrementality().markup
    assert "ca-note-unavailable" in html


# --------------------------------------------------------------------------------------------
# the page: every value shown is the exported cell (the page audit's comparison)
# --------------------------------------------------------------------------------------------

def test_the_overview_section_shows_the_exported_table(run, tmp_path):
    stats, tables, _params = run
    bundle = exports.network_bundle(stats, tables)
    block = Overview(bundle, locale="en").mdf_incrementality().markup
    assert "Across the network, revenue of partners starting MDF changed by" in block
    run_dir = tmp_path / "2026Q3"
    exports.write_exports({k: tables[k] for k in ("kpis", "network", "mdf_incrementality")}, run_dir / "kpis")
    (run_dir / "network_overview.html").write_text(f"<html><body>{block}</body></html>", encoding="utf-8")
    (run_dir / "manifest.json").write_text(json.dumps({
        "period": "2026Q3", "reports": {}, "network_overview": {"status": "ok", "output": "network_overview.html"}}))
    result = audit.check_run(run_dir)
    assert result.ok, result.summary()
    shown = audit.tagged_values(block)
    rows = [v for v in shown if v.get("table") == "mdf_incrementality"]
    with_estimate = tables["mdf_incrementality"]["mdf_incremental_effect"].notna().sum()
    assert len(rows) == 3 * with_estimate  # effect, low and high of every row with an estimate
    assert result.checked["network_overview.html"] == len(shown)


def test_the_audit_catches_a_value_that_differs_from_the_table(run, tmp_path):
    _stats, tables, _params = run
    row = tables["mdf_incrementality"].iloc[0]
    wrong = float(row["mdf_incremental_effect"]) + 0.01
    span = tagged("x", "mdf_incremental_effect", wrong, table="mdf_incrementality",
                  row={"scope": "network", "activity_type": ""}).markup
    run_dir = tmp_path / "2026Q3"
    exports.write_exports({k: tables[k] for k in ("kpis", "network", "mdf_incrementality")}, run_dir / "kpis")
    (run_dir / "network_overview.html").write_text(span, encoding="utf-8")
    (run_dir / "manifest.json").write_text(json.dumps({
        "period": "2026Q3", "reports": {}, "network_overview": {"status": "ok", "output": "network_overview.html"}}))
    problems = audit.check_run(run_dir).problems
    assert problems["problem"].tolist() == ["differs from the table"]


def test_the_rendered_overview_shows_the_exported_estimates(run, tmp_path):
    """A real quarterly run (the overview notebook executed and converted, one scorecard): every
    value of the section is the exported cell (audit.check_run), and the section is on the page."""
    stats, tables, params = run
    one = str(build.reported_partners(stats)["partner_id"].iloc[0])
    params = {**params, "output_dir": str(tmp_path / "out"),
              "render": {**params["render"], "partners": [one], "pdf": False, "workers": 1}}
    summary = quarter.run(params, progress=False)
    assert summary.ok, summary.format()
    run_dir = tmp_path / "out" / "2026Q3"
    result = audit.check_run(run_dir)
    assert result.ok, result.summary()
    page = (run_dir / "network_overview.html").read_text(encoding="utf-8")
    assert "Did MDF move sales?" in page
    shown = [v for v in audit.tagged_values(page) if v["measure"].startswith("mdf_incremental_effect")]
    with_estimate = int(tables["mdf_incrementality"]["mdf_incremental_effect"].notna().sum())
    # the sentence (network: effect, low, high) and three cells per row with an estimate
    assert len(shown) == 3 + 3 * with_estimate
    network = tables["network"].set_index("period").loc["2026Q3"]
    sentence = [v for v in shown if "table" not in v]
    assert [float(v["value"]) for v in sentence] == [network["mdf_incremental_effect"],
                                                     network["mdf_incremental_effect_low"],
                                                     network["mdf_incremental_effect_high"]]

