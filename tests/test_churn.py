"""Partner churn risk (channel_analysis.churn): panel, Cox fit, risk, drivers, backtest, calibration,
the planted sample signal, the exported tables, the overview section and privacy."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.duration.hazard_regression import PHReg

from channel_analysis import audit, build, churn, exports, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.overview import Overview
from channel_analysis.params import load_params
from channel_analysis.settings import ChurnSettings

PERIOD = "2026Q3"


def _settings(covariates=("csat_mean_t4q",), **kw) -> ChurnSettings:
    return ChurnSettings(**{"covariates": covariates, "backtest_quarters": 2, "bins": 2, "min_events": 1,
                            "drivers": 2, **kw})


# --------------------------------------------------------------------------------------------
# the panel, by hand
# --------------------------------------------------------------------------------------------

def _kpi(rows):
    """KPI rows [partner_id, period, window, revenue, csat_mean]."""
    return pd.DataFrame(rows, columns=["partner_id", "period", "window", "revenue", "csat_mean"])


def test_panel_rows_entry_exit_event_and_lagged_covariates_by_hand():
    partners = pd.DataFrame({
        "partner_id": ["A", "B", "C", "D"],
        "onboarded_date": pd.to_datetime(["2025-01-10", "2025-01-10", "2026-02-01", None]),
        "end_date": pd.to_datetime([None, "2026-02-15", None, None]),
    })
    kpi = _kpi([("A", "2025Q4", "quarter", 10.0, 4.0), ("A", "2026Q1", "quarter", 20.0, 3.0),
                ("B", "2025Q4", "quarter", 5.0, 2.0), ("B", "2026Q1", "quarter", 0.0, 1.0)])
    p = churn.panel(kpi, partners, ["2025Q4", "2026Q1", "2026Q2"], "2026-05-20", ("csat_mean_quarter",))
    # origin = 2025-10-01. 2026Q1 starts on day 92, ends 2026-03-31 = day 181; 2026Q2 starts on day 182,
    # cut at as_of 2026-05-20 = day 231. B churns 2026-02-15 = day 137; C onboards inside 2026Q1: at risk
    # from 2026Q2 only; D has no onboarding date: never at risk.
    expected = pd.DataFrame({
        "partner_id": ["A", "B", "A", "C"], "period": ["2026Q1", "2026Q1", "2026Q2", "2026Q2"],
        "entry": [92.0, 92.0, 182.0, 182.0], "exit": [182.0, 138.0, 232.0, 232.0],
        "event": [0, 1, 0, 0], "csat_mean_quarter": [4.0, 2.0, 3.0, np.nan]})
    got = p.sort_values(["period", "partner_id"], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_current_partners_exclude_those_ended_by_as_of():
    partners = pd.DataFrame({"partner_id": ["A", "B", "C"],
                             "end_date": pd.to_datetime([None, "2026-10-01", "2027-03-01"])})
    kpi = _kpi([(p, PERIOD, "quarter", 1.0, 3.0) for p in "ABC"])
    now = churn.current(kpi, partners, PERIOD, "2026-10-05", ("csat_mean_quarter",))
    assert now["partner_id"].tolist() == ["A", "C"]  # B ended before as_of; C only later


# --------------------------------------------------------------------------------------------
# the fit against a direct statsmodels fit, the risk by hand
# --------------------------------------------------------------------------------------------

def _random_panel(seed: int, n: int = 60, quarters: int = 4, beta: float = 1.0) -> pd.DataFrame:
    """A panel with one decimal covariate (csat_mean_t4q) raising the hazard by ``beta`` per unit."""
    rng = np.random.default_rng(seed)
    rows = []
    x = rng.normal(3.0, 1.0, n)
    alive = np.ones(n, bool)
    for q in range(quarters):
        start = 91.0 * q
        for i in np.flatnonzero(alive):
            hazard = 0.002 * math.exp(beta * (x[i] - 3.0))
            t = rng.exponential(1 / hazard)
            event = t < 91.0
            rows.append((f"P{i:03d}", f"2026Q{q + 1}" if q < 4 else f"2027Q{q - 3}", start,
                         start + (math.floor(t) + 1.0 if event else 91.0), int(event), x[i]))
            alive[i] = not event
    return pd.DataFrame(rows, columns=["partner_id", "period", "entry", "exit", "event", "csat_mean_t4q"])


def test_fit_equals_a_direct_phreg_fit_and_the_risk_is_computed_from_breslow():
    data = _random_panel(3, beta=1.0)
    model = churn.fit(data, ("csat_mean_t4q",), min_events=1)
    assert model.fitted and model.events == int(data["event"].sum()) and model.quarters == 4
    x = data["csat_mean_t4q"].to_numpy()
    z = ((x - x.mean()) / x.std())[:, None]
    direct = PHReg(data["exit"].to_numpy(), z, status=data["event"].to_numpy(), entry=data["entry"].to_numpy(),
                   ties="efron").fit()
    row = model.coefficients.iloc[0]
    assert row["coef"] == pytest.approx(direct.params[0])
    assert row["hazard_ratio"] == pytest.approx(math.exp(direct.params[0]))
    assert row["p_value"] == pytest.approx(direct.pvalues[0])
    assert (row["mean"], row["std"]) == (pytest.approx(x.mean()), pytest.approx(x.std()))
    # Breslow jumps: statsmodels' baseline cumulative hazard is Σ of the jumps before each event time
    times, jumps = churn.breslow(data["exit"].to_numpy(), data["event"].to_numpy(), data["entry"].to_numpy(),
                                 np.exp(z[:, 0] * direct.params[0]))
    sm_times, sm_cumhaz, _ = direct.model.baseline_cumulative_hazard(direct.params)[0]
    np.testing.assert_allclose(times, sm_times)
    np.testing.assert_allclose(np.cumsum(jumps) - jumps, sm_cumhaz)
    assert model.quarter_hazard == pytest.approx(jumps.sum() / 4)
    # the risk of a partner with csat 5: 1 − exp(−H̄ · exp(β · (5 − mean) / sd))
    lp = direct.params[0] * (5.0 - x.mean()) / x.std()
    risk = model.predict(pd.DataFrame({"csat_mean_t4q": [5.0, np.nan]}))
    assert risk[0] == pytest.approx(1 - math.exp(-model.quarter_hazard * math.exp(lp)))
    assert risk[1] == pytest.approx(1 - math.exp(-model.quarter_hazard))  # missing: the mean partner


def test_breslow_by_hand_with_entry_and_ties():
    # rows (entry, exit, event, risk): at t=5 rows 0,1,2 are at risk (row 3 enters at 6); at t=8 rows 1 and 3
    entry = np.array([0.0, 0.0, 0.0, 6.0])
    exit_ = np.array([5.0, 8.0, 5.0, 8.0])
    event = np.array([1, 1, 0, 1])
    risk = np.array([1.0, 2.0, 4.0, 0.5])
    times, jumps = churn.breslow(exit_, event, entry, risk)
    assert times.tolist() == [5.0, 8.0]
    assert jumps.tolist() == pytest.approx([1 / 7, 2 / 2.5])


def test_a_strong_covariate_is_recovered():
    data = _random_panel(11, n=300, quarters=4, beta=1.0)
    row = churn.fit(data, ("csat_mean_t4q",), 1).coefficients.iloc[0]
    sd = data.drop_duplicates("partner_id")["csat_mean_t4q"].std()
    assert row["ci_low"] < math.exp(1.0 * sd) < row["ci_high"]  # the true hazard ratio per sd is inside


def test_too_few_churns_is_a_status_not_an_error():
    data = _random_panel(3)
    model = churn.fit(data, ("csat_mean_t4q",), min_events=int(data["event"].sum()) + 1)
    assert model.status == churn.TOO_FEW_EVENTS and not model.fitted
    assert np.isnan(model.predict(data)).all() and model.drivers(data, 3) == [""] * len(data)
    assert "not fitted" in model.summary()


def test_a_covariate_without_data_or_variation_is_left_out():
    data = _random_panel(3).assign(certified_reps_quarter=2.0, lead_accept_rate_t4q=np.nan)
    model = churn.fit(data, ("csat_mean_t4q", "certified_reps_quarter", "lead_accept_rate_t4q"), 1)
    assert model.covariates == ["csat_mean_t4q"]
    assert model.dropped == {"certified_reps_quarter": "the same value for every partner",
                             "lead_accept_rate_t4q": "not provided"}
    only_bad = churn.fit(data, ("certified_reps_quarter",), 1)
    assert only_bad.status == churn.NO_COVARIATE


def test_drivers_are_the_largest_positive_contributions():
    model = churn.ChurnModel(churn.FITTED, coefficients=pd.DataFrame({
        "covariate": ["revenue_growth_prev_quarter", "csat_mean_t4q", "certified_reps_quarter"],
        "coef": [-2.0, 0.5, 1.0], "hazard_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan,
        "p_value": np.nan, "mean": [0.0, 3.0, 0.0], "std": [1.0, 1.0, 1.0]}), quarter_hazard=0.01)
    x = pd.DataFrame({"revenue_growth_prev_quarter": [-0.5, 0.5], "csat_mean_t4q": [5.0, 3.0],
                      "certified_reps_quarter": [0.0, 0.0]})
    # row 0: contributions 1.0 (growth low), 1.0 (csat high: +2 sd × 0.5), 0 → both, stable order
    # row 1: −1.0, 0, 0 → none
    assert model.drivers(x, 3) == ["revenue_growth_prev_quarter:low; csat_mean_t4q:high", ""]
    assert model.drivers(x, 1) == ["revenue_growth_prev_quarter:low", ""]


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

@given(h=st.floats(1e-6, 5.0), lp=st.lists(st.floats(-8, 8), min_size=2, max_size=30))
def test_probability_lies_in_0_1_and_rises_with_the_linear_predictor(h, lp):
    lp = np.sort(np.array(lp))
    p = churn.probability(h, lp)
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) >= 0).all()


@settings(max_examples=30)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0), shift=st.floats(-50, 50))
def test_risk_is_invariant_to_the_units_of_a_covariate(seed, scale, shift):
    data = _random_panel(seed, n=40, quarters=3)
    if data["event"].sum() < 2:
        return
    cov = ("csat_mean_t4q",)
    a = churn.fit(data, cov, 1)
    b = churn.fit(data.assign(csat_mean_t4q=data["csat_mean_t4q"] * scale + shift), cov, 1)
    if not (a.fitted and b.fitted):
        return
    new = pd.DataFrame({"csat_mean_t4q": np.linspace(1, 5, 7)})
    pa, pb = a.predict(new), b.predict(new.assign(csat_mean_t4q=new["csat_mean_t4q"] * scale + shift))
    np.testing.assert_allclose(pa, pb, rtol=1e-6, atol=1e-12)
    assert (np.argsort(-pa, kind="stable") == np.argsort(-pb, kind="stable")).all()


@given(prob=st.lists(st.floats(0, 1), min_size=1, max_size=80), seed=st.integers(0, 100),
       bins=st.integers(1, 10))
def test_calibration_table_sums_to_the_predictions(prob, seed, bins):
    prob = np.array(prob)
    event = np.random.default_rng(seed).random(len(prob)) < prob
    cal = churn.calibration(prob, event, bins)
    assert cal["n"].sum() == len(prob) and cal["events"].sum() == event.sum()
    assert len(cal) == min(bins, len(prob))
    assert (cal["p_low"] <= cal["p_high"]).all()
    assert (cal["p_high"].to_numpy()[:-1] <= cal["p_low"].to_numpy()[1:]).all()
    assert (cal["predicted"] * cal["n"]).sum() == pytest.approx(prob.sum())
    assert cal["observed"].tolist() == pytest.approx((cal["events"] / cal["n"]).tolist())


def test_concordance_by_hand():
    assert churn.concordance([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(3 / 4)
    assert churn.concordance([0.2, 0.2, 0.2], [0, 1, 0]) == pytest.approx(0.5)  # ties count ½
    assert math.isnan(churn.concordance([0.1, 0.2], [0, 0]))


def test_backtest_predicts_each_held_out_quarter_from_the_quarters_before_it():
    data = _random_panel(5, n=200, quarters=4, beta=1.0)
    bt = churn.backtest(data, ("csat_mean_t4q",), _settings(backtest_quarters=2, bins=4))
    assert bt.fitted == ["2026Q3", "2026Q4"] and bt.skipped == []
    held = data[data["period"].isin(bt.fitted)]
    assert len(bt.predictions) == len(held) and bt.predictions["event"].sum() == held["event"].sum()
    # the 2026Q4 predictions are the model fitted on 2026Q1..Q3 only
    model = churn.fit(data[data["period"] < "2026Q4"], ("csat_mean_t4q",), 1)
    q4 = bt.predictions[bt.predictions["period"] == "2026Q4"]
    np.testing.assert_allclose(q4["probability"], model.predict(data[data["period"] == "2026Q4"]))
    assert bt.calibration["n"].sum() == len(held)
    assert bt.concordance > 0.6  # the covariate drives churn


def test_settings_are_checked():
    with pytest.raises(ParamsError, match="churn.covariates: 'revenue_forever'"):
        _settings(covariates=("revenue_forever",))
    with pytest.raises(ParamsError, match="revenue_ytd"):
        _settings(covariates=("revenue_ytd",))  # a year-to-date value changes length through the year
    with pytest.raises(ParamsError, match="min_events"):
        _settings(min_events=0)
    with pytest.raises(ParamsError, match="bins"):
        _settings(bins=0)


# --------------------------------------------------------------------------------------------
# the sample: its planted signal, recovered; tables, overview, privacy
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(stats, exported tables) of the default sample network (200 partners, 8 quarters, seed 7: the
    run of `make kpis`, docs/methods.md section 5)."""
    data = tmp_path_factory.mktemp("data") / "sample"
    sample.write(sample.generate(partners=200, quarters=8, seed=7), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": PERIOD, "history_quarters": 8,
                                "data": {"source": str(data)},
                                "output_dir": str(tmp_path_factory.mktemp("reports"))})
    stats = build.compute(load_dataset(params, progress=False), params)
    return stats, exports.network_tables(stats)


def test_the_planted_fade_changes_only_the_churned_partners_last_half_year(monkeypatch):
    faded = sample.generate(partners=60, quarters=4, seed=3, lines=6_000)
    monkeypatch.setattr(sample, "CHURN_FADE_KEEP", 1.0)
    plain = sample.generate(partners=60, quarters=4, seed=3, lines=6_000)
    for name in plain:
        if name not in ("sales", "accounts"):  # (accounts' potential is drawn around their customers' revenue)
            pd.testing.assert_frame_equal(faded[name], plain[name])
    end = plain["partners"].set_index("partner_id")["end_date"]
    s = plain["sales"]
    line_end = s["partner_id"].map(end)
    window = line_end.notna() & (s["date"] <= line_end) & (s["date"] > line_end - pd.Timedelta(days=180))
    assert window.sum() > 0
    changed = faded["sales"]["revenue"] != s["revenue"]
    assert not (changed & ~window).any()
    np.testing.assert_allclose(faded["sales"].loc[window, "revenue"], np.round(s.loc[window, "revenue"] * 0.35, 2))
    pd.testing.assert_frame_equal(faded["sales"].drop(columns=["revenue", "cost"]), s.drop(columns=["revenue", "cost"]))


def test_the_model_recovers_the_planted_fade(run):
    stats, tables = run
    assert stats.churn.fitted and stats.churn.model.events >= 10
    coef = tables["churn_model"].set_index("covariate")
    growth = coef.loc["revenue_growth_prev_quarter"]
    assert growth["ci_high"] < 1.0  # falling revenue before the quarter raises the hazard, clearly
    assert growth["p_value"] < 0.05
    assert stats.churn.backtest.concordance > 0.6
    # the partners with the highest risk mostly show that fading revenue among their drivers
    top = tables["churn_risk"].head(10)
    assert top["drivers"].str.contains("revenue_growth_prev_quarter:low").mean() >= 0.8


def test_exported_churn_tables_are_declared_consistent_and_sum_to_the_backtest(run):
    stats, tables = run
    for name in ("churn_risk", "churn_model", "churn_calibration", "at_risk"):
        assert list(tables[name].columns) == list(exports.EXPORTS[name]), name
    risk = tables["churn_risk"]
    assert risk["churn_rank"].tolist() == list(range(1, len(risk) + 1))
    assert risk["churn_risk"].is_monotonic_decreasing and risk["churn_risk"].between(0, 1).all()
    reported = set(build.reported_partners(stats)["partner_id"])
    assert set(risk["partner_id"]) == reported  # every partner with a scorecard, nobody who churned
    bt = stats.churn.backtest
    cal = tables["churn_calibration"]
    assert cal["n"].sum() == len(bt.predictions) and cal["events"].sum() == bt.predictions["event"].sum()
    net = tables["network"].set_index("period")
    assert net.loc[PERIOD, "churn_concordance"] == pytest.approx(bt.concordance)
    assert net["churn_concordance"].drop(PERIOD).isna().all()
    # the at-risk list: the rule-based partners, ranked by churn risk, with their risk and drivers
    at = tables["at_risk"]
    assert at["churn_risk"].is_monotonic_decreasing
    joined = at.merge(risk, on="partner_id", suffixes=("", "_model"))
    assert len(joined) == len(at)
    assert (joined["churn_risk"] == joined["churn_risk_model"]).all()
    assert (joined["drivers"] == joined["drivers_model"]).all()


def test_partner_bundles_never_carry_churn_risk(run):
    stats, tables = run
    risk = tables["churn_risk"]
    shown = {repr(float(v)) for v in risk["churn_risk"]}
    for b in build.partner_bundles(stats, partner_ids=risk["partner_id"].head(5)):
        for f in dataclasses.fields(b):
            value = getattr(b, f.name)
            if isinstance(value, pd.DataFrame):
                assert not [c for c in value.columns if "churn" in c or c == "drivers"], f.name
                numbers = value.select_dtypes("number").to_numpy().ravel()
                assert not {repr(float(v)) for v in numbers} & shown, f.name
        text = json.dumps(b.partner, default=str) + json.dumps(b.facts, default=str)
        assert "churn" not in text


def test_without_enough_churns_the_at_risk_list_keeps_its_rule_based_order(run):
    stats, _tables = run
    params = {**stats.params, "churn": {**stats.params["churn"], "min_events": 1000}}
    result = churn.analyse(stats.kpis, stats.dataset.partners, stats.quarters, PERIOD, stats.dataset.as_of,
                           ChurnSettings.from_params(params))
    assert result.status == churn.TOO_FEW_EVENTS and result.risk.empty
    assert "churn.min_events is 1000" in result.reason()
    tables = exports.network_tables(dataclasses.replace(stats, churn=result))
    at = tables["at_risk"]
    assert at["churn_risk"].isna().all() and at["revenue"].is_monotonic_decreasing
    assert tables["churn_risk"].empty and list(tables["churn_risk"].columns) == list(exports.EXPORTS["churn_risk"])
    b = exports.network_bundle(dataclasses.replace(stats, churn=result, notes={**stats.notes, "churn": result.notes()}),
                               tables)
    block = Overview(b, locale="en").churn_risk().markup
    assert "too few partners left during the history to estimate it (" in block
    assert "ca-value" not in Overview(b, locale="en").at_risk().markup.split("Revenue")[0]  # no risk column


def test_no_end_date_no_model():
    kpi = _kpi([("A", "2026Q2", "quarter", 1.0, 3.0)])
    partners = pd.DataFrame({"partner_id": ["A"], "onboarded_date": pd.to_datetime(["2024-01-01"])})
    result = churn.analyse(kpi, partners, ["2026Q2", PERIOD], PERIOD, "2026-10-05", _settings(),
                           end_date_provided=False)
    assert result.status == churn.NO_END_DATE and result.risk.empty and "partners.end_date" in result.reason()


_VALUE = re.compile(r'<span class="ca-value"([^>]*)>')
_ATTR = re.compile(r'data-([a-z]+)="([^"]*)"')


def test_overview_section_shows_the_exported_tables_and_passes_the_audit(run, tmp_path):
    stats, tables = run
    b = exports.network_bundle(stats, tables)
    o = Overview(b, locale="en")
    section = o.churn_risk().markup
    risk_list = o.at_risk().markup
    cal = tables["churn_calibration"]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    assert len(rows) == len(cal)
    for row, rec in zip(rows, cal.itertuples()):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        assert cells[1] == f"{rec.n:,}" and cells[4] == f"{rec.events:,}"
        assert cells[2] == f"{rec.predicted:.1%}" and cells[3] == f"{rec.observed:.1%}"
    c = tables["network"].set_index("period").loc[PERIOD, "churn_concordance"]
    assert f"{c:.1%}" in section
    # the at-risk list shows each partner's exported risk and its drivers in words
    spans = [dict(_ATTR.findall(a)) for a in _VALUE.findall(risk_list)]
    shown = {s["partner"]: float(s["value"]) for s in spans if s["measure"] == "churn_risk"}
    expected = tables["at_risk"].set_index("partner_id")["churn_risk"]
    assert shown.keys() == set(expected.index)
    assert all(shown[p] == pytest.approx(expected[p], rel=1e-12) for p in shown)
    assert "Growth vs previous period: low" in risk_list
    # the audit compares every tagged value of the page with the written tables
    exports.write_exports(tables, tmp_path / "kpis")
    (tmp_path / "network_overview.html").write_text(
        "<html><body>" + o.totals().markup + section + risk_list + "</body></html>", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "period": PERIOD, "reports": {},
        "network_overview": {"status": "ok", "output": "network_overview.html"}}), encoding="utf-8")
    result = audit.check_run(tmp_path)
    assert result.ok, result.summary()
    assert result.checked["network_overview.html"] >= len(shown) + 1
