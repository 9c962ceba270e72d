"""Partner tiers: qualification, official tier and recommended change, migration, gap to next tier.

The recorded tier (``partners.tier``) is the official one; :func:`tier_status` compares it with
the computed qualification and recommends promote / relegate / hold (anti-flapping), which a
programme manager approves. :func:`assign_tiers` computes a tier only for partners without a
recorded one.

Levels come from ``params["tiers"]["levels"]``: a list, lowest first, of
``{name: ..., criteria: {kpi_column: minimum}}``. A criterion is met when the KPI value is
≥ its minimum (a missing value is not met). Criteria are cumulative: a level requires its own
minimums and every minimum of the levels below it (the larger one when both name a column), so
qualifying for a level implies qualifying for every level below. The lowest level must have no
criteria; every partner qualifies for it. Criterion names follow
:func:`channel_analysis.segmentation.criteria_values` (``revenue_t4q`` = ``revenue`` of the t4q
rows). Definitions: ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import DataValidationError, ParamsError
from .segmentation import criteria_values

CHANGES = ("new", "unchanged", "promoted", "relegated")


@dataclass(frozen=True)
class Level:
    """One tier: its name, rank (0 = lowest) and cumulative minimums (column → minimum)."""

    name: str
    rank: int
    criteria: dict[str, float]


def parse_levels(levels: Sequence[Mapping]) -> list[Level]:
    """Check ``tiers.levels`` and return the levels with their cumulative criteria."""
    if not isinstance(levels, Sequence) or isinstance(levels, (str, bytes)) or not levels:
        raise ParamsError("tiers.levels must be a list of {name, criteria}, lowest tier first")
    out: list[Level] = []
    cumulative: dict[str, float] = {}
    seen: set[str] = set()
    for i, level in enumerate(levels):
        if isinstance(level, Level):
            level = {"name": level.name, "criteria": level.criteria}
        if not isinstance(level, Mapping) or "name" not in level:
            raise ParamsError(f"tiers.levels[{i}] must be a mapping with 'name' and 'criteria'")
        name = str(level["name"])
        if name in seen:
            raise ParamsError(f"tiers.levels: tier name {name!r} appears twice")
        seen.add(name)
        criteria = level.get("criteria") or {}
        if not isinstance(criteria, Mapping):
            raise ParamsError(f"tiers.levels[{i}] ({name}): criteria must map KPI columns to minimums")
        if i == 0 and criteria:
            raise ParamsError(
                f"tiers.levels[0] ({name}) has criteria; the lowest tier must have none "
                "(add a base tier with 'criteria: {}' below it)"
            )
        for col, minimum in criteria.items():
            if isinstance(minimum, bool) or not isinstance(minimum, (int, float)) or minimum != minimum:
                raise ParamsError(
                    f"tiers.levels[{i}] ({name}).criteria.{col}: minimum must be a number, got {minimum!r}"
                )
            cumulative[str(col)] = max(float(minimum), cumulative.get(str(col), -np.inf))
        out.append(Level(name=name, rank=i, criteria=dict(cumulative)))
    return out


def requirements(levels: Sequence[Mapping]) -> pd.DataFrame:
    """Long table of the cumulative requirements: ``[tier, rank, criterion, required]``."""
    rows = [(lv.name, lv.rank, c, m) for lv in parse_levels(levels) for c, m in lv.criteria.items()]
    return pd.DataFrame(rows, columns=["tier", "rank", "criterion", "required"])


def _categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype="int64"), categories=names, ordered=True)


def qualifying_ranks(data: pd.DataFrame, levels: Sequence[Mapping]) -> np.ndarray:
    """Per row of ``data``, the rank (0 = lowest) of the highest level whose every cumulative
    minimum its columns meet (value ≥ minimum; NaN = not met). ``data`` holds one column per
    criterion named in ``levels``; tiers (KPI columns) and account segments both qualify this way."""
    lv = parse_levels(levels)
    rank = np.zeros(len(data), dtype="int64")
    for level in lv[1:]:
        ok = np.ones(len(data), dtype=bool)
        for col, minimum in level.criteria.items():
            ok &= (data[col] >= minimum).to_numpy()  # NaN >= x is False: not met
        rank = np.where(ok, level.rank, rank)
    return rank


def qualifying_tier(
    kpis: pd.DataFrame,
    levels: Sequence[Mapping],
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> pd.DataFrame:
    """The highest tier each partner qualifies for, per period.

    Returns ``[partner_id, period, qualifying_tier]`` (an ordered categorical, lowest tier
    first) for the rows of ``window`` — every period, or only ``period`` when given. A partner
    qualifies for a level when every cumulative minimum is met (value ≥ minimum; NaN = not met).
    """
    lv = parse_levels(levels)
    columns = sorted({c for level in lv for c in level.criteria})
    data = criteria_values(kpis, columns, period=period, window=window, one_period=False)
    rank = qualifying_ranks(data, lv)
    out = data[[c for c in ("partner_id", "period") if c in data.columns]].copy()
    out["qualifying_tier"] = _categorical(rank, [x.name for x in lv])
    return out.sort_values([c for c in ("partner_id", "period") if c in out.columns]).reset_index(drop=True)


def _ranks(values: pd.Series, names: list[str], what: str, ids: pd.Series) -> np.ndarray:
    """Tier names → rank (NaN stays NaN as -1); an unknown name raises DataValidationError."""
    index = {n: i for i, n in enumerate(names)}
    as_text = values.astype(object)
    ranks = as_text.map(index)
    bad = as_text.notna() & ranks.isna()
    if bad.any():
        sample = ", ".join(f"{p}: {t!r}" for p, t in zip(ids[bad][:5], as_text[bad][:5]))
        raise DataValidationError(
            f"{what}: unknown tier name(s) ({sample}); tiers.levels defines {', '.join(names)}. "
            "Rename them in the data or add the tier to tiers.levels."
        )
    return ranks.fillna(-1).astype("int64").to_numpy()


def _quarter_ordinal(labels: pd.Series) -> np.ndarray:
    """Quarter labels "YYYYQn" → consecutive integers (year × 4 + n − 1), vectorized."""
    text = labels.astype(str)
    bad = ~text.str.fullmatch(r"\d{4}Q[1-4]")
    if bad.any():
        raise DataValidationError(
            f"qualifying tiers: period {text[bad].iloc[0]!r} is not a quarter label like 2026Q3"
        )
    return (text.str.slice(0, 4).astype("int64") * 4 + text.str.slice(5, 6).astype("int64") - 1).to_numpy()


def _check_run(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParamsError(f"tiers.{name} must be a whole number ≥ 1, got {value!r}")
    return int(value)


def assign_tiers(
    qualifying: pd.DataFrame,
    levels: Sequence[Mapping],
    promote_after: int = 2,
    relegate_after: int = 2,
    initial: pd.Series | None = None,
) -> pd.DataFrame:
    """Tier per partner and quarter with anti-flapping promotion and relegation.

    ``qualifying``: ``[partner_id, period, qualifying_tier]`` (from :func:`qualifying_tier`).
    Quarters are taken in calendar order over the full range of labels present; a quarter in
    which a partner has no row breaks its runs (it counts as neither qualifying nor missing).
    Rules, per partner, for each quarter with a row:

    * first quarter: tier = ``initial[partner_id]`` (the PRM's recorded tier, ``partners.tier``)
      if given and not null, evaluated against this quarter like any other; otherwise the
      qualifying tier, with change ``new``;
    * a quarter whose qualifying tier is above the current tier extends the *up run*; after
      ``promote_after`` consecutive such quarters the partner moves up to the lowest tier it
      qualified for throughout the run (``promoted``);
    * a quarter whose qualifying tier is below the current tier extends the *down run*; after
      ``relegate_after`` consecutive such quarters the partner moves down to the highest tier it
      qualified for during the run (``relegated``) — the smallest move the evidence supports;
    * any other quarter resets both runs; a move resets both runs.

    Returns ``[partner_id, period, qualifying_tier, previous_tier, tier, change]`` (tiers as
    ordered categoricals; ``previous_tier`` = tier before this quarter's decision, NaN for a
    ``new`` partner), one row per input row, sorted by partner_id and period.
    """
    lv = parse_levels(levels)
    names = [x.name for x in lv]
    up_after = _check_run("promote_after", promote_after)
    down_after = _check_run("relegate_after", relegate_after)
    q = qualifying[["partner_id", "period", "qualifying_tier"]].copy()
    dup = q.duplicated(["partner_id", "period"], keep=False)
    if dup.any():
        first = q.loc[dup].iloc[0]
        raise DataValidationError(
            f"qualifying tiers: more than one row for partner {first['partner_id']} in {first['period']}"
        )
    q["_rank"] = _ranks(q["qualifying_tier"], names, "qualifying_tier", q["partner_id"])
    q = q[q["_rank"] >= 0]
    if q.empty:
        return pd.DataFrame(
            {
                "partner_id": pd.Series(dtype=object),
                "period": pd.Series(dtype=object),
                "qualifying_tier": _categorical(np.array([], dtype="int64"), names),
                "previous_tier": _categorical(np.array([], dtype="int64"), names),
                "tier": _categorical(np.array([], dtype="int64"), names),
                "change": pd.Series(dtype=object),
            }
        )
    ordinal = _quarter_ordinal(q["period"])
    first_q = int(ordinal.min())
    full = np.array([f"{o // 4}Q{o % 4 + 1}" for o in range(first_q, int(ordinal.max()) + 1)])
    partners = np.sort(q["partner_id"].unique())
    grid = (
        q.assign(_col=ordinal - first_q)
        .pivot(index="partner_id", columns="_col", values="_rank")
        .reindex(index=partners, columns=range(len(full)))
    )
    Q = grid.to_numpy(dtype="float64")  # partners × quarters, NaN = no row
    n_p, n_t = Q.shape

    if initial is not None:
        init = pd.Series(initial)
        init = init[init.index.isin(partners)].dropna()
        ranks = _ranks(init, names, "initial tier (partners.tier)", pd.Series(init.index, index=init.index))
        init_rank = pd.Series(ranks, index=init.index).reindex(partners).fillna(-1).astype("int64").to_numpy()
    else:
        init_rank = np.full(n_p, -1, dtype="int64")

    cur = np.full(n_p, -1, dtype="int64")
    up_run = np.zeros(n_p, dtype="int64")
    down_run = np.zeros(n_p, dtype="int64")
    up_min = np.zeros(n_p, dtype="int64")
    down_max = np.zeros(n_p, dtype="int64")
    tier = np.full((n_p, n_t), -1, dtype="int64")
    prev = np.full((n_p, n_t), -1, dtype="int64")
    change = np.full((n_p, n_t), "", dtype=object)
    for t in range(n_t):  # sequential over quarters, vectorized over partners
        present = ~np.isnan(Q[:, t])
        qt = np.where(present, Q[:, t], -1).astype("int64")
        first = present & (cur < 0)
        start_init = first & (init_rank >= 0)
        start_new = first & (init_rank < 0)
        cur = np.where(start_init, init_rank, cur)
        cur = np.where(start_new, qt, cur)
        prev[:, t] = np.where(start_new, -1, cur)
        evaluate = present & ~start_new
        above = evaluate & (qt > cur)
        below = evaluate & (qt < cur)
        up_min = np.where(above, np.where(up_run == 0, qt, np.minimum(up_min, qt)), 0)
        down_max = np.where(below, np.where(down_run == 0, qt, np.maximum(down_max, qt)), 0)
        up_run = np.where(above, up_run + 1, 0)
        down_run = np.where(below, down_run + 1, 0)
        promote = up_run >= up_after
        relegate = down_run >= down_after
        cur = np.where(promote, up_min, np.where(relegate, down_max, cur))
        moved = promote | relegate
        up_run[moved] = 0
        down_run[moved] = 0
        tier[:, t] = np.where(present, cur, -1)
        change[:, t] = np.select(
            [start_new, promote, relegate, present], ["new", "promoted", "relegated", "unchanged"], ""
        )
    mask = ~np.isnan(Q)
    pi, ti = np.nonzero(mask)  # row-major: sorted by partner, then quarter
    out = pd.DataFrame(
        {
            "partner_id": partners[pi],
            "period": full[ti],
            "qualifying_tier": _categorical(Q[pi, ti].astype("int64"), names),
            "previous_tier": _categorical(prev[pi, ti], names),
            "tier": _categorical(tier[pi, ti], names),
            "change": change[pi, ti],
        }
    )
    return out


def _trailing_run(flags: np.ndarray) -> np.ndarray:
    """Per row, the number of consecutive True values at the end (partners × quarters)."""
    n_t = flags.shape[1]
    if n_t == 0:
        return np.zeros(flags.shape[0], dtype="int64")
    rev = flags[:, ::-1]
    return np.where(rev.all(axis=1), n_t, np.argmin(rev, axis=1)).astype("int64")


def _official_ranks(official, partners: np.ndarray, names: list[str]) -> np.ndarray:
    """Recorded tier per partner → rank; -1 where not recorded or not a defined level."""
    if official is None:
        return np.full(len(partners), -1, dtype="int64")
    rec = pd.Series(official)
    rec = rec[~rec.index.duplicated(keep="first")]
    rec.index = rec.index.astype(str)
    index = {n: i for i, n in enumerate(names)}
    ranks = rec.astype(object).map(lambda v: index.get(v, -1) if isinstance(v, str) else -1)
    return ranks.reindex(partners).fillna(-1).astype("int64").to_numpy()


def tier_status(
    kpis: pd.DataFrame,
    levels: Sequence[Mapping],
    official: pd.Series | None,
    promote_after: int,
    relegate_after: int,
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> pd.DataFrame:
    """Each partner's official tier and the tier change a programme manager is asked to approve.

    ``official``: the recorded tier per partner (``partners.tier`` indexed by ``partner_id``), or
    ``None`` when the partners table has no tier column. The recorded tier *is* the partner's tier;
    the qualification computed from the KPIs is only a **recommendation**. Where no tier is
    recorded (empty, or a name ``tiers.levels`` does not define) the tier is computed by
    :func:`assign_tiers` from the qualifying history (anti-flapping, no initial tier).

    For ``period`` (default: the latest period of the ``window`` rows) one row per partner with a
    row in that period, sorted by ``partner_id``:

    * ``official_tier`` — the recorded tier (missing when none is recorded);
    * ``tier_source`` — ``"recorded"`` or ``"computed"``;
    * ``tier`` — ``official_tier`` when recorded, else the computed tier;
    * ``qualified_tier`` — the highest tier whose cumulative criteria are met in ``period``;
    * ``recommendation`` — ``"promote"`` when the partner qualified for a tier above ``tier`` in
      each of the last ``promote_after`` quarters (ending with ``period``; a quarter without a row
      breaks the run); ``"relegate"`` when it missed ``tier``'s criteria in each of the last
      ``relegate_after`` quarters; else ``"hold"``;
    * ``recommended_tier`` — promote: the lowest tier qualified for over those ``promote_after``
      quarters; relegate: the highest tier qualified for over those ``relegate_after`` quarters
      (the smallest move the evidence supports); hold: ``tier``;
    * ``quarters_qualified`` — consecutive quarters ending with ``period`` in which the partner met
      the recommended tier's criteria (promote, hold), or missed its own tier's (relegate). 0 for a
      hold means the partner misses its tier this quarter (not yet for long enough to relegate).

    Tier columns are ordered categoricals (lowest tier first).
    """
    lv = parse_levels(levels)
    names = [x.name for x in lv]
    up_after = _check_run("promote_after", promote_after)
    down_after = _check_run("relegate_after", relegate_after)
    q = qualifying_tier(kpis, levels, window=window)
    q = q.assign(partner_id=q["partner_id"].astype(str))
    if period is None:
        period = str(q["period"].max())
    ordinal = _quarter_ordinal(q["period"])
    end = int(_quarter_ordinal(pd.Series([period]))[0])
    partners = np.sort(q.loc[q["period"] == period, "partner_id"].unique())
    if len(partners) == 0:
        raise ParamsError(f"no KPI rows of window {window!r} for period {period!r}")
    keep = (ordinal <= end) & q["partner_id"].isin(partners).to_numpy()
    q, ordinal = q[keep], ordinal[keep]
    first = int(ordinal.min())
    n_t = end - first + 1
    Q = np.full((len(partners), n_t), np.nan)  # partners × quarters, qualifying rank, NaN = no row
    Q[np.searchsorted(partners, q["partner_id"].to_numpy()), ordinal - first] = q["qualifying_tier"].cat.codes.to_numpy()
    qualified = Q[:, -1].astype("int64")

    official_rank = _official_ranks(official, partners, names)
    recorded = official_rank >= 0
    tier = official_rank.copy()
    if (~recorded).any():
        computed = assign_tiers(q[~np.isin(q["partner_id"], partners[recorded])], levels, up_after, down_after)
        computed = computed[computed["period"] == period].set_index("partner_id")["tier"].cat.codes
        tier[~recorded] = computed.reindex(partners[~recorded]).to_numpy()

    with np.errstate(invalid="ignore"):
        above = Q > tier[:, None]  # NaN compares False: a missing quarter breaks a run
        below = Q < tier[:, None]
    up_run, down_run = _trailing_run(above), _trailing_run(below)
    promote = up_run >= up_after
    relegate = down_run >= down_after
    last_up = Q[:, max(n_t - up_after, 0):]
    last_down = Q[:, max(n_t - down_after, 0):]
    lowest = np.where(np.isnan(last_up), np.inf, last_up).min(axis=1)
    highest = np.where(np.isnan(last_down), -np.inf, last_down).max(axis=1)
    recommended = np.where(promote, lowest, np.where(relegate, highest, tier)).astype("int64")
    with np.errstate(invalid="ignore"):
        meets = _trailing_run(Q >= recommended[:, None])
    qualified_run = np.where(relegate, down_run, meets)
    return pd.DataFrame(
        {
            "partner_id": partners,
            "period": period,
            "official_tier": _categorical(official_rank, names),
            "tier_source": np.where(recorded, "recorded", "computed"),
            "tier": _categorical(tier, names),
            "qualified_tier": _categorical(qualified, names),
            "recommendation": np.select([promote, relegate], ["promote", "relegate"], "hold"),
            "recommended_tier": _categorical(recommended, names),
            "quarters_qualified": qualified_run.astype("int64"),
        }
    )


def recommendation_matrix(status: pd.DataFrame, levels: Sequence[Mapping] | None = None) -> pd.DataFrame:
    """Tier migration the recommendations would make: partners by ``tier`` (rows: the official
    tier, or the computed one where none is recorded) × ``recommended_tier`` (columns), from
    :func:`tier_status`. Every tier in level order, zeros included; the diagonal holds the
    partners recommended to hold, the cells above it promotions, below it relegations; the total
    is the number of partners."""
    order = _order(status, "tier", levels)
    position = {name: i for i, name in enumerate(order)}
    r = status["tier"].astype(object).map(position)
    c = status["recommended_tier"].astype(object).map(position)
    known = r.notna() & c.notna()
    counts = np.zeros((len(order), len(order)), dtype="int64")
    np.add.at(counts, (r[known].astype("int64").to_numpy(), c[known].astype("int64").to_numpy()), 1)
    return pd.DataFrame(counts, index=pd.Index(order, name="tier"),
                        columns=pd.Index(order, name="recommended_tier"))


def _order(assigned: pd.DataFrame, column: str, levels: Sequence[Mapping] | None) -> list[str]:
    if levels is not None:
        return [x.name for x in parse_levels(levels)]
    col = assigned[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    return sorted(map(str, col.dropna().unique()))


def migration_matrix(
    assigned: pd.DataFrame,
    from_period: str,
    to_period: str,
    *,
    levels: Sequence[Mapping] | None = None,
    column: str = "tier",
) -> pd.DataFrame:
    """Partners by tier in ``from_period`` (rows) and ``to_period`` (columns), lowest tier first.

    Counts partners present in both periods (with a tier in both); every tier appears, zeros
    included. Tier order: ``levels`` if given, else the categorical order of ``column``, else
    alphabetical.
    """
    order = _order(assigned, column, levels)
    a = assigned.loc[assigned["period"] == from_period, ["partner_id", column]]
    b = assigned.loc[assigned["period"] == to_period, ["partner_id", column]]
    both = a.merge(b, on="partner_id", suffixes=("_from", "_to")).dropna()
    position = {name: i for i, name in enumerate(order)}
    r = both[f"{column}_from"].astype(object).map(position)
    c = both[f"{column}_to"].astype(object).map(position)
    known = r.notna() & c.notna()
    counts = np.zeros((len(order), len(order)), dtype="int64")
    np.add.at(counts, (r[known].astype("int64").to_numpy(), c[known].astype("int64").to_numpy()), 1)
    return pd.DataFrame(
        counts,
        index=pd.Index(order, name=f"{column} {from_period}"),
        columns=pd.Index(order, name=f"{column} {to_period}"),
    )


def movements(assigned: pd.DataFrame, period: str) -> pd.DataFrame:
    """Partners promoted or relegated in ``period``:
    ``[partner_id, period, change, previous_tier, tier, qualifying_tier]``, promotions first."""
    rows = assigned[(assigned["period"] == period) & assigned["change"].isin(["promoted", "relegated"])]
    rows = rows.sort_values(["change", "partner_id"])
    return rows[["partner_id", "period", "change", "previous_tier", "tier", "qualifying_tier"]].reset_index(drop=True)


def gap_to_next_tier(
    kpis: pd.DataFrame,
    assigned: pd.DataFrame,
    levels: Sequence[Mapping],
    *,
    period: str | None = None,
    window: str | None = "t4q",
) -> pd.DataFrame:
    """What each partner misses for the tier above its current one, criterion by criterion.

    ``assigned``: the current tier per partner, ``[partner_id, period, tier]`` — in a run the
    :func:`tier_status` frame, so the gap is measured from the **official** tier (the computed
    one only where no tier is recorded); an :func:`assign_tiers` frame works too.
    For ``period`` (default: the latest period of ``assigned``) returns, long,
    ``[partner_id, period, current_tier, next_tier, criterion, required, actual, gap, met]``:
    one row per cumulative criterion of the next tier; ``required`` = its minimum, ``actual`` =
    the partner's KPI value in the ``window`` rows of that period, ``gap`` = max(required −
    actual, 0) in the KPI's unit (NaN when the value is missing), ``met`` = actual ≥ required.
    A partner in the top tier gets one row with ``next_tier``, ``criterion``, ``required``,
    ``actual`` and ``gap`` NaN and ``met`` NaN. A partner whose every criterion is met already
    qualifies for the next tier; it is recommended for promotion once it has qualified for
    ``promote_after`` consecutive quarters (see :func:`tier_status`).
    """
    lv = parse_levels(levels)
    names = [x.name for x in lv]
    if period is None:
        period = str(assigned["period"].max())
    cur = assigned.loc[assigned["period"] == period, ["partner_id", "tier"]].dropna()
    if cur.empty:
        raise ParamsError(f"no assigned tiers for period {period!r}")
    rank = _ranks(cur["tier"], names, "tier", cur["partner_id"])
    base = pd.DataFrame(
        {"partner_id": cur["partner_id"].to_numpy(), "current_tier": cur["tier"].astype(object).to_numpy(),
         "_next": rank + 1}
    )
    req = requirements(levels).rename(columns={"rank": "_next", "tier": "next_tier"})
    req["_order"] = np.arange(len(req))
    long = base.merge(req, on="_next", how="left")
    criteria = sorted(set(req["criterion"]))
    if criteria:
        values = criteria_values(kpis, criteria, period=period, window=window, one_period=True)
        values = values.drop(columns=[c for c in ("period",) if c in values.columns])
        actual = values.melt(id_vars="partner_id", var_name="criterion", value_name="actual")
        long = long.merge(actual, on=["partner_id", "criterion"], how="left")
    else:
        long["actual"] = np.nan
    long["gap"] = (long["required"] - long["actual"]).clip(lower=0)
    met = pd.array((long["actual"] >= long["required"]).to_numpy(), dtype="boolean")
    met[long["criterion"].isna().to_numpy()] = pd.NA
    long["met"] = met
    long["period"] = period
    long = long.sort_values(["partner_id", "_order"], na_position="last")
    cols = ["partner_id", "period", "current_tier", "next_tier", "criterion", "required", "actual", "gap", "met"]
    return long[cols].reset_index(drop=True)
