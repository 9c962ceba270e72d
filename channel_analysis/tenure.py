"""Tenure-aware statistics: tenure cohorts for fair benchmarks, time to first deal without
left truncation, and activation as a Kaplan–Meier curve.

New partners look worse in every quarterly comparison with the whole peer group, and a fixed
activation window (``kpis.activation_days``) has the same bias. This module adds:

- **Tenure cohorts.** A partner's *quarter of partnership* at a period (1 = the quarter it was
  onboarded in) and its cohort band (``benchmarks.tenure_bands``: ``[1, 2, 4, 8]`` → "1", "2",
  "3–4", "5–8", "9+"). :func:`cohort_benchmarks` computes every benchmarked measure's percentile
  and the cohort's median and quartiles with the same function and the same anonymity rule
  (``benchmarks.min_peers``) as the peer benchmarks (:func:`channel_analysis.peers.peer_percentiles`).
- **The data window.** :func:`activity_start` is the first day the data can show a first deal: the
  later of the first sale and the first deal created (each table that is provided). A partner
  onboarded before it may have had its first deal before the data begin: its time to first deal is
  unknown, so it is **excluded** (not measured) rather than counted from the first deal the data
  happen to show. (Left truncation — delayed entry — would need to know that such a partner had
  no deal before the data begin, which the data cannot tell.)
- **Activation curve.** Days from onboarding to the first deal (the earlier of the first sale and
  the first won deal) of the partners onboarded inside the data window, censored at the snapshot
  (or at ``end_date`` when the partner left before it without a deal), estimated with the
  Kaplan–Meier code of :mod:`channel_analysis.salescycle` (no second implementation).
  :func:`read_share` reads the share activated by 90, 180 and 365 days off the curve.

Definitions: ``docs/statistics.md`` ("Tenure cohorts", "Activation curve"). Statistics never read
the clock and never modify their inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import peers, periods, salescycle
from .dataset import Dataset
from .settings import TenureSettings

#: Days at which the share of activated partners is read off the activation curve (the network
#: measures ``activation_share_<h>d``).
HORIZONS: tuple[int, ...] = (90, 180, 365)
#: Group label of the whole network in the activation curve (other groups: onboarding years).
ALL = salescycle.ALL
#: Columns of :func:`activation_curve`.
CURVE_COLUMNS = ["group", "days", "activated_share", "ci_low", "ci_high", "at_risk", "events"]
#: Columns of :func:`cohort_table`.
COHORT_COLUMNS = ["period", "window", "tenure_band", "metric", "cohort_n", "cohort_median", "cohort_p25",
                  "cohort_p75", "reason"]


# --------------------------------------------------------------------------------------------
# tenure cohorts
# --------------------------------------------------------------------------------------------

def band_labels(bands) -> list[str]:
    """The cohort labels of ``benchmarks.tenure_bands``: ``(1, 2, 4, 8)`` → ["1", "2", "3–4",
    "5–8", "9+"] (the last: every quarter after the last band)."""
    labels, first = [], 1
    for last in bands:
        labels.append(str(last) if last == first else f"{first}–{last}")
        first = last + 1
    labels.append(f"{first}+")
    return labels


def tenure_quarter(onboarded, period: str, fy_start: int = 1) -> np.ndarray:
    """Quarter of partnership at ``period`` of each onboarding date: 1 in the quarter onboarded, 2
    in the next, …; NaN for a missing date or one after the period's last day."""
    dates = pd.to_datetime(pd.Series(onboarded)).reset_index(drop=True)
    q = periods.to_quarter(dates, fy_start)
    ordinal = np.asarray(q.array.asi8, dtype=float)
    ordinal[q.isna().to_numpy()] = np.nan
    out = periods.parse_quarter(period, fy_start).ordinal - ordinal + 1
    out[~(out >= 1)] = np.nan
    return out


def tenure_band(quarter, bands) -> np.ndarray:
    """The cohort label of each quarter of partnership (:func:`band_labels`); None for NaN."""
    q = np.asarray(quarter, dtype=float)
    labels = np.array(band_labels(bands), dtype=object)
    idx = np.searchsorted(np.asarray(bands, dtype=float), np.where(np.isnan(q), 0, q), side="left")
    return np.where(np.isnan(q), None, labels[np.minimum(idx, len(labels) - 1)])


def cohort_benchmarks(kpis: pd.DataFrame, period: str, metrics, settings: TenureSettings) -> pd.DataFrame:
    """Every partner's percentile within its tenure cohort and the cohort's median and quartiles.

    ``kpis``: the KPI table with ``tenure_quarter`` (rows of ``period`` are used, every window);
    the cohort of a partner is its band at ``period``. Computed by
    :func:`channel_analysis.peers.peer_percentiles` with the cohort as the only grouping, so the
    percentile (mid-rank), quartiles and the anonymity rule (NaN with a ``reason`` when fewer than
    ``min_peers`` partners of the cohort have a value) are the peer benchmarks'.

    Returns long ``[period, window, partner_id, metric, value, percentile, tenure_band,
    cohort_n, cohort_median, cohort_p25, cohort_p75, reason]``.
    """
    rows = kpis[kpis["period"] == period]
    current = rows[rows["window"] == "quarter"] if "window" in rows else rows
    band = tenure_band(current["tenure_quarter"].to_numpy(dtype=float), settings.bands)
    sizes = pd.Series(band).map(pd.Series(band).value_counts(dropna=True)).fillna(0).astype("int64")
    assignment = pd.DataFrame({
        "partner_id": current["partner_id"].to_numpy(), "peer_group": band, "peer_level": 0,
        "peer_n": sizes.to_numpy(), "peer_label_0": band,
    })
    bench = peers.peer_percentiles(rows, assignment, list(metrics), min_peers=settings.min_peers, period=period)
    return bench.rename(columns={"peer_group": "tenure_band", "peer_n": "cohort_n", "peer_median": "cohort_median",
                                 "peer_p25": "cohort_p25", "peer_p75": "cohort_p75"})


def cohort_table(bench: pd.DataFrame) -> pd.DataFrame:
    """The cohort aggregates of :func:`cohort_benchmarks`, without any partner: one row per
    period × window × cohort × metric (``cohort_n`` partners with a value; the statistics NaN
    and ``reason`` set when fewer than ``benchmarks.min_peers``)."""
    if "tenure_band" not in bench:  # (no statistics computed: an empty table with its columns)
        return pd.DataFrame(columns=COHORT_COLUMNS)
    b = bench[bench["tenure_band"].notna()]
    agg = b.drop_duplicates(["period", "window", "tenure_band", "metric"])
    reason = agg["reason"].where(agg["reason"] != "no value")  # a partner's own missing value is no cohort fact
    out = agg.assign(reason=reason)[COHORT_COLUMNS]
    return out.sort_values(["period", "window", "tenure_band", "metric"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# the data window and the first deal
# --------------------------------------------------------------------------------------------

def activity_start(ds: Dataset) -> pd.Timestamp | None:
    """The first day the data can show a partner's first deal: the later of the first sale's date
    and the first deal's ``created_date`` (of the tables provided); None without either table."""
    starts = []
    for table, column in (("sales", "date"), ("opportunities", "created_date")):
        frame = getattr(ds, table)
        if frame is not None and len(frame) and pd.notna(frame[column].min()):
            starts.append(pd.Timestamp(frame[column].min()).normalize())
    return max(starts) if starts else None


def first_deal_dates(ds: Dataset) -> pd.Series:
    """Each partner's first deal date: the earlier of its first sale and its first won deal's
    ``closed_date``, indexed by partner id (partners without either are absent)."""
    parts = []
    if ds.sales is not None and len(ds.sales):
        s = ds.sales[ds.sales["partner_id"].notna()]
        parts.append(pd.DataFrame({"partner_id": s["partner_id"].astype(str).to_numpy(),
                                   "date": pd.to_datetime(s["date"]).to_numpy()}))
    o = ds.opportunities
    if o is not None and len(o) and "closed_date" in o:
        won = o[(o["outcome"] == "won") & o["closed_date"].notna() & o["partner_id"].notna()]
        parts.append(pd.DataFrame({"partner_id": won["partner_id"].astype(str).to_numpy(),
                                   "date": pd.to_datetime(won["closed_date"]).to_numpy()}))
    if not parts:
        return pd.Series(dtype="datetime64[ns]", name="first_date")
    d = pd.concat(parts, ignore_index=True).dropna()
    return d.groupby("partner_id")["date"].min().rename("first_date")


def onboarded_inside(onboarded, start: pd.Timestamp | None) -> np.ndarray:
    """True where an onboarding date is on or after the data's ``start`` (:func:`activity_start`):
    the partners whose time to first deal the data can measure."""
    dates = pd.to_datetime(pd.Series(onboarded)).to_numpy()
    if start is None:
        return np.zeros(len(dates), dtype=bool)
    return dates >= np.datetime64(pd.Timestamp(start))


# --------------------------------------------------------------------------------------------
# activation as a Kaplan–Meier curve
# --------------------------------------------------------------------------------------------

def activation_durations(partners: pd.DataFrame, first_dates: pd.Series, start: pd.Timestamp | None,
                         snapshot) -> pd.DataFrame:
    """Days from onboarding to the first deal of the partners onboarded from ``start`` to ``snapshot``.

    ``first_dates``: :func:`first_deal_dates`; ``start``: :func:`activity_start` (None: nobody).
    Returns [partner_id, onboarded_date, cohort (onboarding year), days, first_deal]:
    :func:`channel_analysis.salescycle.time_to_first_deal` on those partners — a partner without a
    first deal by the snapshot is censored there, or at its ``end_date`` if it left before.
    """
    p = partners[onboarded_inside(partners["onboarded_date"], start)]
    d = salescycle.time_to_first_deal(p, first_dates, snapshot)
    d["cohort"] = pd.to_datetime(d["onboarded_date"]).dt.year.astype(str)
    return d[["partner_id", "onboarded_date", "cohort", "days", "first_deal"]]


def activation_curve(durations: pd.DataFrame, min_sample: int) -> pd.DataFrame:
    """The activation curve, tidy: ``group`` "all" (every partner of ``durations``) and each
    onboarding year with at least ``min_sample`` partners.

    One row per group and distinct first-deal day (preceded by day 0): ``activated_share`` = 1 −
    S(days), the Kaplan–Meier estimate of the share of partners with a first deal within ``days``
    days of onboarding; ``ci_low``/``ci_high`` its pointwise 95 % interval (1 − the survival
    interval); ``at_risk``, ``events`` as in :func:`channel_analysis.salescycle.km_curve`.
    """
    if durations.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "group" else float) for c in CURVE_COLUMNS})
    curves = [salescycle.km_curve(durations, by=None, event="first_deal")]
    sizes = durations["cohort"].value_counts()
    big = durations[durations["cohort"].isin(sizes[sizes >= min_sample].index)]
    if len(big):
        curves.append(salescycle.km_curve(big, by="cohort", event="first_deal"))
    c = pd.concat(curves, ignore_index=True)
    return pd.DataFrame({"group": c["group"].astype(str), "days": c["days"], "activated_share": 1 - c["survival"],
                         "ci_low": 1 - c["ci_high"], "ci_high": 1 - c["ci_low"],
                         "at_risk": c["at_risk"], "events": c["events"]})[CURVE_COLUMNS]


def read_share(curve: pd.DataFrame, days: float, followed: float) -> float:
    """The share activated within ``days`` days read off one group's curve (the step at the last
    event day ≤ ``days``). Beyond the longest duration of the group (``followed``, event or
    censored) the curve is known only when it reached 100 % (every partner followed that far had
    its first deal); otherwise NaN: the data cannot tell."""
    if curve.empty:
        return float("nan")
    steps = curve[curve["days"] <= days]
    share = float(steps["activated_share"].iloc[-1]) if len(steps) else 0.0
    if followed >= days or share >= 1 - 1e-12:
        return share
    return float("nan")


def activation_readouts(durations: pd.DataFrame) -> dict[str, float]:
    """The network measures of one activation sample: ``activation_km_partners`` (partners in
    the estimate), ``activation_share_<h>d`` for each of :data:`HORIZONS`, and
    ``activation_median_days`` (Kaplan–Meier median; NaN until half the partners activated)."""
    out: dict[str, float] = {"activation_km_partners": float(len(durations))}
    if durations.empty:
        out.update({f"activation_share_{h}d": float("nan") for h in HORIZONS})
        out["activation_median_days"] = float("nan")
        return out
    curve = salescycle.km_curve(durations, by=None, event="first_deal")
    curve = curve.assign(activated_share=1 - curve["survival"])
    followed = float(durations["days"].max())
    for h in HORIZONS:
        out[f"activation_share_{h}d"] = read_share(curve, h, followed)
    out["activation_median_days"] = float(
        salescycle.km_median(durations, by=None, event="first_deal")["median_days"].iloc[0])
    return out


def network_activation(ds: Dataset, quarters, as_of) -> pd.DataFrame:
    """The activation measures of every quarter: :func:`activation_readouts` of the partners
    onboarded inside the data window by the quarter's last day (or ``as_of``, if earlier), seen
    at that day. Returns [period, activation_km_partners, activation_share_90d, …,
    activation_median_days]."""
    start, first = activity_start(ds), first_deal_dates(ds)
    rows = []
    for label in quarters:
        snapshot = min(periods.quarter_bounds(label, ds.fy_start)[1], pd.Timestamp(as_of))
        d = activation_durations(ds.partners, first, start, snapshot)
        rows.append({"period": label, **activation_readouts(d)})
    return pd.DataFrame(rows)
