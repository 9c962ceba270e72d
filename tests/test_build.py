"""build: statistics computed once for the network, cut into private per-partner bundles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from channel_analysis import build, bundle, exports, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.params import load_params


#: Partners of the generated network given a known life cycle by the fixture (as_of 2026-10-05,
#: period 2026Q3 = 2026-07-01..2026-09-30).
LIFE_CYCLE = {
    "churned_in_quarter": pd.Timestamp("2026-08-15"),    # end_date in the quarter: status churned
    "churned_after_quarter": pd.Timestamp("2026-10-02"),  # after the quarter, before as_of
    "ends_after_as_of": pd.Timestamp("2026-12-31"),       # still a partner on as_of
}
RAMP_UP_ONBOARDED = pd.Timestamp("2026-02-01")  # within the 4 ramp-up quarters 2025Q4..2026Q3


@pytest.fixture(scope="module")
def stats(built):
    return built[0]


@pytest.fixture(scope="module")
def roles(built):
    """role (a key of LIFE_CYCLE, "ramp_up", "no_tier") -> partner id"""
    return built[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "sample"
    sample.write(sample.generate(partners=40, quarters=6, seed=11), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 6,
                                "data": {"source": str(data)},
                                "output_dir": str(tmp_path_factory.mktemp("reports"))})
    ds = load_dataset(params, progress=False)
    # give known partners a known life cycle: three end dates, one recent onboarding, one
    # partner without a recorded tier (its tier is computed)
    parts = ds.partners.copy()
    steady = parts[parts["end_date"].isna() & (parts["onboarded_date"] < "2025-01-01")
                   & parts["tier"].notna()]["partner_id"].tolist()
    roles = dict(zip([*LIFE_CYCLE, "ramp_up", "no_tier"], steady[:5]))
    for role, end in LIFE_CYCLE.items():
        parts.loc[parts["partner_id"] == roles[role], "end_date"] = end
    parts.loc[parts["partner_id"] == roles["ramp_up"], "onboarded_date"] = RAMP_UP_ONBOARDED
    parts.loc[parts["partner_id"] == roles["no_tier"], "tier"] = None
    return build.compute(dataclasses.replace(ds, partners=parts), params), roles


def test_kpis_carry_pipeline_and_cycle_columns(stats):
    k = stats.kpis
    for col in ("pipeline_open_n", "pipeline_weighted", "pipeline_coverage", "stale_deals_n",
                "sales_cycle_median_days", "pipeline_velocity", "win_rate_shrunk"):
        assert col in k.columns
    # one row per partner x period x window, as before the merges
    assert not k.duplicated(["partner_id", "period", "window"]).any()
    # the pipeline snapshot is the same in every window of a period
    per_period = k.groupby(["partner_id", "period"])["pipeline_weighted"].nunique(dropna=False)
    assert (per_period == 1).all()


def test_coverage_is_weighted_pipeline_over_next_quarter_revenue_target(stats):
    k = stats.kpis
    targets = stats.dataset.targets
    row = k[(k["window"] == "quarter") & (k["period"] == "2026Q2") & (k["pipeline_weighted"] > 0)].iloc[0]
    target = targets[(targets["partner_id"] == row["partner_id"]) & (targets["period"] == "2026Q3")
                     & (targets["metric"] == "revenue")]["target"]
    expected = row["pipeline_weighted"] / target.iloc[0] if len(target) and target.iloc[0] > 0 else np.nan
    assert row["pipeline_coverage"] == pytest.approx(expected, nan_ok=True)


def test_velocity_follows_its_definition(stats):
    k = stats.kpis.dropna(subset=["pipeline_velocity"])
    assert len(k) > 0
    expected = (k["pipeline_open_n"] * k["win_rate"] * k["deal_size_mean"]
                / k["sales_cycle_median_days"] * 365.25 / 4)
    np.testing.assert_allclose(k["pipeline_velocity"], expected)


def test_shrunk_win_rate_lies_between_raw_and_network_rate(stats):
    k = stats.kpis[(stats.kpis["window"] == "t4q") & (stats.kpis["period"] == "2026Q3")]
    k = k[k["win_rate_n"] > 0]
    network = k["deals_won"].sum() / k["win_rate_n"].sum()
    low = np.minimum(k["win_rate"], network) - 1e-9
    high = np.maximum(k["win_rate"], network) + 1e-9
    assert ((k["win_rate_shrunk"] >= low) & (k["win_rate_shrunk"] <= high)).all()


def test_compute_does_not_mutate_the_dataset(tmp_path):
    data = tmp_path / "d"
    sample.write(sample.generate(partners=12, quarters=4, seed=2), data)
    params = load_params(None, {"as_of": "2026-10-05", "history_quarters": 4, "data": {"source": str(data)}})
    ds = load_dataset(params, progress=False)
    before = {name: frame.copy(deep=True) for name, frame in ds.tables.items()}
    build.compute(ds, params)
    for name, frame in ds.tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_every_reported_partner_gets_a_bundle_with_only_its_own_rows(stats):
    bundles = list(build.partner_bundles(stats))
    reported = set(build.reported_partners(stats)["partner_id"])
    assert {b.partner_id for b in bundles} == reported
    for b in bundles:
        for name in ("kpis", "targets", "open_deals", "tier_history", "benchmarks", "tenure_benchmarks"):
            frame = getattr(b, name)
            assert "partner_id" not in frame.columns, name  # implied by the bundle, never another's
        assert (b.kpis["period"].isin(stats.quarters)).all()
        own = stats.kpis[stats.kpis["partner_id"] == b.partner_id]
        assert len(b.kpis) == len(own)
        assert b.kpis["revenue"].sum() == pytest.approx(own["revenue"].sum())


def test_no_bundle_mentions_another_partner(stats, tmp_path):
    """Privacy at the source: a bundle file (uncompressed JSON and Arrow, so names are plain bytes)
    holds no other partner's id or name."""
    partners = stats.dataset.partners
    for b in build.partner_bundles(stats):
        path = bundle.save(b, tmp_path / f"{b.partner_id}.bundle")
        raw = path.read_bytes()
        text = bundle.from_bytes(raw)  # round-trips
        assert text.partner_id == b.partner_id
        for other in partners.itertuples():
            if other.partner_id == b.partner_id:
                continue
            assert other.partner_id.encode() not in raw, (b.partner_id, other.partner_id)
            assert other.name.encode("utf-8") not in raw, (b.partner_id, other.name)


def test_peer_aggregates_only_from_large_enough_groups(stats):
    k = stats.params["benchmarks"]["min_peers"]
    for b in build.partner_bundles(stats):
        shown = b.benchmarks.dropna(subset=["peer_median"])
        assert (shown["peer_n"] >= k).all()
        if "peers" in set(b.cycle_curve.get("group", [])):
            assert b.partner["peer_n"] >= k


def test_network_bundle_holds_exactly_the_overview_tables(stats):
    net = exports.network_bundle(stats)
    assert set(net.tables) == {"network", "pareto", "segment_cells", "tier_migration", "movements",
                               "pipeline_by_segment", "cycle_curves", "cohorts", "mdf_by_tier", "at_risk",
                               "key_figures", "partners", "skipped",
                               "account_coverage", "account_migration", "account_moves",
                               "treatment_counts", "treatment_partners", "programme_totals", "mdf_incrementality",
                               "activation_curve", "churn_calibration"}
    # one partner count per run: the overview header counts what partner_bundles reports
    from channel_analysis.overview import Overview
    reported, churned, outside = Overview(net).population()
    assert reported == len(build.reported_partners(stats)) == sum(1 for _ in build.partner_bundles(stats))
    assert reported + churned + outside == len(stats.dataset.partners)
    assert net.notes["gini"] == pytest.approx(stats.concentration.gini)
    # the bundle carries no contact data (recipients are exported, never shown on the overview)
    assert not any("email" in frame.columns for frame in net.tables.values())
    cells = net["segment_cells"]
    assert cells["partners"].sum() == len(stats.matrix)
    g = net["pipeline_by_segment"]
    assert (g["weighted_to_revenue"] == g["pipeline_weighted"] / g["revenue"]).all()


def test_every_export_is_written_in_both_formats(stats, tmp_path):
    written = exports.write_exports(exports.network_tables(stats), tmp_path / "kpis")
    assert all(path.exists() for path in written)
    names = {p.name for p in (tmp_path / "kpis").iterdir()}
    for table in ("kpis", "targets", "network", "forecast", "backtest", "segments", "tier_status",
                  "tier_migration", "at_risk", "partners", "recipients"):
        assert {f"{table}.parquet", f"{table}.csv"} <= names
    back = pd.read_parquet(tmp_path / "kpis" / "kpis.parquet")
    assert len(back) == len(stats.kpis) and back["partner_id"].map(type).eq(str).all()


# ------------------------------------------------------------------------------------------------
# life cycle: churned partners, ramp-up partners, official tiers
# ------------------------------------------------------------------------------------------------


def test_churned_partners_get_no_scorecard_and_no_action(stats, roles):
    k = stats.kpis
    quarter = k[(k["period"] == "2026Q3") & (k["window"] == "quarter")].set_index("partner_id")
    reported = set(build.reported_partners(stats)["partner_id"])
    churned = {roles["churned_in_quarter"], roles["churned_after_quarter"]}
    # every partner that existed in 2026Q3, minus the two whose end_date is on or before as_of
    # (the generated network's own churned partners, if any, are excluded the same way)
    ends = stats.dataset.partners.set_index("partner_id")["end_date"]
    own = set(ends[ends <= pd.Timestamp("2026-10-05")].index) - churned
    assert reported == set(quarter.index) - churned - own
    assert roles["ends_after_as_of"] in reported
    assert {b.partner_id for b in build.partner_bundles(stats)} == reported
    # the partner that ended in the quarter stays in the network tables, status churned, no action
    assert quarter.loc[roles["churned_in_quarter"], "status"] == "churned"
    action = stats.matrix.set_index("partner_id")["action"]
    assert pd.isna(action[roles["churned_in_quarter"]])
    # the one that ended after the quarter was still a partner on 2026-09-30
    assert quarter.loc[roles["churned_after_quarter"], "status"] != "churned"
    table = exports.network_tables(stats)["partners"].set_index("partner_id")
    assert table.loc[roles["churned_in_quarter"], "status"] == "churned"
    assert not table.loc[roles["churned_in_quarter"], "reported"]


def test_ramp_up_partners_get_the_ramp_up_action(stats, roles):
    k = stats.kpis
    quarter = k[(k["period"] == "2026Q3") & (k["window"] == "quarter")].set_index("partner_id")
    assert quarter.loc[roles["ramp_up"], "status"] == "onboarding"
    m = stats.matrix.set_index("partner_id")
    ramp = stats.params["segmentation"]["ramp_up_action"]
    assert ramp == "Ramp-up plan"
    assert m.loc[roles["ramp_up"], "action"] == ramp
    onboarding = m[m["status"] == "onboarding"]
    assert len(onboarding) >= 1 and (onboarding["action"] == ramp).all()
    # everyone else keeps the matrix cell's action
    others = m[~m["status"].isin(["onboarding", "churned"])]
    assert (others["action"] == others["matrix_action"]).all()


def test_scorecard_tier_is_the_official_tier(stats, roles):
    ts = stats.tier_status.set_index("partner_id")
    recorded = stats.dataset.partners.set_index("partner_id")["tier"]
    assert ts.loc[roles["no_tier"], "tier_source"] == "computed"
    rec = ts[ts["tier_source"] == "recorded"]
    assert len(rec) > 0 and (rec["tier"].astype(str) == recorded[rec.index]).all()
    for b in build.partner_bundles(stats):
        assert b.partner["tier"] == str(ts.loc[b.partner_id, "tier"])
        if len(b.tier_gap):  # the gap is measured from the same tier
            assert (b.tier_gap["current_tier"].astype(str) == b.partner["tier"]).all()
    net = exports.network_bundle(stats)
    assert net.tables["tier_migration"]["partners"].sum() == len(stats.tier_status)
    assert set(net.tables["movements"]["recommendation"]) <= {"promote", "relegate"}


# --- minimal extracts ----------------------------------------------------------------------------

def _minimal(tmp_path, tables: dict, **overrides):
    data = tmp_path / "data"
    sample.write(tables, data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 4,
                                "data": {"source": str(data)}, **overrides})
    return load_dataset(params, progress=False), params


@pytest.fixture(scope="module")
def small_sample():
    return sample.generate(partners=12, quarters=4, seed=5)


def test_sales_only_without_a_won_deal_computes(tmp_path, small_sample):
    # crashed with "TypeError: Cannot cast DatetimeArray to dtype float64" (time_to_first_deal)
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name"]],
                                     "sales": small_sample["sales"].drop(columns=["currency"])})
    stats = build.compute(ds, params)
    assert len(stats.time_to_first_deal) and not stats.time_to_first_deal["first_deal"].any()
    assert stats.kpis["revenue"].notna().any()


def test_pipeline_only_computes_with_revenue_not_available(tmp_path, small_sample):
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name"]],
                                     "opportunities": small_sample["opportunities"].drop(columns=["currency"])})
    stats = build.compute(ds, params)
    assert stats.kpis["revenue"].isna().all() and stats.network["revenue"].isna().all()
    assert stats.kpis["win_rate"].notna().any()
    assert stats.forecast.empty and "sales not provided" in stats.notes["backtest"]
    assert "Gini" not in stats.summary() and "nan" not in stats.summary().lower()
    assert "revenue" in set(exports.network_tables(stats)["skipped"]["item"])


def test_open_deals_without_amount_are_open_deals_with_no_value(tmp_path, small_sample):
    opps = small_sample["opportunities"].drop(columns=["currency"]).copy()
    opps["amount"] = opps["amount"].where(opps["outcome"] == "won")
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name"]],
                                     "opportunities": opps})
    stats = build.compute(ds, params)
    q = stats.kpis[(stats.kpis["period"] == "2026Q3") & (stats.kpis["window"] == "quarter")]
    assert q["pipeline_open_n"].sum() == len(stats.open_deals) > 0
    no_amount = int(stats.open_deals["amount"].isna().sum())
    assert 0 < no_amount < len(stats.open_deals)  # (one deal open at the snapshot was won after it)
    assert q["pipeline_open_amount"].sum() == pytest.approx(stats.open_deals["amount"].sum())
    assert q["deal_size_mean"].notna().any()
    reasons = dict(zip(stats.skipped["item"], stats.skipped["reason"]))
    assert reasons["opportunities.amount"].startswith(f"{no_amount} of {len(stats.open_deals)} open deals")


def test_a_period_without_any_data_is_a_clear_error(tmp_path, small_sample):
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name"]],
                                     "sales": small_sample["sales"].drop(columns=["currency"])},
                          period="2030Q1", as_of="2030-03-31")
    with pytest.raises(ParamsError, match=r"period 2030Q1 \(2030-01-01 to 2030-03-31\) has no data.*runs from \d{4}-\d\d-\d\d to 2026-10-05"):
        build.compute(ds, params)


def test_effective_params_skip_unavailable_criteria_and_weights_and_say_so(tmp_path, small_sample):
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name", "region"]],
                                     "sales": small_sample["sales"].drop(columns=["currency"])})
    effective, skipped = build.effective_params(params, ds)
    reasons = dict(skipped)
    assert reasons["tiers.Silver.certified_reps"] == "criterion skipped: trainings not provided"
    assert effective["tiers"]["levels"][1]["criteria"] == {"revenue": 100000}
    assert "certified_reps" not in effective["segmentation"]["weights"]
    assert reasons["segmentation.weights.certified_reps"].startswith("weight 0.1 dropped: trainings not provided")
    assert effective["benchmarks"]["peer_groups"] == [[]]  # partner_type absent: only the whole network
    assert "benchmarks.peer_groups[partner_type]" in reasons
    assert params["tiers"]["levels"][1]["criteria"] == {"revenue": 100000, "certified_reps": 1}  # not modified


def test_full_data_skips_nothing_it_has(stats):
    items = set(stats.skipped["item"])
    assert not items & {"revenue", "gross_margin", "win_rate", "mdf_return", "certified_reps", "csat_mean"}
    assert not any(i.startswith(("tiers.", "segmentation.", "benchmarks.")) for i in items)


def test_deals_without_an_amount_column_and_no_won_deal_compute(tmp_path, small_sample):
    o = small_sample["opportunities"]
    opps = o[o["outcome"] != "won"].drop(columns=["currency", "amount"])
    ds, params = _minimal(tmp_path, {"partners": small_sample["partners"][["partner_id", "name"]],
                                     "opportunities": opps})
    stats = build.compute(ds, params)
    reasons = dict(zip(stats.skipped["item"], stats.skipped["reason"]))
    assert reasons["pipeline_open"] == "opportunities.amount not provided"
    assert stats.kpis["pipeline_open"].isna().all() and stats.kpis["pipeline_open_n"].notna().any()


# ---- short extracts and an incomplete last quarter (issue 12) ------------------------------------

def _compute(tmp_path, *, quarters: int, data_as_of: str, run: dict):
    data = tmp_path / "d"
    sample.write(sample.generate(partners=24, quarters=quarters, seed=5, as_of=data_as_of), data)
    params = load_params(None, {"data": {"source": str(data)}, **run})
    return build.compute(load_dataset(params, progress=False), params)


def test_a_five_quarter_extract_gets_a_forecast_for_every_partner_with_enough_history(tmp_path):
    # history_quarters 8 on five quarters of data: the three oldest quarters are not measured (NaN)
    stats = _compute(tmp_path, quarters=5, data_as_of="2026-10-05",
                     run={"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 8})
    k = stats.kpis[stats.kpis["window"] == "quarter"]
    assert k.groupby("period")["revenue"].apply(lambda r: r.isna().all()).sum() >= 3
    fc = stats.forecast
    enough = fc["n_history"] >= stats.params["forecast"]["min_quarters"]
    assert enough.sum() >= 20
    assert np.isfinite(fc.loc[enough, ["forecast", "lower", "upper"]].to_numpy()).all()
    assert (fc.loc[~enough, "method"] == "not_enough_history").all()
    assert fc["n_history"].max() <= 5  # unmeasured quarters are not history
    per = stats.backtest.per_quarter
    ok = per["actual"] > 0
    assert (per.loc[ok, "wape"] >= per.loc[ok, "network_ape"] - 1e-12).all()
    # every bundle with a forecast row has a finite one (never "forecast about —")
    for b in build.partner_bundles(stats):
        f = b.forecast[b.forecast["kind"] == "forecast"]
        assert f["forecast"].notna().all()
        assert len(f) == 1 or b.facts["forecast_method"] == "not_enough_history"


def test_an_incomplete_last_quarter_reports_no_growth_no_new_at_risk_and_no_forecast(tmp_path):
    # the extract ends on 31 Aug 2026, two months into 2026Q3; the run reports 2026Q3 as of 30 Sep
    stats = _compute(tmp_path, quarters=6, data_as_of="2026-08-31",
                     run={"as_of": "2026-09-30", "period": "2026Q3", "history_quarters": 6})
    end = stats.notes["data_end"]
    assert end is not None and "2026-08-01" <= end <= "2026-08-31"
    k = stats.kpis
    here = k[k["period"] == "2026Q3"]
    assert here[["revenue_growth_prev", "revenue_growth_yoy"]].isna().all().all()
    assert k.loc[k["period"] == "2026Q2", "revenue_growth_prev"].notna().any()  # complete quarters keep theirs
    prev = k[k["period"] == "2026Q2"].set_index(["partner_id", "window"])["status"]
    risky = here[here["status"] == "at_risk"].set_index(["partner_id", "window"]).index
    assert (prev.reindex(risky) == "at_risk").all()  # at risk now only if at risk in the last complete quarter
    assert len(stats.forecast) == 0
    assert "2026Q3" not in set(stats.backtest.per_quarter["period"])  # not tested on the partial quarter
    assert f"the data end on {end}" in stats.summary()
    b = next(build.partner_bundles(stats))
    assert b.facts["data_end"] == end and (b.forecast["kind"] == "actual").all()
    nb = exports.network_bundle(stats)
    assert nb.notes["data_end"] == end


def test_a_complete_quarter_is_not_flagged(stats):
    assert stats.notes["data_end"] is None
    assert len(stats.forecast) > 0
