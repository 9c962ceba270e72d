"""Next-quarter revenue per partner with prediction intervals, and a rolling-origin backtest.

Method (``docs/methods.md`` §3 has the formulas and the reasoning):

1. **Seasonal factors** are estimated once, from the **network total**, as soon as it has ≥ 5
   quarters (one quarter of the year seen twice): a log-linear regression on a trend and four
   quarter effects, shrunk toward 1 (no seasonality) by how well the history determines them
   (:func:`seasonal_factors`). Multiplicative: a factor of 1.25 means that quarter of the year sells
   25% more than an average quarter.
2. Every partner's quarterly revenue is **divided by the factors** (seasonally adjusted), smoothed
   with a damped-trend exponential smoothing, and the next-quarter level is **multiplied back** by
   the factor of the quarter forecast. All partners at once (:func:`smooth`, vectorized: 5,000
   partners × 16 quarters in under a second). The smoothing parameters are shared: chosen by a
   grid search on the pooled one-step errors of all partners (:func:`pooled_smoothing`).
   Partners with fewer than ``min_history`` quarters get the same smoothing without a trend.
3. **Intervals** are empirical: the forecast times the quantiles of (actual / one-step forecast)
   over every partner's in-sample one-step forecasts, pooled, so they are calibrated on the
   network's own forecast errors and never negative.
4. With < 5 quarters of network history no seasonality can be estimated: seasonal naive (a
   partner with 4 quarters) or the mean (fewer), as before.

The network total is also forecast top-down by one statsmodels fit (damped trend on the adjusted
total, :func:`network_smoothing`) and, with ≥ 10 quarters, by statsmodels Holt-Winters with its own
seasonality, as a check of the bottom-up sum
(:func:`network_forecast`, reported by the backtest). Nothing here is random: results are
deterministic. statsmodels is imported inside functions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import periods
from .errors import ParamsError

#: Quarters per seasonal cycle.
SEASON = 4
#: Network quarters needed to estimate seasonal factors (a trend + 4 quarter effects: one quarter
#: of the year must be seen twice).
MIN_SEASONAL_QUARTERS = SEASON + 1
#: Network quarters needed for the statsmodels Holt-Winters check with its own seasonality.
MIN_HOLT_WINTERS_QUARTERS = 2 * SEASON + 2
#: Prior for the noise of the log network total around trend × season: sd 0.05 (±5% a quarter),
#: worth 2 residual degrees of freedom. It keeps the shrinkage defined with 5-6 quarters.
NOISE_PRIOR_SD = 0.05
NOISE_PRIOR_DOF = 2.0
#: Smoothing parameters used when the network history is too short to fit (documented fallback).
DEFAULT_SMOOTHING = {"alpha": 0.3, "beta": 0.1, "gamma": 0.0, "phi": 0.9}
#: Grid of the pooled partner fit (:func:`pooled_smoothing`): level, trend and damping parameters.
GRID_ALPHA = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
GRID_BETA = (0.0, 0.05, 0.1, 0.2, 0.3)
GRID_PHI = (0.8, 0.9, 0.98)
#: One-step errors a method needs for its own interval quantiles (else all methods are pooled).
MIN_POOLED_ERRORS = 50

#: ``method`` values of :func:`forecast_next`, with the plain-English description.
METHODS = {
    "exp_smoothing": "damped-trend exponential smoothing of the seasonally adjusted quarterly revenue, "
                     "times the network's seasonal factor of the quarter forecast",
    "seasonal_level": "exponential smoothing (level, no trend) of the seasonally adjusted quarterly revenue, "
                      "times the seasonal factor of the quarter forecast (short history)",
    "seasonal_naive": "the same quarter one year earlier (network history too short for seasonal factors)",
    "mean": "the mean of the partner's quarters (network history too short for seasonal factors)",
}


@dataclass(frozen=True)
class Smoothing:
    """Smoothing parameters shared by every partner's exponential smoothing.

    The partner recursion uses ``alpha`` (level), ``beta`` (trend) and ``phi`` (damping) on the
    seasonally adjusted series; ``gamma``/``seasonal`` describe the fitted model only.
    ``next_value``: the fitted model's forecast of the next value of the series it was fitted on.
    """

    alpha: float
    beta: float
    gamma: float
    phi: float
    seasonal: bool
    source: str  # e.g. "network fit: damped trend on the seasonally adjusted total, AIC(c) 123.4"
    next_value: float = float("nan")

    def summary(self) -> str:
        return (f"alpha={self.alpha:.3f} beta={self.beta:.3f} gamma={self.gamma:.3f} phi={self.phi:.3f} "
                f"seasonal={self.seasonal} ({self.source})")


@dataclass(frozen=True)
class SeasonalFactors:
    """Multiplicative quarterly factors (mean 1) by quarter of the fiscal year.

    ``factors[k]`` is the factor of periods whose ordinal ≡ k (mod 4); ``quarters[k]`` is that
    position's quarter number (1-4). ``estimate``: the unshrunk factors; ``weight`` the shrinkage
    weight w in [0, 1] (factor = exp(w·ŝ) normalised); ``sigma`` the residual sd of the log network
    total used for w; ``n_quarters`` the quarters used. ``estimated`` is False (all factors 1) when
    the history could not identify them.
    """

    factors: np.ndarray
    estimate: np.ndarray
    weight: float
    sigma: float
    n_quarters: int
    quarters: tuple[int, ...]
    estimated: bool
    source: str

    def at(self, ordinals) -> np.ndarray:
        """Factors of quarters given by their period ordinals (any array shape)."""
        return self.factors[np.asarray(ordinals, dtype=np.int64) % SEASON]

    def by_quarter(self) -> dict[int, float]:
        """{quarter number 1-4: factor}."""
        return {q: float(self.factors[k]) for k, q in sorted(enumerate(self.quarters), key=lambda kv: kv[1])}

    def summary(self) -> str:
        body = ", ".join(f"Q{q} {f:.3f}" for q, f in self.by_quarter().items())
        return f"seasonal factors {body} (w={self.weight:.2f}, {self.n_quarters} quarters; {self.source})"


def _options(params: dict | None, interval, min_history, fy_start) -> tuple[float, int, int]:
    p = params or {}
    f = p.get("forecast", {})
    interval = interval if interval is not None else f.get("interval", 0.8)
    min_history = min_history if min_history is not None else f.get("min_history", 6)
    fy_start = fy_start if fy_start is not None else p.get("fiscal_year_start_month", 1)
    if not 0 < float(interval) < 1:
        raise ParamsError(f"forecast.interval must be between 0 and 1 (e.g. 0.8), got {interval!r}")
    if int(min_history) < 1:
        raise ParamsError(f"forecast.min_history must be at least 1, got {min_history!r}")
    return float(interval), int(min_history), int(fy_start)


@dataclass(frozen=True)
class _Panel:
    partners: np.ndarray  # partner ids
    y: np.ndarray         # partners x Lmax, left-aligned: y[i, j] = revenue j quarters after first
    length: np.ndarray    # quarters of history per partner (first quarter .. last_period)
    last: pd.Period       # last quarter of history (the forecast is for last + 1)

    @property
    def first(self) -> np.ndarray:
        """Period ordinal of each partner's first quarter."""
        return self.last.ordinal - self.length + 1

    def mask(self) -> np.ndarray:
        """partners x Lmax: True inside each partner's history."""
        return np.arange(self.y.shape[1])[None, :] < self.length[:, None]

    def network_total(self) -> np.ndarray:
        """Σ revenue per quarter over the span (oldest first quarter .. last)."""
        span = int(self.length.max()) if len(self.length) else 0
        total = np.zeros(span)
        rows, cols = np.nonzero(self.mask())
        np.add.at(total, (span - self.length)[rows] + cols, self.y[rows, cols])
        return total


def _ordinals(labels: pd.Series, fy_start: int) -> np.ndarray:
    """Period ordinals of quarter labels (each distinct label parsed once)."""
    codes, uniques = pd.factorize(labels.astype(str))
    parsed = np.array([periods.parse_quarter(u, fy_start).ordinal for u in uniques], dtype=np.int64)
    return parsed[codes]


def _panel(quarterly: pd.DataFrame, fy_start: int, last_period: str | None) -> _Panel:
    freq = periods.quarter_freq(fy_start)
    ords = _ordinals(quarterly["period"], fy_start)
    last = (periods.parse_quarter(last_period, fy_start) if last_period
            else pd.Period(ordinal=int(ords.max()), freq=freq) if len(ords) else None)
    if last is None:
        raise ParamsError("the quarterly revenue table is empty: nothing to forecast")
    keep = ords <= last.ordinal
    codes, partners = pd.factorize(quarterly["partner_id"].to_numpy()[keep], sort=True)
    ords = ords[keep]
    first = np.full(len(partners), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, ords)
    length = (last.ordinal - first + 1).astype(np.int64)
    y = np.zeros((len(partners), int(length.max()) if len(partners) else 0))
    np.add.at(y, (codes, ords - first[codes]), quarterly["revenue"].to_numpy(dtype="float64")[keep])
    return _Panel(np.asarray(partners, dtype=object), y, length, last)


def seasonal_factors(total: np.ndarray, first: pd.Period) -> SeasonalFactors:
    """Multiplicative quarterly seasonal factors of a quarterly series (the network total).

    ``total[k]`` is the quarter ``first + k``. Model, by least squares over the quarters with
    total > 0: log Y_t = b·t + c_q(t) (a log-linear trend and one effect per quarter of the year);
    ŝ_q = c_q − mean(c) (Σ ŝ = 0). It needs ≥ 5 positive quarters covering all four quarters of
    the year (one seen twice, which separates the trend from the season); otherwise all factors
    are 1 (``estimated`` False).

    Shrinkage toward 1 (method of moments, empirical Bayes): σ̂² = (RSS + ν₀σ₀²) / (dof + ν₀)
    with dof = n − 5 and the prior σ₀ = :data:`NOISE_PRIOR_SD`, ν₀ = :data:`NOISE_PRIOR_DOF`;
    each ŝ_q has sampling variance ≈ σ̂²/Y (Y = n/4 years), so
    w = max(0, 1 − 3·(σ̂²/Y) / Σ ŝ_q²) (3 = free seasonal effects). Factors:
    S_q = exp(w·ŝ_q) / mean_q exp(w·ŝ_q) (mean 1). Few years or a noisy total → w small → factors
    near 1; a clear seasonal pattern → w near 1.
    """
    y = np.asarray(total, dtype="float64")
    k = (first.ordinal + np.arange(len(y))) % SEASON
    quarters = tuple(int(pd.Period(ordinal=int(first.ordinal - first.ordinal % SEASON + j), freq=first.freq).quarter)
                     for j in range(SEASON))
    ones = np.ones(SEASON)

    def none(reason: str) -> SeasonalFactors:
        return SeasonalFactors(ones, ones, 0.0, float("nan"), int(len(y)), quarters, False, reason)

    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < MIN_SEASONAL_QUARTERS or len(np.unique(k[ok])) < SEASON:
        return none(f"needs ≥ {MIN_SEASONAL_QUARTERS} quarters with revenue covering the 4 quarters of the year")
    t = np.arange(len(y), dtype="float64")[ok]
    x = np.column_stack([t, (k[ok][:, None] == np.arange(SEASON)[None, :]).astype("float64")])
    logy = np.log(y[ok])
    coef, _, rank, _ = np.linalg.lstsq(x, logy, rcond=None)
    if rank < SEASON + 1:
        return none("trend and season not separable")
    n = int(ok.sum())
    rss = float(np.sum((logy - x @ coef) ** 2))
    dof = n - (SEASON + 1)
    sigma2 = (rss + NOISE_PRIOR_DOF * NOISE_PRIOR_SD ** 2) / (dof + NOISE_PRIOR_DOF)
    s_hat = coef[1:] - coef[1:].mean()
    ss = float(np.sum(s_hat ** 2))
    years = n / SEASON
    w = max(0.0, 1.0 - (SEASON - 1) * (sigma2 / years) / ss) if ss > 0 else 0.0
    est = np.exp(s_hat) / np.exp(s_hat).mean()
    shrunk = np.exp(w * s_hat)
    return SeasonalFactors(shrunk / shrunk.mean(), est, float(w), float(np.sqrt(sigma2)), n, quarters, True,
                           "log-linear trend + quarter effects on the network total, shrunk toward 1")


def _fit_damped(y: np.ndarray, seasonal: str | None = None):
    """statsmodels ExponentialSmoothing fit (damped additive trend), or None when it fails."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                        seasonal_periods=SEASON if seasonal else None,
                                        initialization_method="estimated").fit()
    except (ValueError, np.linalg.LinAlgError):
        return None


def _score(fit) -> float:
    return float(fit.aicc if np.isfinite(fit.aicc) else fit.aic)  # AICc is infinite on very short series


def network_smoothing(adjusted: np.ndarray) -> Smoothing:
    """Fit statsmodels' damped-trend exponential smoothing (no seasonality) on a series, normally
    the seasonally adjusted network total, and return its parameters (α, β, φ) and next value.

    With fewer than 4 quarters, a non-finite value, or if the fit fails: :data:`DEFAULT_SMOOTHING`
    (``next_value`` NaN).
    """
    y = np.asarray(adjusted, dtype="float64")
    if len(y) < SEASON or not np.isfinite(y).all():
        return Smoothing(**DEFAULT_SMOOTHING, seasonal=False, source="defaults (network history too short)")
    fit = _fit_damped(y)
    if fit is None or not np.isfinite(_score(fit)):
        return Smoothing(**DEFAULT_SMOOTHING, seasonal=False, source="defaults (network fit failed)")
    p = fit.params
    return Smoothing(alpha=float(p["smoothing_level"]), beta=float(p["smoothing_trend"]), gamma=0.0,
                     phi=float(p["damping_trend"]), seasonal=False,
                     source=f"network fit: damped trend on the seasonally adjusted total, AIC(c) {_score(fit):.1f}",
                     next_value=float(fit.forecast(1)[0]))


def holt_winters_total(total: np.ndarray) -> tuple[float, str]:
    """Next value of the network total from statsmodels Holt-Winters with its own seasonality
    (damped additive trend; additive or multiplicative — the latter for a positive series —
    quarterly seasonality, lower AICc). Needs ≥ :data:`MIN_HOLT_WINTERS_QUARTERS` quarters;
    returns (forecast, description), forecast NaN when not available."""
    y = np.asarray(total, dtype="float64")
    if len(y) < MIN_HOLT_WINTERS_QUARTERS or not np.isfinite(y).all():
        return float("nan"), f"Holt-Winters needs ≥ {MIN_HOLT_WINTERS_QUARTERS} quarters"
    best = None
    for seasonal in (["add", "mul"] if (y > 0).all() else ["add"]):
        fit = _fit_damped(y, seasonal)
        if fit is not None and np.isfinite(_score(fit)) and (best is None or _score(fit) < best[1]):
            best = (seasonal, _score(fit), fit)
    if best is None:
        return float("nan"), "Holt-Winters fit failed"
    return float(best[2].forecast(1)[0]), f"Holt-Winters, damped trend, {best[0]} seasonality, AIC(c) {best[1]:.1f}"


def smooth(y: np.ndarray, length: np.ndarray, s: Smoothing, *, level0: np.ndarray | None = None,
           trend0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped-trend (optionally additive-seasonal) exponential smoothing of many series at once.

    ``y``: series x time, left-aligned (series i has ``length[i]`` values). Initial states as
    statsmodels' ``initialization_method="simple"``: seasonal: level = mean of the first 4
    quarters, seasonal = first 4 quarters - level, trend = (mean of quarters 5-8 - mean of 1-4) / 4
    (0 with fewer than 8 quarters); non-seasonal: level = y0, trend = y1 - y0 (0 with one value).
    ``level0`` / ``trend0`` replace the initial level / trend (per series). Recursions
    (Holt-Winters, damped): ŷ_t = l + φb + s_{t-4}; l' = α(y_t - s_{t-4}) + (1-α)(l + φb);
    b' = β(l' - l) + (1-β)φb; s_t = γ(y_t - l - φb) + (1-γ)s_{t-4}. Returns (one-step fitted values
    [series x time, NaN past each length], next-period forecast, residual RMSE over t ≥ 4 (≥ 2
    non-seasonal)).
    """
    m = SEASON
    n, tmax = y.shape
    a, b_, g, phi = s.alpha, s.beta, (s.gamma if s.seasonal else 0.0), s.phi
    if s.seasonal:
        level = y[:, :m].mean(axis=1)
        season = y[:, :m] - level[:, None]
        with np.errstate(invalid="ignore"):
            trend = np.where(length >= 2 * m, (y[:, m:2 * m].mean(axis=1) - level) / m if tmax >= 2 * m else 0.0, 0.0)
        burn = m
    else:
        level = y[:, 0].copy() if tmax else np.zeros(n)
        trend = np.where(length >= 2, y[:, 1] - y[:, 0] if tmax >= 2 else 0.0, 0.0)
        season = np.zeros((n, m))
        burn = 2
    if level0 is not None:
        level = np.asarray(level0, dtype="float64").copy()
    if trend0 is not None:
        trend = np.asarray(trend0, dtype="float64").copy()
    fitted = np.full((n, tmax), np.nan)
    for t in range(tmax):  # a loop over quarters (tens), vectorized over series
        active = t < length
        s_prev = season[:, t % m]
        damped = level + phi * trend
        fitted[active, t] = (damped + s_prev)[active]
        yt = y[:, t]
        new_level = a * (yt - s_prev) + (1 - a) * damped
        new_trend = b_ * (new_level - level) + (1 - b_) * phi * trend
        new_season = g * (yt - damped) + (1 - g) * s_prev
        level = np.where(active, new_level, level)
        trend = np.where(active, new_trend, trend)
        season[:, t % m] = np.where(active, new_season, s_prev)
    forecast = level + phi * trend + season[np.arange(n), length % m]
    resid = y - fitted
    resid[:, :burn] = np.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rmse = np.sqrt(np.nanmean(resid ** 2, axis=1))
    return fitted, forecast, rmse


def pooled_smoothing(x: np.ndarray, length: np.ndarray, *, trend: bool = True) -> Smoothing:
    """Smoothing parameters fitted on many series at once (pooled), by grid search.

    ``x``: series x time, left-aligned (normally the seasonally adjusted partner revenue);
    ``length``: values per series. For every (α, β, φ) of :data:`GRID_ALPHA` × :data:`GRID_BETA`
    × :data:`GRID_PHI` (``trend=False``: α only, β = 0, no trend), runs :func:`smooth` (statsmodels'
    "simple" initial states; level-only: level = x0, trend 0) over all series and scores
    loss = mean over series i and t ≥ 2 (t ≥ 1 level-only) of |x_it − x̂_it| / x̄_i (one-step
    absolute error in units of the series' own mean, so every partner weighs the same; series with
    mean 0 or no scored quarter are left out). Returns the parameters with the lowest loss (the
    first in grid order on a tie: deterministic); :data:`DEFAULT_SMOOTHING` when nothing can be
    scored.
    """
    burn = 2 if trend else 1
    cols = np.arange(x.shape[1])[None, :]
    inside = cols < length[:, None]
    scored = inside & (cols >= burn)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmean(np.where(inside, np.abs(x), np.nan), axis=1)
    keep = np.isfinite(scale) & (scale > 0) & scored.any(axis=1)
    if not keep.any():
        d = {**DEFAULT_SMOOTHING, **({} if trend else {"beta": 0.0, "phi": 1.0})}
        return Smoothing(**d, seasonal=False, source="defaults (no partner history to fit)")
    xk, lk, sk = x[keep], length[keep], scored[keep]
    weight = np.where(sk, 1.0 / scale[keep][:, None], 0.0) / sk.sum()
    trend0 = None if trend else np.zeros(len(lk))
    grid = ([(a, b, phi) for a in GRID_ALPHA for b in GRID_BETA for phi in GRID_PHI] if trend
            else [(a, 0.0, 1.0) for a in GRID_ALPHA])
    best = None
    for a, b, phi in grid:
        cand = Smoothing(a, b, 0.0, phi, False, "grid")
        fitted, _, _ = smooth(xk, lk, cand, trend0=trend0)
        loss = float(np.sum(np.abs(np.where(sk, xk - fitted, 0.0)) * weight))
        if best is None or loss < best[0] - 1e-12:
            best = (loss, cand)
    loss, cand = best
    kind = "damped trend" if trend else "level only"
    return Smoothing(cand.alpha, cand.beta, 0.0, cand.phi, False,
                     f"pooled fit ({kind}) over {int(keep.sum())} partners: "
                     f"mean |one-step error| {loss:.3f} × partner mean")


def _ratio_quantiles(actual: np.ndarray, fitted: np.ndarray, interval: float) -> tuple[float, float, int]:
    """(lower, upper) quantiles of actual / fitted over the finite points with fitted > 0, and n."""
    ok = np.isfinite(actual) & np.isfinite(fitted) & (fitted > 0)
    with np.errstate(over="ignore", divide="ignore"):
        r = actual[ok] / fitted[ok]
    r = r[np.isfinite(r)]  # a vanishingly small fitted value (e.g. 5e-324) overflows: not a usable ratio
    if len(r) == 0:
        return float("nan"), float("nan"), 0
    lo, hi = np.quantile(r, [(1 - interval) / 2, (1 + interval) / 2])
    return float(lo), float(hi), int(len(r))


def _relative_change_quantiles(panel: _Panel, total: np.ndarray, interval: float) -> tuple[float, float, int]:
    """(lower, upper) quantiles and count of r = (y_t / y_{t-1}) / (Y_t / Y_{t-1}) over every
    partner-quarter with y_{t-1} > 0: a partner's quarter-on-quarter change relative to the
    network's (which removes the season and the network trend)."""
    y, length = panel.y, panel.length
    if y.shape[1] < 2:
        return float("nan"), float("nan"), 0
    idx = (len(total) - length)[:, None] + np.arange(y.shape[1])[None, :]  # position in the total
    prev_total = np.where(idx >= 1, total[np.clip(idx - 1, 0, len(total) - 1)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = total[np.clip(idx, 0, len(total) - 1)] / prev_total
    inside = panel.mask()
    ok = np.zeros_like(inside)
    ok[:, 1:] = inside[:, 1:] & (y[:, :-1] > 0)
    ok &= np.isfinite(growth) & (growth > 0)
    prev = np.zeros_like(y)
    prev[:, 1:] = y[:, :-1]
    expected = np.where(ok, prev * np.where(ok, growth, 0.0), np.nan)
    return _ratio_quantiles(np.where(ok, y, np.nan), expected, interval)


@dataclass(frozen=True)
class NetworkForecast:
    """Next-quarter forecast of the network total, three ways (reporting currency).

    ``bottom_up``: Σ of the partner forecasts (what :func:`forecast_next` returns);
    ``top_down``: the statsmodels damped-trend fit on the seasonally adjusted total × the next
    quarter's seasonal factor (``network_fit``; NaN with < 4 quarters); ``holt_winters``:
    statsmodels Holt-Winters with its own seasonality on the raw total (NaN with < 10 quarters).
    ``difference``: bottom_up / reference − 1, reference = holt_winters when available, else
    top_down. ``factors``: the seasonal factors; ``trend`` / ``level``: the pooled partner
    smoothing parameters of "exp_smoothing" / "seasonal_level" (None when no partner used it).
    """

    period: str
    bottom_up: float
    top_down: float
    holt_winters: float
    holt_winters_model: str
    factors: SeasonalFactors
    network_fit: Smoothing
    trend: Smoothing | None
    level: Smoothing | None

    @property
    def difference(self) -> float:
        ref = self.holt_winters if np.isfinite(self.holt_winters) else self.top_down
        return float(self.bottom_up / ref - 1) if np.isfinite(ref) and ref > 0 else float("nan")

    def summary(self) -> str:
        hw = f"{self.holt_winters:,.0f}" if np.isfinite(self.holt_winters) else f"n/a ({self.holt_winters_model})"
        return (f"Network forecast {self.period}: bottom-up {self.bottom_up:,.0f}, top-down {self.top_down:,.0f}, "
                f"Holt-Winters {hw}; bottom-up vs reference {self.difference:+.1%}\n"
                f"  {self.factors.summary()}\n  network fit: {self.network_fit.summary()}\n"
                f"  partners, exp_smoothing: {self.trend.summary() if self.trend else '-'}\n"
                f"  partners, seasonal_level: {self.level.summary() if self.level else '-'}")


@dataclass(frozen=True)
class _Fit:
    frame: pd.DataFrame
    network: NetworkForecast


def _forecast(quarterly: pd.DataFrame, interval: float, min_history: int, fy_start: int,
              last_period: str | None, smoothing: Smoothing | None) -> _Fit:
    panel = _panel(quarterly, fy_start, last_period)
    y, length = panel.y, panel.length
    n = len(panel.partners)
    inside = panel.mask()
    total = panel.network_total()
    first_total = panel.last - (len(total) - 1)
    factors = seasonal_factors(total, first_total)
    seasonal_ok = len(total) >= MIN_SEASONAL_QUARTERS
    next_ord = panel.last.ordinal + 1
    s_next = float(factors.at(next_ord))
    adj_total = total / factors.at(first_total.ordinal + np.arange(len(total)))
    net = network_smoothing(adj_total)
    forecast = np.zeros(n)
    lower = np.zeros(n)
    upper = np.zeros(n)
    trend_ok = seasonal_ok & (length >= max(min_history, MIN_SEASONAL_QUARTERS))
    level_ok = seasonal_ok & ~trend_ok
    method = np.where(trend_ok, "exp_smoothing", np.where(level_ok, "seasonal_level",
                      np.where(length >= SEASON, "seasonal_naive", "mean"))).astype(object)
    sm_trend = sm_level = None
    if seasonal_ok and n:
        season = factors.at(panel.first[:, None] + np.arange(y.shape[1])[None, :])
        x = np.where(inside, y / season, 0.0)
        fitted = np.full(y.shape, np.nan)
        f_adj = np.zeros(n)
        burn = np.zeros(n, dtype=np.int64)
        if trend_ok.any():
            xt, lt = x[trend_ok], length[trend_ok]
            sm_trend = smoothing if smoothing is not None else pooled_smoothing(xt, lt)
            fit_t, f_t, _ = smooth(xt, lt, sm_trend)
            fitted[trend_ok], f_adj[trend_ok], burn[trend_ok] = fit_t, f_t, 2
        if level_ok.any():
            xl, ll = x[level_ok], length[level_ok]
            sm_level = (pooled_smoothing(x, length, trend=False) if smoothing is None else
                        Smoothing(smoothing.alpha, 0.0, 0.0, 1.0, False, "level only, given alpha"))
            fit_l, f_l, _ = smooth(xl, ll, sm_level, trend0=np.zeros(len(ll)))
            fitted[level_ok], f_adj[level_ok], burn[level_ok] = fit_l, f_l, 1
        yhat = fitted * season  # one-step forecasts, reseasonalised
        scored = inside & (np.arange(y.shape[1])[None, :] >= burn[:, None])
        actual = np.where(scored, y, np.nan)
        pooled = _ratio_quantiles(actual, yhat, interval)
        forecast_s = np.clip(f_adj * s_next, 0, None)
        for group in (trend_ok, level_ok):
            if not group.any():
                continue
            lo, hi, m = _ratio_quantiles(actual[group], yhat[group], interval)
            if m < MIN_POOLED_ERRORS:
                lo, hi, m = pooled
            if m == 0:  # no one-step error anywhere (every partner has one quarter): no spread known
                lo, hi = 1.0, 1.0
            f = forecast_s[group]
            forecast[group] = f
            lower[group] = f * min(max(lo, 0.0), 1.0)
            upper[group] = f * max(hi, 1.0)
    short = ~(trend_ok | level_ok)
    if short.any():  # < 5 network quarters: seasonal naive / mean
        ys, ls = y[short], length[short]
        mean = np.where(inside[short], ys, 0.0).sum(axis=1) / ls
        snaive = ys[np.arange(len(ls)), np.maximum(ls - SEASON, 0)]
        f = np.clip(np.where(ls >= SEASON, snaive, mean), 0, None)
        lo, hi, m = _relative_change_quantiles(panel, total, interval)
        if m == 0:  # a single quarter of history: no change observed, no spread known
            lo, hi = 1.0, 1.0
        forecast[short] = f
        lower[short] = f * min(max(lo, 0.0), 1.0)
        upper[short] = f * max(hi, 1.0)
    period = str(panel.last + 1)
    frame = pd.DataFrame({
        "partner_id": panel.partners, "period": period, "forecast": forecast,
        "lower": lower, "upper": upper, "method": method, "n_history": length.astype("int64"),
    })
    top_down = (max(net.next_value * s_next, 0.0) if seasonal_ok and np.isfinite(net.next_value)
                else float("nan"))  # without seasonal factors the top-down model has no season: no check
    hw, hw_model = holt_winters_total(total)
    network = NetworkForecast(period, float(forecast.sum()), float(top_down), hw, hw_model, factors, net,
                              sm_trend, sm_level)
    return _Fit(frame, network)


def forecast_next(quarterly: pd.DataFrame, params: dict | None = None, *, interval: float | None = None,
                  min_history: int | None = None, fy_start: int | None = None,
                  last_period: str | None = None, smoothing: Smoothing | None = None) -> pd.DataFrame:
    """Next-quarter revenue forecast per partner with a prediction interval.

    ``quarterly``: [partner_id, period, revenue] (reporting currency). A partner's history runs
    from its first quarter in the table to ``last_period`` (default: the latest quarter in the
    table); quarters without a row count as 0 revenue. Options come from ``params`` (``forecast.
    interval``, ``forecast.min_history``, ``fiscal_year_start_month``) unless given as keywords.
    ``smoothing``: α, β, φ to use instead of the pooled fit (:func:`pooled_smoothing`); its α is
    also used for "seasonal_level".

    Returns [partner_id, period, forecast, lower, upper, method, n_history]: ``period`` = the
    quarter after ``last_period``; ``n_history`` = quarters of history. ``method`` (see
    :data:`METHODS`), with T = quarters of network history and n = the partner's:

    - "exp_smoothing" (T ≥ 5, n ≥ max(min_history, 5)): damped-trend smoothing of revenue / S_q,
      forecast = (ℓ + φb) · S_next (S = :func:`seasonal_factors` of the network total);
    - "seasonal_level" (T ≥ 5, shorter n): the same without a trend, forecast = ℓ · S_next;
    - "seasonal_naive" (T < 5, n ≥ 4: the same quarter a year earlier) or "mean" (T < 5, n < 4).

    Interval of the first two: [f · max(0, min(q_lo, 1)), f · max(q_hi, 1)], q = the (1 ∓ interval)/2
    quantiles of actual / one-step forecast over all in-sample one-step forecasts of the partners
    using the method (pooled across methods with fewer than :data:`MIN_POOLED_ERRORS`). Fallback
    intervals: ± z·sd of the partner's revenue (× sqrt(1 + 1/n) for the mean; a single quarter uses
    the network's median coefficient of variation × forecast × sqrt(2)). Forecast and bounds are
    never negative; lower ≤ forecast ≤ upper.
    """
    interval, min_history, fy_start = _options(params, interval, min_history, fy_start)
    return _forecast(quarterly, interval, min_history, fy_start, last_period, smoothing).frame


def network_forecast(quarterly: pd.DataFrame, params: dict | None = None, *, interval: float | None = None,
                     min_history: int | None = None, fy_start: int | None = None,
                     last_period: str | None = None) -> NetworkForecast:
    """The next-quarter network total three ways (bottom-up sum of :func:`forecast_next`, top-down,
    statsmodels Holt-Winters) with the seasonal factors and smoothing parameters used; see
    :class:`NetworkForecast`. Same inputs and options as :func:`forecast_next`."""
    interval, min_history, fy_start = _options(params, interval, min_history, fy_start)
    return _forecast(quarterly, interval, min_history, fy_start, last_period, None).network


@dataclass(frozen=True)
class BacktestResult:
    """Rolling-origin one-step-ahead backtest of :func:`forecast_next`.

    ``per_quarter``: [period, partners, actual, forecast, network_ape, mape, wape, coverage]; ``errors``:
    one row per partner x backtested quarter [period, partner_id, actual, forecast, lower, upper,
    method]. Aggregates: ``network_mape`` (mean over quarters of |Σactual - Σforecast| / Σactual),
    ``mape`` (mean over partner-quarters with actual > 0 of |a - f| / a: zero actuals are excluded),
    ``wape`` (Σ|a - f| / Σa over all partner-quarters), ``coverage`` (share of actuals inside the
    interval). ``network``: per quarter [period, actual, bottom_up, top_down, holt_winters] — the
    network total forecast three ways (see :class:`NetworkForecast`).
    """

    per_quarter: pd.DataFrame
    errors: pd.DataFrame
    network_mape: float
    mape: float
    wape: float
    coverage: float
    interval: float
    network: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> str:
        lines = [f"Backtest, one quarter ahead, {len(self.per_quarter)} quarters:",
                 f"  network MAPE {self.network_mape:.1%} (error of the network total)",
                 f"  partner MAPE {self.mape:.1%} (actual > 0 only), WAPE {self.wape:.1%}, "
                 f"{self.interval:.0%} interval coverage {self.coverage:.1%}"]
        for r in self.per_quarter.itertuples(index=False):
            lines.append(f"  {r.period}: actual {r.actual:,.0f} forecast {r.forecast:,.0f} "
                         f"network APE {r.network_ape:.1%}, MAPE {r.mape:.1%}, WAPE {r.wape:.1%}, "
                         f"coverage {r.coverage:.0%}")
        if len(self.network):
            net = self.network
            parts = []
            for col, name in (("top_down", "top-down"), ("holt_winters", "Holt-Winters")):
                ape = ((net[col] - net["actual"]).abs() / net["actual"]).dropna()
                if len(ape):
                    parts.append(f"{name} {ape.mean():.1%} ({len(ape)} quarters)")
            if parts:
                lines.append("  network MAPE of the network-level checks: " + ", ".join(parts))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.per_quarter.to_html(index=False)


def backtest(quarterly: pd.DataFrame, holdout: int = 4, params: dict | None = None, *,
             interval: float | None = None, min_history: int | None = None,
             fy_start: int | None = None) -> BacktestResult:
    """Rolling-origin one-step-ahead backtest over the last ``holdout`` quarters of ``quarterly``.

    For each of those quarters Q: forecast Q from the quarters before it only (:func:`forecast_next`
    with ``last_period`` = Q - 1: seasonal factors, smoothing parameters and interval quantiles are
    all re-estimated from that history) and compare with the actual revenue (0 for a partner without
    a row in Q). Partners with no history before Q (new partners) are not scored. See
    :class:`BacktestResult` for the error measures.
    """
    interval, min_history, fy_start = _options(params, interval, min_history, fy_start)
    freq = periods.quarter_freq(fy_start)
    ords = _ordinals(quarterly["period"], fy_start)
    last = ords.max()
    frames, nets = [], []
    for k in range(holdout - 1, -1, -1):  # one origin per backtested quarter
        target = last - k
        train = quarterly.loc[ords < target]
        if train.empty:
            continue
        prev = str(pd.Period(ordinal=int(target - 1), freq=freq))
        fit = _forecast(train, interval, min_history, fy_start, prev, None)
        fc = fit.frame
        actual = quarterly.loc[ords == target].groupby("partner_id")["revenue"].sum()
        fc["actual"] = fc["partner_id"].map(actual).fillna(0.0).to_numpy()
        frames.append(fc)
        nw = fit.network
        nets.append({"period": nw.period, "actual": float(fc["actual"].sum()), "bottom_up": nw.bottom_up,
                     "top_down": nw.top_down, "holt_winters": nw.holt_winters})
    if not frames:
        raise ParamsError(f"backtest needs at least one quarter of history before the last {holdout} quarters")
    errors = pd.concat(frames, ignore_index=True)[["period", "partner_id", "actual", "forecast", "lower", "upper", "method"]]
    e = errors.assign(abs_err=(errors["actual"] - errors["forecast"]).abs(),
                      inside=(errors["actual"] >= errors["lower"]) & (errors["actual"] <= errors["upper"]))
    pos = e["actual"] > 0
    e["ape"] = (e["abs_err"] / e["actual"]).where(pos)
    per = e.groupby("period", sort=True).agg(partners=("partner_id", "size"), actual=("actual", "sum"),
                                             forecast=("forecast", "sum"), abs_err=("abs_err", "sum"),
                                             mape=("ape", "mean"), coverage=("inside", "mean")).reset_index()
    per["network_ape"] = ((per["actual"] - per["forecast"]).abs() / per["actual"]).where(per["actual"] > 0)
    per["wape"] = (per["abs_err"] / per["actual"]).where(per["actual"] > 0)
    per = per[["period", "partners", "actual", "forecast", "network_ape", "mape", "wape", "coverage"]]
    total_actual = e["actual"].sum()
    return BacktestResult(
        per_quarter=per, errors=errors,
        network_mape=float(per["network_ape"].mean()),
        mape=float(e["ape"].mean()),
        wape=float(e["abs_err"].sum() / total_actual) if total_actual > 0 else float("nan"),
        coverage=float(e["inside"].mean()), interval=interval, network=pd.DataFrame(nets),
    )

