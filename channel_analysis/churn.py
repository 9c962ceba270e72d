"""Partner churn risk: a Cox model of partner churn, its backtest and its calibration (internal).

**Panel** (:func:`panel`, counting-process form). One row per partner and quarter of the history in
which the partner is at risk: onboarded on or before the quarter's first day and not ended before
it. ``entry`` = the quarter's first day, ``exit`` = its last day (at most ``as_of``) or the churn
date (``partners.end_date``), both in days since the first day of the history, so a partner's
quarters are consecutive intervals on one calendar clock; ``event`` = the partner churned within
the quarter. Its covariates are known at the quarter's start: the KPI table's row of the quarter
before (``churn.covariates``, each ``<measure>_<window>``), only those the data provide.

**Model** (:func:`fit`). statsmodels ``PHReg(exit, Z, status=event, entry=entry, ties="efron")`` on
the covariates, transformed (money and counts: log(1 + x); rates: clipped to [−1, 3]) and
standardized with the panel's mean and standard deviation (a missing value is the mean: z = 0).
Fewer than ``churn.min_events`` churns: no model, and the status says so.

**Risk** (:meth:`ChurnModel.predict`). Probability of churn within the next quarter,
``1 − exp(−H̄ · exp(β·z))``, with H̄ the Breslow baseline cumulative hazard over the fitted
quarters divided by their number (a baseline hazard taken constant per quarter) and z the
partner's standardized covariates at the reported quarter. Its **drivers** are the covariates
adding most to the linear predictor (β_j·z_j > 0, largest first), each with the side of the
network mean its value lies on.

**Backtest** (:func:`backtest`). For each of the last ``churn.backtest_quarters`` quarters, the
model fitted on the quarters before it predicts that quarter's churn; the concordance (Harrell's C:
share of churned × stayed pairs ranked the right way, ties ½) and a calibration table by
quantile band of the predicted probability (predicted mean, observed rate, partner-quarters,
churns) compare the predictions with what happened.

Every number lands in the exported tables ``churn_risk``, ``churn_model`` and ``churn_calibration``
(:mod:`channel_analysis.exports`) and the network table (``churn_concordance``). The risk of a
partner is internal: it is never in a partner's bundle or on its page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.duration.hazard_regression import PHReg

from . import measures, periods
from .settings import ChurnSettings

#: ``ChurnResult.status`` values: the model was fitted, or why not.
FITTED, TOO_FEW_EVENTS, NO_COVARIATE, NOT_CONVERGED, NO_END_DATE = (
    "fitted", "too_few_events", "no_covariate", "not_converged", "no_end_date")

#: Columns of the exported tables (declared in :data:`channel_analysis.exports.EXPORTS`).
RISK_COLUMNS = ["partner_id", "period", "churn_risk", "churn_rank", "linear_predictor", "drivers"]
MODEL_COLUMNS = ["covariate", "coef", "hazard_ratio", "ci_low", "ci_high", "p_value", "mean", "std"]
CALIBRATION_COLUMNS = ["band", "p_low", "p_high", "n", "events", "predicted", "observed"]

#: Bounds of a rate covariate (growth of −100 % .. +300 %): one outlier does not set the scale.
RATE_CLIP = (-1.0, 3.0)


def split_covariate(name: str) -> tuple[str, str]:
    """``revenue_growth_yoy_t4q`` → (``revenue_growth_yoy``, ``t4q``)."""
    measure, _, window = name.rpartition("_")
    return measure, window


def _transform(name: str, values: pd.Series) -> np.ndarray:
    """The covariate on the model's scale: log(1 + x) for money, counts and days, clipped rates."""
    kind = measures.get(split_covariate(name)[0]).kind
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if kind in ("currency", "integer", "days"):
        return np.log1p(np.clip(x, 0.0, None))
    if kind == "percent":
        return np.clip(x, *RATE_CLIP)
    return x


def _covariate_frame(kpi: pd.DataFrame, covariates: tuple[str, ...]) -> pd.DataFrame:
    """[partner_id, period, <covariate>...] from the KPI table (one column per covariate)."""
    out = None
    for name in covariates:
        measure, window = split_covariate(name)
        rows = kpi[kpi["window"] == window]
        col = rows[measure] if measure in rows else pd.Series(np.nan, index=rows.index)
        part = pd.DataFrame({"partner_id": rows["partner_id"].astype(str).to_numpy(),
                             "period": rows["period"].astype(str).to_numpy(), name: col.to_numpy(dtype=float)})
        out = part if out is None else out.merge(part, on=["partner_id", "period"], how="outer")
    if out is None:
        return pd.DataFrame(columns=["partner_id", "period"])
    return out


def _dates(partners: pd.DataFrame, column: str) -> pd.Series:
    if column not in partners:
        return pd.Series(pd.NaT, index=partners.index, dtype="datetime64[ns]")
    return pd.to_datetime(partners[column])


def panel(kpi: pd.DataFrame, partners: pd.DataFrame, quarters: list[str], as_of, covariates: tuple[str, ...],
          fy_start: int = 1) -> pd.DataFrame:
    """The partner × quarter panel: [partner_id, period, entry, exit, event, <covariates>] (see the
    module docstring). Quarters are ``quarters[1:]`` (the first one only gives covariates) that
    started on or before ``as_of``; a partner without an onboarding date is left out."""
    as_of = pd.Timestamp(as_of)
    if len(quarters) < 2:
        return pd.DataFrame(columns=["partner_id", "period", "entry", "exit", "event", *covariates])
    origin = periods.quarter_bounds(quarters[0], fy_start)[0]
    ids = partners["partner_id"].astype(str).to_numpy()
    onboarded = _dates(partners, "onboarded_date").to_numpy()
    ended = _dates(partners, "end_date").to_numpy()
    x = _covariate_frame(kpi, covariates)
    frames = []
    for before, label in zip(quarters, quarters[1:]):
        start, end = periods.quarter_bounds(label, fy_start)
        if start > as_of:
            break
        end = min(end, as_of)
        at_risk = (onboarded <= np.datetime64(start)) & ~(ended < np.datetime64(start))
        churn = at_risk & (ended <= np.datetime64(end))
        stop = np.where(churn, ended, np.datetime64(end))
        rows = pd.DataFrame({
            "partner_id": ids[at_risk], "period": label,
            "entry": float((start - origin).days),
            "exit": ((stop[at_risk] - np.datetime64(origin)) / np.timedelta64(1, "D")) + 1.0,
            "event": churn[at_risk].astype("int64"),
            "_cov_period": before,
        })
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=["partner_id", "period", "entry", "exit", "event", *covariates])
    out = pd.concat(frames, ignore_index=True)
    out = out.merge(x.rename(columns={"period": "_cov_period"}), on=["partner_id", "_cov_period"], how="left")
    return out.drop(columns=["_cov_period"]).reindex(
        columns=["partner_id", "period", "entry", "exit", "event", *covariates])


def current(kpi: pd.DataFrame, partners: pd.DataFrame, period: str, as_of,
            covariates: tuple[str, ...]) -> pd.DataFrame:
    """The partners whose next-quarter churn is predicted: those with a KPI row of ``period`` that
    have not ended by ``as_of``, with their covariates of ``period``: [partner_id, <covariates>]."""
    x = _covariate_frame(kpi, covariates)
    x = x[x["period"] == period].drop(columns=["period"])
    ended = _dates(partners, "end_date")
    gone = set(partners.loc[ended <= pd.Timestamp(as_of), "partner_id"].astype(str))
    x = x[~x["partner_id"].isin(gone)]
    return x.sort_values("partner_id", ignore_index=True)


def breslow(exit_: np.ndarray, event: np.ndarray, entry: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow (Nelson–Aalen) baseline hazard jumps at the distinct event times: (times, jumps).

    ``risk`` = exp(linear predictor) of each row; a row is at risk at t when entry < t ≤ exit."""
    times = np.unique(exit_[event.astype(bool)])
    if not len(times):
        return times, times.astype(float)
    d = np.array([np.sum(event.astype(bool) & (exit_ == t)) for t in times], dtype=float)
    at_risk = (entry[None, :] < times[:, None]) & (exit_[None, :] >= times[:, None])
    return times, d / (at_risk * risk[None, :]).sum(axis=1)


@dataclass
class ChurnModel:
    """A fitted (or not fitted) churn model; ``status`` says which (:data:`FITTED` …).

    ``coefficients``: [covariate, coef, hazard_ratio, ci_low, ci_high, p_value, mean, std] (95 %
    intervals of the hazard ratio per standard deviation); ``quarter_hazard``: H̄, the baseline
    cumulative hazard of one quarter; ``events`` / ``rows`` / ``quarters``: what it was fitted on;
    ``dropped``: covariates left out and why."""

    status: str
    events: int = 0
    rows: int = 0
    quarters: int = 0
    coefficients: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MODEL_COLUMNS))
    quarter_hazard: float = float("nan")
    dropped: dict = field(default_factory=dict)
    result: object = None

    @property
    def fitted(self) -> bool:
        return self.status == FITTED

    @property
    def covariates(self) -> list[str]:
        return list(self.coefficients["covariate"])

    def standardize(self, x: pd.DataFrame) -> np.ndarray:
        """The model's z-values of ``x``'s covariates (a missing value: 0, the mean)."""
        c = self.coefficients
        if not len(c):
            return np.zeros((len(x), 0))
        raw = np.column_stack([_transform(name, x[name]) for name in c["covariate"]])
        z = (raw - c["mean"].to_numpy()) / c["std"].to_numpy()
        return np.where(np.isnan(z), 0.0, z)

    def linear_predictor(self, x: pd.DataFrame) -> np.ndarray:
        return self.standardize(x) @ self.coefficients["coef"].to_numpy(dtype=float)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Probability of churn within one quarter of each row of ``x`` (NaN when not fitted)."""
        if not self.fitted:
            return np.full(len(x), np.nan)
        return probability(self.quarter_hazard, self.linear_predictor(x))

    def drivers(self, x: pd.DataFrame, k: int) -> list[str]:
        """Per row of ``x``: up to ``k`` covariates adding most to its risk (β·z > 0, largest first),
        each ``<covariate>:low`` or ``<covariate>:high`` (its value below or above the mean), joined
        by "; " ("" when none)."""
        if not self.fitted or not len(x):
            return [""] * len(x)
        z = self.standardize(x)
        contrib = z * self.coefficients["coef"].to_numpy(dtype=float)
        names = self.covariates
        out = []
        for row_c, row_z in zip(contrib, z):
            order = [j for j in np.argsort(-row_c, kind="stable") if row_c[j] > 0][:k]
            out.append("; ".join(f"{names[j]}:{'high' if row_z[j] > 0 else 'low'}" for j in order))
        return out

    def summary(self) -> str:
        if not self.fitted:
            return f"churn model not fitted ({self.status}; {self.events} churns in {self.rows} partner-quarters)"
        lines = [f"Cox model of partner churn: {self.events} churns in {self.rows} partner-quarters over "
                 f"{self.quarters} quarters; baseline risk per quarter {1 - np.exp(-self.quarter_hazard):.2%}"]
        for r in self.coefficients.itertuples(index=False):
            lines.append(f"  {r.covariate:<28} HR per sd {r.hazard_ratio:6.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] "
                         f"p={r.p_value:.3f}")
        lines += [f"  (left out: {name}: {why})" for name, why in self.dropped.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def probability(quarter_hazard: float, lp: np.ndarray) -> np.ndarray:
    """1 − exp(−H̄ · exp(lp)): the probability of churn within one quarter."""
    return -np.expm1(-quarter_hazard * np.exp(np.asarray(lp, dtype=float)))


def fit(data: pd.DataFrame, covariates: tuple[str, ...], min_events: int) -> ChurnModel:
    """Fit the Cox model on a :func:`panel` (see the module docstring); never raises for thin data:
    the returned model's ``status`` says why it was not fitted."""
    events, rows = int(data["event"].sum()) if len(data) else 0, len(data)
    quarters = int(data["period"].nunique()) if len(data) else 0
    base = dict(events=events, rows=rows, quarters=quarters)
    if events < min_events:
        return ChurnModel(TOO_FEW_EVENTS, **base)
    used, dropped, cols = [], {}, []
    for name in covariates:
        x = _transform(name, data[name]) if name in data else np.full(rows, np.nan)
        known = x[~np.isnan(x)]
        if not len(known):
            dropped[name] = "not provided"
        elif known.max() == known.min():
            dropped[name] = "the same value for every partner"
        else:
            used.append(name)
            cols.append(x)
    if not used:
        return ChurnModel(NO_COVARIATE, dropped=dropped, **base)
    raw = np.column_stack(cols)
    mean, std = np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
    z = np.where(np.isnan(raw), 0.0, (raw - mean) / std)
    exit_, entry = data["exit"].to_numpy(float), data["entry"].to_numpy(float)
    event = data["event"].to_numpy(int)
    try:
        result = PHReg(exit_, z, status=event, entry=entry, ties="efron").fit()
    except (np.linalg.LinAlgError, ValueError):
        return ChurnModel(NOT_CONVERGED, dropped=dropped, **base)
    beta = np.asarray(result.params, dtype=float)
    if not np.all(np.isfinite(beta)) or not np.all(np.isfinite(result.bse)):
        return ChurnModel(NOT_CONVERGED, dropped=dropped, **base)
    ci = np.asarray(result.conf_int(), dtype=float)
    with np.errstate(over="ignore"):  # a covariate that separates churners: an interval to infinity
        coefficients = pd.DataFrame({
            "covariate": used, "coef": beta, "hazard_ratio": np.exp(beta), "ci_low": np.exp(ci[:, 0]),
            "ci_high": np.exp(ci[:, 1]), "p_value": np.asarray(result.pvalues, dtype=float), "mean": mean,
            "std": std,
        })
    _, jumps = breslow(exit_, event, entry, np.exp(z @ beta))
    return ChurnModel(FITTED, coefficients=coefficients, quarter_hazard=float(jumps.sum()) / quarters,
                      dropped=dropped, result=result, **base)


def concordance(prob: np.ndarray, event: np.ndarray) -> float:
    """Harrell's C for a binary outcome: the share of (churned, stayed) pairs whose churned member
    has the higher predicted probability, ties counting ½ (NaN without both kinds)."""
    prob, event = np.asarray(prob, dtype=float), np.asarray(event).astype(bool)
    n1, n0 = int(event.sum()), int((~event).sum())
    if not n1 or not n0:
        return float("nan")
    ranks = pd.Series(prob).rank(method="average").to_numpy()
    return float((ranks[event].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def calibration(prob: np.ndarray, event: np.ndarray, bins: int) -> pd.DataFrame:
    """[band, p_low, p_high, n, events, predicted, observed]: rows by quantile band of the predicted
    probability, lowest first: k = min(``bins``, rows) bands of equal size (±1 row), the rows ranked
    by probability (ties in their order) and row r of n in band ⌊(r − 1)·k ÷ n⌋ + 1."""
    prob, event = np.asarray(prob, dtype=float), np.asarray(event, dtype=int)
    if not len(prob):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("band", "n", "events") else float)
                             for c in CALIBRATION_COLUMNS})
    n, k = len(prob), min(bins, len(prob))
    rank = pd.Series(prob).rank(method="first").to_numpy(dtype="int64")
    d = pd.DataFrame({"band": (rank - 1) * k // n + 1, "p": prob, "e": event})
    g = d.groupby("band").agg(p_low=("p", "min"), p_high=("p", "max"), n=("p", "size"), events=("e", "sum"),
                              predicted=("p", "mean"), observed=("e", "mean")).reset_index()
    g["n"] = g["n"].astype("int64")
    g["events"] = g["events"].astype("int64")
    return g[CALIBRATION_COLUMNS]


@dataclass
class ChurnBacktest:
    """Next-quarter predictions of held-out quarters: ``predictions`` [period, partner_id,
    probability, event]; ``fitted`` / ``skipped`` the held-out quarters with and without a model;
    ``concordance``; ``calibration`` (:func:`calibration`)."""

    predictions: pd.DataFrame
    fitted: list[str]
    skipped: list[str]
    concordance: float
    calibration: pd.DataFrame

    def summary(self) -> str:
        if not self.fitted:
            return "churn backtest: no held-out quarter had enough churns before it to fit a model"
        return (f"churn backtest over {', '.join(self.fitted)}: {len(self.predictions):,} partner-quarters, "
                f"{int(self.predictions['event'].sum())} churns, concordance {self.concordance:.3f}")


def backtest(data: pd.DataFrame, covariates: tuple[str, ...], settings: ChurnSettings) -> ChurnBacktest:
    """Fit on the quarters before each of the last ``settings.backtest_quarters`` quarters of the
    panel and predict that quarter (rolling origin)."""
    labels = sorted(data["period"].unique()) if len(data) else []
    held = labels[-settings.backtest_quarters:] if settings.backtest_quarters else []
    frames, fitted, skipped = [], [], []
    for label in held:
        model = fit(data[data["period"] < label], covariates, settings.min_events)
        test = data[data["period"] == label]
        if not model.fitted or not len(test):
            skipped.append(label)
            continue
        fitted.append(label)
        frames.append(pd.DataFrame({"period": label, "partner_id": test["partner_id"].to_numpy(),
                                    "probability": model.predict(test), "event": test["event"].to_numpy(int)}))
    pred = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"period": pd.Series(dtype=str), "partner_id": pd.Series(dtype=str),
         "probability": pd.Series(dtype=float), "event": pd.Series(dtype="int64")})
    return ChurnBacktest(pred, fitted, skipped, concordance(pred["probability"], pred["event"]),
                         calibration(pred["probability"].to_numpy(), pred["event"].to_numpy(), settings.bins))


@dataclass
class ChurnResult:
    """The churn analysis of a run: ``status`` (:data:`FITTED` or why not), the model, its
    backtest, ``risk`` (the ``churn_risk`` table) and the period predicted from."""

    status: str
    period: str
    model: ChurnModel
    backtest: ChurnBacktest
    risk: pd.DataFrame
    min_events: int

    @property
    def fitted(self) -> bool:
        return self.status == FITTED

    def reason(self) -> str:
        """Why there is no churn risk, in words (the run summary and ``kpis/skipped``)."""
        m = self.model
        fallback = "; the at-risk list keeps its rule-based order"
        if self.status == TOO_FEW_EVENTS:
            return (f"{m.events} partner{'s' * (m.events != 1)} churned in the history, churn.min_events is "
                    f"{self.min_events}: no churn model{fallback}")
        if self.status == NO_COVARIATE:
            return f"none of churn.covariates is provided or varies: no churn model{fallback}"
        if self.status == NOT_CONVERGED:
            return f"the churn model did not converge on this history (too few churns for its covariates){fallback}"
        if self.status == NO_END_DATE:
            return f"partners.end_date not provided{fallback}"
        return ""

    def notes(self) -> dict:
        """JSON-ready facts the overview states (``NetworkStats.notes["churn"]``)."""
        bt = self.backtest
        return {"status": self.status, "events": self.model.events, "min_events": self.min_events,
                "backtest_quarters": len(bt.fitted), "backtest_rows": len(bt.predictions),
                "backtest_events": int(bt.predictions["event"].sum()) if len(bt.predictions) else 0,
                "concordance": None if np.isnan(bt.concordance) else float(bt.concordance)}

    def summary(self) -> str:
        return self.model.summary() + "\n" + self.backtest.summary()

    def __repr__(self) -> str:
        return self.summary()


def _empty_risk() -> pd.DataFrame:
    return pd.DataFrame({"partner_id": pd.Series(dtype=str), "period": pd.Series(dtype=str),
                         "churn_risk": pd.Series(dtype=float), "churn_rank": pd.Series(dtype="int64"),
                         "linear_predictor": pd.Series(dtype=float), "drivers": pd.Series(dtype=str)})


def analyse(kpi: pd.DataFrame, partners: pd.DataFrame, quarters: list[str], period: str, as_of,
            settings: ChurnSettings, fy_start: int = 1, end_date_provided: bool = True,
            predict: bool = True) -> ChurnResult:
    """Panel, model, backtest and next-quarter risk of every partner still active (see the module
    docstring). Without ``partners.end_date`` nothing is fitted (status :data:`NO_END_DATE`);
    ``predict=False`` (an incomplete reported quarter) fits and backtests but predicts nothing."""
    covariates = settings.covariates
    data = panel(kpi, partners, quarters, as_of, covariates, fy_start)
    if not end_date_provided:
        model = ChurnModel(NO_END_DATE, rows=len(data))
        return ChurnResult(NO_END_DATE, period, model, backtest(data.iloc[:0], covariates, settings),
                           _empty_risk(), settings.min_events)
    model = fit(data, covariates, settings.min_events)
    bt = backtest(data, covariates, settings)
    if not model.fitted or not predict:
        return ChurnResult(model.status, period, model, bt, _empty_risk(), settings.min_events)
    now = current(kpi, partners, period, as_of, covariates)
    risk = pd.DataFrame({"partner_id": now["partner_id"].astype(str), "period": period,
                         "churn_risk": model.predict(now), "linear_predictor": model.linear_predictor(now),
                         "drivers": model.drivers(now, settings.drivers)})
    risk = risk.sort_values(["churn_risk", "partner_id"], ascending=[False, True], ignore_index=True)
    risk["churn_rank"] = np.arange(1, len(risk) + 1, dtype="int64")
    return ChurnResult(FITTED, period, model, bt, risk[RISK_COLUMNS], settings.min_events)
