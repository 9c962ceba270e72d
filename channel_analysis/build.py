"""Compute every statistic once for the whole network, then cut it into what each report reads.

``compute`` runs the statistics modules over a validated :class:`~channel_analysis.dataset.Dataset`
and returns :class:`NetworkStats` (all tables, all partners: internal). ``partner_bundles`` turns those into the report bundles of :mod:`channel_analysis.bundle`: a partner's
bundle holds its own rows and aggregates of peer groups of at least ``benchmarks.min_peers``
partners, never another partner's id, name or figures. The exported tables and the overview's bundle
are :mod:`channel_analysis.exports`; the run itself (what calls all of this, in order) is
:mod:`channel_analysis.quarter`.

Every partner-level table is sliced with one ``groupby`` per table (no per-partner filtering of
whole tables), so the cost stays linear in the data whatever the number of partners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import (
    accounts,
    bundle,
    churn,
    forecast,
    incrementality,
    kpis,
    measures,
    peers,
    periods,
    pipeline,
    programme,
    salescycle,
    segmentation,
    tenure,
    tiers,
)
from .dataset import Dataset
from .errors import ParamsError
from .schema import ACTIVITY_TABLES, TABLES
from .settings import (AccountSettings, ChurnSettings, IncrementalitySettings, ProgrammeSettings, ReportSettings,
                       TenureSettings)



@dataclass
class NetworkStats:
    """All statistics of one run, for every partner (internal: never sent to a partner as is)."""

    dataset: Dataset
    params: dict
    quarters: list[str]
    kpis: pd.DataFrame
    targets: pd.DataFrame
    network: pd.DataFrame
    monthly: pd.DataFrame
    category_mix: pd.DataFrame
    concentration: segmentation.ParetoResult
    scores: pd.DataFrame
    matrix: pd.DataFrame
    tier_history: pd.DataFrame
    tier_status: pd.DataFrame
    tier_gap: pd.DataFrame
    peers: pd.DataFrame
    benchmarks: pd.DataFrame
    forecast: pd.DataFrame
    backtest: object | None
    open_deals: pd.DataFrame
    win_probability: pd.DataFrame
    stage_conversion: pd.DataFrame
    durations: pd.DataFrame
    cycle_durations: pd.DataFrame
    cycle_medians: pd.DataFrame
    retention: object
    time_to_first_deal: pd.DataFrame
    #: [currency, fx_rate, account_manager] per partner id: what its page and email show money in,
    #: and who signs them (Dataset.contract_rates, Dataset.account_managers; computed once)
    partner_contract: pd.DataFrame
    #: results worth stating: stale_threshold_days, gini, top20_share, backtest (its summary)
    notes: dict = field(default_factory=dict)
    #: what the data did not allow, and why: [item, reason] — an unavailable measure (its key), a
    #: tier criterion (``tiers.<level>.<criterion>``), a segmentation weight
    #: (``segmentation.weights.<criterion>``), a peer grouping, a derived input (see :func:`compute`)
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["item", "reason"]))
    #: account coverage (accounts.compute); None when sales.customer_id is absent (listed in skipped)
    account_coverage: accounts.AccountCoverage | None = None
    #: the partner programme (programme.py): ratings as of the period [partner_id, criterion, period,
    #: score, raters]; treatment per partner [partner_id, segment, treatment, treatment_name,
    #: treatment_contents]; what each partner earned (programme.VALUE_COLUMNS)
    ratings: pd.DataFrame = field(default_factory=pd.DataFrame)
    treatments: pd.DataFrame = field(default_factory=pd.DataFrame)
    programme_value: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: did MDF move sales? (:mod:`channel_analysis.incrementality`; None without mdf or sales)
    mdf_incrementality: incrementality.IncrementalityResult | None = None
    #: every partner's percentile within its tenure cohort and the cohort's median and quartiles
    #: (:func:`channel_analysis.tenure.cohort_benchmarks`, the reported period, every window)
    tenure_benchmarks: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the activation curve at the reported quarter's snapshot (:func:`channel_analysis.tenure.activation_curve`)
    activation_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: partner churn risk, its model and backtest (:class:`channel_analysis.churn.ChurnResult`;
    #: internal: never in a partner's bundle); None for stats built without it
    churn: churn.ChurnResult | None = None
    #: the run's programme.* parameters, validated once (settings.ProgrammeSettings)
    programme_settings: ProgrammeSettings | None = None

    def summary(self) -> str:
        k = self.kpis[(self.kpis["period"] == self.dataset.period) & (self.kpis["window"] == "quarter")]
        unavailable = set(self.skipped["item"])
        lines = [
            f"Network statistics for {self.dataset.period} (as of {self.dataset.as_of})",
            f"  partners reported: {len(k):,}   KPI rows: {len(self.kpis):,}",
        ]
        if "revenue" not in unavailable:
            lines.append(f"  revenue this quarter: {k['revenue'].sum():,.0f} {self.dataset.reporting_currency}")
        if pd.notna(self.concentration.gini):
            lines.append(f"  Gini of trailing-four-quarter revenue: {self.concentration.gini:.3f}")
        if "pipeline_open_n" not in unavailable:
            lines.append(f"  open deals at as_of: {len(self.open_deals):,}")
        if self.churn is not None and self.churn.fitted:
            lines.append(f"  churn model: {self.churn.model.events:,} churns in the history; "
                         f"{self.churn.backtest.summary()}")
        if self.notes.get("data_end"):
            lines.append(f"  the data end on {self.notes['data_end']}, before {self.dataset.period} is over: its "
                         "growth, at-risk flags and forecast are not reported (kpis.partial_quarter_days)")
        if len(self.skipped):
            lines.append(f"  not available with this data ({len(self.skipped):,}):")
            lines += [f"    {row.item}: {row.reason}" for row in self.skipped.itertuples(index=False)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------
# computing
# --------------------------------------------------------------------------------------------

def _empty_opps() -> pd.DataFrame:
    return pd.DataFrame({
        "opportunity_id": pd.Series(dtype=str), "partner_id": pd.Series(dtype=str),
        "created_date": pd.Series(dtype="datetime64[ns]"), "stage": pd.Series(dtype=str),
        "amount": pd.Series(dtype=float), "expected_close_date": pd.Series(dtype="datetime64[ns]"),
        "closed_date": pd.Series(dtype="datetime64[ns]"), "outcome": pd.Series(dtype=str),
    })


def _cycle_medians_by_period(opps: pd.DataFrame, quarters: list[str], fy: int, as_of) -> pd.DataFrame:
    """Kaplan–Meier median sales cycle per partner and period: deals created in the trailing four
    quarters ending with the period, open ones censored at the period end (or as_of)."""
    frames = []
    for label in quarters:
        start = periods.quarter_bounds(periods.shift(label, -3, fy), fy)[0]
        end = min(periods.quarter_bounds(label, fy)[1], pd.Timestamp(as_of))
        window = opps[(opps["created_date"] >= start) & (opps["created_date"] <= end)]
        durations = salescycle.cycle_durations(window, end)
        med = salescycle.km_median(durations, by="partner_id")
        frames.append(pd.DataFrame({
            "partner_id": med["group"].astype(str).to_numpy(), "period": label,
            "sales_cycle_median_days": med["median_days"].to_numpy(),
            "sales_cycle_ci_low": med["ci_low"].to_numpy(), "sales_cycle_ci_high": med["ci_high"].to_numpy(),
            "sales_cycle_n": med["n"].to_numpy(), "sales_cycle_events": med["events"].to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


def _add_pipeline(kpi: pd.DataFrame, ds: Dataset, params: dict, quarters: list[str]) -> pd.DataFrame:
    """Merge the pipeline snapshot and sales-cycle columns into every window row of each period."""
    opps = ds.opportunities if ds.has("opportunities") else _empty_opps()
    fy = ds.fy_start
    snap = pipeline.partner_pipeline_kpis(opps, params, ds.as_of, quarters, ds.opportunity_stages)
    cycle = _cycle_medians_by_period(opps, quarters, fy, ds.as_of)
    out = kpi.merge(snap, on=["partner_id", "period"], how="left").merge(
        cycle, on=["partner_id", "period"], how="left")
    no_deals = out["pipeline_open_n"].isna()  # a partner without any deal: an empty pipeline
    for col in ("pipeline_open_n", "stale_deals_n"):
        out[col] = out[col].fillna(0).astype("int64")
    for col in ("pipeline_open_amount", "pipeline_weighted"):
        out[col] = out[col].where(~no_deals, 0.0)  # open deals without any amount stay NaN
    if not ds.has("opportunities"):
        out[["pipeline_open_n", "pipeline_open_amount", "pipeline_weighted", "stale_deals_n"]] = np.nan
    out["pipeline_open"] = out["pipeline_open_amount"]
    out["sales_cycle_low_sample"] = out["sales_cycle_events"].fillna(0) < params["kpis"]["min_sample"]
    # coverage: weighted pipeline ÷ the revenue target of the next quarter
    if ds.has("targets"):
        t = ds.targets[ds.targets["metric"] == "revenue"][["partner_id", "period", "target"]]
        t = t.assign(period=[periods.shift(p, -1, fy) for p in t["period"]])
        out = out.merge(t.rename(columns={"target": "next_quarter_revenue_target"}),
                        on=["partner_id", "period"], how="left")
    else:
        out["next_quarter_revenue_target"] = np.nan
    target = out["next_quarter_revenue_target"]
    out["pipeline_coverage"] = np.where(target > 0, out["pipeline_weighted"] / target.where(target > 0), np.nan)
    out["pipeline_velocity"] = pipeline.velocity(
        out["pipeline_open_n"], out["win_rate"], out["deal_size_mean"], out["sales_cycle_median_days"],
        per="quarter")
    return out


def _add_shrunk_win_rate(kpi: pd.DataFrame) -> pd.DataFrame:
    """win_rate_shrunk: empirical-Bayes win rate, one prior per period × window."""
    parts = []
    for (_, _), rows in kpi.groupby(["period", "window"], sort=False):
        s = peers.shrink_rates(rows["deals_won"].fillna(0), rows["win_rate_n"].fillna(0))
        parts.append(pd.Series(s["shrunk_rate"].to_numpy(), index=rows.index))
    out = kpi.copy()
    out["win_rate_shrunk"] = pd.concat(parts) if parts else np.nan
    return out


def _add_run_rate(kpi: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """revenue_target_fy (Σ the fiscal year's quarterly revenue targets, on every window row of the
    period) and revenue_run_rate_needed: (revenue_target_fy − the year's revenue so far) ÷ the
    fiscal quarters left after the period; NaN without a target for every quarter of the year or
    in the year's last quarter."""
    out = kpi.copy()
    out["revenue_target_fy"] = np.nan
    out["revenue_run_rate_needed"] = np.nan
    if not ds.has("targets") or not len(kpi):
        return out
    fy = ds.fy_start
    t = ds.targets[ds.targets["metric"] == "revenue"][["partner_id", "period", "target"]].copy()
    t["partner_id"] = t["partner_id"].astype(str)
    t["year"] = [periods.parse_quarter(p, fy).qyear for p in t["period"]]
    year = t.groupby(["partner_id", "year"])["target"].agg(["sum", "size"]).reset_index()
    year = year[year["size"] == 4]  # a year's target needs all four quarters
    ytd = kpi[kpi["window"] == "ytd"][["partner_id", "period", "revenue"]].copy()
    q = [periods.parse_quarter(p, fy) for p in ytd["period"]]
    ytd["year"] = [x.qyear for x in q]
    ytd["left"] = [4 - x.quarter for x in q]
    ytd = ytd.merge(year, on=["partner_id", "year"], how="left")
    ytd["revenue_target_fy"] = ytd["sum"]
    ytd["revenue_run_rate_needed"] = np.where(ytd["left"] > 0, (ytd["sum"] - ytd["revenue"]) / ytd["left"].where(
        ytd["left"] > 0), np.nan)
    cols = ["revenue_target_fy", "revenue_run_rate_needed"]
    merged = out.drop(columns=cols).merge(ytd[["partner_id", "period", *cols]], on=["partner_id", "period"],
                                          how="left")
    return merged


def _category_mix(ds: Dataset, fy: int) -> pd.DataFrame:
    """Revenue per partner × category for the reported quarter and the same quarter a year earlier."""
    period, prev = ds.period, periods.shift(ds.period, -4, fy)
    if not ds.provided("sales.category"):  # no product mix without categories
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "category": pd.Series(dtype=str),
                             "revenue": pd.Series(dtype=float), "revenue_prev_year": pd.Series(dtype=float),
                             "share": pd.Series(dtype=float)})
    s = ds.sales
    # the two quarters' lines picked by quarter number (no label, no Python object per line)
    ordinals = [periods.parse_quarter(period, fy).ordinal, periods.parse_quarter(prev, fy).ordinal]
    q = periods.to_quarter(s["date"], fy).array.asi8
    keep = np.isin(q, ordinals)
    g = pd.DataFrame({"partner_id": s["partner_id"][keep].to_numpy(), "category": s["category"][keep].to_numpy(),
                      "q": q[keep], "revenue": s["revenue"][keep].to_numpy()})
    wide = g.pivot_table(index=["partner_id", "category"], columns="q", values="revenue",
                         aggfunc="sum", fill_value=0.0, observed=True)
    wide = wide.reindex(columns=ordinals, fill_value=0.0).reset_index()
    wide.columns = ["partner_id", "category", "revenue", "revenue_prev_year"]
    total = wide.groupby("partner_id")["revenue"].transform("sum")
    wide["share"] = np.where(total > 0, wide["revenue"] / total.where(total > 0), np.nan)
    return wide.sort_values(["partner_id", "revenue"], ascending=[True, False], ignore_index=True)


def check_period(ds: Dataset) -> None:
    """Raise :class:`~channel_analysis.errors.ParamsError` when the reported quarter has no activity
    at all (no sale, no deal created, open or closed, no lead assigned in it): its scorecards would
    be empty. The message gives the dates the data's activity covers."""
    start, end = periods.quarter_bounds(ds.period, ds.fy_start)
    dates, inside = [], False
    for table, cols in (("sales", ("date",)), ("opportunities", ("created_date", "closed_date")),
                        ("leads", ("assigned_date",))):
        frame = getattr(ds, table)
        if frame is None:
            continue
        for col in cols:
            if col in frame.columns:
                d = pd.to_datetime(frame[col]).dropna()
                dates.append(d)
                inside |= bool(((d >= start) & (d <= end)).any())
        if table == "opportunities" and "closed_date" in frame.columns:  # open during the quarter
            closed = pd.to_datetime(frame["closed_date"])
            inside |= bool(((pd.to_datetime(frame["created_date"]) <= end)
                            & (closed.isna() | (closed >= start))).any())
    if inside:
        return
    found = pd.concat(dates) if dates else pd.Series(dtype="datetime64[ns]")
    span = (f"runs from {found.min():%Y-%m-%d} to {found.max():%Y-%m-%d}" if len(found)
            else "has no dated rows at all")
    raise ParamsError(
        f"period {ds.period} ({start:%Y-%m-%d} to {end:%Y-%m-%d}) has no data: no sale, deal or lead "
        f"in it (the data's activity {span}); choose a period within that range (--period) and an "
        f"as_of in or after it")


def _criterion_measure(name: str) -> str:
    """The measure a tier or segmentation criterion reads (``revenue_t4q`` → ``revenue``)."""
    name = str(name).lstrip("-").strip()
    base, _, suffix = name.rpartition("_")
    return base if name not in measures.MEASURES and suffix in kpis.WINDOWS else name


def effective_params(params: dict, ds: Dataset) -> tuple[dict, list[tuple[str, str]]]:
    """The parameters this data can honour, and what was skipped: [(item, reason)].

    Measures whose inputs are absent (:func:`channel_analysis.measures.unavailable`) are listed
    first. A tier criterion on such a measure is skipped (a level left without any criterion of its
    own is not assessed: removed); a segmentation weight on one is dropped (the score uses the
    others); a peer grouping by a ``partners`` column the source lacks is skipped. Nothing is
    silently renormalized: each change is a row of the returned list.
    """
    missing = measures.unavailable(ds.provided)
    skipped = [(key, reason) for key, reason in missing.items()]
    if ds.onboarded_derived:
        n = ds.onboarded_derived
        skipped.append(("partners.onboarded_date", f"derived from first activity (first sale, deal created "
                                                   f"or lead assigned) for {n:,} partner{'s' * (n != 1)}"))
    levels = []
    for i, level in enumerate(params["tiers"]["levels"]):
        criteria = dict(level.get("criteria") or {})
        kept = {c: v for c, v in criteria.items() if _criterion_measure(c) not in missing}
        for c in criteria:
            if c not in kept:
                skipped.append((f"tiers.{level['name']}.{c}",
                                f"criterion skipped: {missing[_criterion_measure(c)]}"))
        if i and criteria and not kept:
            skipped.append((f"tiers.{level['name']}", "level not assessed: none of its criteria is available"))
            continue
        levels.append({**level, "criteria": kept})
    seg = params["segmentation"]
    weights = {c: w for c, w in seg["weights"].items() if _criterion_measure(c) not in missing}
    dropped = {c: w for c, w in seg["weights"].items() if c not in weights}
    for c, w in dropped.items():
        skipped.append((f"segmentation.weights.{c}", f"weight {w:g} dropped: {missing[_criterion_measure(c)]}"
                        + (f"; the score uses the other weights (sum {sum(weights.values()):g})" if weights
                           else "; no weight left: no score")))
    weights, rating_skips = _rating_weights(weights, params, ds)
    skipped += rating_skips
    partner_cols = set(ds.partners.columns)
    schema_cols = set(TABLES["partners"][0].to_schema().columns)
    groups = []
    for cols in params["benchmarks"]["peer_groups"]:
        absent = [c for c in cols if c in schema_cols and c not in partner_cols]
        if absent:
            skipped.append((f"benchmarks.peer_groups[{', '.join(cols)}]",
                            f"grouping skipped: partners.{', partners.'.join(absent)} not provided"))
        else:
            groups.append(cols)
    out = {**params, "tiers": {**params["tiers"], "levels": levels},
           "segmentation": {**seg, "weights": weights or dict(seg["weights"])},
           "benchmarks": {**params["benchmarks"], "peer_groups": groups}}
    return out, skipped


def _rating_weights(weights: dict, params: dict, ds: Dataset) -> tuple[dict, list[tuple[str, str]]]:
    """Segmentation weights on rating criteria (``rating_<criterion>``, programme.py): dropped, with
    the reason, when the source has no ``partner_ratings``; a ``rating_`` name that is no criterion of
    ``programme.rating_criteria`` is an error naming the key."""
    criteria = params["programme"]["rating_criteria"]
    skipped, kept = [], {}
    for c, w in weights.items():
        name = str(c).lstrip("-").strip()
        if name.startswith(programme.RATING_PREFIX) \
                and programme.rating_criterion(name, criteria) is None and name not in measures.MEASURES:
            raise ParamsError(f"segmentation.weights.{c}: {name[len(programme.RATING_PREFIX):]!r} is not a rating "
                              f"criterion; programme.rating_criteria lists {', '.join(criteria)}")
        if programme.rating_criterion(name, criteria) and not ds.provided("partner_ratings"):
            skipped.append((f"segmentation.weights.{c}", f"weight {w:g} dropped: partner_ratings not provided"))
        else:
            kept[c] = w
    return kept, skipped


def _blank_unavailable(frame: pd.DataFrame, skipped: list[tuple[str, str]]) -> pd.DataFrame:
    """NaN in every column of an unavailable measure and its companions (never a computed 0)."""
    keys = {item for item, _ in skipped if item in measures.MEASURES}
    cols = [c for c in frame.columns if c in keys or (measures.companion_of(c) in keys
                                                      and not c.endswith("_low_sample"))]
    if not cols:
        return frame
    return frame.assign(**{c: np.nan for c in cols})


def _mdf_incrementality(ds: Dataset, kpi: pd.DataFrame, tier_status: pd.DataFrame, conc, quarters: list[str],
                        params: dict, skipped: list[tuple[str, str]]) -> incrementality.IncrementalityResult:
    """The MDF incrementality estimates on the quarter-window revenue of the KPI table, partners
    matched on ``mdf.incrementality.match_on`` (an attribute the data lacks is listed in
    ``skipped`` and every partner is "unknown" on it: no matching on it)."""
    settings = IncrementalitySettings.from_params(params)
    attrs = ds.partners.drop(columns=["tier"], errors="ignore").merge(
        tier_status[["partner_id", "tier"]].assign(tier=tier_status["tier"].astype(object)), on="partner_id",
        how="left").merge(conc.table[["partner_id", "abc_class"]], on="partner_id", how="left")
    for name in settings.match_on:
        if name not in attrs.columns:
            skipped.append((f"mdf.incrementality.match_on.{name}",
                            f"partners.{name} not provided: MDF incrementality does not match on it"))
    attrs = attrs.reindex(columns=["partner_id", *settings.match_on])
    revenue = kpi[kpi["window"] == "quarter"][["partner_id", "period", "revenue", "status"]]
    return incrementality.estimate(revenue, ds.mdf, attrs, quarters, settings, period=ds.period)


def compute(ds: Dataset, params: dict, *, progress: bool = False) -> NetworkStats:
    """Every statistic of the run for the whole network (vectorized; see the module docstring).

    The parameters are first restricted to what the data can honour (:func:`effective_params`):
    ``NetworkStats.params`` holds the effective ones and ``NetworkStats.skipped`` what was left
    out and why. A reported quarter without any activity raises (:func:`check_period`).
    """
    fy = ds.fy_start
    check_period(ds)
    given_weights = params["segmentation"]["weights"]
    params, skipped = effective_params(params, ds)
    quarters = periods.quarter_range(ds.period, params["history_quarters"])
    steps = tqdm(total=8, desc="statistics", disable=not progress, leave=False)

    kpi = kpis.partner_kpis(ds, params, quarters)
    kpi = _add_pipeline(kpi, ds, params, quarters)
    kpi = _add_shrunk_win_rate(kpi)
    kpi = _add_run_rate(kpi, ds)
    # an incomplete reported quarter (the data end weeks before its last day): no growth, at-risk
    # flags of the quarter before, no forecast (its revenue would seed it) — the pages say so
    partial_end = kpis.partial_period_end(ds, params)
    if partial_end is not None:
        kpi = kpis.without_partial_artefacts(kpi, ds.period, fy)
    kpi = _blank_unavailable(kpi, skipped)
    targets = kpis.target_attainment(kpi, ds.targets, params)
    network = _blank_unavailable(kpis.network_kpis(ds, params, quarters), skipped)
    # activation read off the Kaplan–Meier curve, partners onboarded since the data begin (tenure.py)
    network = _blank_unavailable(network.merge(tenure.network_activation(ds, quarters, ds.as_of), on="period",
                                               how="left"), skipped)
    monthly = kpis.monthly_revenue(ds, params)
    steps.update(1)

    seg = params["segmentation"]
    conc = segmentation.concentration(kpi, "revenue", seg["abc"], period=ds.period, window="t4q")
    # qualitative ratings join the score's criteria as rating_<criterion> (programme.with_ratings)
    prog = ProgrammeSettings.from_params(params)
    ratings = programme.partner_ratings(ds.partner_ratings, ds.period)
    scored = programme.with_ratings(kpi, ratings, prog.rating_criteria, ds.period, window="t4q")
    scores = segmentation.weighted_score(scored, seg["weights"], seg["missing"], period=ds.period, window="t4q")
    if not any(_criterion_measure(c) not in {i for i, _ in skipped} for c in given_weights):
        scores = scores.assign(score=np.nan)  # every weight is on an unavailable measure: no score
    matrix = segmentation.performance_potential(scores, kpi, cuts=seg["matrix_cuts"],
                                                actions=seg["matrix_actions"], period=ds.period,
                                                ramp_up_action=seg["ramp_up_action"])
    steps.update(1)

    levels = params["tiers"]["levels"]
    # qualifying history (every quarter); the official tier is the PRM's recorded one
    # (partners.tier), the computed qualification only a recommendation (tiers.tier_status)
    tier_history = tiers.qualifying_tier(kpi, levels, window="t4q")
    official = ds.partners.set_index("partner_id")["tier"] if "tier" in ds.partners else None
    tier_status = tiers.tier_status(kpi, levels, official, params["tiers"]["promote_after"],
                                    params["tiers"]["relegate_after"], period=ds.period, window="t4q")
    gap = tiers.gap_to_next_tier(kpi, tier_status, levels, period=ds.period, window="t4q")
    # end-customer accounts: segment, anti-flapped moves, hand-over / receive per serving partner
    account_coverage = accounts.compute(ds.sales, ds.accounts, AccountSettings.from_params(params), quarters,
                                        ds.period, ds.as_of, fy)
    skipped += [("accounts", accounts.NO_CUSTOMERS)] if account_coverage is None else account_coverage.skipped
    moved = (accounts.network_counts(account_coverage.history, quarters) if account_coverage is not None else
             pd.DataFrame({"period": quarters, "accounts_promoted": np.nan, "accounts_relegated": np.nan}))
    network = network.merge(moved, on="period", how="left")
    # the programme seen from the partner: what it earned at its tier, what the next one would add
    this_quarter = kpi[(kpi["period"] == ds.period) & (kpi["window"] == "quarter")]
    earned_from = tier_status[["partner_id", "tier"]].merge(
        this_quarter.reindex(columns=["partner_id", "revenue", "mdf_allocated"]), on="partner_id", how="left")
    value = programme.programme_value(earned_from, [lvl["name"] for lvl in levels], ds.period,
                                      rebates=ds.rebates, benefits=ds.benefits)
    treated = programme.treatments(matrix[["partner_id", "action"]].merge(
        conc.table[["partner_id", "abc_class"]], on="partner_id", how="outer"), prog)
    steps.update(1)

    # MDF incrementality: partners starting MDF against matched partners without (whole history)
    mdf_did = None
    if ds.has("mdf") and ds.has("sales"):
        # (an incomplete reported quarter would read as a revenue drop: no window reaches into it)
        mdf_did = _mdf_incrementality(ds, kpi, tier_status, conc, quarters[:-1] if partial_end is not None
                                      else quarters, params, skipped)
    network = _blank_unavailable(incrementality.with_network_effect(
        network, mdf_did.table if mdf_did is not None else incrementality.empty_table(), ds.period), skipped)

    current_tier = tier_status[["partner_id", "tier"]]
    grouping = ds.partners.drop(columns=["tier"], errors="ignore").merge(
        current_tier.assign(tier=current_tier["tier"].astype(str)), on="partner_id", how="left")
    bcfg = params["benchmarks"]
    peer_table = peers.assign_peer_groups(grouping, bcfg["peer_groups"], bcfg["min_peers"])
    present = [m for m in measures.BENCHMARKED if m in kpi.columns]
    bench = peers.peer_percentiles(kpi[kpi["period"] == ds.period], peer_table, present,
                                        min_peers=bcfg["min_peers"], period=ds.period)
    tenure_settings = TenureSettings.from_params(params)
    tenure_bench = tenure.cohort_benchmarks(kpi, ds.period, present, tenure_settings)
    steps.update(1)

    quarterly = kpi[kpi["window"] == "quarter"][["partner_id", "period", "revenue"]]
    if ds.has("sales"):
        if partial_end is not None:  # neither forecast from nor tested on the incomplete quarter
            quarterly = quarterly[quarterly["period"] != ds.period]
        fc = forecast.forecast_next(quarterly, params, last_period=periods.shift(ds.period, -1, fy)
                                    if partial_end is not None else ds.period)
        if partial_end is not None:
            fc = fc.iloc[:0]
        try:
            bt = forecast.backtest(quarterly, holdout=4, params=params)
        except Exception as exc:  # too short a history for a backtest is a fact to report, not a failure
            bt = f"backtest not available: {exc}"
    else:  # no revenue to forecast
        fc = forecast.forecast_next(quarterly.iloc[:0], params, last_period=ds.period)
        bt = "backtest not available: sales not provided"
        skipped.append(("forecast", "sales not provided"))
    steps.update(1)

    # The pipeline and the sales cycle are seen at the quarter's snapshot: its last day, or as_of for a
    # quarter not yet over (as the KPI table's pipeline columns), so the page's deal list, the
    # tiles and the exported table describe the same deals.
    opps = ds.opportunities if ds.has("opportunities") else _empty_opps()
    stages = params["pipeline"]["stages"]
    snapshot = min(periods.quarter_bounds(ds.period, fy)[1], pd.Timestamp(ds.as_of))
    durations = salescycle.cycle_durations(opps, snapshot)
    threshold = pipeline.stale_threshold_days(durations, params["pipeline"]["stale_quantile"]) \
        if len(durations) else np.nan
    p_win = pipeline.win_probability(opps, stages, snapshot, ds.opportunity_stages)
    open_deals = pipeline.open_pipeline(opps, snapshot, stages, ds.opportunity_stages)
    stale = pipeline.stale_deals(open_deals, threshold, snapshot)
    open_deals = open_deals.merge(stale[["opportunity_id", "reason"]].rename(columns={"reason": "stale_reason"}),
                                  on="opportunity_id", how="left")
    open_deals["stale"] = open_deals["stale_reason"].notna()
    open_deals = open_deals.merge(p_win[["stage", "p_win"]], on="stage", how="left")
    open_deals["weighted_amount"] = open_deals["amount"] * open_deals["p_win"].fillna(0.0)
    no_amount = int(open_deals["amount"].isna().sum())
    if no_amount and ds.provided("opportunities.amount"):  # (an absent column is listed already)
        skipped.append(("opportunities.amount", f"{no_amount:,} of {len(open_deals):,} open deals have no amount: "
                                                f"pipeline values cover the other {len(open_deals) - no_amount:,}"))
    conversion = pipeline.stage_conversion(opps, stages, ds.opportunity_stages)
    steps.update(1)

    # the sales cycle every page shows: deals created in the four quarters ending with the period,
    # open ones censored at the snapshot — the population of the KPI sales_cycle_median_days
    cycle_start = periods.quarter_bounds(periods.shift(ds.period, -3, fy), fy)[0]
    recent = opps[(opps["created_date"] >= cycle_start) & (opps["created_date"] <= snapshot)]
    cycle_durations = salescycle.cycle_durations(recent, snapshot)
    medians = salescycle.km_median(cycle_durations, by="partner_id")
    retention = salescycle.partner_retention(ds.partners, ds.as_of, fy_start=fy)
    first_deal = salescycle.time_to_first_deal(ds.partners, opps, ds.as_of)
    data_start = tenure.activity_start(ds)
    first_deal["onboarded_in_data"] = tenure.onboarded_inside(first_deal["onboarded_date"], data_start)
    activation = tenure.activation_curve(
        tenure.activation_durations(ds.partners, tenure.first_deal_dates(ds), data_start, snapshot),
        tenure_settings.min_sample)
    steps.update(1)

    mix = _category_mix(ds, fy)
    steps.update(1)
    steps.close()

    # partner churn risk (internal): a Cox model on the KPI panel, its backtest; an incomplete
    # reported quarter's KPIs would be artefacts, so nothing is predicted from them
    churn_result = churn.analyse(kpi, ds.partners, quarters, ds.period, ds.as_of, ChurnSettings.from_params(params),
                                 fy, end_date_provided=ds.provided("partners.end_date"),
                                 predict=partial_end is None)
    if ds.provided("partners.end_date") and not churn_result.fitted:
        skipped.append(("churn", churn_result.reason()))

    # results of the run worth stating (thresholds are the parameters': settings.ReportSettings)
    notes = {
        "stale_threshold_days": float(threshold) if pd.notna(threshold) else None,
        "gini": float(conc.gini) if pd.notna(conc.gini) else None,
        "top20_share": float(getattr(conc, "top20_share", np.nan)),
        "backtest": bt.summary() if hasattr(bt, "summary") else str(bt),
        # the data's last day when the reported quarter is incomplete (kpis.partial_period_end)
        "data_end": partial_end.date().isoformat() if partial_end is not None else None,
        # the first day the data can show a first deal, and the partners onboarded before it: their
        # time to first deal is not measured (tenure.activity_start; docs/statistics.md)
        "activity_start": data_start.date().isoformat() if data_start is not None else None,
        "onboarded_before_data": int((ds.partners["onboarded_date"].notna().to_numpy()
                                      & ~tenure.onboarded_inside(ds.partners["onboarded_date"], data_start)).sum()),
        "churn": churn_result.notes(),
    }
    return NetworkStats(
        dataset=ds, params=params, quarters=quarters, kpis=kpi, targets=targets, network=network,
        monthly=monthly, category_mix=mix, concentration=conc, scores=scores, matrix=matrix,
        tier_history=tier_history, tier_status=tier_status, tier_gap=gap, peers=peer_table, benchmarks=bench, forecast=fc,
        backtest=bt, open_deals=open_deals, win_probability=p_win, stage_conversion=conversion,
        durations=durations, cycle_durations=cycle_durations, cycle_medians=medians, retention=retention,
        time_to_first_deal=first_deal, notes=notes, account_coverage=account_coverage,
        skipped=pd.DataFrame(skipped, columns=["item", "reason"]),
        ratings=ratings, treatments=treated, programme_value=value, programme_settings=prog,
        mdf_incrementality=mdf_did, tenure_benchmarks=tenure_bench, activation_curve=activation, churn=churn_result,
        partner_contract=ds.contract_rates().set_index("partner_id").assign(
            account_manager=ds.account_managers(params["report"]["account_managers"])),
    )


# --------------------------------------------------------------------------------------------
# bundles: what each report may read
# --------------------------------------------------------------------------------------------

def _by_partner(frame: pd.DataFrame | None, key: str = "partner_id") -> dict[str, pd.DataFrame]:
    """{partner_id: that partner's rows, without the id column}: one sort, then cheap slices."""
    if frame is None or len(frame) == 0 or key not in frame:
        return {}
    ids = frame[key].astype(str).to_numpy()
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    body = frame.drop(columns=[key]).iloc[order].reset_index(drop=True)
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(ids)]
    return {ids[a]: body.iloc[a:b].reset_index(drop=True) for a, b in zip(starts, ends)}


def reported_partners(stats: NetworkStats) -> pd.DataFrame:
    """Partners who get a scorecard (and its email): those that existed during the reported
    quarter and have not churned — a partner whose ``end_date`` is on or before ``as_of`` gets
    neither. Churned partners stay in the network tables (KPI status ``churned``)."""
    k = stats.kpis
    rows = k[(k["period"] == stats.dataset.period) & (k["window"] == "quarter")]
    parts = stats.dataset.partners
    keep = parts["partner_id"].isin(rows["partner_id"])
    if "end_date" in parts:  # (an empty end_date compares False: not churned)
        keep &= ~(pd.to_datetime(parts["end_date"]) <= pd.Timestamp(stats.dataset.as_of))
    return parts[keep]


def _pipeline_by_stage(open_deals: pd.DataFrame, stages: list[str], p_win: pd.Series) -> pd.DataFrame:
    """Open deals per partner × stage (every stage listed, zeros included) with the network P(win)."""
    grid = pd.MultiIndex.from_product([open_deals["partner_id"].unique(), stages], names=["partner_id", "stage"])
    agg = open_deals.groupby(["partner_id", "stage"]).agg(
        open_n=("amount", "size"), open_amount=("amount", pipeline.known_sum),
        weighted_amount=("weighted_amount", pipeline.known_sum))
    frame = agg.reindex(grid, fill_value=0).reset_index()  # a stage without deals: 0; without amounts: NaN
    frame["open_n"] = frame["open_n"].astype("int64")
    frame.insert(2, "stage_order", frame["stage"].map({st: i for i, st in enumerate(stages)}))
    frame["network_p_win"] = frame["stage"].map(p_win)
    return frame


def _peer_durations(stats: NetworkStats) -> pd.DataFrame:
    """Sales-cycle durations (:attr:`NetworkStats.cycle_durations`) of partners whose peer group is
    large enough to be shown."""
    d = stats.cycle_durations.merge(stats.peers[["partner_id", "peer_group", "peer_n"]], on="partner_id")
    return d[d["peer_n"] >= stats.params["benchmarks"]["min_peers"]]


def _cycle_summaries(stats: NetworkStats, peer_d: pd.DataFrame) -> pd.DataFrame:
    """[partner_id, group ("partner" | "peers"), median_days, ci_low, ci_high, n, events]."""
    cols = ["median_days", "ci_low", "ci_high", "n", "events"]
    own = stats.cycle_medians.rename(columns={"group": "partner_id"}).assign(group="partner")
    frames = [own[["partner_id", "group", *cols]]]
    if len(peer_d):
        peer = salescycle.km_median(peer_d, by="peer_group").rename(columns={"group": "peer_group"})
        members = stats.peers[["partner_id", "peer_group"]].merge(peer, on="peer_group")
        frames.append(members.assign(group="peers")[["partner_id", "group", *cols]])
    return pd.concat(frames, ignore_index=True).sort_values(["partner_id", "group"], ascending=[True, False])


#: Columns of a partner's account moves (its own accounts only; the serving partner is the bundle's).
ACCOUNT_MOVE_COLUMNS = ["partner_id", "customer_id", "name", "change", "from_segment", "to_segment", "action"]


def _account_moves(stats: NetworkStats) -> pd.DataFrame:
    """The account moves of the quarter, one partner's slice each (:data:`ACCOUNT_MOVE_COLUMNS`)."""
    if stats.account_coverage is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ACCOUNT_MOVE_COLUMNS})
    m = stats.account_coverage.moves
    return m[m["partner_id"].notna()][ACCOUNT_MOVE_COLUMNS].astype(object).reset_index(drop=True)


def partner_bundles(stats: NetworkStats, partner_ids=None, *, progress: bool = False):
    """Yield one :class:`~channel_analysis.bundle.PartnerBundle` per reported partner.

    Each bundle holds that partner's own rows and aggregates of its peer group (which has at least
    ``benchmarks.min_peers`` partners, else no peer figure is included). Every table is computed
    for all partners first and then sliced, so the cost per partner is a few dictionary look-ups.
    """
    ds, params = stats.dataset, stats.params
    partners = reported_partners(stats)
    if partner_ids is not None:
        partners = partners[partners["partner_id"].isin([str(p) for p in partner_ids])]
    start, end = periods.quarter_bounds(ds.period, ds.fy_start)
    stages = params["pipeline"]["stages"]
    p_win = stats.win_probability.set_index("stage")["p_win"] if len(stats.win_probability) else pd.Series(dtype=float)

    quarterly = stats.kpis[stats.kpis["window"] == "quarter"][["partner_id", "period", "revenue"]]
    # a partner without a forecast (too short a history) has no forecast point: its method says why
    fc = stats.forecast[stats.forecast["forecast"].notna()].assign(revenue=np.nan, kind="forecast")
    history = pd.concat([quarterly.assign(forecast=np.nan, lower=np.nan, upper=np.nan, kind="actual"),
                         fc[["partner_id", "period", "revenue", "forecast", "lower", "upper", "kind"]]],
                        ignore_index=True)
    # the agreed revenue target of each quarter, the reported and the forecast one included
    if ds.has("targets"):
        rt = ds.targets[ds.targets["metric"] == "revenue"][["partner_id", "period", "target"]]
        history = history.merge(rt.assign(partner_id=rt["partner_id"].astype(str)), on=["partner_id", "period"],
                                how="left")
    else:
        history["target"] = np.nan
    peer_d = _peer_durations(stats)
    curves = salescycle.km_curve(stats.cycle_durations, by="partner_id").rename(columns={"group": "partner_id"})
    curves = curves.assign(group="partner")
    if len(peer_d):
        peer_curves = salescycle.km_curve(peer_d, by="peer_group").rename(columns={"group": "peer_group"})
        members = stats.peers[["partner_id", "peer_group"]].merge(peer_curves, on="peer_group")
        curves = pd.concat([curves, members.drop(columns=["peer_group"]).assign(group="peers")], ignore_index=True)
    tests = salescycle.logrank_each_vs_rest(peer_d, "peer_group") if len(peer_d) else pd.DataFrame(columns=["member"])
    tests = tests.set_index("member")

    slices = {name: _by_partner(frame) for name, frame in {
        "kpis": stats.kpis, "targets": stats.targets, "monthly": stats.monthly, "mix": stats.category_mix,
        "deals": stats.open_deals, "by_stage": _pipeline_by_stage(stats.open_deals, stages, p_win),
        "tiers": stats.tier_history, "gap": stats.tier_gap, "bench": stats.benchmarks, "forecast": history,
        "curve": curves, "cycle": _cycle_summaries(stats, peer_d),
        "account_moves": _account_moves(stats),
        "ratings": stats.ratings, "programme_value": stats.programme_value,
        "tenure_bench": stats.tenure_benchmarks.drop(columns=["period"], errors="ignore"),
    }.items()}
    treatment_of = (stats.treatments.set_index("partner_id").astype(object).to_dict("index")
                    if len(stats.treatments) else {})
    empty_stages = _pipeline_by_stage(stats.open_deals.iloc[:0], stages, p_win)
    no_moves = pd.DataFrame({c: pd.Series(dtype=object) for c in ACCOUNT_MOVE_COLUMNS[1:]})
    seg = stats.scores.merge(stats.matrix[["partner_id", "performance", "potential", "action"]],
                             on="partner_id", how="left").merge(
        stats.concentration.table[["partner_id", "abc_class"]], on="partner_id", how="left").set_index("partner_id")
    peers = stats.peers.set_index("partner_id")
    fc_method = stats.forecast.set_index("partner_id")["method"]
    report_settings = ReportSettings.from_params(params)
    contract = stats.partner_contract
    stale_days = stats.notes.get("stale_threshold_days")
    # the official tier and the move its results recommend at the next review (tiers.tier_status)
    tier_cols = ["tier", "tier_source", "qualified_tier", "recommendation", "recommended_tier", "quarters_qualified"]
    tier_of = stats.tier_status.set_index("partner_id")[tier_cols].astype(object).to_dict("index")

    def part(name: str, pid: str) -> pd.DataFrame:
        return slices[name].get(pid, pd.DataFrame())

    for p in tqdm(partners.to_dict("records"), desc="bundles", disable=not progress, leave=False):
        pid = str(p["partner_id"])
        k = part("kpis", pid)
        cur = k[(k["period"] == ds.period) & (k["window"] == "quarter")] if len(k) else k
        th = part("tiers", pid)
        peer = peers.loc[pid] if pid in peers.index else None
        test = {}
        if pid in tests.index and pd.notna(tests.loc[pid, "statistic"]):
            t = tests.loc[pid]
            test = {"statistic": float(t["statistic"]), "p_value": float(t["pvalue"]),
                    "n_partner": int(t["n_member"]), "n_peers": int(t["n_rest"])}
        s = seg.loc[pid] if pid in seg.index else None
        yield bundle.PartnerBundle(
            partner={
                "partner_id": pid, "name": p["name"], "partner_type": p.get("partner_type"),
                "region": p.get("region"), "country": p.get("country"), "locale": p.get("locale"),
                **{c: (None if pd.isna(v) else (int(v) if c == "quarters_qualified" else str(v)))
                   for c, v in tier_of.get(pid, {"tier": p.get("tier")}).items()},
                "status": cur["status"].iloc[0] if len(cur) and "status" in cur else None,
                "onboarded_date": p.get("onboarded_date"),
                "peer_group": None if peer is None else str(peer["peer_group"]),
                "peer_keys": [] if peer is None else [str(k) for k in peer["peer_keys"]],
                "peer_n": None if peer is None else int(peer["peer_n"]),
                # the contract currency the page shows amounts in, and its rate for the quarter
                "currency": str(contract.at[pid, "currency"]),
                "fx_rate": float(contract.at[pid, "fx_rate"]),
                "account_manager": contract.at[pid, "account_manager"],
            },
            period=ds.period, as_of=ds.as_of, period_start=start, period_end=end,
            reporting_currency=ds.reporting_currency, fy_start=ds.fy_start,
            kpis=k, targets=part("targets", pid), monthly_revenue=part("monthly", pid),
            forecast=part("forecast", pid), category_mix=part("mix", pid), open_deals=part("deals", pid),
            pipeline_by_stage=slices["by_stage"].get(pid, empty_stages),
            cycle_curve=part("curve", pid), cycle_summary=part("cycle", pid), cycle_test=test,
            tier_history=th, tier_gap=part("gap", pid), benchmarks=part("bench", pid),
            account_moves=slices["account_moves"].get(pid, no_moves),
            tenure_benchmarks=part("tenure_bench", pid),
            segment={} if s is None else {c: s.get(c) for c in ("abc_class", "score", "performance", "potential", "action")},
            settings=report_settings,
            ratings=part("ratings", pid), programme_value=part("programme_value", pid),
            programme={k: (None if pd.isna(v) else v) for k, v in treatment_of.get(pid, {}).items()},
            facts={"forecast_method": fc_method.get(pid), "stale_threshold_days": stale_days,
                   "data_end": stats.notes.get("data_end"),
                   "account_coverage": stats.account_coverage is not None},
        )


# --------------------------------------------------------------------------------------------
# run entry points
# --------------------------------------------------------------------------------------------

def run_dir(params: dict) -> Path:
    return Path(params["output_dir"]) / params["period"]
