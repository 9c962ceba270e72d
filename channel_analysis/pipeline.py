"""Open pipeline, stage conversion, P(win | stage), weighted pipeline, coverage, velocity, stale deals.

Open stages come from params ``pipeline.stages`` (earliest first); a closed deal's ``stage`` is
``Won`` / ``Lost`` and its ``outcome`` ``won`` / ``lost``. Whether a deal is open at a date is
decided by dates (created on or before it, not closed on or before it), not by the current
``outcome``, so every function can describe a past date. Money is in the reporting currency.

Where a deal stood
    The **highest stage reached** by a deal is, in this order: the highest open stage it entered
    in ``opportunity_stages`` (when the history is given and has rows for it); for a won deal, the
    final open stage (won deals passed through every stage); for an open deal, or a closed deal
    whose ``stage`` still names an open stage, that stage; otherwise (a lost deal labelled ``Lost``
    without history) the final open stage: *without a stage history a lost deal is assumed to have
    passed through every open stage*, which makes P(win | stage) equal at every stage (the overall
    win rate); provide ``opportunity_stages`` for stage-specific estimates. A deal that skipped a
    stage counts as having reached it. ``docs/methods.md`` states all definitions.

scipy / statsmodels are only used through :mod:`channel_analysis.salescycle` (imported lazily).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import periods
from .errors import ParamsError
from .salescycle import cycle_durations, km_quantile

#: Age buckets of open deals, in days since creation (inclusive upper bounds).
AGE_BINS = [-np.inf, 30, 90, 180, np.inf]
AGE_LABELS = ["0-30", "31-90", "91-180", ">180"]
#: Days per quarter used to express velocity per quarter (365.25 / 4).
DAYS_PER_QUARTER = 365.25 / 4


def _ts(as_of) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def _order(stages) -> dict[str, int]:
    if not stages:
        raise ParamsError("pipeline.stages is empty: list the open stages, earliest first")
    return {s: i + 1 for i, s in enumerate(stages)}


def _closed_by(opps: pd.DataFrame, when: pd.Timestamp) -> pd.Series:
    """True for deals closed (won or lost) on or before ``when``."""
    if "closed_date" not in opps:
        return pd.Series(False, index=opps.index)
    return opps["closed_date"].notna() & (opps["closed_date"] <= when) & opps["outcome"].isin(["won", "lost"])


def _history_max(opps: pd.DataFrame, stages, stage_history: pd.DataFrame | None,
                 until: pd.Timestamp | None = None, last: bool = False) -> pd.Series:
    """Per deal (aligned to ``opps``): highest (or, with ``last``, most recently entered) open-stage
    order in the stage history up to ``until``; NaN without history rows."""
    if stage_history is None:
        return pd.Series(np.nan, index=opps.index)
    order = _order(stages)
    h = stage_history.loc[stage_history["stage"].isin(order), ["opportunity_id", "stage", "entered_date"]]
    if until is not None:
        h = h.loc[h["entered_date"] <= until]
    h = h.assign(order=h["stage"].map(order).astype("float64"))
    if last:
        h = h.sort_values(["opportunity_id", "entered_date", "order"])
        per_deal = h.groupby("opportunity_id")["order"].last()
    else:
        per_deal = h.groupby("opportunity_id")["order"].max()
    return opps["opportunity_id"].map(per_deal).astype("float64")


def _highest_stage(opps: pd.DataFrame, stages, stage_history=None, until=None) -> pd.Series:
    """Order (1 = first open stage) of the highest stage each deal reached; see module docstring."""
    order = _order(stages)
    final = float(len(stages))
    current = opps["stage"].map(order).astype("float64")
    fallback = current.fillna(final)  # Won: passed all stages; Lost without history: assumed all
    fallback = fallback.where(opps["outcome"] != "won", final)
    hist = _history_max(opps, stages, stage_history, until)
    return hist.where(hist.notna(), fallback).where(opps["outcome"] != "won", final)


def _stage_at(opps: pd.DataFrame, stages, when: pd.Timestamp, stage_history=None) -> pd.Series:
    """Order of the open stage each deal was in at ``when``.

    With a stage history: the last open stage entered on or before ``when``. Without one (or no
    row yet), the current stage when it is an open stage, else (a deal closed after ``when``) the
    highest stage it reached: an approximation, documented in docs/methods.md.
    """
    hist = _history_max(opps, stages, stage_history, when, last=True)
    approx = _highest_stage(opps, stages, None)
    return hist.where(hist.notna(), approx)


# ---------------------------------------------------------------------------------------------
# Open pipeline
# ---------------------------------------------------------------------------------------------

def open_pipeline(opps: pd.DataFrame, as_of: dt.date, stages, stage_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every deal open at ``as_of``: created on or before it and not closed on or before it.

    Returns [opportunity_id, partner_id, stage, stage_order, amount, created_date,
    expected_close_date, age_days, age_bucket, past_expected_close]: ``stage`` is the open stage
    at ``as_of`` (see :func:`_stage_at`; the current stage for deals still open), ``stage_order``
    1 = first stage; ``age_days`` = as_of - created_date (days); ``age_bucket`` one of 0-30, 31-90,
    91-180, >180 days; ``past_expected_close`` = expected_close_date before ``as_of``.
    """
    t = _ts(as_of)
    is_open = (opps["created_date"] <= t) & ~_closed_by(opps, t)
    o = opps.loc[is_open]
    order = _stage_at(o, stages, t, stage_history).astype("int64")
    names = np.asarray(list(stages), dtype=object)
    expected = o["expected_close_date"] if "expected_close_date" in o else pd.Series(pd.NaT, index=o.index)
    age = (t - o["created_date"]).dt.days.astype("int64")
    return pd.DataFrame(
        {
            "opportunity_id": o["opportunity_id"],
            "partner_id": o["partner_id"],
            "stage": names[order.to_numpy() - 1],
            "stage_order": order,
            # (an open or lost deal may have no amount; without the column no deal has one)
            "amount": o["amount"].astype("float64") if "amount" in o else np.nan,
            "created_date": o["created_date"],
            "expected_close_date": expected,
            "age_days": age,
            "age_bucket": pd.cut(age, AGE_BINS, labels=AGE_LABELS, right=True),
            "past_expected_close": (expected.notna() & (expected < t)).astype(bool),
        }
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Conversion and P(win | stage)
# ---------------------------------------------------------------------------------------------

def stage_conversion(opps: pd.DataFrame, stages, stage_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stage-to-stage conversion for consecutive open stages, and final open stage → Won.

    Returns [from_stage, to_stage, reached_from, reached_to, conversion_rate]. ``reached_from``:
    deals that reached ``from_stage`` and are *resolved* there (moved on or closed; deals still open
    in ``from_stage`` are excluded, their outcome is unknown); ``reached_to``: those of them that
    reached ``to_stage`` (for Won: that were won); rate = reached_to / reached_from (NaN if 0).
    "Reached" = the highest stage reached (module docstring) is at or beyond the stage.
    """
    highest = _highest_stage(opps, stages, stage_history).to_numpy()
    is_open = (opps["outcome"] == "open").to_numpy()
    won = (opps["outcome"] == "won").to_numpy()
    k = len(stages)
    rows = []
    for i in range(1, k + 1):  # one pass per stage (a handful), vectorized over deals
        resolved = (highest >= i) & ~(is_open & (highest == i))
        reached_to = (won & resolved) if i == k else (highest >= i + 1)
        rows.append((stages[i - 1], stages[i] if i < k else "Won", int(resolved.sum()), int(reached_to.sum())))
    out = pd.DataFrame(rows, columns=["from_stage", "to_stage", "reached_from", "reached_to"])
    out["conversion_rate"] = out["reached_to"] / out["reached_from"].where(out["reached_from"] > 0)
    return out


def win_probability(opps: pd.DataFrame, stages, as_of: dt.date, stage_history: pd.DataFrame | None = None,
                    by: str | None = None) -> pd.DataFrame:
    """Empirical P(win | deal reached stage) from the deals closed (won or lost) on or before ``as_of``.

    Returns [stage, p_win, n, wins] (with ``by`` first when grouping, e.g. ``by="partner_id"``):
    ``n`` closed deals whose highest stage reached is at or beyond ``stage``, ``wins`` of them won,
    ``p_win`` = wins / n (NaN when n = 0). Only information dated on or before ``as_of`` is used.
    """
    t = _ts(as_of)
    closed = opps.loc[_closed_by(opps, t)]
    highest = _highest_stage(closed, stages, stage_history, until=t).astype("int64")
    k = len(stages)
    keys = closed[by].to_numpy() if by is not None else np.zeros(len(closed), dtype=np.int64)
    codes, labels = pd.factorize(keys, sort=True)
    n_groups = max(len(labels), 1 if by is None else 0)
    flat = codes * k + (highest.to_numpy() - 1)
    n_at = np.bincount(flat, minlength=n_groups * k).reshape(n_groups, k)
    w_at = np.bincount(flat, weights=(closed["outcome"] == "won").to_numpy(dtype="float64"),
                       minlength=n_groups * k).reshape(n_groups, k)
    # reached stage i <=> highest >= i: reverse cumulative sums over stages
    n = n_at[:, ::-1].cumsum(axis=1)[:, ::-1]
    wins = w_at[:, ::-1].cumsum(axis=1)[:, ::-1].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, wins / n, np.nan)
    out = pd.DataFrame({"stage": np.tile(np.asarray(list(stages), dtype=object), n_groups),
                        "p_win": p.ravel(), "n": n.ravel().astype("int64"), "wins": wins.ravel()})
    if by is not None:
        out.insert(0, by, np.repeat(np.asarray(labels, dtype=object), k))
    return out


# ---------------------------------------------------------------------------------------------
# Weighted pipeline, coverage, velocity
# ---------------------------------------------------------------------------------------------

def known_sum(values: pd.Series) -> float:
    """Sum of the known values; NaN when none is known."""
    return values.sum(min_count=1)


def weighted_pipeline(open_deals: pd.DataFrame, p_win: pd.DataFrame) -> pd.DataFrame:
    """Per partner: open deals, open amount and probability-weighted amount.

    ``open_deals`` from :func:`open_pipeline`; ``p_win`` from :func:`win_probability` (joined on
    ``stage``, plus its grouping column when that is a column of ``open_deals``). Returns
    [partner_id, open_n, open_amount, weighted_amount] with weighted_amount = sum(amount x
    P(win | stage)); a stage without an estimate (p_win NaN) contributes 0. Deals without an
    amount count in ``open_n`` only; a partner none of whose open deals has an amount has NaN
    amounts (not available, never 0).
    """
    keys = [c for c in p_win.columns if c not in {"p_win", "n", "wins"} and c in open_deals.columns]
    deals = open_deals[["partner_id", "amount"] + [k for k in keys if k not in ("partner_id",)]].merge(
        p_win[keys + ["p_win"]], on=keys, how="left")
    deals["weighted"] = deals["amount"] * deals["p_win"].fillna(0.0)
    out = deals.groupby("partner_id", sort=True).agg(
        open_n=("amount", "size"), open_amount=("amount", known_sum), weighted_amount=("weighted", known_sum))
    return out.reset_index()


def coverage(weighted, remaining_target):
    """Pipeline coverage = weighted pipeline ÷ remaining target (a ratio; 1.0 = exactly covered).

    Works on scalars or aligned Series. NaN where the remaining target is zero or negative (already
    met) or missing.
    """
    remaining = pd.to_numeric(remaining_target) if isinstance(remaining_target, pd.Series) else remaining_target
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.divide(weighted, np.where(np.asarray(remaining, dtype="float64") > 0, remaining, np.nan))
    if isinstance(weighted, pd.Series) or isinstance(remaining_target, pd.Series):
        index = weighted.index if isinstance(weighted, pd.Series) else remaining_target.index
        return pd.Series(np.asarray(ratio, dtype="float64"), index=index, name="coverage")
    return float(ratio)


def velocity(n_open, win_rate, deal_size, cycle_days, per: str = "quarter"):
    """Pipeline velocity = open deals x win rate x average deal size ÷ sales-cycle length.

    Money expected to close per day (``per="day"``) or per quarter (``per="quarter"``: x 365.25/4
    days). ``cycle_days`` is the Kaplan-Meier median sales cycle in days; NaN where it is missing
    or not positive. Works on scalars or aligned Series.
    """
    if per not in {"day", "quarter"}:
        raise ParamsError(f"velocity per={per!r}: use 'day' or 'quarter'")
    cycle = np.asarray(cycle_days, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_day = np.multiply(np.multiply(n_open, win_rate), deal_size) / np.where(cycle > 0, cycle, np.nan)
    value = per_day * (DAYS_PER_QUARTER if per == "quarter" else 1.0)
    if isinstance(value, pd.Series):
        return value.rename(f"velocity_per_{per}")
    if np.ndim(value) == 0:
        return float(value)
    return value


# ---------------------------------------------------------------------------------------------
# Stale deals
# ---------------------------------------------------------------------------------------------

def stale_threshold_days(durations: pd.DataFrame, q: float) -> float:
    """The q-quantile (days) of the network's sales cycle, from the Kaplan-Meier curve.

    ``durations`` from :func:`salescycle.cycle_durations` (open deals censored). The smallest day
    by which a share q of deals has closed. When the curve never gets there (many long deals still
    open), the longest observed closed cycle is used instead; NaN when no deal has closed.
    """
    value = float(km_quantile(durations, q, by=None).iloc[0])
    if np.isnan(value):
        closed = durations.loc[durations["closed"], "days"]
        value = float(closed.max()) if len(closed) else np.nan
    return value


def stale_deals(open_deals: pd.DataFrame, cycle_days_threshold: float, as_of: dt.date) -> pd.DataFrame:
    """Open deals past their expected close date, or open longer than the threshold.

    Returns the stale rows of ``open_deals`` plus ``reason``, a code the pages translate:
    ``past_expected_close``, ``open_too_long`` or ``both``. Past expected close: expected_close_date
    < as_of. Too old: as_of - created_date > ``cycle_days_threshold`` (that rule is skipped when the
    threshold is NaN).
    """
    t = _ts(as_of)
    age = (t - open_deals["created_date"]).dt.days
    expected = open_deals["expected_close_date"]
    past = (expected.notna() & (expected < t)).to_numpy()
    old = (age > cycle_days_threshold).to_numpy() if not np.isnan(cycle_days_threshold) else np.zeros(len(age), bool)
    reason = np.where(past & old, "both", np.where(past, "past_expected_close", "open_too_long"))
    out = open_deals.loc[past | old].copy()
    out["reason"] = reason[past | old]
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Per partner x quarter KPIs
# ---------------------------------------------------------------------------------------------

def partner_pipeline_kpis(opps: pd.DataFrame, params: dict, as_of: dt.date, quarters,
                          stage_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pipeline snapshot per partner at each quarter end (or ``as_of`` for a quarter not yet over).

    Returns [partner_id, period, pipeline_open_n, pipeline_open_amount, pipeline_weighted,
    stale_deals_n] for every partner with a deal in ``opps`` and every quarter label in
    ``quarters``. At each snapshot date: the deals open then (stage then: from the stage history,
    else approximated, see :func:`_stage_at`), weighted by P(win | stage) estimated from the deals
    closed by then, and stale by the rules of :func:`stale_deals` with the threshold = the
    ``pipeline.stale_quantile`` quantile of the Kaplan-Meier sales cycle as of the snapshot.
    """
    stages = params["pipeline"]["stages"]
    q = params["pipeline"]["stale_quantile"]
    fy = params.get("fiscal_year_start_month", 1)
    t = _ts(as_of)
    partners = pd.Index(np.sort(opps["partner_id"].unique()), name="partner_id")
    frames = []
    for label in quarters:  # one snapshot per quarter, vectorized over partners and deals
        start, end = periods.quarter_bounds(label, fy)
        if start > t:
            raise ParamsError(f"quarter {label} starts after as_of {t.date()}: no pipeline snapshot possible")
        snap = min(end, t)
        open_deals = open_pipeline(opps, snap, stages, stage_history)
        weighted = weighted_pipeline(open_deals, win_probability(opps, stages, snap, stage_history))
        threshold = stale_threshold_days(cycle_durations(opps, snap), q)
        stale_n = stale_deals(open_deals, threshold, snap).groupby("partner_id").size()
        part = weighted.set_index("partner_id").reindex(partners)
        frames.append(pd.DataFrame({
            "partner_id": partners,
            "period": str(label),
            "pipeline_open_n": part["open_n"].fillna(0).astype("int64").to_numpy(),
            # no open deal: 0; open deals none of which has an amount: not available (NaN)
            "pipeline_open_amount": part["open_amount"].where(part["open_n"].notna(), 0.0).to_numpy(),
            "pipeline_weighted": part["weighted_amount"].where(part["open_n"].notna(), 0.0).to_numpy(),
            "stale_deals_n": stale_n.reindex(partners, fill_value=0).astype("int64").to_numpy(),
        }))
    cols = ["partner_id", "period", "pipeline_open_n", "pipeline_open_amount", "pipeline_weighted", "stale_deals_n"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
