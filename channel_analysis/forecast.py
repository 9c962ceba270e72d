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
   A quarter whose revenue is NaN (not measured) is not data: a partner's series starts at its
   first measured quarter; with fewer than ``min_quarters`` quarters it gets no forecast
   ("not_enough_history").
3. **Intervals** are empirical and additive: the forecast plus the quantiles of the scaled
   one-step errors (actual − one-step forecast) / recent level, times the partner's recent level
   (mean of its last four quarters), pooled over every partner's in-sample one-step forecasts — so
   they are calibrated on the network's own forecast errors, never negative, and a forecast of 0
   for a partner with recent sales still has an upper bound above 0.
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
    "not_enough_history": "no forecast: fewer quarters of history than forecast.min_quarters",
}
#: ``method`` of a partner without a forecast (fewer than ``forecast.min_quarters`` quarters).
NOT_ENOUGH_HISTORY = "not_enough_history"


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


@dataclass(frozen=True)
class _Options:
    interval: float
    min_history: int
    min_quarters: int
    fy_start: int


def _options(params: dict | None, interval, min_history, fy_start, min_quarters=None) -> _Options:
    p = params or {}
    f = p.get("forecast", {})
    interval = interval if interval is not None else f.get("interval", 0.8)
    min_history = min_history if min_history is not None else f.get("min_history", 6)
    min_quarters = min_quarters if min_quarters is not None else f.get("min_quarters", 2)
    fy_start = fy_start if fy_start is not None else p.get("fiscal_year_start_month", 1)
    if not 0 < float(interval) < 1:
        raise ParamsError(f"forecast.interval must be between 0 and 1 (e.g. 0.8), got {interval!r}")
    if int(min_history) < 1:
        raise ParamsError(f"forecast.min_history must be at least 1, got {min_history!r}")
    if int(min_quarters) < 1:
        raise ParamsError(f"forecast.min_quarters must be at least 1, got {min_quarters!r}")
    return _Options(float(interval), int(min_history), int(min_quarters), int(fy_start))


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
    # a quarter whose revenue is NaN was not measured (before the sales data start, e.g.): not data.
    # Each partner's series starts at its first measured quarter.
    keep = (ords <= last.ordinal) & quarterly["revenue"].notna().to_numpy()
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
    # a vanishingly small mean (e.g. 5e-324) has no finite inverse: not a usable scale
    keep = np.isfinite(scale) & (scale > np.finfo(float).tiny) & scored.any(axis=1)
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


def _local_level(y: np.ndarray, length: np.ndarray) -> np.ndarray:
    """partners x (Lmax + 1): ℓ[i, t] = the mean of partner i's revenue over the (up to)
    :data:`SEASON` quarters before position t (NaN at t = 0). ``ℓ[i, length[i]]`` is the partner's
    recent level at the forecast origin: the mean of its last four quarters (fewer if it has fewer)."""
    n, tmax = y.shape
    inside = np.arange(tmax)[None, :] < length[:, None]
    c = np.zeros((n, tmax + 1))
    c[:, 1:] = np.cumsum(np.where(inside, y, 0.0), axis=1)
    t = np.arange(tmax + 1)
    lo = np.maximum(t - SEASON, 0)
    count = (t - lo).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c[:, t] - c[:, lo]) / np.where(count > 0, count, np.nan)[None, :]


def _scaled_error_quantiles(actual: np.ndarray, fitted: np.ndarray, level: np.ndarray,
                            interval: float) -> tuple[float, float, int]:
    """(lower, upper) quantiles of the scaled one-step errors e = (actual − fitted) / ℓ over the
    finite points whose local level ℓ (:func:`_local_level`) is > 0, and their number. Additive in
    units of the partner's recent level, so a forecast of 0 still gets the width of the errors."""
    ok = np.isfinite(actual) & np.isfinite(fitted) & np.isfinite(level) & (level > 0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        e = (actual[ok] - fitted[ok]) / level[ok]
    e = e[np.isfinite(e)]  # a vanishingly small level (e.g. 5e-324) overflows: not a usable error
    if len(e) == 0:
        return float("nan"), float("nan"), 0
    lo, hi = np.quantile(e, [(1 - interval) / 2, (1 + interval) / 2])
    return float(lo), float(hi), int(len(e))


def _bounds(f: np.ndarray, level: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """[max(0, f + min(lo, 0)·ℓ), f + max(hi, 0)·ℓ] (ℓ NaN → 0: no recent level, no width)."""
    lvl = np.where(np.isfinite(level), level, 0.0)
    return np.maximum(f + min(lo, 0.0) * lvl, 0.0), f + max(hi, 0.0) * lvl


def _relative_change_expected(panel: _Panel, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(actual, expected) partners x Lmax: expected y_t = y_{t-1} · (Y_t / Y_{t-1}), the previous
    quarter moved like the network total (which removes the season and the network trend), over
    every partner-quarter with y_{t-1} > 0 (NaN elsewhere): the one-step forecast whose errors give
    the interval of the short-history methods."""
    y, length = panel.y, panel.length
    nan = np.full(y.shape, np.nan)
    if y.shape[1] < 2:
        return nan, nan
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
    return np.where(ok, y, np.nan), np.where(ok, prev * np.where(ok, growth, 0.0), np.nan)


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


def _forecast(quarterly: pd.DataFrame, opt: _Options, last_period: str | None,
              smoothing: Smoothing | None) -> _Fit:
    interval, min_history, fy_start = opt.interval, opt.min_history, opt.fy_start
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
    level = _local_level(y, length)  # partners x (Lmax + 1): recent level before each quarter
    recent = level[np.arange(n), length] if n else np.zeros(0)  # at the forecast origin
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
        lvl = level[:, :-1]
        pooled = _scaled_error_quantiles(actual, yhat, lvl, interval)
        forecast_s = np.clip(f_adj * s_next, 0, None)
        for group in (trend_ok, level_ok):
            if not group.any():
                continue
            lo, hi, m = _scaled_error_quantiles(actual[group], yhat[group], lvl[group], interval)
            if m < MIN_POOLED_ERRORS:
                lo, hi, m = pooled
            if m == 0:  # no one-step error anywhere (every partner has one quarter): no spread known
                lo, hi = 0.0, 0.0
            f = forecast_s[group]
            forecast[group] = f
            lower[group], upper[group] = _bounds(f, recent[group], lo, hi)
    short = ~(trend_ok | level_ok)
    if short.any():  # < 5 network quarters: seasonal naive / mean
        ys, ls = y[short], length[short]
        mean = np.where(inside[short], ys, 0.0).sum(axis=1) / ls
        snaive = ys[np.arange(len(ls)), np.maximum(ls - SEASON, 0)]
        f = np.clip(np.where(ls >= SEASON, snaive, mean), 0, None)
        actual, expected = _relative_change_expected(panel, total)
        lo, hi, m = _scaled_error_quantiles(actual, expected, level[:, :-1], interval)
        if m == 0:  # a single quarter of history: no change observed, no spread known
            lo, hi = 0.0, 0.0
        forecast[short] = f
        lower[short], upper[short] = _bounds(f, recent[short], lo, hi)
    # too short a history: no forecast (it still counts in the network total and the fits above)
    few = length < opt.min_quarters
    forecast[few], lower[few], upper[few] = np.nan, np.nan, np.nan
    method[few] = NOT_ENOUGH_HISTORY
    period = str(panel.last + 1)
    frame = pd.DataFrame({
        "partner_id": panel.partners, "period": period, "forecast": forecast,
        "lower": lower, "upper": upper, "method": method, "n_history": length.astype("int64"),
    })
    # partners whose every quarter is unmeasured (NaN revenue): listed, without a forecast
    unseen = pd.Index(quarterly["partner_id"].unique()).difference(pd.Index(panel.partners))
    if len(unseen):
        frame = pd.concat([frame, pd.DataFrame({
            "partner_id": np.asarray(unseen, dtype=object), "period": period, "forecast": np.nan,
            "lower": np.nan, "upper": np.nan, "method": NOT_ENOUGH_HISTORY, "n_history": 0})],
            ignore_index=True).sort_values("partner_id", kind="stable", ignore_index=True)
        frame["n_history"] = frame["n_history"].astype("int64")
    top_down = (max(net.next_value * s_next, 0.0) if seasonal_ok and np.isfinite(net.next_value)
                else float("nan"))  # without seasonal factors the top-down model has no season: no check
    hw, hw_model = holt_winters_total(total)
    network = NetworkForecast(period, float(np.nansum(forecast)), float(top_down), hw, hw_model, factors, net,
                              sm_trend, sm_level)
    return _Fit(frame, network)


def forecast_next(quarterly: pd.DataFrame, params: dict | None = None, *, interval: float | None = None,
                  min_history: int | None = None, fy_start: int | None = None,
                  last_period: str | None = None, smoothing: Smoothing | None = None,
                  min_quarters: int | None = None) -> pd.DataFrame:
    """Next-quarter revenue forecast per partner with a prediction interval.

    ``quarterly``: [partner_id, period, revenue] (reporting currency). A row whose revenue is NaN
    is a quarter that was not measured (e.g. before the sales data start) and is not data: a
    partner's history runs from its first quarter with a measured revenue to ``last_period``
    (default: the latest quarter in the table); later quarters without a row count as 0 revenue.
    Options come from ``params`` (``forecast.interval``, ``forecast.min_history``,
    ``forecast.min_quarters``, ``fiscal_year_start_month``) unless given as keywords.
    ``smoothing``: α, β, φ to use instead of the pooled fit (:func:`pooled_smoothing`); its α is
    also used for "seasonal_level".

    Returns [partner_id, period, forecast, lower, upper, method, n_history], one row per partner of
    ``quarterly``: ``period`` = the quarter after ``last_period``; ``n_history`` = quarters of
    history. ``method`` (see :data:`METHODS`), with T = quarters of network history and n = the
    partner's:

    - "not_enough_history" (n < min_quarters): forecast and bounds NaN;
    - "exp_smoothing" (T ≥ 5, n ≥ max(min_history, 5)): damped-trend smoothing of revenue / S_q,
      forecast = (ℓ + φb) · S_next (S = :func:`seasonal_factors` of the network total);
    - "seasonal_level" (T ≥ 5, shorter n): the same without a trend, forecast = ℓ · S_next;
    - "seasonal_naive" (T < 5, n ≥ 4: the same quarter a year earlier) or "mean" (T < 5, n < 4).

    Interval: [max(0, f + min(q_lo, 0)·L), f + max(q_hi, 0)·L], L = the partner's recent level
    (mean revenue of its last four quarters), q = the (1 ∓ interval)/2 quantiles of the scaled
    one-step errors (actual − one-step forecast) / (mean of the four quarters before) over all
    in-sample one-step forecasts of the partners using the method (pooled across methods with
    fewer than :data:`MIN_POOLED_ERRORS`). The short-history methods score the previous quarter
    moved like the network total as their one-step forecast. The interval is additive in units of
    the partner's recent level, so a forecast of 0 for a partner with recent sales still has an
    upper bound above 0. Forecast and bounds are never negative; lower ≤ forecast ≤ upper.
    """
    opt = _options(params, interval, min_history, fy_start, min_quarters)
    return _forecast(quarterly, opt, last_period, smoothing).frame


def network_forecast(quarterly: pd.DataFrame, params: dict | None = None, *, interval: float | None = None,
                     min_history: int | None = None, fy_start: int | None = None,
                     last_period: str | None = None, min_quarters: int | None = None) -> NetworkForecast:
    """The next-quarter network total three ways (bottom-up sum of :func:`forecast_next`, top-down,
    statsmodels Holt-Winters) with the seasonal factors and smoothing parameters used; see
    :class:`NetworkForecast`. Same inputs and options as :func:`forecast_next`."""
    opt = _options(params, interval, min_history, fy_start, min_quarters)
    return _forecast(quarterly, opt, last_period, None).network


@dataclass(frozen=True)
class BacktestResult:
    """Rolling-origin one-step-ahead backtest of :func:`forecast_next`.

    ``errors``: one row per partner x backtested quarter [period, partner_id, actual, forecast,
    lower, upper, method] over every partner with a forecast or a measured revenue in the quarter:
    a partner without a forecast (new in the quarter, or too short a history) has forecast NaN and
    method "no_forecast" / "not_enough_history"; its revenue is in the actual all the same.
    ``per_quarter``: [period, partners, no_forecast, actual, forecast, network_ape, mape, wape,
    coverage] (see :func:`score_errors`). Aggregates: ``network_mape`` (mean over quarters of
    |Σactual − Σforecast| / Σactual), ``mape`` (mean over forecast partner-quarters with actual > 0
    of |a − f| / a), ``wape`` (Σ|a − f| / Σa over all partner-quarters, a missing forecast counting
    as 0), ``coverage`` (share of the forecast partners' actuals inside their interval).
    ``network``: per quarter [period, actual, bottom_up, top_down, holt_winters] — the network
    total forecast three ways (see :class:`NetworkForecast`).
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
                         f"coverage {r.coverage:.0%}, {r.partners} partners forecast, "
                         f"{r.no_forecast} without a forecast")
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


#: ``method`` in the backtest errors of a partner with revenue in the tested quarter and no
#: history before it (new in that quarter).
NO_FORECAST = "no_forecast"


def score_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """Per-quarter error measures of backtest rows [period, partner_id, actual, forecast, lower, upper].

    A row with forecast NaN (no forecast for the partner) counts with forecast 0 in the sums (its
    revenue was not foreseen) and is counted in ``no_forecast``. Returns [period, partners (with a
    forecast), no_forecast, actual (Σ, every partner), forecast (Σ), network_ape (|Σa − Σf| / Σa),
    mape (mean |a − f| / a over forecast partners with a > 0), wape (Σ|a − f| / Σa), coverage
    (share of forecast partners with lower ≤ a ≤ upper)]; ratios NaN where Σa = 0. By the
    triangle inequality wape ≥ network_ape.
    """
    has = errors["forecast"].notna()
    f = errors["forecast"].fillna(0.0)
    a = errors["actual"]
    abs_err = (a - f).abs()
    e = pd.DataFrame({
        "period": errors["period"], "has": has, "actual": a, "forecast": f, "abs_err": abs_err,
        "ape": (abs_err / a).where(has & (a > 0)),
        "inside": ((a >= errors["lower"]) & (a <= errors["upper"])).where(has),
    })
    e["inside"] = e["inside"].astype("float64")
    per = e.groupby("period", sort=True).agg(partners=("has", "sum"), rows=("has", "size"),
                                             actual=("actual", "sum"), forecast=("forecast", "sum"),
                                             abs_err=("abs_err", "sum"), mape=("ape", "mean"),
                                             coverage=("inside", "mean")).reset_index()
    per["partners"] = per["partners"].astype("int64")
    per["no_forecast"] = (per["rows"] - per["partners"]).astype("int64")
    pos = per["actual"] > 0
    per["network_ape"] = ((per["actual"] - per["forecast"]).abs() / per["actual"]).where(pos)
    per["wape"] = (per["abs_err"] / per["actual"]).where(pos)
    return per[["period", "partners", "no_forecast", "actual", "forecast", "network_ape", "mape", "wape",
                "coverage"]]


def backtest(quarterly: pd.DataFrame, holdout: int = 4, params: dict | None = None, *,
             interval: float | None = None, min_history: int | None = None,
             fy_start: int | None = None, min_quarters: int | None = None) -> BacktestResult:
    """Rolling-origin one-step-ahead backtest over the last ``holdout`` quarters of ``quarterly``.

    For each of those quarters Q: forecast Q from the quarters before it only (:func:`forecast_next`
    with ``last_period`` = Q - 1: seasonal factors, smoothing parameters and interval quantiles are
    all re-estimated from that history) and compare with the actual revenue of every partner in Q
    (0 for a forecast partner without a row in Q). Partners with revenue in Q and no forecast (new
    partners, too short a history) are in the actual, with no forecast (counted as 0 in the sums
    and listed in ``no_forecast``). See :class:`BacktestResult` for the error measures.
    """
    opt = _options(params, interval, min_history, fy_start, min_quarters)
    freq = periods.quarter_freq(opt.fy_start)
    measured = quarterly[quarterly["revenue"].notna()]
    ords = _ordinals(quarterly["period"], opt.fy_start)
    m_ords = _ordinals(measured["period"], opt.fy_start)
    last = m_ords.max() if len(m_ords) else ords.max()
    frames, nets = [], []
    for k in range(holdout - 1, -1, -1):  # one origin per backtested quarter
        target = last - k
        train = quarterly.loc[ords < target]
        if train["revenue"].notna().sum() == 0:
            continue
        prev = str(pd.Period(ordinal=int(target - 1), freq=freq))
        fit = _forecast(train, opt, prev, None)
        actual = measured.loc[m_ords == target].groupby("partner_id")["revenue"].sum()
        fc = fit.frame.merge(actual.rename("actual").reset_index(), on="partner_id", how="outer")
        fc["period"] = fit.network.period
        fc["actual"] = fc["actual"].fillna(0.0)
        fc["method"] = fc["method"].fillna(NO_FORECAST)
        frames.append(fc)
        nw = fit.network
        nets.append({"period": nw.period, "actual": float(fc["actual"].sum()), "bottom_up": nw.bottom_up,
                     "top_down": nw.top_down, "holt_winters": nw.holt_winters})
    if not frames:
        raise ParamsError(f"backtest needs at least one quarter of history before the last {holdout} quarters")
    errors = pd.concat(frames, ignore_index=True)[["period", "partner_id", "actual", "forecast", "lower", "upper",
                                                   "method"]]
    per = score_errors(errors)
    has = errors["forecast"].notna()
    f = errors["forecast"].fillna(0.0)
    pos = has & (errors["actual"] > 0)
    ape = ((errors["actual"] - f).abs() / errors["actual"])[pos]
    inside = ((errors["actual"] >= errors["lower"]) & (errors["actual"] <= errors["upper"]))[has]
    total_actual = errors["actual"].sum()
    return BacktestResult(
        per_quarter=per, errors=errors,
        network_mape=float(per["network_ape"].mean()),
        mape=float(ape.mean()) if len(ape) else float("nan"),
        wape=float((errors["actual"] - f).abs().sum() / total_actual) if total_actual > 0 else float("nan"),
        coverage=float(inside.mean()) if len(inside) else float("nan"), interval=opt.interval,
        network=pd.DataFrame(nets),
    )
