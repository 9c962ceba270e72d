"""The partner programme (issue 15 items 2 and 3): ratings, treatments, what a partner earned.

Hand-computed cases on tiny frames, property tests, the planted effects of the sample recovered, and
a rendered run whose programme sections equal the exported tables.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from channel_analysis import audit, build, programme, quarter, sample, segmentation
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.params import load_defaults, load_params
from channel_analysis.settings import ProgrammeSettings

LEVELS = ["Registered", "Silver", "Gold", "Platinum"]


def _ratings(rows):
    return pd.DataFrame(rows, columns=["partner_id", "period", "criterion", "score", "rater"])


# --------------------------------------------------------------------------------------------
# ratings
# --------------------------------------------------------------------------------------------


def test_a_rating_is_the_mean_over_raters_of_the_latest_quarter_up_to_the_reported_one():
    r = _ratings([
        ("P1", "2026Q1", "brand_image", 1, "a"), ("P1", "2026Q1", "brand_image", 1, "b"),  # superseded
        ("P1", "2026Q2", "brand_image", 3, "a"), ("P1", "2026Q2", "brand_image", 4, "b"),  # latest ≤ Q3
        ("P1", "2026Q4", "brand_image", 5, "a"),  # after the reported quarter: ignored
        ("P1", "2026Q3", "willingness", 2, "a"),
        ("P2", "2026Q3", "brand_image", 5, "c"),
    ])
    before = r.copy()
    out = programme.partner_ratings(r, "2026Q3")
    pd.testing.assert_frame_equal(r, before)  # the input is not modified
    got = {(row.partner_id, row.criterion): (row.period, row.score, row.raters) for row in out.itertuples()}
    assert got == {("P1", "brand_image"): ("2026Q2", 3.5, 2), ("P1", "willingness"): ("2026Q3", 2.0, 1),
                   ("P2", "brand_image"): ("2026Q3", 5.0, 1)}
    assert programme.partner_ratings(None, "2026Q3").empty


def test_ratings_enter_the_weighted_score_with_the_same_percentile_ranks():
    kpis = pd.DataFrame({"partner_id": ["A", "B", "C"], "period": "2026Q3", "window": "t4q",
                         "revenue": [100.0, 200.0, 300.0]})
    ratings = programme.partner_ratings(_ratings([
        ("A", "2026Q3", "brand_image", 5, "x"), ("B", "2026Q3", "brand_image", 1, "x")]), "2026Q3")
    scored = programme.with_ratings(kpis, ratings, ["brand_image", "willingness"], "2026Q3")
    assert "rating_brand_image" not in kpis  # a copy
    assert scored["rating_willingness"].isna().all()
    s = segmentation.weighted_score(scored, {"revenue": 1.0, "rating_brand_image": 1.0}, "renormalize",
                                    period="2026Q3").set_index("partner_id")
    # revenue percentiles (mid-rank): A 1/6, B 3/6, C 5/6; brand image among the two rated: B 1/4, A 3/4
    assert s.loc["A", "score"] == pytest.approx(100 * (1 / 6 + 3 / 4) / 2)
    assert s.loc["B", "score"] == pytest.approx(100 * (3 / 6 + 1 / 4) / 2)
    assert s.loc["C", "score"] == pytest.approx(100 * 5 / 6)  # unrated: the other weights (renormalize)
    assert s.loc["C", "criteria_missing"] == "rating_brand_image"
    z = segmentation.weighted_score(scored, {"revenue": 1.0, "rating_brand_image": 1.0}, "zero",
                                    period="2026Q3").set_index("partner_id")
    assert z.loc["C", "score"] == pytest.approx(100 * (5 / 6) / 2)  # missing scores 0 (segmentation.missing)


@given(st.lists(st.tuples(st.sampled_from(["P1", "P2"]), st.sampled_from(["2026Q1", "2026Q2", "2026Q3", "2026Q4"]),
                          st.integers(1, 5), st.sampled_from(["a", "b", "c"])), min_size=1, max_size=30),
       st.randoms())
@hsettings(max_examples=60, deadline=None)
def test_property_rating_is_the_latest_rounds_mean_whatever_the_row_order(rows, rnd):
    frame = _ratings([(p, q, "brand_image", s, r) for p, q, s, r in rows]).drop_duplicates(
        ["partner_id", "period", "rater"])
    out = programme.partner_ratings(frame, "2026Q3").set_index("partner_id")
    shuffled = frame.sample(frac=1, random_state=rnd.randint(0, 2**31))
    pd.testing.assert_frame_equal(out, programme.partner_ratings(shuffled, "2026Q3").set_index("partner_id"))
    for pid, g in frame[frame["period"] <= "2026Q3"].groupby("partner_id"):
        latest = g[g["period"] == g["period"].max()]
        assert out.loc[pid, "period"] == latest["period"].iloc[0]
        assert out.loc[pid, "score"] == pytest.approx(latest["score"].mean())
        assert latest["score"].min() <= out.loc[pid, "score"] <= latest["score"].max()
    assert set(out.index) == set(frame.loc[frame["period"] <= "2026Q3", "partner_id"])


# --------------------------------------------------------------------------------------------
# treatments
# --------------------------------------------------------------------------------------------


def test_each_segment_maps_to_its_treatment_and_the_counts_list_every_treatment():
    prog = ProgrammeSettings.from_params(load_defaults())
    seg = pd.DataFrame({"partner_id": ["A", "B", "C", "D"], "abc_class": ["A", "C", None, "C"],
                        "action": ["Invest", "Reduce", None, "Monitor"]})
    t = programme.treatments(seg, prog).set_index("partner_id")
    assert t["treatment"].dropna().to_dict() == {"A": "vip", "B": "maintain", "D": "maintain"}
    assert pd.isna(t.loc["C", "treatment"])  # no segment: no treatment
    assert t.loc["A", "treatment_name"] == "VIP"
    counts = programme.treatment_counts(t.reset_index(), prog)
    assert counts["treatment"].iloc[:3].tolist() == ["vip", "develop", "maintain"]
    assert pd.isna(counts["treatment"].iloc[3])  # the partners without a treatment, last
    assert counts["partners"].tolist() == [1, 0, 2, 1]
    by_action = ProgrammeSettings.from_params({"programme": {**load_defaults()["programme"],
                                                             "treatment_by": "action",
                                                             "treatment_map": {"Invest": "vip"}}})
    assert programme.treatments(seg, by_action)["treatment"].notna().tolist() == [True, False, False, False]


def test_programme_settings_are_checked_once_with_the_key_named():
    base = load_defaults()["programme"]
    with pytest.raises(ParamsError, match="treatment_by"):
        ProgrammeSettings.from_params({"programme": {**base, "treatment_by": "tier"}})
    with pytest.raises(ParamsError, match="not defined under programme.treatments"):
        ProgrammeSettings.from_params({"programme": {**base, "treatment_map": {"A": "gold_service"}}})
    with pytest.raises(ParamsError, match="rating_scale"):
        ProgrammeSettings.from_params({"programme": {**base, "rating_scale": [5, 1]}})


# --------------------------------------------------------------------------------------------
# programme value
# --------------------------------------------------------------------------------------------

REBATES = pd.DataFrame({"tier": ["Silver", "Silver", "Gold", "Gold", "Platinum"],
                        "rate": [0.01, 0.02, 0.02, 0.03, 0.04], "threshold": [0.0, 100.0, 0.0, 250.0, np.nan]})
BENEFITS = pd.DataFrame({"tier": ["Silver", "Gold", "Gold"], "benefit": ["tools", "tools", "hotline"],
                         "value": [5.0, 5.0, 20.0]})


def test_what_a_partner_earned_and_what_the_next_tier_adds_by_hand():
    partners = pd.DataFrame({"partner_id": ["S", "G", "P", "R", "X"],
                             "tier": ["Silver", "Gold", "Platinum", "Registered", None],
                             "revenue": [150.0, 200.0, 1000.0, 50.0, 10.0],
                             "mdf_allocated": [10.0, np.nan, 0.0, 0.0, 1.0]})
    v = programme.programme_value(partners, LEVELS, "2026Q3", rebates=REBATES, benefits=BENEFITS).set_index("partner_id")
    # Silver at 150 reaches the 100 threshold: 2 %; Gold at 200 stays below 250: 2 %
    assert v.loc["S", "rebate_rate"] == 0.02 and v.loc["S", "rebate_earned"] == pytest.approx(3.0)
    assert v.loc["S", "benefits_value"] == 5.0
    assert v.loc["S", "programme_value"] == pytest.approx(3.0 + 10.0 + 5.0)
    # at Gold the same 150: rate 2 % (3.0) and benefits 25: +20 more
    assert v.loc["S", "next_tier"] == "Gold"
    assert v.loc["S", "next_tier_extra_value"] == pytest.approx(20.0)
    assert v.loc["S", "next_tier_value"] == pytest.approx(3.0 + 10.0 + 25.0)
    # Gold: MDF unknown → the total covers rebate and benefits only; Platinum at 200 → 4 % = 8, no benefits
    assert v.loc["G", "programme_value"] == pytest.approx(4.0 + 25.0)
    assert v.loc["G", "next_tier_extra_value"] == pytest.approx(8.0 - 4.0 + 0.0 - 25.0)
    # the top tier has no next tier; Registered has no rebate row and no benefit: 0, known
    assert pd.isna(v.loc["P", "next_tier"]) and math.isnan(v.loc["P", "next_tier_extra_value"])
    assert v.loc["P", "rebate_earned"] == pytest.approx(40.0)  # an empty threshold is 0
    assert v.loc["R", "rebate_earned"] == 0.0 and v.loc["R", "benefits_value"] == 0.0
    assert v.loc["R", "next_tier_extra_value"] == pytest.approx(0.5 + 5.0)
    # no tier: nothing known but the MDF
    assert math.isnan(v.loc["X", "rebate_earned"]) and v.loc["X", "programme_value"] == 1.0


def test_without_rebates_or_benefits_their_parts_are_not_available_never_zero():
    partners = pd.DataFrame({"partner_id": ["S"], "tier": ["Silver"], "revenue": [150.0], "mdf_allocated": [10.0]})
    v = programme.programme_value(partners, LEVELS, "2026Q3", rebates=None, benefits=None).iloc[0]
    assert math.isnan(v["rebate_earned"]) and math.isnan(v["benefits_value"])
    assert math.isnan(v["next_tier_extra_value"])  # neither schedule: nothing to compare
    assert v["programme_value"] == 10.0  # the MDF allocated is known
    none = programme.programme_value(partners.assign(mdf_allocated=np.nan), LEVELS, "2026Q3", rebates=None,
                                     benefits=None).iloc[0]
    assert math.isnan(none["programme_value"])


def _brute_rate(tier, revenue, rebates):
    if not isinstance(tier, str) or revenue != revenue:
        return math.nan
    rows = [(0.0 if th != th else th, r) for t, r, th in zip(rebates["tier"], rebates["rate"], rebates["threshold"])
            if t == tier and (0.0 if th != th else th) <= revenue]
    return max(rows)[1] if rows else 0.0


@given(st.lists(st.tuples(st.sampled_from(LEVELS + [None]), st.one_of(st.none(), st.floats(-100, 1e6)),
                          st.one_of(st.none(), st.floats(0, 1e4))), min_size=1, max_size=25),
       st.lists(st.tuples(st.sampled_from(LEVELS), st.floats(0, 0.2), st.sampled_from([0.0, 50.0, 1e3, 1e5])),
                min_size=1, max_size=8, unique_by=lambda r: (r[0], r[2])))
@hsettings(max_examples=40, deadline=None)
def test_property_rebates_follow_the_schedule_and_the_total_adds_up(partners, schedule):
    p = pd.DataFrame({"partner_id": [f"P{i}" for i in range(len(partners))], "tier": [x[0] for x in partners],
                      "revenue": [np.nan if x[1] is None else x[1] for x in partners],
                      "mdf_allocated": [np.nan if x[2] is None else x[2] for x in partners]})
    reb = pd.DataFrame(schedule, columns=["tier", "rate", "threshold"])
    v = programme.programme_value(p, LEVELS, "2026Q3", rebates=reb, benefits=BENEFITS)
    expected = [_brute_rate(t, r, reb) for t, r in zip(p["tier"], p["revenue"])]
    np.testing.assert_allclose(v["rebate_rate"].to_numpy(float), expected, equal_nan=True)
    assert (v["rebate_earned"].dropna() >= 0).all()
    parts = v[["rebate_earned", "mdf_allocated", "benefits_value"]]
    np.testing.assert_allclose(v["programme_value"], parts.sum(axis=1, min_count=1), equal_nan=True)
    has_next = v["next_tier"].notna() & v["programme_value"].notna()
    np.testing.assert_allclose(v.loc[has_next, "next_tier_extra_value"],
                               v.loc[has_next, "next_tier_value"] - v.loc[has_next, "programme_value"],
                               rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------------------------
# the sample's planted effects, the run, the pages
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_stats(tmp_path_factory):
    data = tmp_path_factory.mktemp("programme-data")
    tables = sample.generate(partners=24, quarters=6, seed=5)
    sample.write(tables, data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 6,
                                "data": {"source": str(data)},
                                "segmentation": {"weights": {"revenue": 0.5, "rating_brand_image": 0.5}}})
    return tables, build.compute(load_dataset(params, progress=False), params)


def test_the_sample_tables_before_the_programme_are_unchanged_by_it(monkeypatch):
    with_programme = sample.generate(partners=12, quarters=4, seed=9)
    assert not with_programme["partner_ratings"].empty and len(with_programme["rebates"]) == 7
    # the programme draws from its own stream: without it, every other table is the same
    monkeypatch.setattr(sample, "_programme", lambda seed, p, win: {
        name: with_programme[name].iloc[:0] for name in ("partner_ratings", "rebates", "benefits")})
    without = sample.generate(partners=12, quarters=4, seed=9)
    for name, frame in without.items():
        if name not in ("partner_ratings", "rebates", "benefits"):
            pd.testing.assert_frame_equal(frame, with_programme[name])


def test_the_sample_recovers_the_planted_ratings_rebates_and_benefits(sample_stats):
    tables, stats = sample_stats
    r = stats.ratings
    assert set(r["criterion"]) == set(sample.RATED_CRITERIA)  # geography_fit: rated for nobody
    # the raters' −1/0/+1 around the true score average out exactly; the older round of 1s never counts
    assert set(r["score"]) <= {2.0, 3.0, 4.0} and (r["raters"] == len(sample.RATERS)).all()
    assert set(r["period"]) <= {"2026Q3", "2026Q2"} and (r["period"] == "2026Q2").any()
    rated = set(r["partner_id"])
    partners = tables["partners"].set_index("partner_id")
    assert 0 < len(rated) < len(partners)  # some partners are unrated
    brand = r[r["criterion"] == "brand_image"].set_index("partner_id")["score"]
    size_order = tables["sales"].groupby("partner_id")["revenue"].sum().reindex(brand.index)
    assert brand.corr(size_order, method="spearman") > 0  # brand image planted to rise with size
    # the score used the ratings
    assert "pct_rating_brand_image" in stats.scores
    # rebates and benefits: the schedule planted in sample.REBATES / sample.BENEFITS
    v = stats.programme_value.dropna(subset=["tier"])
    for row in v.itertuples():
        assert row.benefits_value == pytest.approx(sum(val for _b, val in sample.BENEFITS.get(row.tier, [])))
    q = stats.kpis[(stats.kpis["period"] == "2026Q3") & (stats.kpis["window"] == "quarter")].set_index("partner_id")
    for row in v.itertuples():
        revenue = q.loc[row.partner_id, "revenue"]
        rate = max((th, rt) for th, rt in sample.REBATES[row.tier] if th <= revenue)[1]
        assert row.rebate_rate == rate and row.rebate_earned == pytest.approx(rate * revenue)
    assert (v["benefits_value"] > 0).any() and (v["rebate_earned"] > 0).any()


def test_without_partner_ratings_a_rating_weight_is_skipped_with_its_reason(sample_stats, tmp_path):
    tables, _ = sample_stats
    sample.write({k: v for k, v in tables.items() if k not in ("partner_ratings", "rebates", "benefits")},
                 tmp_path / "d")
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 6,
                                "data": {"source": str(tmp_path / "d")},
                                "segmentation": {"weights": {"revenue": 0.5, "rating_brand_image": 0.5}}})
    ds = load_dataset(params, progress=False)
    effective, skipped = build.effective_params(params, ds)
    assert effective["segmentation"]["weights"] == {"revenue": 0.5}
    assert ("segmentation.weights.rating_brand_image", "weight 0.5 dropped: partner_ratings not provided") in skipped
    assert {"rebate_earned", "benefits_value", "next_tier_extra_value"} <= {k for k, _ in skipped}
    with pytest.raises(ParamsError, match="not a rating criterion"):
        build.effective_params({**params, "segmentation": {**params["segmentation"],
                                                           "weights": {"rating_charm": 1.0}}}, ds)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("programme-run")
    sample.write(sample.generate(partners=8, quarters=6, seed=5), tmp / "data")
    params = load_params(Path(__file__).resolve().parents[1] / "params" / "sample.yaml",
                         {"data": {"source": str(tmp / "data")}, "output_dir": str(tmp / "out"),
                          "history_quarters": 6, "render": {"pdf": False, "workers": 1}})
    quarter.run(params, progress=False)
    return Path(params["output_dir"]) / params["period"]


def test_every_scorecard_states_its_programme_and_its_values_are_the_exported_table(rendered):
    manifest = json.loads((rendered / "manifest.json").read_text(encoding="utf-8"))
    value = pd.read_parquet(rendered / "kpis" / "programme_value.parquet").set_index("partner_id")
    treated = pd.read_parquet(rendered / "kpis" / "treatments.parquet").set_index("partner_id")
    pages = {pid: (rendered / e["output"]).read_text(encoding="utf-8")
             for pid, e in manifest["reports"].items() if e["status"] == "ok"}
    assert pages
    for pid, page in pages.items():
        shown = re.search(r'data-fact="treatment" data-value="([^"]*)"', page)
        assert shown and shown.group(1) == treated.loc[pid, "treatment"], pid
        found = {v["measure"]: float(v["value"]) for v in audit.tagged_values(page)
                 if v["measure"] in ("programme_value", "rebate_earned", "benefits_value")}
        assert found["programme_value"] == pytest.approx(value.loc[pid, "programme_value"], rel=1e-12)
        assert found["rebate_earned"] == pytest.approx(value.loc[pid, "rebate_earned"], rel=1e-12)
    overview = (rendered / manifest["network_overview"]["output"]).read_text(encoding="utf-8")
    assert "Programme treatments" in overview
    totals = [v for v in audit.tagged_values(overview) if v["measure"] == "programme_value" and not v.get("partner")]
    assert float(totals[0]["value"]) == pytest.approx(value["programme_value"].sum())
    result = audit.check_run(rendered)
    assert result.ok, result.summary()
    assert sum(result.checked.values()) > 0
