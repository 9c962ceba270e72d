"""Account coverage: segment the end customers buying through the network, move them between
segments with anti-flapping rules, and tell each serving partner which accounts to hand over or
receive.

An account is a ``sales.customer_id``. At each quarter end its **value** is its trailing-four-quarter
revenue through every partner; its **potential** is ``accounts.potential`` (optional table). It
qualifies for the highest segment of ``params accounts.segments`` whose cumulative minimums it
meets (:func:`channel_analysis.tiers.qualifying_ranks`, as partners qualify for tiers); its
official segment follows with the tiers' anti-flapping rules
(:func:`channel_analysis.tiers.assign_tiers`: ``promote_after`` / ``relegate_after`` consecutive
quarters). Each segment names a coverage model, each coverage model who works it (the serving
partner or the manufacturer); the **serving partner** is the partner with the most
trailing-four-quarter revenue from the account (ties: the smallest partner id; a quarter without
revenue keeps the last serving partner). Definitions: ``docs/methods.md`` ("Account coverage").

Statistics only: no input is modified, ``as_of`` is a parameter, nothing is read from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import periods, tiers
from .settings import AccountSettings

#: What a segment move asks of the account's serving partner (codes; pages translate them):
#: ``hand_over`` — the account leaves partner coverage for the manufacturer's; ``receive`` — it
#: enters partner coverage from the manufacturer's; ``change_coverage`` — the partner keeps it
#: under another coverage model; ``no_change`` — who covers it and how stay the same.
ACTIONS = ("hand_over", "receive", "change_coverage", "no_change")

#: The reason the whole feature is skipped without customer ids.
NO_CUSTOMERS = "sales.customer_id not provided: there are no end-customer accounts to segment"


@dataclass(frozen=True)
class AccountCoverage:
    """Account coverage of one run (all accounts; internal).

    ``history``: account × quarter ``[customer_id, period, value, potential, partner_id,
    qualifying_segment, previous_segment, segment, change, coverage]``; ``moves``: the accounts
    promoted or relegated in the reported quarter (:func:`account_moves`); ``migration``: previous
    → current segment counts (:func:`migration`); ``settings``: the segments actually used;
    ``skipped``: what the data did not allow, ``[(item, reason)]``."""

    history: pd.DataFrame
    moves: pd.DataFrame
    migration: pd.DataFrame
    settings: AccountSettings
    skipped: list[tuple[str, str]] = field(default_factory=list)


def effective_settings(settings: AccountSettings, potential_known: bool) -> tuple[AccountSettings, list]:
    """Without a potential, every ``min_potential`` is ignored and a segment left with no minimum
    stricter than the segment kept below it is dropped; returns the settings used and
    ``[(item, reason)]`` for each change."""
    if potential_known:
        return settings, []
    skipped = [("accounts.potential", "accounts table or its potential column not provided: accounts are "
                                      "segmented on value only (every min_potential ignored)")]
    kept = [replace(settings.segments[0], min_potential=None)]
    for seg in settings.segments[1:]:
        below = max((s.min_value or 0.0) for s in kept)
        if seg.min_value is None or seg.min_value <= below:
            skipped.append((f"accounts.segments.{seg.name}",
                            "segment dropped: without potential it has no minimum above the segment below it"))
            continue
        kept.append(replace(seg, min_potential=None))
    return replace(settings, segments=tuple(kept)), skipped


def account_values(sales: pd.DataFrame, quarters: list[str], as_of, fy_start: int = 1) -> pd.DataFrame:
    """Each account's trailing-four-quarter revenue and serving partner at each quarter end.

    ``sales``: ``[date, partner_id, customer_id, revenue]`` (revenue in the reporting currency);
    lines after ``as_of`` are ignored. Returns ``[customer_id, period, value, partner_id]``, one
    row per account and quarter of ``quarters`` from the first quarter whose trailing four
    quarters hold revenue from it (earlier quarters: no row), sorted by customer_id and period.
    ``partner_id`` is the partner with the most trailing-four-quarter revenue from the account
    (ties: the smallest id); a quarter in which no partner has any keeps the previous one.
    """
    cols = ["customer_id", "period", "value", "partner_id"]
    if not quarters:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in cols})
    ords = np.array([periods.parse_quarter(q, fy_start).ordinal for q in quarters], dtype="int64")
    first, last = int(ords.min()) - 3, int(ords.max())
    dates = pd.to_datetime(sales["date"])
    keep = (dates <= pd.Timestamp(as_of)).to_numpy()
    q = periods.to_quarter(dates[keep], fy_start)
    line_ord = np.asarray(pd.PeriodIndex(q).asi8, dtype="int64")
    inside = (line_ord >= first) & (line_ord <= last)
    if not inside.any():
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in cols})
    customers, c_code = np.unique(sales["customer_id"].to_numpy(dtype=object)[keep][inside].astype(str),
                                  return_inverse=True)
    names, p_code = np.unique(sales["partner_id"].to_numpy(dtype=object)[keep][inside].astype(str),
                              return_inverse=True)
    # (customer, partner) pairs, sorted by customer then partner id
    pair_ids, pair_idx = np.unique(c_code.astype("int64") * len(names) + p_code, return_inverse=True)
    cust_idx, partner_code = pair_ids // len(names), pair_ids % len(names)
    dense = np.zeros((len(pair_ids), last - first + 1))
    np.add.at(dense, (pair_idx, line_ord[inside] - first), sales["revenue"].to_numpy(dtype=float)[keep][inside])
    csum = np.concatenate([np.zeros((len(pair_ids), 1)), np.cumsum(dense, axis=1)], axis=1)
    report_cols = ords - first
    t4q = csum[:, report_cols + 1] - csum[:, report_cols - 3]  # pairs × reported quarters
    t4q = np.where(t4q > 1e-9 * np.maximum(1.0, np.abs(csum[:, report_cols + 1])), t4q, 0.0)

    value = np.zeros((len(customers), len(quarters)))
    np.add.at(value, cust_idx, t4q)
    # serving partner: per quarter, the pair with the most t4q revenue (ties: smallest partner id)
    code = np.full((len(customers), len(quarters)), -1, dtype="int64")  # index into names; -1: none
    for j in range(len(quarters)):
        sold = t4q[:, j] > 0
        c, v, p = cust_idx[sold], t4q[sold, j], partner_code[sold]
        best = np.lexsort((p, -v, c))  # per customer: most revenue first, then the smallest id
        head = np.ones(len(c), dtype=bool)
        head[1:] = c[best][1:] != c[best][:-1]
        code[c[best][head], j] = p[best][head]
    # a quarter without revenue keeps the last serving partner (forward fill along quarters)
    known = np.maximum.accumulate(np.where(code >= 0, np.arange(len(quarters))[None, :], 0), axis=1)
    code = np.take_along_axis(code, known, axis=1)
    serving = np.where(code >= 0, names[np.maximum(code, 0)].astype(object), None)

    started = np.cumsum(value > 0, axis=1) > 0  # from the first quarter with revenue on
    ci, qi = np.nonzero(started)
    return pd.DataFrame({"customer_id": customers[ci], "period": np.asarray(quarters, dtype=object)[qi],
                         "value": value[ci, qi], "partner_id": serving[ci, qi]})


def segment_history(values: pd.DataFrame, potential: pd.Series | None, settings: AccountSettings,
                    *, with_potential: bool = True) -> pd.DataFrame:
    """Qualifying and official segment of each account and quarter.

    ``values``: :func:`account_values`; ``potential``: annual potential per ``customer_id`` (NaN
    or absent: unknown, a ``min_potential`` is then not met). Returns ``values`` with
    ``potential``, ``qualifying_segment``, ``previous_segment``, ``segment`` (ordered categoricals,
    lowest segment first), ``change`` (``new`` / ``unchanged`` / ``promoted`` / ``relegated``),
    ``coverage`` and ``previous_coverage`` (the segments' coverage models)."""
    levels = settings.levels(potential=with_potential)
    names = list(settings.names)
    v = values.copy()
    pot = (pd.Series(potential, dtype=float) if potential is not None else pd.Series(dtype=float))
    pot = pot[~pot.index.duplicated(keep="first")]
    pot.index = pot.index.astype(str)
    v["potential"] = v["customer_id"].astype(str).map(pot).astype(float).to_numpy()
    rank = tiers.qualifying_ranks(v, levels)
    qualifying = pd.DataFrame({"partner_id": v["customer_id"].to_numpy(), "period": v["period"].to_numpy(),
                               "qualifying_tier": pd.Categorical.from_codes(rank, categories=names, ordered=True)})
    assigned = tiers.assign_tiers(qualifying, levels, settings.promote_after, settings.relegate_after)
    assigned = assigned.rename(columns={"partner_id": "customer_id", "qualifying_tier": "qualifying_segment",
                                        "previous_tier": "previous_segment", "tier": "segment"})
    out = v.merge(assigned, on=["customer_id", "period"], how="left")
    coverage = {s.name: s.coverage for s in settings.segments}
    out["coverage"] = out["segment"].astype(object).map(coverage)
    out["previous_coverage"] = out["previous_segment"].astype(object).map(coverage)
    return out.sort_values(["customer_id", "period"], ignore_index=True)


def partner_action(coverage_from, coverage_to, owners: dict) -> str:
    """The :data:`ACTIONS` code a coverage change asks of the serving partner."""
    a, b = owners.get(coverage_from), owners.get(coverage_to)
    if a == "partner" and b == "manufacturer":
        return "hand_over"
    if a == "manufacturer" and b == "partner":
        return "receive"
    if a == b == "partner" and coverage_from != coverage_to:
        return "change_coverage"
    return "no_change"


def account_moves(history: pd.DataFrame, period: str, settings: AccountSettings,
                  names: pd.Series | None = None) -> pd.DataFrame:
    """Accounts promoted or relegated in ``period``: ``[customer_id, name, period, partner_id,
    change, from_segment, to_segment, from_coverage, to_coverage, action, value, potential]``
    (``partner_id`` = the serving partner, ``action`` one of :data:`ACTIONS`), promotions first,
    then by segment reached (highest first) and customer_id."""
    rows = history[(history["period"] == period) & history["change"].isin(["promoted", "relegated"])]
    owners = dict(settings.coverage_models)
    nm = pd.Series(names, dtype=object) if names is not None else pd.Series(dtype=object)
    nm.index = nm.index.astype(str)
    out = pd.DataFrame({
        "customer_id": rows["customer_id"].astype(str).to_numpy(),
        "name": rows["customer_id"].astype(str).map(nm).to_numpy(dtype=object),
        "period": period,
        "partner_id": rows["partner_id"].to_numpy(dtype=object),
        "change": rows["change"].to_numpy(dtype=object),
        "from_segment": rows["previous_segment"].astype(object).to_numpy(),
        "to_segment": rows["segment"].astype(object).to_numpy(),
        "from_coverage": rows["previous_coverage"].to_numpy(dtype=object),
        "to_coverage": rows["coverage"].to_numpy(dtype=object),
        "value": rows["value"].to_numpy(dtype=float),
        "potential": rows["potential"].to_numpy(dtype=float),
    })
    out.insert(9, "action", [partner_action(a, b, owners) for a, b in zip(out["from_coverage"], out["to_coverage"])])
    rank = {n: i for i, n in enumerate(settings.names)}
    out["_r"] = out["to_segment"].map(rank)
    out = out.sort_values(["change", "_r", "customer_id"], ascending=[True, False, True], kind="stable")
    return out.drop(columns="_r").reset_index(drop=True)


def migration(history: pd.DataFrame, period: str, settings: AccountSettings) -> pd.DataFrame:
    """Accounts by official segment at the end of the quarter before ``period`` (``from_segment``)
    and at the end of ``period`` (``to_segment``), long: ``[period, from_segment, to_segment,
    accounts]``, every pair of segments in segment order, zeros included. Only accounts with a
    segment in both quarters are counted (new accounts are not)."""
    names = list(settings.names)
    h = history[(history["period"] == period) & history["previous_segment"].notna()]
    h = h[["customer_id", "period", "previous_segment", "segment"]].rename(columns={"customer_id": "partner_id"})
    # the previous quarter's official segment is this quarter's previous_segment
    both = pd.concat([h.assign(period="from", segment=h["previous_segment"]), h.assign(period="to")])
    m = tiers.migration_matrix(both, "from", "to", levels=settings.levels(), column="segment")
    long = m.to_numpy()
    i, j = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
    return pd.DataFrame({"period": period, "from_segment": np.asarray(names, dtype=object)[i.ravel()],
                         "to_segment": np.asarray(names, dtype=object)[j.ravel()],
                         "accounts": long.ravel().astype("int64")})


def network_counts(history: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """Accounts promoted and relegated in each quarter: ``[period, accounts_promoted,
    accounts_relegated]``, one row per quarter of ``quarters`` (0 when none moved)."""
    changes = history[history["change"].isin(["promoted", "relegated"])]
    counts = pd.crosstab(changes["period"], changes["change"]).reindex(
        index=list(quarters), columns=["promoted", "relegated"], fill_value=0)
    return pd.DataFrame({"period": list(quarters),
                         "accounts_promoted": counts["promoted"].to_numpy(dtype="int64"),
                         "accounts_relegated": counts["relegated"].to_numpy(dtype="int64")})


def compute(sales: pd.DataFrame | None, accounts: pd.DataFrame | None, settings: AccountSettings,
            quarters: list[str], period: str, as_of, fy_start: int = 1) -> AccountCoverage | None:
    """Account coverage of a run; ``None`` (with nothing computed) when ``sales`` or
    ``sales.customer_id`` is absent — the caller lists the feature as skipped (:data:`NO_CUSTOMERS`)."""
    if sales is None or "customer_id" not in sales.columns:
        return None
    potential_known = accounts is not None and "potential" in accounts.columns
    used, skipped = effective_settings(settings, potential_known)
    values = account_values(sales, quarters, as_of, fy_start)
    pot = accounts.set_index("customer_id")["potential"] if potential_known else None
    history = segment_history(values, pot, used, with_potential=potential_known)
    names = (accounts.set_index("customer_id")["name"] if accounts is not None and "name" in accounts.columns
             else None)
    moves = account_moves(history, period, used, names)
    return AccountCoverage(history=history, moves=moves, migration=migration(history, period, used),
                           settings=used, skipped=skipped)
