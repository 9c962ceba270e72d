"""Tests of channel_analysis.forecast: shapes, fallbacks, equality with statsmodels, backtest."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from channel_analysis import forecast as fc


def quarterly(partner: str, start: str, values) -> pd.DataFrame:
    labels = [str(p) for p in pd.period_range(start, periods=len(values), freq="Q")]
    return pd.DataFrame({"partner_id": partner, "period": labels, "revenue": np.asarray(values, dtype=float)})


def test_forecast_shape_exact_seasonal_and_fallbacks():
    q = pd.concat([
        quarterly("A", "2024Q1", [10, 20, 30, 40] * 3),   # 12 quarters, exact seasonal pattern
        quarterly("B", "2026Q2", [100, 200, 300]),        # 3 quarters -> mean
        quarterly("C", "2025Q4", [100, 200, 300, 400]),   # 4 quarters -> seasonal naive
    ], ignore_index=True)
    before = q.copy()
    f = fc.forecast_next(q, {"forecast": {"interval": 0.8, "min_history": 6}}).set_index("partner_id")
    pd.testing.assert_frame_equal(q, before)
    assert list(f.columns) == ["period", "forecast", "lower", "upper", "method", "n_history"]
    assert (f["period"] == "2027Q1").all()  # the quarter after the latest, 2026Q4
    # A: simple init: level 25, seasonal -15,-5,5,15, trend (25-25)/4 = 0; every one-step error is 0
    # whatever the smoothing parameters, so the forecast of Q1 is 10 with a zero-width interval
    assert f.loc["A", "method"] == "exp_smoothing" and f.loc["A", "n_history"] == 12
    assert f.loc["A", ["forecast", "lower", "upper"]].tolist() == pytest.approx([10, 10, 10])
    # B: mean 200, sd 100, z(0.9) = 1.281552; half-width 1.281552 * 100 * sqrt(1 + 1/3) = 147.981
    assert f.loc["B", "method"] == "mean" and f.loc["B", "forecast"] == pytest.approx(200)
    assert f.loc["B", "lower"] == pytest.approx(200 - 147.9812, abs=1e-3)
    assert f.loc["B", "upper"] == pytest.approx(200 + 147.9812, abs=1e-3)
    # C: same quarter a year earlier (2026Q1 for 2027Q1) = 400? no: history 2025Q4..2026Q3 padded with
    # 0 for 2026Q4 (no row) -> 5 quarters [100,200,300,400,0]; target 2027Q1 <- 2026Q1 = 200.
    # sd of [100,200,300,400,0] = 158.114; 200 - 1.281552 * 158.114 = -2.63 -> clipped to 0
    assert f.loc["C", "method"] == "seasonal_naive" and f.loc["C", "n_history"] == 5
    assert f.loc["C", "forecast"] == pytest.approx(200)
    assert f.loc["C", "lower"] == 0 and f.loc["C", "upper"] == pytest.approx(200 + 1.281552 * 158.1139, abs=1e-2)
    assert ((f["lower"] <= f["forecast"]) & (f["forecast"] <= f["upper"]) & (f["lower"] >= 0)).all()


def test_single_quarter_uses_pooled_spread_and_is_deterministic():
    q = pd.concat([quarterly("A", "2026Q1", [100, 300]), quarterly("B", "2026Q2", [50])], ignore_index=True)
    f1 = fc.forecast_next(q, interval=0.8, min_history=6)
    f2 = fc.forecast_next(q, interval=0.8, min_history=6)
    pd.testing.assert_frame_equal(f1, f2)
    b = f1.set_index("partner_id").loc["B"]
    # pooled CV = A's sd / mean = 141.421 / 200 = 0.707107; spread = 0.707107 * 50 * sqrt(2) = 50
    assert b["forecast"] == 50 and b["upper"] == pytest.approx(50 + 1.281552 * 50, abs=1e-4)
    assert b["lower"] == 0  # 50 - 64.08 < 0, clipped


def _statsmodels_fit(y, s: fc.Smoothing):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    m = 4
    if s.seasonal:
        level = y[:m].mean()
        init = dict(initial_level=level, initial_trend=(y[m:2 * m].mean() - level) / m,
                    initial_seasonal=y[:m] - level)
        kw = dict(seasonal="add", seasonal_periods=m)
        fit_kw = dict(smoothing_seasonal=s.gamma)
    else:
        init = dict(initial_level=y[0], initial_trend=y[1] - y[0])
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


def test_network_smoothing_is_a_statsmodels_fit():
    y = np.array([100, 130, 90, 120, 110, 140, 95, 128, 118, 150, 101, 135], dtype=float)
    s = fc.network_smoothing(y)
    assert s.source.startswith("network fit") and s.seasonal
    assert 0 <= s.alpha <= 1 and 0 <= s.phi <= 1
    short = fc.network_smoothing(np.array([1.0, 2.0]))
    assert short.source.startswith("defaults") and "alpha" in short.summary()


def test_backtest_mape_known_value():
    # A: 100 every quarter of 2024, 200 in 2025, 300 in 2026. With min_history above the history the
    # seasonal-naive fallback forecasts each 2026 quarter with the 2025 value 200: error 100 on 300,
    # APE 1/3 every quarter -> MAPE = WAPE = network APE = 1/3.
    # B: 50 in 2024, then nothing (actual 0 in 2026, forecast 0 from 2025): zero actuals are excluded
    # from MAPE and add 0 to the WAPE numerator.
    q = pd.concat([quarterly("A", "2024Q1", [100] * 4 + [200] * 4 + [300] * 4),
                   quarterly("B", "2024Q1", [50] * 4)], ignore_index=True)
    before = q.copy()
    res = fc.backtest(q, holdout=4, min_history=100)
    pd.testing.assert_frame_equal(q, before)
    assert res.per_quarter["period"].tolist() == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert res.mape == pytest.approx(1 / 3)
    assert res.wape == pytest.approx(400 / 1200)
    assert res.network_mape == pytest.approx(1 / 3)
    assert res.per_quarter["network_ape"].tolist() == pytest.approx([1 / 3] * 4)
    assert res.per_quarter["partners"].tolist() == [2] * 4
    assert "MAPE" in res.summary()


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
