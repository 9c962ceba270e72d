"""Did MDF move sales? Difference-in-differences of partners with MDF against matched partners without.

Vendors report "MDF-influenced" revenue (``mdf.attributed_revenue``), which says nothing about what
would have been sold without the money. This module compares, for partners that started an MDF
activity, the change of their quarterly revenue with the change of matched partners that had no
MDF over the same quarters (design, assumptions and reading: ``docs/methods.md``, "MDF
incrementality"):

- **event**: a partner's first quarter ``c`` within the history with MDF claimed (> 0) after
  ``pre_quarters`` quarters without any; *pre window* = those quarters, *post window* = ``c`` and the
  ``post_quarters − 1`` quarters after it (every one within the history, ending at the reported
  quarter at the latest). An event counts for the network and for every activity type claimed in
  its quarter.
- **controls** of an event quarter: partners without any MDF claimed in its pre and post windows.
- **strata**: event quarter × the ``match_on`` attributes (tier, ABC class, partner type, …) × size
  band (``size_bands`` equal-count bands of pre-window revenue among that quarter's partners);
  strata without both a treated partner and a control are left out (exact matching).
- **outcome**: ``log(mean quarterly revenue, post) − log(mean quarterly revenue, pre)`` per partner
  and event quarter (partners with no revenue in either window are left out: their log change is
  not defined); **model**: OLS of the outcome on a treated indicator and stratum fixed effects,
  standard errors clustered by partner (a control can serve several event quarters), t
  distribution with clusters − 1 degrees of freedom. The effect is relative: ``exp(β) − 1``
  (+0.25 = revenue 25 % higher than it would have been), its interval ``exp(CI of β) − 1``.

Below ``min_treated`` treated or ``min_controls`` control partners there is no estimate, only a
reason (``too_few_treated`` / ``too_few_controls``) the overview turns into words. Statistics never
read the clock and never mutate their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from .settings import IncrementalitySettings

#: The ``scope`` of the network-wide estimate (every event) and of one activity type's.
NETWORK, ACTIVITY = "network", "activity_type"
#: ``status`` values: an estimate, or why there is none.
#: (``no_spread``: every treated-minus-control difference alike, or no residual: no interval.)
OK, TOO_FEW_TREATED, TOO_FEW_CONTROLS, NO_SPREAD = "ok", "too_few_treated", "too_few_controls", "no_spread"
#: KPI statuses (``kpis.status``) of a partner-quarter whose revenue does not enter any window: a
#: partner in ramp-up grows for reasons of its own, one whose contract ended stops selling.
NOT_COMPARABLE = ("onboarding", "churned")
#: Columns of the result table (the exported ``mdf_incrementality``).
COLUMNS = ["scope", "activity_type", "mdf_incremental_effect", "mdf_incremental_effect_low",
           "mdf_incremental_effect_high", "log_effect", "std_error", "p_value", "n_treated", "n_controls",
           "n_strata", "status"]


@dataclass(frozen=True)
class DiD:
    """One difference-in-differences estimate on the log scale (``beta``) and as a relative effect."""

    beta: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_controls: int
    n_strata: int

    @property
    def effect(self) -> float:
        return float(np.expm1(self.beta))

    @property
    def effect_low(self) -> float:
        return float(np.expm1(self.ci_low))

    @property
    def effect_high(self) -> float:
        return float(np.expm1(self.ci_high))


def did(sample: pd.DataFrame, confidence: float) -> DiD:
    """OLS of ``y`` on ``treated`` (0/1) with fixed effects of ``stratum``, standard errors clustered
    by ``partner_id``; ``sample`` holds one row per partner × event quarter. Strata without both a
    treated row and a control row are dropped first. With a single treated and a single control
    row per stratum this is the plain mean of the treated-minus-control differences.

    The fixed effects are absorbed (both variables demeaned within strata, Frisch–Waugh–Lovell: the
    same β as one dummy per stratum, in memory linear in the rows whatever the number of strata);
    the cluster-robust variance then gets the small-sample factor of the full model
    ``G/(G−1) · (N−1)/(N−1−strata)``, and the interval and p-value the t distribution with G − 1
    degrees of freedom (G clusters = partners): the numbers statsmodels gives for the dummy model."""
    d = _comparable(sample)
    treated = d["treated"].astype(bool)
    n_t = int(d.loc[treated, "partner_id"].nunique())
    n_c = int(d.loc[~treated, "partner_id"].nunique())
    codes = pd.factorize(d["stratum"].astype(str))[0]
    k = int(codes.max()) + 1 if len(codes) else 0
    if n_t == 0 or n_c == 0:
        return DiD(np.nan, np.nan, np.nan, np.nan, np.nan, n_t, n_c, k)
    size = np.bincount(codes)

    def within(v: np.ndarray) -> np.ndarray:
        return v - (np.bincount(codes, v) / size)[codes]

    x, y = within(treated.to_numpy(dtype=float)), within(d["y"].to_numpy(dtype=float))
    groups = pd.factorize(d["partner_id"].astype(str))[0]
    n, n_groups = len(y), int(groups.max()) + 1
    beta = float(x @ y / (x @ x))
    resid = y - beta * x
    if n <= 1 + k or n_groups < 2 or np.abs(resid).max() <= 1e-9 * max(1.0, float(np.abs(y).max())):
        # no residual left, or every treated-minus-control difference alike: no spread to measure
        return DiD(beta, np.nan, np.nan, np.nan, np.nan, n_t, n_c, k)
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    se = float(fit.bse[0] * np.sqrt((n - 1) / (n - 1 - k)))  # (statsmodels counted 1 parameter, not 1 + k)
    dof = n_groups - 1
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * se
    p_value = float(2 * stats.t.sf(abs(beta / se), dof))
    return DiD(beta, se, beta - half, beta + half, p_value, n_t, n_c, k)


def _comparable(sample: pd.DataFrame) -> pd.DataFrame:
    """The rows of strata that hold both a treated and a control row."""
    if not len(sample):
        return sample
    t = sample["treated"].astype(bool)
    by = t.groupby(sample["stratum"].astype(str).to_numpy())
    has_t, has_c = by.transform("any"), (~t).groupby(sample["stratum"].astype(str).to_numpy()).transform("any")
    return sample[(has_t & has_c).to_numpy()]


# --------------------------------------------------------------------------------------------
# from the run's tables to partner × event-quarter rows
# --------------------------------------------------------------------------------------------

def quarterly_claims(mdf: pd.DataFrame) -> pd.DataFrame:
    """[partner_id, period, activity_type] of every partner-quarter-type with MDF claimed > 0."""
    m = mdf[mdf["claimed"].fillna(0) > 0]
    types = m["activity_type"] if "activity_type" in m else pd.Series("", index=m.index)
    out = pd.DataFrame({"partner_id": m["partner_id"].astype(str).to_numpy(),
                        "period": m["period"].astype(str).to_numpy(),
                        "activity_type": types.fillna("").astype(str).to_numpy()})
    return out.drop_duplicates().reset_index(drop=True)


def stacked_sample(revenue: pd.DataFrame, claims: pd.DataFrame, attributes: pd.DataFrame,
                   quarters: list[str], settings: IncrementalitySettings) -> pd.DataFrame:
    """One row per (event quarter, partner) that can enter the comparison: treated partners at their
    event, controls without MDF in the event's windows.

    ``revenue``: [partner_id, period, revenue] and optionally ``status`` (quarterly; a partner
    without a row, with an empty revenue, or with a status of :data:`NOT_COMPARABLE` in a window
    quarter is left out of that event quarter); ``claims``:
    :func:`quarterly_claims`; ``attributes``: [partner_id, *settings.match_on]; ``quarters``: the
    history, oldest first (the last one is the reported quarter). Returns [event_quarter, partner_id,
    treated, types (the activity types claimed at the event, "; "-joined), pre, post, y, size_band,
    stratum]."""
    k, l = settings.pre_quarters, settings.post_quarters
    if "status" in revenue:  # quarters in ramp-up or after the contract ended are not comparable
        revenue = revenue.assign(revenue=revenue["revenue"].where(~revenue["status"].isin(NOT_COMPARABLE)))
    wide = revenue.assign(partner_id=revenue["partner_id"].astype(str)).pivot_table(
        index="partner_id", columns="period", values="revenue", aggfunc="sum", dropna=False)
    wide = wide.reindex(columns=quarters)
    had = pd.crosstab(claims["partner_id"], claims["period"]).reindex(columns=quarters, fill_value=0) > 0 \
        if len(claims) else pd.DataFrame(False, index=pd.Index([], name="partner_id"), columns=quarters)
    had = had.reindex(wide.index.union(had.index), fill_value=False)
    types_at = claims.groupby(["partner_id", "period"])["activity_type"].agg(
        lambda s: "; ".join(sorted(set(s)))) if len(claims) else pd.Series(dtype=str)
    attrs = attributes.assign(partner_id=attributes["partner_id"].astype(str)).set_index("partner_id")
    attrs = attrs.reindex(columns=list(settings.match_on)).astype(object)
    first_event: dict[str, str] = {}
    for i in range(len(quarters)):
        if i < k or i + l > len(quarters):
            continue
        c = quarters[i]
        before, after = quarters[i - k:i], quarters[i:i + l]
        onset = had[c] & ~had[before].any(axis=1)
        for pid in onset[onset].index:
            first_event.setdefault(pid, c)
    frames = []
    for i in range(k, len(quarters) - l + 1):
        c = quarters[i]
        before, after = quarters[i - k:i], quarters[i:i + l]
        treated_ids = [p for p, q in first_event.items() if q == c]
        clean = ~had[before + after].any(axis=1)
        control_ids = list(clean[clean].index)
        ids = [p for p in dict.fromkeys(treated_ids + control_ids) if p in wide.index]
        if not ids:
            continue
        pre = wide.loc[ids, before]
        post = wide.loc[ids, after]
        known = pre.notna().all(axis=1) & post.notna().all(axis=1)
        pre_m, post_m = pre.mean(axis=1), post.mean(axis=1)
        keep = known & (pre_m > 0) & (post_m > 0)
        ids = [p for p in ids if keep[p]]
        if not ids:
            continue
        is_treated = set(treated_ids)
        rows = pd.DataFrame({"event_quarter": c, "partner_id": ids,
                             "treated": [p in is_treated for p in ids],
                             "types": [types_at.get((p, c), "") if p in is_treated else "" for p in ids],
                             "pre": pre_m[ids].to_numpy(), "post": post_m[ids].to_numpy()})
        rows["y"] = np.log(rows["post"]) - np.log(rows["pre"])
        bands = min(settings.size_bands, len(rows))
        rows["size_band"] = (pd.qcut(rows["pre"].rank(method="first"), bands, labels=False).astype(int)
                             if bands > 1 else 0)
        cells = attrs.reindex(rows["partner_id"]).fillna("unknown").astype(str)
        key = [rows["event_quarter"].astype(str)] + [cells[c].to_numpy() for c in cells.columns] \
            + [rows["size_band"].astype(str)]
        rows["stratum"] = pd.Series(["|".join(parts) for parts in zip(*key)], index=rows.index)
        frames.append(rows)
    cols = ["event_quarter", "partner_id", "treated", "types", "pre", "post", "y", "size_band", "stratum"]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols))[cols]


def _row(scope: str, activity_type: str | None, sample: pd.DataFrame,
         settings: IncrementalitySettings) -> dict:
    est = did(sample, settings.confidence)
    row = {"scope": scope, "activity_type": activity_type, "n_treated": est.n_treated,
           "n_controls": est.n_controls, "n_strata": est.n_strata}
    if est.n_treated < settings.min_treated:
        status = TOO_FEW_TREATED
    elif est.n_controls < settings.min_controls:
        status = TOO_FEW_CONTROLS
    elif not np.isfinite(est.ci_low):
        status = NO_SPREAD
    else:
        status = OK
    ok = status == OK
    row.update({
        "mdf_incremental_effect": est.effect if ok else np.nan,
        "mdf_incremental_effect_low": est.effect_low if ok else np.nan,
        "mdf_incremental_effect_high": est.effect_high if ok else np.nan,
        "log_effect": est.beta if ok else np.nan, "std_error": est.std_error if ok else np.nan,
        "p_value": est.p_value if ok else np.nan, "status": status,
    })
    return row


@dataclass
class IncrementalityResult:
    """The estimates (:attr:`table`: one row for the network, then one per activity type, columns
    :data:`COLUMNS`) and the partner × event-quarter rows behind them (:attr:`sample`)."""

    table: pd.DataFrame
    sample: pd.DataFrame
    settings: IncrementalitySettings
    period: str
    notes: list[str] = field(default_factory=list)

    def network(self) -> pd.Series:
        """The network-wide row of :attr:`table`."""
        return self.table[self.table["scope"] == NETWORK].iloc[0]

    def summary(self) -> str:
        s = self.settings
        lines = [f"MDF incrementality up to {self.period}: difference-in-differences of log quarterly revenue, "
                 f"{s.pre_quarters} quarter(s) before vs {s.post_quarters} from the first MDF quarter, matched on "
                 f"event quarter, {', '.join(s.match_on) or 'nothing else'} and {s.size_bands} size band(s); "
                 f"{s.confidence:.0%} intervals, SE clustered by partner"]
        for r in self.table.itertuples(index=False):
            name = "network" if r.scope == NETWORK else f"  {r.activity_type}"
            counts = f"{r.n_treated} with MDF vs {r.n_controls} without"
            if r.status == OK and pd.notna(r.mdf_incremental_effect):
                lines.append(f"{name}: {r.mdf_incremental_effect:+.1%} revenue "
                             f"[{r.mdf_incremental_effect_low:+.1%}, {r.mdf_incremental_effect_high:+.1%}], "
                             f"p = {r.p_value:.3f} ({counts})")
            elif r.status == TOO_FEW_CONTROLS:
                lines.append(f"{name}: no estimate, comparison group too small ({counts}; at least "
                             f"{s.min_controls} without MDF needed)")
            elif r.status == TOO_FEW_TREATED:
                lines.append(f"{name}: no estimate, too few partners with MDF ({counts}; at least "
                             f"{s.min_treated} needed)")
            else:
                lines.append(f"{name}: no interval (every difference equal; {counts})")
        return "\n".join(lines + self.notes)

    def __repr__(self) -> str:
        return self.summary()


def estimate(revenue: pd.DataFrame, mdf: pd.DataFrame, attributes: pd.DataFrame, quarters: list[str],
             settings: IncrementalitySettings, *, period: str | None = None) -> IncrementalityResult:
    """The network estimate and one per activity type (see the module docstring).

    ``revenue``: [partner_id, period, revenue] quarterly (e.g. the KPI table's quarter window);
    ``mdf``: the ``mdf`` input table; ``attributes``: [partner_id, *settings.match_on];
    ``quarters``: the history, oldest first, ending with the reported quarter ``period``."""
    claims = quarterly_claims(mdf)
    sample = stacked_sample(revenue, claims, attributes, quarters, settings)
    rows = [_row(NETWORK, None, sample, settings)]
    is_treated = sample["treated"].astype(bool)  # (an empty sample's column is object: a mask, not labels)
    kinds = sorted({t for joined in sample.loc[is_treated, "types"] for t in str(joined).split("; ") if t})
    for kind in kinds:
        has = sample["types"].map(lambda joined, k=kind: k in str(joined).split("; "))
        rows.append(_row(ACTIVITY, kind, sample[~is_treated | has], settings))
    table = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("n_treated", "n_controls", "n_strata"):
        table[c] = table[c].astype("int64")
    return IncrementalityResult(table=table, sample=sample, settings=settings,
                                period=period or (quarters[-1] if quarters else ""))


def empty_table() -> pd.DataFrame:
    """The result table without any row (no ``mdf`` table: the measure is listed as skipped)."""
    return pd.DataFrame({c: pd.Series(dtype=("int64" if c.startswith("n_") else
                                             object if c in ("scope", "activity_type", "status") else float))
                         for c in COLUMNS})


def with_network_effect(network: pd.DataFrame, table: pd.DataFrame, period: str) -> pd.DataFrame:
    """The network table with ``mdf_incremental_effect`` (+ ``_low``/``_high``) on the reported
    quarter's row (empty on the others: the estimate uses the whole history up to it)."""
    out = network.copy()
    row = table[table["scope"] == NETWORK]
    for col in ("mdf_incremental_effect", "mdf_incremental_effect_low", "mdf_incremental_effect_high"):
        value = float(row[col].iloc[0]) if len(row) and pd.notna(row[col].iloc[0]) else np.nan
        out[col] = np.where(out["period"].astype(str) == period, value, np.nan)
    return out

