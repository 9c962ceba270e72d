"""Tests of channel_analysis.forecast: seasonal factors, methods, intervals, statsmodels, backtest."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channel_analysis import forecast as fc

Q = "Q-DEC"


def quarterly(partner: str, start: str, values) -> pd.DataFrame:
    labels = [str(p) for p in pd.period_range(start, periods=len(values), freq="Q")]
    return pd.DataFrame({"partner_id": partner, "period": labels, "revenue": np.asarray(values, dtype=float)})


# ---- seasonal factors ----------------------------------------------------------------------------

# log seasonal effects of the noiseless fixtures, by calendar quarter Q1..Q4 (they sum to 0)
S_LOG = np.array([-0.2, 0.0, -0.1, 0.3])


def _noiseless(n: int) -> np.ndarray:
    """Y_t = 100 · 1.02^t · exp(s_q(t)), t = 0.. starting in a Q1."""
    t = np.arange(n)
    return 100 * 1.02 ** t * np.exp(S_LOG[t % 4])


def test_seasonal_factors_two_years_hand_computed():
    f = fc.seasonal_factors(_noiseless(8), pd.Period("2024Q1", freq=Q))
    # exact fit: ŝ = S_LOG, RSS = 0, dof = 8 - 5 = 3; σ̂² = (0 + 2·0.05²) / (3 + 2) = 0.001;
    # years = 2 -> var(ŝ_q) ≈ 0.0005; Σŝ² = 0.04 + 0 + 0.01 + 0.09 = 0.14;
    # w = 1 - 3·0.0005/0.14 = 0.989286
    assert f.estimated and f.n_quarters == 8
    assert f.weight == pytest.approx(1 - 3 * 0.0005 / 0.14)
    assert f.sigma == pytest.approx(np.sqrt(0.001))
    # unshrunk: exp(S_LOG) = .818731, 1, .904837, 1.349859; mean 1.018357 -> / mean
    np.testing.assert_allclose(f.estimate, [0.803972, 0.981974, 0.888527, 1.325526], atol=1e-6)
    # shrunk: exp(w·S_LOG) = .820487, 1, .905807, 1.345528; mean 1.017956 -> / mean
    assert list(f.by_quarter()) == [1, 2, 3, 4]
    np.testing.assert_allclose(list(f.by_quarter().values()), [0.806015, 0.982361, 0.889830, 1.321794], atol=1e-6)
    assert f.factors.mean() == pytest.approx(1.0)
    # at(): ordinal of 2026Q4 is a Q4
    assert f.at(pd.Period("2026Q4", freq=Q).ordinal) == pytest.approx(1.321794, abs=1e-6)
    assert "Q4 1.322" in f.summary()


def test_seasonal_factors_five_quarters_shrink_more():
    # 5 quarters (Q1 seen twice): dof 0, σ̂² = the prior 0.05² = 0.0025; years 1.25 -> var 0.002;
    # w = 1 - 3·0.002/0.14 = 0.957143; exp(w·S_LOG) normalised = .812151, .983498, .893728, 1.310623
    f = fc.seasonal_factors(_noiseless(5), pd.Period("2024Q1", freq=Q))
    assert f.weight == pytest.approx(1 - 3 * 0.002 / 0.14)
    np.testing.assert_allclose(f.factors, [0.812151, 0.983498, 0.893728, 1.310623], atol=1e-6)


def test_seasonal_factors_not_estimable_or_flat():
    # 4 quarters: no quarter seen twice -> trend and season not separable -> all 1
    four = fc.seasonal_factors(_noiseless(4), pd.Period("2024Q1", freq=Q))
    assert not four.estimated and (four.factors == 1).all()
    # a quarter without revenue leaves 4 positive quarters -> not estimable either
    gap = _noiseless(5)
    gap[2] = 0
    assert not fc.seasonal_factors(gap, pd.Period("2024Q1", freq=Q)).estimated
    # flat series: ŝ = 0 -> w = 0 -> factors exactly 1
    flat = fc.seasonal_factors(np.full(9, 250.0), pd.Period("2024Q1", freq=Q))
    assert flat.estimated and flat.weight == 0 and np.allclose(flat.factors, 1)


def test_seasonal_factors_fiscal_quarters():
    # fiscal year starting in October (Q-SEP): fiscal Q1 = Oct-Dec. The series starts in fiscal Q1,
    # so its first effect (-0.2) belongs to fiscal Q1 whatever the ordinal positions are.
    f = fc.seasonal_factors(_noiseless(8), pd.Period("2025Q1", freq="Q-SEP"))
    np.testing.assert_allclose(list(f.by_quarter().values()), [0.806015, 0.982361, 0.889830, 1.321794], atol=1e-6)


# ---- partner forecasts ---------------------------------------------------------------------------

def test_level_method_and_empirical_interval_hand_computed():
    # network total constant 300 -> factors all 1. min_history above the history -> "seasonal_level";
    # given α = 1: one-step forecast = previous quarter, forecast = last quarter.
    q = pd.concat([quarterly("A", "2025Q1", [100, 200] * 3), quarterly("B", "2025Q1", [200, 100] * 3)],
                  ignore_index=True)
    before = q.copy()
    s = fc.Smoothing(alpha=1.0, beta=0.0, gamma=0.0, phi=1.0, seasonal=False, source="test")
    f = fc.forecast_next(q, interval=0.8, min_history=100, smoothing=s).set_index("partner_id")
    pd.testing.assert_frame_equal(q, before)
    assert list(f.columns) == ["period", "forecast", "lower", "upper", "method", "n_history"]
    assert (f["period"] == "2026Q3").all() and (f["method"] == "seasonal_level").all()
    # scaled errors (actual − previous) / mean of the (up to 4) quarters before, from t = 1:
    # A +100/100, −100/150, +100/133.3, −100/150, +100/150 = 1, −.6667, .75, −.6667, .6667;
    # B −100/200, +100/150, −100/166.7, +100/150, −100/150 = −.5, .6667, −.6, .6667, −.6667.
    # Sorted: −.6667 ×3, −.6, −.5, .6667 ×3, .75, 1; quantiles (linear) 0.1 -> position 0.9 -> −.6667;
    # 0.9 -> position 8.1 -> .75 + .1·.25 = .775. Recent level (last 4 quarters) 150 for both:
    # A [200 − .6667·150, 200 + .775·150] = [100, 316.25]; B [100 − 100, 100 + 116.25] = [0, 216.25]
    assert f.loc["A", ["forecast", "lower", "upper"]].tolist() == pytest.approx([200, 100, 316.25])
    assert f.loc["B", ["forecast", "lower", "upper"]].tolist() == pytest.approx([100, 0, 216.25])


def test_exact_seasonal_partner_is_forecast_exactly():
    # A constant at 100: network total constant -> factors 1; statsmodels simple init: level 100,
    # trend 0; every one-step error is 0 whatever α, β, φ -> forecast 100, interval [100, 100].
    q = quarterly("A", "2024Q1", [100.0] * 8)
    f = fc.forecast_next(q, min_history=6).iloc[0]
    assert f["method"] == "exp_smoothing" and f["n_history"] == 8 and f["period"] == "2026Q1"
    assert [f["forecast"], f["lower"], f["upper"]] == pytest.approx([100, 100, 100])


def test_short_network_history_fallbacks_hand_computed():
    # 4 network quarters: no seasonal factors -> seasonal naive (4 quarters) / mean (fewer)
    q = pd.concat([quarterly("A", "2026Q1", [100, 200, 300, 400]), quarterly("B", "2026Q3", [50, 100])],
                  ignore_index=True)
    f = fc.forecast_next(q, interval=0.8).set_index("partner_id")
    # A: same quarter a year earlier: 2027Q1 <- 2026Q1 = 100; B: mean 75
    assert f.loc["A", "method"] == "seasonal_naive" and f.loc["A", "forecast"] == pytest.approx(100)
    assert f.loc["B", "method"] == "mean" and f.loc["B", "forecast"] == pytest.approx(75)
    # total 100, 200, 350, 500. One-step forecast: previous quarter × Y_t / Y_t-1; scaled error
    # (actual − it) / mean of the quarters before: A (200 − 200)/100 = 0, (300 − 350)/150 = −.333333,
    # (400 − 428.571)/200 = −.142857; B (100 − 71.4286)/50 = .571429. Sorted −.333333 −.142857 0 .571429:
    # q0.1 at 0.3 -> −.333333 + .3·.190476 = −.276190; q0.9 at 2.7 -> 0 + .7·.571429 = .4.
    # Recent levels: A 250, B 75 -> A [100 − 69.0476, 100 + 100], B [75 − 20.7143, 75 + 30]
    assert f.loc["A", ["lower", "upper"]].tolist() == pytest.approx([30.952381, 200])
    assert f.loc["B", ["lower", "upper"]].tolist() == pytest.approx([54.285714, 105])


def test_single_quarter_network_and_determinism():
    q = pd.concat([quarterly("A", "2026Q2", [100]), quarterly("B", "2026Q2", [50])], ignore_index=True)
    # below forecast.min_quarters (2 by default): listed, no forecast
    none = fc.forecast_next(q)
    assert (none["method"] == fc.NOT_ENOUGH_HISTORY).all() and none["forecast"].isna().all()
    assert none["n_history"].tolist() == [1, 1]
    f1 = fc.forecast_next(q, min_quarters=1)
    pd.testing.assert_frame_equal(f1, fc.forecast_next(q, min_quarters=1))
    # one quarter: mean = the quarter; no change observed anywhere -> no spread known
    assert (f1["method"] == "mean").all()
    assert f1["forecast"].tolist() == [100, 50] and (f1["lower"] == f1["forecast"]).all()
    assert (f1["upper"] == f1["forecast"]).all()


def _seasonal_panel(n_partners: int, quarters: int, seed: int, noise: float = 0.02):
    """Partners with level × 1.03^t × season(Q1 .88, Q2 1, Q3 .92, Q4 1.28) × lognormal noise,
    starting in a Q4 (as the default 8-quarter run). Returns (history, noiseless next quarter)."""
    rng = np.random.default_rng(seed)
    season = np.array([0.88, 1.0, 0.92, 1.28])
    start = pd.Period("2024Q4", freq=Q)
    qn = (start.ordinal + np.arange(quarters + 1)) % 4  # position 0 = Q1
    level = rng.lognormal(10, 1, n_partners)
    clean = level[:, None] * 1.03 ** np.arange(quarters + 1) * season[qn][None, :]
    y = clean[:, :quarters] * rng.lognormal(0, noise, (n_partners, quarters))
    labels = [str(start + k) for k in range(quarters)]
    q = pd.DataFrame({"partner_id": np.repeat([f"P{i:03d}" for i in range(n_partners)], quarters),
                      "period": np.tile(labels, n_partners), "revenue": y.ravel()})
    return q, pd.Series(clean[:, quarters], index=[f"P{i:03d}" for i in range(n_partners)])


def test_seasonal_series_forecast_within_a_few_percent_after_six_quarters():
    # 6 quarters 2024Q4..2026Q1 (Q4 high, Q1 low): the old non-seasonal model read the Q4 -> Q1 drop as a
    # trend and collapsed. Forecast of 2026Q2 vs the noiseless value:
    q, truth = _seasonal_panel(60, 6, seed=3)
    f = fc.forecast_next(q).set_index("partner_id")
    assert (f["period"] == "2026Q2").all() and (f["method"] == "exp_smoothing").all()
    err = (f["forecast"] / truth - 1).abs()
    assert f["forecast"].sum() / truth.sum() == pytest.approx(1, abs=0.04)
    assert err.median() < 0.05
    nf = fc.network_forecast(q)
    assert nf.factors.estimated and nf.factors.by_quarter()[4] > 1.2 > nf.factors.by_quarter()[1] * 1.3
    assert nf.bottom_up == pytest.approx(f["forecast"].sum())
    assert abs(nf.difference) < 0.05  # bottom-up agrees with the top-down network model
    assert "seasonal factors" in nf.summary()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 11), st.floats(0, 1e6)), min_size=1, max_size=40),
       st.sampled_from([0.5, 0.8, 0.95]), st.integers(1, 8))
@example(rows=[(0, 0, 0.0), (0, 1, 5e-324), (0, 4, 1.0)], interval=0.5, min_history=1)  # found by CI:
# a subnormal revenue made the actual/forecast ratio infinite and the upper bound NaN
def test_forecast_and_bounds_are_ordered_and_non_negative(rows, interval, min_history):
    labels = [str(p) for p in pd.period_range("2024Q1", periods=12, freq="Q")]
    q = pd.DataFrame({"partner_id": [f"P{p}" for p, _, _ in rows], "period": [labels[t] for _, t, _ in rows],
                      "revenue": [v for _, _, v in rows]})
    f = fc.forecast_next(q, interval=interval, min_history=min_history, min_quarters=1)
    assert len(f) == q["partner_id"].nunique()
    assert (f["method"] != fc.NOT_ENOUGH_HISTORY).all()  # min_quarters 1: every partner is forecast
    v = f[["forecast", "lower", "upper"]].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert ((f["lower"] <= f["forecast"]) & (f["forecast"] <= f["upper"])).all()
    assert set(f["method"]) <= set(fc.METHODS)
    # with the default minimum, exactly the partners with fewer than 2 quarters have no forecast
    d = fc.forecast_next(q, interval=interval, min_history=min_history)
    few = d["n_history"] < 2
    assert (d["method"][few] == fc.NOT_ENOUGH_HISTORY).all() and d["forecast"][few].isna().all()
    assert np.isfinite(d.loc[~few, ["forecast", "lower", "upper"]].to_numpy()).all()


# ---- smoothing ---------------------------------------------------------------------------------

def _statsmodels_fit(y, s: fc.Smoothing, level0=None, trend0=None):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    m = 4
    if s.seasonal:
        level = y[:m].mean()
        init = dict(initial_level=level, initial_trend=(y[m:2 * m].mean() - level) / m,
                    initial_seasonal=y[:m] - level)
        kw = dict(seasonal="add", seasonal_periods=m)
        fit_kw = dict(smoothing_seasonal=s.gamma)
    else:
        init = dict(initial_level=y[0] if level0 is None else level0,
                    initial_trend=y[1] - y[0] if trend0 is None else trend0)
        kw, fit_kw = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="known", **init, **kw)
        return model.fit(smoothing_level=s.alpha, smoothing_trend=s.beta, damping_trend=s.phi,
                         optimized=False, **fit_kw)


@pytest.mark.parametrize("seasonal", [True, False])
def test_vectorized_smoothing_equals_statsmodels(seasonal):
    rng = np.random.default_rng(11)
    s = fc.Smoothing(alpha=0.4, beta=0.15, gamma=0.3 if seasonal else 0.0, phi=0.85, seasonal=seasonal, source="test")
    ys = [rng.normal(100, 10, 14) + np.tile([0, 20, -10, 5], 4)[:14],
          rng.normal(500, 80, 10) + np.arange(10) * 12.0]
    # both series in one call, left-aligned and zero-padded to 14 quarters
    panel = np.zeros((2, 14))
    panel[0], panel[1, :10] = ys[0], ys[1]
    fitted, nxt, _ = fc.smooth(panel, np.array([14, 10]), s)
    for i, y in enumerate(ys):
        res = _statsmodels_fit(y, s)
        np.testing.assert_allclose(fitted[i, :len(y)], res.fittedvalues, rtol=1e-10)
        assert nxt[i] == pytest.approx(res.forecast(1)[0], rel=1e-10)


def test_level_only_smoothing_equals_statsmodels():
    # the "seasonal_level" recursion: trend 0 and β = 0 (φ = 1) -> simple exponential smoothing
    y = np.array([50.0, 80, 65, 90, 70])
    s = fc.Smoothing(alpha=0.3, beta=0.0, gamma=0.0, phi=1.0, seasonal=False, source="test")
    fitted, nxt, _ = fc.smooth(y[None, :], np.array([5]), s, trend0=np.zeros(1))
    res = _statsmodels_fit(y, s, trend0=0.0)
    np.testing.assert_allclose(fitted[0], res.fittedvalues, rtol=1e-10)
    assert nxt[0] == pytest.approx(res.forecast(1)[0], rel=1e-10)


def test_network_smoothing_is_a_statsmodels_fit():
    y = np.array([100, 103, 105, 108, 110, 114, 115, 119, 121, 124], dtype=float)
    s = fc.network_smoothing(y)
    assert s.source.startswith("network fit") and not s.seasonal
    assert 0 <= s.alpha <= 1 and 0 <= s.phi <= 1 and 120 < s.next_value < 135
    short = fc.network_smoothing(np.array([1.0, 2.0]))
    assert short.source.startswith("defaults") and "alpha" in short.summary() and np.isnan(short.next_value)
    hw, model = fc.holt_winters_total(_noiseless(12))
    assert "Holt-Winters" in model and hw == pytest.approx(_noiseless(13)[-1], rel=0.05)
    assert np.isnan(fc.holt_winters_total(_noiseless(9))[0])


def test_pooled_smoothing_picks_alpha_one_for_random_walks():
    # for a random walk the best one-step forecast is the last value: level-only α = 1
    rng = np.random.default_rng(5)
    x = 1000 + np.cumsum(rng.normal(0, 50, (40, 8)), axis=1)
    s = fc.pooled_smoothing(x, np.full(40, 8), trend=False)
    assert s.alpha == 1.0 and s.beta == 0 and s.source.startswith("pooled fit")
    t = fc.pooled_smoothing(x, np.full(40, 8))
    assert t.alpha in fc.GRID_ALPHA and t.beta in fc.GRID_BETA and t.phi in fc.GRID_PHI
    assert fc.pooled_smoothing(x, np.full(40, 8)) == t  # deterministic


# ---- backtest ----------------------------------------------------------------------------------

def test_backtest_known_value():
    # A: 100 in each quarter of 2025, 300 in 2026Q1; B: 50 in each quarter of 2025, nothing in 2026Q1.
    # holdout 1: forecast 2026Q1 from 4 quarters -> no seasonal factors -> seasonal naive = 2025Q1:
    # A 100 (error 200 on 300, APE 2/3), B 50 (actual 0: out of MAPE, adds 50 to the WAPE numerator).
    # MAPE 2/3, WAPE (200 + 50)/300 = 5/6, network APE |300 - 150|/300 = 1/2. Every change ratio is 1
    # (flat partners, flat total: every scaled error 0) -> zero-width intervals: both actuals outside -> coverage 0.
    q = pd.concat([quarterly("A", "2025Q1", [100] * 4 + [300]), quarterly("B", "2025Q1", [50] * 4)],
                  ignore_index=True)
    before = q.copy()
    res = fc.backtest(q, holdout=1)
    pd.testing.assert_frame_equal(q, before)
    assert res.per_quarter["period"].tolist() == ["2026Q1"]
    assert list(res.per_quarter.columns) == ["period", "partners", "no_forecast", "actual", "forecast",
                                             "network_ape", "mape", "wape", "coverage"]
    assert res.per_quarter[["partners", "no_forecast"]].values.tolist() == [[2, 0]]
    assert res.mape == pytest.approx(2 / 3) and res.wape == pytest.approx(5 / 6)
    assert res.network_mape == pytest.approx(1 / 2) and res.coverage == 0
    assert set(res.errors["method"]) == {"seasonal_naive"}
    assert "MAPE" in res.summary() and res.network["bottom_up"].tolist() == [150]


def test_backtest_on_a_seasonal_panel_is_accurate_and_calibrated():
    q, _ = _seasonal_panel(80, 9, seed=8, noise=0.1)
    res = fc.backtest(q, holdout=3)  # folds from 6, 7 and 8 quarters
    assert res.per_quarter["network_ape"].max() < 0.06
    assert res.wape < 0.12
    assert 0.65 <= res.coverage <= 0.95
    assert "network-level checks" in res.summary()


def test_fiscal_labels_and_bad_interval():
    from channel_analysis.errors import ParamsError

    # fiscal year starting in October: 2026Q1 = Oct-Dec 2025; next after 2026Q4 is 2027Q1
    q = pd.DataFrame({"partner_id": "A", "period": ["2026Q3", "2026Q4"], "revenue": [1.0, 2.0]})
    assert fc.forecast_next(q, fy_start=10)["period"].iloc[0] == "2027Q1"
    with pytest.raises(ParamsError, match="interval"):
        fc.forecast_next(q, interval=80)


@pytest.mark.slow
def test_many_partners_vectorized():
    rng = np.random.default_rng(0)
    n, t = 2000, 16
    labels = [str(p) for p in pd.period_range("2023Q1", periods=t, freq="Q")]
    q = pd.DataFrame({"partner_id": np.repeat([f"P{i:04d}" for i in range(n)], t), "period": np.tile(labels, n),
                      "revenue": rng.lognormal(8, 1, n * t)})
    f = fc.forecast_next(q)
    assert len(f) == n and (f["method"] == "exp_smoothing").all()
    assert ((f["lower"] <= f["forecast"]) & (f["forecast"] <= f["upper"])).all()


# ---- short histories, lumpy sell-in, the backtest's population and laws (issue 12) --------------

def _short_extract() -> pd.DataFrame:
    """An 8-quarter KPI history over a five-quarter extract: the first three quarters are NaN for
    everyone (not measured), and each partner's quarters before its first sale are NaN too."""
    labels = [str(p) for p in pd.period_range("2016Q2", periods=8, freq="Q")]
    rng = np.random.default_rng(3)
    rows = []
    for i in range(85):
        start = 3 + i % 5  # first sale in one of the five measured quarters
        for t, label in enumerate(labels):
            rev = np.nan if t < start else float(rng.gamma(2.0, 5000.0))
            rows.append((f"P{i:02d}", label, rev))
    return pd.DataFrame(rows, columns=["partner_id", "period", "revenue"])


def test_leading_unmeasured_quarters_are_not_data():
    q = _short_extract()
    f = fc.forecast_next(q).set_index("partner_id")
    assert len(f) == 85 and (f["period"] == "2018Q2").all()
    n_obs = q.dropna().groupby("partner_id").size()
    pd.testing.assert_series_equal(f["n_history"], n_obs, check_names=False)
    enough = n_obs >= 2
    assert enough.sum() == 68  # all but the partners whose first sale is in the last quarter
    assert np.isfinite(f.loc[enough[enough].index, ["forecast", "lower", "upper"]].to_numpy()).all()
    assert (f.loc[~enough, "method"] == fc.NOT_ENOUGH_HISTORY).all()
    # the same as forecasting the measured rows only: NaN rows change nothing
    g = fc.forecast_next(q.dropna(), last_period="2018Q1").set_index("partner_id")
    pd.testing.assert_frame_equal(f.loc[g.index], g)


def test_backtest_on_a_short_extract_counts_every_partner():
    q = _short_extract()
    res = fc.backtest(q, holdout=2)
    per = res.per_quarter.set_index("period")
    measured = q.dropna()
    for period, row in per.iterrows():
        actual = measured.loc[measured["period"] == period, "revenue"].sum()
        assert row["actual"] == pytest.approx(actual)  # every partner's revenue, new ones included
        new = 17  # a fifth of 85 start in each measured quarter: no history before it
        assert row["no_forecast"] >= new
    assert (per["wape"] >= per["network_ape"] - 1e-12).all()
    assert res.wape >= res.network_mape - 1e-12 or len(per) > 1
    e = res.errors
    assert set(e.loc[e["forecast"].isna(), "method"]) <= {fc.NO_FORECAST, fc.NOT_ENOUGH_HISTORY}


def test_lumpy_sell_in_never_collapses_to_zero():
    # resellers ordering once or twice a year: many forecasts are 0 (seasonal naive of an empty
    # quarter, a smoothed level decaying to 0) yet their recent sales make the upper bound positive
    labels = [str(p) for p in pd.period_range("2016Q1", periods=8, freq="Q")]
    rng = np.random.default_rng(11)
    rows = []
    for i in range(200):
        for label in labels:
            order = rng.random() < 0.3
            rows.append((f"R{i:03d}", label, float(rng.gamma(1.5, 8000.0)) if order else 0.0))
    q = pd.DataFrame(rows, columns=["partner_id", "period", "revenue"])
    for hist in (q, q[q["period"] >= "2017Q1"]):  # 8 quarters (smoothing) and 4 (seasonal naive)
        f = fc.forecast_next(hist).set_index("partner_id")
        last4 = hist[hist["period"].isin(sorted(hist["period"].unique())[-4:])]
        recent = last4.groupby("partner_id")["revenue"].sum()
        sold = recent[recent > 0].index
        assert (f.loc[sold, "upper"] > 0).all()
        assert (f["lower"] <= f["forecast"]).all() and (f["forecast"] <= f["upper"]).all()
        assert (f["lower"] > 0).any()  # the lower bound is not 0 for everyone


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1e6), st.one_of(st.none(), st.floats(0, 1e6)),
                          st.floats(0, 1), st.floats(1, 2)), min_size=1, max_size=30))
def test_backtest_scores_obey_their_laws(rows):
    # rows: (quarter, actual, forecast or None (no forecast), lower factor, upper factor)
    e = pd.DataFrame({"period": [f"2026Q{k + 1}" for k, *_ in rows], "partner_id": [f"P{i}" for i in range(len(rows))],
                      "actual": [a for _, a, *_ in rows],
                      "forecast": [np.nan if f is None else f for _, _, f, _, _ in rows]})
    e["lower"] = e["forecast"] * [lo for *_, lo, _ in rows]
    e["upper"] = e["forecast"] * [hi for *_, hi in rows]
    per = fc.score_errors(e).set_index("period")
    assert (per["partners"] + per["no_forecast"] == e.groupby("period").size()).all()
    assert (per["partners"] == e.groupby("period")["forecast"].count()).all()
    assert per["actual"].sum() == pytest.approx(e["actual"].sum())  # every partner's actual
    ok = per["actual"] > 0
    # the partner forecasts sum to the network's: Σ|a − f| ≥ |Σa − Σf| (triangle inequality)
    assert (per.loc[ok, "wape"] >= per.loc[ok, "network_ape"] * (1 - 1e-12) - 1e-12).all()
    assert per.loc[~ok, ["wape", "network_ape"]].isna().all().all()
    cov = per["coverage"].dropna()
    assert ((cov >= 0) & (cov <= 1)).all()
    assert (per["mape"].dropna() >= 0).all() and (per["network_ape"].dropna() >= 0).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 7), st.floats(0, 1e5)), min_size=3, max_size=40))
def test_backtest_wape_at_least_network_error(rows):
    labels = [str(p) for p in pd.period_range("2024Q1", periods=8, freq="Q")]
    q = pd.DataFrame({"partner_id": [f"P{p}" for p, _, _ in rows], "period": [labels[t] for _, t, _ in rows],
                      "revenue": [v for _, _, v in rows]})
    try:
        res = fc.backtest(q, holdout=2)
    except fc.ParamsError:
        return  # no history before the tested quarters
    per = res.per_quarter
    ok = per["actual"] > 0
    assert (per.loc[ok, "wape"] >= per.loc[ok, "network_ape"] * (1 - 1e-9) - 1e-9).all()
    assert np.isnan(res.coverage) or 0 <= res.coverage <= 1
    bottom_up = res.network.set_index("period")["bottom_up"]
    assert per.set_index("period")["forecast"].to_numpy() == pytest.approx(bottom_up.loc[per["period"]].to_numpy())
