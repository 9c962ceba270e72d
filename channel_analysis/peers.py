"""Peer benchmarks and small-sample rates: peer groups, peer percentiles, empirical-Bayes shrinkage.

Privacy: everything a partner may see about others is an aggregate of at least ``min_peers``
(``benchmarks.min_peers``) partners — a median and quartiles, never a minimum, maximum or a
statistic of fewer values. Definitions: ``docs/statistics.md``. scipy is imported only by
``shrink_rates(method="mle")``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .errors import DataValidationError, ParamsError

ALL_PARTNERS = "all partners"
PEER_SEPARATOR = " · "


def _check_min_peers(min_peers) -> int:
    if isinstance(min_peers, bool) or not isinstance(min_peers, (int, np.integer)) or min_peers < 1:
        raise ParamsError(f"benchmarks.min_peers must be a whole number ≥ 1, got {min_peers!r}")
    return int(min_peers)


def assign_peer_groups(
    partners: pd.DataFrame,
    peer_groups: Sequence[Sequence[str]],
    min_peers: int,
) -> pd.DataFrame:
    """The peer group of every partner: the first grouping, most specific first, whose group has
    at least ``min_peers`` partners (the partner itself included).

    ``partners``: one row per partner with ``partner_id`` and the grouping columns (partner_type,
    region, country, tier, …). A partner whose value in a grouping column is missing is not
    grouped by that grouping. A grouping ``[]`` is the whole network; when no grouping has enough
    partners the partner is compared with the whole network (then ``peer_n`` may be < k, and
    :func:`peer_percentiles` shows no peer statistics).

    Returns ``[partner_id, peer_group, peer_keys, peer_level, peer_n, peer_label_0, …]``: a
    readable label such as ``"reseller · DACH"`` or ``"all partners"``, the tuple of columns used,
    the index of the grouping in ``peer_groups`` (one more than the last when the whole network is
    the implicit fallback), the number of partners in the group, and the partner's group label at
    every grouping (``peer_label_<i>``, NaN when a column is missing) — the membership
    :func:`peer_percentiles` needs: a partner benchmarked against "all resellers" is compared with
    every reseller, including those that have a more specific group of their own.
    """
    k = _check_min_peers(min_peers)
    groupings = [list(g) for g in peer_groups]
    for cols in groupings:
        absent = [c for c in cols if c not in partners.columns]
        if absent:
            raise ParamsError(
                f"benchmarks.peer_groups uses column(s) {', '.join(absent)} that the partners frame "
                f"does not have (columns: {', '.join(map(str, partners.columns))})"
            )
    whole_level = next((i for i, g in enumerate(groupings) if not g), len(groupings))
    if whole_level == len(groupings):
        groupings.append([])  # the implicit last resort: the whole network
    n = len(partners)
    level = np.full(n, -1, dtype="int64")
    label = np.full(n, ALL_PARTNERS, dtype=object)
    size = np.full(n, n, dtype="int64")
    members = {}
    for i, cols in enumerate(groupings):
        if not cols:
            this_label = pd.Series(ALL_PARTNERS, index=partners.index, dtype=object)
            this_size = np.full(n, n, dtype="int64")
            ok = (level < 0) & (n >= k) | ((level < 0) & (i == len(groupings) - 1))
        else:
            frame = partners[cols]
            complete = frame.notna().all(axis=1).to_numpy()
            sizes = frame.groupby(cols, dropna=True, sort=False)[cols[0]].transform("size")
            this_size = sizes.reindex(frame.index).fillna(0).astype("int64").to_numpy()
            text = frame[cols[0]].astype(str)
            for c in cols[1:]:
                text = text + PEER_SEPARATOR + frame[c].astype(str)
            this_label = text.astype(object).where(complete)
            ok = (level < 0) & complete & (this_size >= k)
        members[f"peer_label_{i}"] = this_label.to_numpy(dtype=object)
        level = np.where(ok, i, level)
        label = np.where(ok, this_label.to_numpy(dtype=object), label)
        size = np.where(ok, this_size, size)
    level = np.where(level < 0, whole_level, level)  # only reachable when [] is not the last grouping
    used = {i: tuple(cols) for i, cols in enumerate(groupings)}
    out = pd.DataFrame(
        {
            "partner_id": partners["partner_id"].to_numpy(),
            "peer_group": label,
            "peer_keys": pd.Series(level).map(used).to_numpy(dtype=object),
            "peer_level": level,
            "peer_n": size,
        }
    )
    for name, values in members.items():
        out[name] = values
    return out


def peer_percentiles(
    kpis: pd.DataFrame,
    peer_assignment: pd.DataFrame,
    metrics: Sequence[str],
    *,
    min_peers: int = 5,
    period: str | None = None,
    window: str | None = None,
) -> pd.DataFrame:
    """Each partner's percentile and its peer group's median and quartiles, per metric.

    ``kpis``: the KPI table (every period and window present, or only ``period`` / ``window``
    when given); ``peer_assignment``: :func:`assign_peer_groups`. Within each peer group ×
    period × window × metric, over the partners with a value (n = ``peer_n``, the partner
    included): ``percentile`` = 100 × (number below + ½ number equal) ÷ n (mid-rank, 0–100);
    ``peer_median``, ``peer_p25``, ``peer_p75`` = quantiles with linear interpolation. When
    n < ``min_peers`` every peer statistic and the percentile are NaN; a partner without a value
    has a NaN percentile. ``reason`` says why a figure is missing ("no peer group",
    "fewer than k peers with a value", "no value"; null when complete).

    Returns long ``[(period, window,) partner_id, metric, value, percentile, peer_group, peer_n,
    peer_median, peer_p25, peer_p75, reason]``.
    """
    k = _check_min_peers(min_peers)
    metrics = list(dict.fromkeys(metrics))
    rows = kpis
    if window is not None and "window" in rows.columns:
        rows = rows[rows["window"] == window]
    if period is not None and "period" in rows.columns:
        rows = rows[rows["period"] == period]
    absent = [m for m in metrics if m not in kpis.columns]
    if absent:
        raise ParamsError(
            f"benchmark metric(s) {', '.join(absent)} are not columns of the KPI table "
            f"(columns: {', '.join(map(str, kpis.columns))})"
        )
    for m in metrics:
        if not (pd.api.types.is_numeric_dtype(kpis[m]) or pd.api.types.is_bool_dtype(kpis[m])):
            raise ParamsError(f"benchmark metric {m!r} is not numeric (dtype {kpis[m].dtype})")
    keys = [c for c in ("period", "window") if c in rows.columns]
    dup = rows.duplicated(keys + ["partner_id"], keep=False)
    if dup.any():
        first = rows.loc[dup, keys + ["partner_id"]].iloc[0].to_dict()
        raise DataValidationError(f"KPI table: more than one row for {first}")
    label_cols = [c for c in peer_assignment.columns if str(c).startswith("peer_label_")]
    if not label_cols:
        raise ParamsError("peer_assignment must come from assign_peer_groups (no peer_label_* columns)")
    wide = rows[keys + ["partner_id"] + metrics].copy()
    for m in metrics:
        wide[m] = wide[m].astype("float64")
    long = wide.melt(id_vars=keys + ["partner_id"], var_name="metric", value_name="value")
    assign = peer_assignment[["partner_id", "peer_group", "peer_level"] + label_cols]
    long = long.merge(assign, on="partner_id", how="left")
    stats = pd.DataFrame(
        np.nan, index=long.index, columns=["percentile", "peer_n", "peer_median", "peer_p25", "peer_p75"]
    )
    for lvl in pd.unique(long["peer_level"].dropna()):  # one pass per grouping used (a handful)
        col = f"peer_label_{int(lvl)}"
        members = long[long[col].notna()]
        grouped = members.groupby(keys + ["metric", col], sort=False)["value"]
        mine = (members["peer_level"] == lvl).to_numpy()
        idx = members.index[mine]
        n = grouped.transform("count")
        stats.loc[idx, "peer_n"] = n[mine].to_numpy()
        stats.loc[idx, "percentile"] = (100.0 * (grouped.rank(method="average") - 0.5) / n)[mine].to_numpy()
        for name, q in (("peer_median", 0.5), ("peer_p25", 0.25), ("peer_p75", 0.75)):
            stats.loc[idx, name] = grouped.transform("quantile", q)[mine].to_numpy()
    no_group = long["peer_group"].isna()
    enough = (stats["peer_n"] >= k) & ~no_group
    out = long[keys + ["partner_id", "metric", "value"]].copy()
    out["percentile"] = stats["percentile"].where(enough & long["value"].notna())
    out["peer_group"] = long["peer_group"]
    out["peer_n"] = stats["peer_n"].astype("Int64")
    for name in ("peer_median", "peer_p25", "peer_p75"):
        out[name] = stats[name].where(enough)
    reason = np.select(
        [no_group.to_numpy(), (~enough).to_numpy(), long["value"].isna().to_numpy()],
        ["no peer group", f"fewer than {k} peers with a value", "no value"],
        "",
    ).astype(object)
    out["reason"] = pd.Series(reason, index=out.index).replace("", None)
    return out.sort_values(keys + ["partner_id", "metric"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# empirical-Bayes shrinkage of rates
# --------------------------------------------------------------------------------------------


def _as_series(x, index) -> pd.Series:
    if isinstance(x, pd.Series):
        return x.reindex(index) if index is not None else x
    return pd.Series(np.asarray(x), index=index)


def _moments(frame: pd.DataFrame, min_strength: float) -> pd.DataFrame:
    """Per group: prior mean μ and strength s = α + β by the method of moments."""
    obs = frame[frame["n"] > 0].assign(
        p=lambda d: d["k"] / d["n"], p2=lambda d: (d["k"] / d["n"]) ** 2, inv=lambda d: 1.0 / d["n"]
    )
    agg = obs.groupby("g", dropna=False, sort=False).agg(
        K=("k", "sum"), N=("n", "sum"), m=("n", "size"), sp=("p", "sum"), sp2=("p2", "sum"), h=("inv", "mean")
    )
    mu = agg["K"] / agg["N"]
    m = agg["m"]
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = (agg["sp2"] - 2 * mu * agg["sp"] + m * mu**2) / (m - 1)
        denom = mu * (1 - mu)
        rho = (s2 / denom - agg["h"]) / (1 - agg["h"])
        strength = 1.0 / rho - 1.0
    cap = np.maximum(agg["N"].astype(float), min_strength)
    strength = strength.where(rho > 0, np.inf)  # no overdispersion: as strong as allowed
    informative = (m >= 2) & (denom > 0) & (agg["h"] < 1) & rho.notna()
    strength = strength.where(informative, min_strength)
    strength = np.minimum(np.maximum(strength, min_strength), cap)
    return pd.DataFrame({"mu": mu, "s": strength, "N": agg["N"]})


def _mle(frame: pd.DataFrame, start: pd.DataFrame, min_strength: float) -> pd.DataFrame:
    """Per group: maximise the beta-binomial marginal likelihood over (log α, log β)."""
    from scipy.optimize import minimize  # lazy: only this method needs scipy
    from scipy.special import betaln

    out = start.copy()
    for g, part in frame[frame["n"] > 0].groupby("g", dropna=False, sort=False):  # one fit per group
        k = part["k"].to_numpy(float)
        n = part["n"].to_numpy(float)
        mu0, s0 = start.loc[g, "mu"], start.loc[g, "s"]
        if not (0 < mu0 < 1) or len(k) < 2:
            continue

        def nll(theta):
            a, b = np.exp(theta)
            return -np.sum(betaln(k + a, n - k + b) - betaln(a, b))

        x0 = np.log([mu0 * s0, (1 - mu0) * s0])
        res = minimize(nll, x0, method="L-BFGS-B", bounds=[(-12, 16), (-12, 16)])
        a, b = np.exp(res.x)
        out.loc[g, "mu"] = a / (a + b)
        out.loc[g, "s"] = min(max(a + b, min_strength), max(start.loc[g, "N"], min_strength))
    return out


def shrink_rates(
    successes,
    trials,
    groups=None,
    *,
    method: str = "moments",
    min_strength: float = 2.0,
) -> pd.DataFrame:
    """Empirical-Bayes (beta-binomial) shrinkage of per-partner rates such as win rates.

    Model: partner i's true rate ~ Beta(α, β) (one prior per ``groups`` value, else one for the
    network); kᵢ successes out of nᵢ trials are binomial. The prior is fitted across partners with
    nᵢ > 0: ``method="moments"`` (default) — μ = Σk ÷ Σn, S² = Σ(pᵢ − μ)² ÷ (m − 1) with
    pᵢ = kᵢ/nᵢ, h = mean(1/nᵢ), ρ = (S² ÷ μ(1−μ) − h) ÷ (1 − h) (the intra-partner correlation
    1/(α+β+1)), α + β = 1/ρ − 1; ``method="mle"`` maximises the beta-binomial likelihood with
    scipy (started from the moments fit). The strength s = α + β is kept within
    [``min_strength``, Σn]: no detectable spread between partners (ρ ≤ 0) gives s = Σn, and too
    little data to measure a spread (one partner, all rates 0 or 1, every n = 1) gives
    s = ``min_strength``. α = μ·s, β = (1 − μ)·s.

    ``shrunk_rate`` = (kᵢ + α) ÷ (nᵢ + α + β) — the posterior mean, a weighted average of the raw
    rate (weight nᵢ) and the prior mean μ (weight s), so it always lies between them; a partner
    with no trials gets μ (NaN when no partner of its group has a trial). Missing
    successes/trials count as 0.

    Returns ``[successes, n, raw_rate, shrunk_rate, prior_alpha, prior_beta, prior_mean(, group)]``
    indexed like ``successes`` (if a Series).
    """
    if method not in ("moments", "mle"):
        raise ParamsError(f"shrink_rates: method must be 'moments' or 'mle', got {method!r}")
    index = successes.index if isinstance(successes, pd.Series) else None
    k = _as_series(successes, index).astype("float64").fillna(0.0)
    n = _as_series(trials, k.index).astype("float64").fillna(0.0)
    bad = (n < 0) | (k < 0) | (k > n)
    if bad.any():
        where = list(k.index[bad.to_numpy()][:5])
        raise DataValidationError(
            f"shrink_rates: successes must be between 0 and trials; check rows {where}"
        )
    g = _as_series(groups, k.index) if groups is not None else pd.Series("all", index=k.index)
    frame = pd.DataFrame({"k": k.to_numpy(), "n": n.to_numpy(), "g": g.to_numpy()}, index=k.index)
    prior = _moments(frame, float(min_strength))
    if method == "mle":
        prior = _mle(frame, prior, float(min_strength))
    mu = frame["g"].map(prior["mu"]) if len(prior) else pd.Series(np.nan, index=frame.index)
    s = frame["g"].map(prior["s"]) if len(prior) else pd.Series(np.nan, index=frame.index)
    alpha, beta = mu * s, (1 - mu) * s
    out = pd.DataFrame(index=frame.index)
    out["successes"] = frame["k"]
    out["n"] = frame["n"]
    out["raw_rate"] = (frame["k"] / frame["n"]).where(frame["n"] > 0)
    out["shrunk_rate"] = (frame["k"] + alpha) / (frame["n"] + alpha + beta)
    out["prior_alpha"] = alpha
    out["prior_beta"] = beta
    out["prior_mean"] = mu
    if groups is not None:
        out["group"] = frame["g"]
    return out


def rank_rates(
    successes,
    trials,
    groups=None,
    *,
    method: str = "moments",
    min_strength: float = 2.0,
) -> pd.DataFrame:
    """Rates ranked by their shrunk value, showing raw and shrunk side by side.

    :func:`shrink_rates` plus ``raw_rank`` and ``shrunk_rank`` (1 = highest; ties share the best
    rank; no trials → no raw rank), sorted by ``shrunk_rank``. For internal (network) use: a
    ranking names other partners.
    """
    out = shrink_rates(successes, trials, groups, method=method, min_strength=min_strength)
    out["raw_rank"] = out["raw_rate"].rank(ascending=False, method="min").astype("Int64")
    out["shrunk_rank"] = out["shrunk_rate"].rank(ascending=False, method="min").astype("Int64")
    return out.sort_values(["shrunk_rank", "raw_rank"], na_position="last")
