"""Tenure cohorts, time to first deal inside the data window, activation as a Kaplan–Meier curve
(channel_analysis.tenure): hand-computed cases, properties, the sample, and the pages."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_analysis import audit, build, exports, i18n, overview, plots, sample, scorecard, tenure
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.params import load_params
from channel_analysis.settings import TenureSettings

D = pd.Timestamp


# --------------------------------------------------------------------------------------------
# tenure cohorts
# --------------------------------------------------------------------------------------------

def test_band_labels_and_bands_by_hand():
    assert tenure.band_labels((1, 2, 4, 8)) == ["1", "2", "3–4", "5–8", "9+"]
    assert tenure.band_labels((3,)) == ["1–3", "4+"]
    q = [1, 2, 3, 4, 5, 8, 9, 40, np.nan]
    assert list(tenure.tenure_band(q, (1, 2, 4, 8))) == ["1", "2", "3–4", "3–4", "5–8", "5–8", "9+", "9+", None]


def test_tenure_quarter_by_hand():
    # 2026Q3: onboarded in 2026Q3 → 1, in 2026Q2 → 2, on 2025-07-01 (2025Q3) → 5, after the quarter → NaN
    q = tenure.tenure_quarter([D("2026-08-15"), D("2026-04-01"), D("2025-07-01"), D("2026-10-01"), pd.NaT],
                              "2026Q3")
    assert q[:3].tolist() == [1.0, 2.0, 5.0]
    assert np.isnan(q[3]) and np.isnan(q[4])
    # fiscal year starting in April: 2026Q3 is October–December 2025 (labels are fiscal quarters)
    assert tenure.tenure_quarter([D("2025-10-01"), D("2025-09-30")], "2026Q3", fy_start=4).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("bands", [[], [0, 2], [2, 2], [4, 2], [1.5], "1,2"])
def test_bad_tenure_bands_are_refused_with_the_key(bands):
    params = {"benchmarks": {"tenure_bands": bands, "min_peers": 5}, "kpis": {"min_sample": 5}}
    with pytest.raises(ParamsError, match="benchmarks.tenure_bands"):
        TenureSettings.from_params(params)


def _kpis(values: dict[str, float], quarters: dict[str, int], window: str = "quarter") -> pd.DataFrame:
    ids = list(values)
    return pd.DataFrame({"partner_id": ids, "period": "2026Q3", "window": window,
                         "revenue": [values[i] for i in ids], "tenure_quarter": [float(quarters[i]) for i in ids]})


def test_cohort_benchmarks_by_hand():
    # cohort "1" (quarter 1): A, B, C with revenue 10, 20, 40; cohort "2–3": D, E (too few for min_peers 3)
    k = _kpis({"A": 10, "B": 20, "C": 40, "D": 100, "E": 300}, {"A": 1, "B": 1, "C": 1, "D": 2, "E": 3})
    b = tenure.cohort_benchmarks(k, "2026Q3", ["revenue"], TenureSettings(bands=(1, 3), min_peers=3, min_sample=1))
    b = b.set_index("partner_id")
    assert b.loc["A", "tenure_band"] == "1" and b.loc["D", "tenure_band"] == "2–3"
    # mid-rank percentile: A has 0 below, ½ equal (itself) of 3 → 100 × 0.5 / 3
    assert b.loc["A", "percentile"] == pytest.approx(100 * 0.5 / 3)
    assert b.loc["C", "percentile"] == pytest.approx(100 * 2.5 / 3)
    assert b.loc["B", "cohort_median"] == 20 and b.loc["B", "cohort_p25"] == 15 and b.loc["B", "cohort_p75"] == 30
    assert b.loc["A", "cohort_n"] == 3
    # two partners: no statistic, and why
    assert np.isnan(b.loc["D", "cohort_median"]) and np.isnan(b.loc["E", "percentile"])
    assert b.loc["E", "reason"] == "fewer than 3 peers with a value"
    table = tenure.cohort_table(b.reset_index())
    assert "partner_id" not in table.columns and list(table.columns) == tenure.COHORT_COLUMNS
    assert table[["tenure_band", "cohort_n", "cohort_median"]].to_dict("records")[0] == {
        "tenure_band": "1", "cohort_n": 3, "cohort_median": 20.0}
    assert np.isnan(table.loc[table["tenure_band"] == "2–3", "cohort_median"]).all()


def test_cohort_benchmarks_of_a_lower_is_better_measure_keep_the_raw_percentile():
    # the page turns the percentile around (direction "down"); the statistic stays the mid-rank
    k = _kpis({"A": 10, "B": 20, "C": 40}, {"A": 1, "B": 1, "C": 1})
    b = tenure.cohort_benchmarks(k, "2026Q3", ["revenue"], TenureSettings(bands=(1,), min_peers=3, min_sample=1))
    assert b["percentile"].tolist() == pytest.approx([100 / 6, 50, 500 / 6])


# --------------------------------------------------------------------------------------------
# the data window, time to first deal, the activation curve
# --------------------------------------------------------------------------------------------

def _ds(sales_dates, won_dates=(), opp_start=None):
    sales = pd.DataFrame({"partner_id": [p for p, _ in sales_dates], "date": [D(d) for _, d in sales_dates]})
    opps = None
    if opp_start is not None:
        opps = pd.DataFrame({"partner_id": ["X"] + [p for p, _ in won_dates],
                             "created_date": [D(opp_start)] + [D(opp_start)] * len(won_dates),
                             "closed_date": [pd.NaT] + [D(d) for _, d in won_dates],
                             "outcome": ["open"] + ["won"] * len(won_dates)})
    return SimpleNamespace(sales=sales, opportunities=opps)


def test_activity_start_is_the_later_of_the_first_sale_and_the_first_deal():
    assert tenure.activity_start(_ds([("A", "2024-03-05"), ("B", "2024-01-10")])) == D("2024-01-10")
    assert tenure.activity_start(_ds([("A", "2024-01-10")], opp_start="2024-02-01")) == D("2024-02-01")
    assert tenure.activity_start(SimpleNamespace(sales=None, opportunities=None)) is None


def test_first_deal_is_the_earlier_of_first_sale_and_first_won_deal():
    ds = _ds([("A", "2024-05-01"), ("A", "2024-03-01"), ("B", "2024-06-01")],
             won_dates=[("A", "2024-04-01"), ("B", "2024-02-15")], opp_start="2024-01-01")
    first = tenure.first_deal_dates(ds)
    assert first.to_dict() == {"A": D("2024-03-01"), "B": D("2024-02-15")}


PARTNERS = pd.DataFrame({
    "partner_id": ["OLD", "P1", "P2", "P3", "P4", "P5"],
    "onboarded_date": [D("2023-06-01"), D("2024-01-01"), D("2024-01-01"), D("2024-01-01"), D("2024-01-01"),
                       D("2024-01-01")],
    "end_date": [pd.NaT, pd.NaT, pd.NaT, D("2024-01-21"), pd.NaT, pd.NaT],
})
FIRST = pd.Series({"OLD": D("2024-01-05"), "P1": D("2024-01-11"), "P2": D("2024-01-31"),
                   "P4": D("2024-01-31")})


def test_activation_durations_exclude_partners_onboarded_before_the_data():
    d = tenure.activation_durations(PARTNERS, FIRST, D("2024-01-01"), D("2024-03-01"))
    assert "OLD" not in set(d["partner_id"])  # its first deal may predate the data
    d = d.set_index("partner_id")
    # P1 first deal day 10, P2 and P4 day 30, P3 left on day 20 without one (censored there),
    # P5 none by the snapshot (60 days)
    assert d["days"].to_dict() == {"P1": 10.0, "P2": 30.0, "P3": 20.0, "P4": 30.0, "P5": 60.0}
    assert d["first_deal"].to_dict() == {"P1": True, "P2": True, "P3": False, "P4": True, "P5": False}
    assert (d["cohort"] == "2024").all()
    assert tenure.activation_durations(PARTNERS, FIRST, None, D("2024-03-01")).empty


def test_activation_curve_and_readouts_by_hand():
    d = tenure.activation_durations(PARTNERS, FIRST, D("2024-01-01"), D("2024-03-01"))
    curve = tenure.activation_curve(d, min_sample=10)  # the 2024 cohort (5) is too small for its own curve
    assert set(curve["group"]) == {"all"}
    # day 10: 5 at risk, 1 event → S = 4/5; day 30: 3 at risk (P3 censored at 20), 2 events → S = 4/5 · 1/3
    assert curve["days"].tolist() == [0, 10, 30]
    assert curve["at_risk"].tolist() == [5, 5, 3]
    assert curve["activated_share"].tolist() == pytest.approx([0, 1 / 5, 1 - 4 / 15])
    assert (curve["ci_low"] <= curve["activated_share"] + 1e-12).all()
    assert (curve["ci_high"] >= curve["activated_share"] - 1e-12).all()
    r = tenure.activation_readouts(d)
    assert r["activation_km_partners"] == 5
    # followed at most 60 days: 90, 180, 365 cannot be read off the curve
    assert np.isnan(r["activation_share_90d"]) and np.isnan(r["activation_share_365d"])
    # median: the first day with S ≤ 1/2 is day 30
    assert r["activation_median_days"] == 30
    assert tenure.read_share(curve, 20, followed=60) == pytest.approx(1 / 5)
    assert tenure.read_share(curve, 5, followed=60) == 0.0


def test_a_curve_that_reached_everyone_is_known_beyond_the_last_day():
    d = pd.DataFrame({"partner_id": ["A", "B"], "onboarded_date": D("2024-01-01"), "cohort": "2024",
                      "days": [3.0, 8.0], "first_deal": [True, True]})
    r = tenure.activation_readouts(d)
    assert r["activation_share_90d"] == 1.0 and r["activation_share_365d"] == 1.0


durations_strategy = st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=40)


def _frame(rows):
    return pd.DataFrame({"partner_id": [f"P{i}" for i in range(len(rows))], "onboarded_date": D("2024-01-01"),
                         "cohort": "2024", "days": [float(r[0]) for r in rows], "first_deal": [r[1] for r in rows]})


@given(durations_strategy)
def test_the_activation_curve_rises_within_0_and_1(rows):
    c = tenure.activation_curve(_frame(rows), min_sample=1)
    for _, g in c.groupby("group"):
        share = g.sort_values("days")["activated_share"].to_numpy()
        assert ((share >= -1e-12) & (share <= 1 + 1e-12)).all()
        assert (np.diff(share) >= -1e-12).all()


@given(durations_strategy, st.integers(0, 39), st.integers(0, 400))
def test_leaving_out_a_censored_partner_never_lowers_the_activated_share(rows, which, t):
    censored = [i for i, r in enumerate(rows) if not r[1]]
    if not censored:
        return
    drop = censored[which % len(censored)]
    full = _frame(rows)
    fewer = full.drop(index=drop)
    if fewer.empty:
        return

    def share(frame):
        curve = tenure.activation_curve(frame, min_sample=10**6)
        return tenure.read_share(curve, t, followed=np.inf)

    assert share(fewer) >= share(full) - 1e-12


# --------------------------------------------------------------------------------------------
# the sample, the exported tables and the pages
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    sample.write(sample.generate(partners=40, quarters=8, seed=5), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "data": {"source": str(data)}})
    ds = load_dataset(params, progress=False)
    stats = build.compute(ds, params)
    return stats, exports.network_tables(stats)


def test_the_sample_measures_time_to_first_deal_only_inside_the_data(run):
    stats, _ = run
    ds = stats.dataset
    start = tenure.activity_start(ds)
    assert start == max(ds.sales["date"].min(), ds.opportunities["created_date"].min()).normalize()
    k = stats.kpis[(stats.kpis["period"] == "2026Q3") & (stats.kpis["window"] == "quarter")]
    onboarded = k["partner_id"].map(ds.partners.set_index("partner_id")["onboarded_date"])
    before = (onboarded < start).to_numpy()
    assert before.any() and (~before).sum() >= 5  # both kinds of partner are in the sample
    # the issue: left-truncated partners showed more than 365 days; now they show nothing
    assert k.loc[before, "time_to_first_deal_days"].isna().all()
    inside = k.loc[~before, "time_to_first_deal_days"].dropna()
    span = (pd.Timestamp(ds.as_of) - start).days
    assert len(inside) and (inside <= span).all()
    assert stats.notes["onboarded_before_data"] == int((ds.partners["onboarded_date"] < start).sum())  # (NaT: neither)
    t = stats.time_to_first_deal.set_index("partner_id")
    assert (t["onboarded_in_data"] == (t["onboarded_date"] >= start)).all()


def test_the_sample_recovers_its_partners_without_a_deal_as_censored(run):
    # sample.py plants "newbie" partners: onboarded 5–45 days before as_of, no sale and no deal yet
    stats, tables = run
    ds = stats.dataset
    d = tenure.activation_durations(ds.partners, tenure.first_deal_dates(ds), tenure.activity_start(ds),
                                    pd.Timestamp("2026-09-30"))
    recent = d[pd.to_datetime(d["onboarded_date"]) >= pd.Timestamp(ds.as_of) - pd.Timedelta(days=45)]
    no_deal = ~recent["partner_id"].isin(tenure.first_deal_dates(ds).index)
    assert no_deal.any() and not recent.loc[no_deal, "first_deal"].any()
    net = tables["network"].set_index("period")
    assert net.loc["2026Q3", "activation_km_partners"] == len(d)
    curve = tables["activation_curve"]
    alls = curve[curve["group"] == "all"]
    assert alls["at_risk"].iloc[0] == len(d)
    assert net.loc["2026Q3", "activation_median_days"] == tenure.activation_readouts(d)["activation_median_days"]


def test_exported_tenure_benchmarks_hold_cohort_aggregates_only(run):
    stats, tables = run
    tb = tables["tenure_benchmarks"]
    assert list(tb.columns) == list(exports.EXPORTS["tenure_benchmarks"])
    assert "partner_id" not in tb.columns
    shown = tb[tb["cohort_median"].notna()]
    assert (shown["cohort_n"] >= stats.params["benchmarks"]["min_peers"]).all()
    assert not tb.duplicated(["period", "window", "tenure_band", "metric"]).any()


def test_the_scorecard_section_shows_the_exported_cohort_medians(run):
    stats, tables = run
    tb = tables["tenure_benchmarks"]
    tb = tb[(tb["window"] == "quarter") & tb["cohort_median"].notna()]
    shown = 0
    for b in build.partner_bundles(stats):
        page = scorecard.Scorecard(b)
        block = page.tenure_benchmark()
        band = b.tenure_benchmarks["tenure_band"].dropna()
        mine = tb[tb["tenure_band"] == (band.iloc[0] if len(band) else None)]
        if mine.empty:
            assert "ca-note-unavailable" in str(block)
            continue
        expected = [page.measure_value(m, v) for m, v in zip(mine["metric"], mine["cohort_median"])]
        assert block.shown[page.tr.gettext("Median at the same stage")].tolist() == expected
        # the partner's own values and its quarter of partnership are tagged: the audit can check them
        tags = audit.tagged_values(str(block))
        quarter = [t for t in tags if t["measure"] == "tenure_quarter"]
        assert quarter and float(quarter[0]["value"]) == page.kpi("tenure_quarter")
        assert "partner" not in quarter[0]  # a partner page never names ids
        shown += 1
    assert shown


def test_the_overview_shows_the_exported_activation_figures(run):
    stats, tables = run
    nb = exports.network_bundle(stats, tables)
    html = str(overview.Overview(nb, "en").activation_curve())
    row = tables["network"].set_index("period").loc["2026Q3"]
    tags = {t["measure"]: t for t in audit.tagged_values(html)}
    for m in ("activation_km_partners", "activation_share_90d", "activation_share_180d", "activation_share_365d",
              "activation_median_days"):
        value = row[m]
        assert (tags[m]["value"] == "") if pd.isna(value) else float(tags[m]["value"]) == pytest.approx(value)
    assert f"The {stats.notes['onboarded_before_data']} partners onboarded earlier are left out" in html
    assert i18n.format_date(stats.notes["activity_start"], "en") in html


def test_without_activity_tables_the_activation_block_says_not_available():
    nb = SimpleNamespace(tables={"network": pd.DataFrame({"period": ["2026Q3"]})}, period="2026Q3",
                         reporting_currency="EUR", notes={})
    assert "ca-note-unavailable" in str(overview.Overview(nb, "en").activation_curve())


def test_the_activation_plot_takes_tidy_data_and_returns_its_axes():
    d = tenure.activation_durations(PARTNERS, FIRST, D("2024-01-01"), D("2024-03-01"))
    curve = tenure.activation_curve(d, min_sample=1)  # "all" and the 2024 cohort
    ax = plots.activation_curves(curve, labels={"all": "every partner"}, marks=[90])
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] == [
        "every partner", "2024"]
    assert ax.get_ylim() == pytest.approx((0, 1.02))
    steps = ax.get_lines()[0].get_ydata()
    assert list(steps) == pytest.approx(curve.loc[curve["group"] == "all", "activated_share"].tolist())
