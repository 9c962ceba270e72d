"""Small, realistic fake bundles for the report tests (and for developing the notebooks).

``partner_bundle()`` builds one partner's :class:`~channel_analysis.bundle.PartnerBundle` with every
frame the scorecard reads (columns as documented in bundle.py and kpis.py); ``network_bundle()``
builds a :class:`~channel_analysis.bundle.NetworkBundle` for the overview. Deterministic for a seed.
``missing=("leads", "mdf", ...)`` blanks what an absent optional table would blank.

Run as a script to write both bundles (the open bundle format of channel_analysis.bundle)::

    .venv/bin/python tests/bundle_factory.py reports/2026Q3/.work
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from channel_analysis import bundle as bundle_mod
from channel_analysis import periods, programme
from channel_analysis.params import load_defaults
from channel_analysis.settings import ProgrammeSettings, ReportSettings

STAGES = ["Qualify", "Develop", "Propose", "Negotiate"]
P_WIN = {"Qualify": 0.1, "Develop": 0.25, "Propose": 0.45, "Negotiate": 0.7}
AGE_BUCKETS = ["0-30", "31-90", "91-180", "181+"]
CATEGORIES = ["Controllers", "Sensors", "Drives", "Software", "Services"]
TIERS = ["Registered", "Silver", "Gold", "Platinum"]


def _kpi_rows(rng, quarters: list[str], partner_id: str, scale: float, low_sample: bool) -> pd.DataFrame:
    rows = []
    n_deals = 2 if low_sample else 24
    for i, q in enumerate(quarters):
        start, end = periods.quarter_bounds(q)
        for window, mult in (("quarter", 1), ("ytd", int(q[-1])), ("t4q", 4)):
            rev = scale * (1 + 0.05 * i) * mult * (1 + 0.1 * rng.standard_normal())
            row = {
                "partner_id": partner_id, "period": q, "window": window,
                "period_start": start, "period_end": end,
                "revenue": rev, "revenue_prev": rev / 1.04, "revenue_growth_prev": 0.04,
                "revenue_yoy": rev / 1.12, "revenue_growth_yoy": 0.12,
                "gross_margin": 0.27 * rev, "gross_margin_pct": 0.27, "units": rev / 400,
                "revenue_per_rep": rev / 4, "potential": 3.2 * rev, "share_of_wallet": 1 / 3.2,
                "customers_active": 41 * mult ** 0.5, "customers_new": 6, "customers_lost": 3,
                "cross_sell_rate": 0.34, "cross_sell_rate_n": 41,
                "upsell_rate": 0.41, "upsell_rate_n": 29,
                "registration_rate": 0.58, "registration_rate_n": 320,
                "registration_lag_days_median": 12.0, "registration_lag_days_median_n": 120,
                "leads_received": 18 * mult, "lead_accept_rate": 0.72, "lead_accept_rate_n": 16 * mult,
                "lead_accept_days_median": 6.0, "lead_accept_days_median_n": 12 * mult,
                "lead_conversion_rate": 0.22, "lead_conversion_rate_n": 16 * mult,
                "deals_created": n_deals, "deals_won": n_deals // 2, "deals_lost": n_deals // 2,
                "win_rate": 0.5, "win_rate_n": n_deals, "win_rate_low": 0.31, "win_rate_high": 0.69,
                "deal_size_mean": 38000.0, "deal_size_mean_n": n_deals // 2,
                "deal_size_median": 31000.0, "deal_size_median_n": n_deals // 2,
                "mdf_allocated": 20000.0 * mult, "mdf_claimed": 7000.0 * mult, "mdf_utilization": 0.35,
                "mdf_attributed_revenue": 61000.0 * mult, "mdf_return": 8.7,
                "certified_reps": 2, "trainings_completed": 3 * mult,
                "csat_mean": 4.2, "csat_mean_n": 3 if low_sample else 27,
                "nps": 31.0, "nps_n": 3 if low_sample else 27,
                "tenure_days": 900 + 91 * i, "time_to_first_deal_days": 47.0, "tenure_quarter": 11.0 + i, "status": "active",
                "pipeline_open": 410000.0, "pipeline_weighted": 150000.0, "pipeline_coverage": 0.82,
                "sales_cycle_median_days": 64.0, "sales_cycle_n": 4 if low_sample else 40,
                "sales_cycle_events": 3 if low_sample else 30, "pipeline_open_n": 9,
                "pipeline_open_amount": 410000.0, "stale_deals_n": 2,
            }
            rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("cross_sell_rate", "upsell_rate", "registration_rate", "registration_lag_days_median",
              "lead_accept_rate", "lead_accept_days_median", "lead_conversion_rate", "win_rate",
              "deal_size_mean", "deal_size_median", "csat_mean", "nps"):
        out[c + "_low_sample"] = out[c + "_n"] < 5
    return out


def partner_bundle(partner_id: str = "P0001", *, name: str = "Smith & Sons <Pro>", locale: str = "en",
                   period: str = "2026Q3", seed: int = 0, tier: str = "Silver", scale: float = 250_000.0,
                   missing: tuple[str, ...] = (), low_sample: bool = False,
                   currency: str = "EUR") -> bundle_mod.PartnerBundle:
    """One partner's bundle: 8 quarters of KPIs, targets (some missed), pipeline with stale deals,
    a Kaplan–Meier curve vs peers, tier gap and benchmarks. ``missing`` blanks optional data:
    any of "leads", "mdf", "targets", "opportunities", "surveys", "trainings", "forecast",
    "benchmarks", "category_mix"."""
    rng = np.random.default_rng(seed)
    quarters = periods.quarter_range(period, 8)
    start, end = periods.quarter_bounds(period)
    kpis = _kpi_rows(rng, quarters, partner_id, scale, low_sample)
    cur = kpis[(kpis["period"] == period) & (kpis["window"] == "quarter")].iloc[0]

    targets = pd.DataFrame({
        "period": period,
        "metric": ["revenue", "new_customers", "registration_rate", "certified_reps", "pipeline", "csat"],
        "target": [scale * 1.2, 5, 0.8, 3, 500000.0, 4.0],
        "actual": [cur["revenue"], cur["customers_new"], cur["registration_rate"], cur["certified_reps"],
                   cur["pipeline_open"], cur["csat_mean"]],
    })
    targets["attainment"] = targets["actual"] / targets["target"]
    targets["status"] = np.select([targets["attainment"] >= 1.0, targets["attainment"] >= 0.9],
                                  ["green", "amber"], "red")

    months = pd.date_range(periods.quarter_bounds(quarters[0])[0], end, freq="MS")
    base = scale / 3 * (1 + 0.15 * np.sin(np.arange(len(months)) / 12 * 2 * np.pi))
    monthly = pd.DataFrame({"month": months, "revenue": base * (1 + 0.05 * rng.standard_normal(len(months)))})
    monthly["gross_margin"] = 0.27 * monthly["revenue"]

    q_rev = kpis[kpis["window"] == "quarter"].set_index("period")["revenue"]
    forecast = pd.DataFrame({"period": quarters, "revenue": q_rev.reindex(quarters).to_numpy(),
                             "forecast": np.nan, "lower": np.nan, "upper": np.nan, "kind": "actual"})
    nxt = periods.shift(period, 1)
    f = float(q_rev.iloc[-1]) * 1.03
    forecast = pd.concat([forecast, pd.DataFrame([{"period": nxt, "revenue": np.nan, "forecast": f,
                                                   "lower": 0.8 * f, "upper": 1.2 * f, "kind": "forecast"}])],
                         ignore_index=True)

    rev = rng.dirichlet(np.ones(len(CATEGORIES)) * 2) * cur["revenue"]
    category_mix = pd.DataFrame({"category": CATEGORIES, "revenue": rev,
                                 "revenue_prev_year": rev * rng.uniform(0.7, 1.2, len(CATEGORIES))})
    category_mix["share"] = category_mix["revenue"] / category_mix["revenue"].sum()

    n_open = 3 if low_sample else 14
    stage = rng.choice(STAGES, n_open)
    age = rng.integers(5, 260, n_open)
    amount = rng.lognormal(10.2, 0.6, n_open).round(0)
    open_deals = pd.DataFrame({
        "opportunity_id": [f"O-{partner_id}-{i:03d}" for i in range(n_open)],
        "stage": stage, "stage_order": [STAGES.index(s) for s in stage], "amount": amount,
        "age_days": age, "age_bucket": pd.cut(age, [-1, 30, 90, 180, 10_000], labels=AGE_BUCKETS).astype(str),
        "expected_close_date": end + pd.to_timedelta(rng.integers(-60, 120, n_open), unit="D"),
    })
    open_deals["past_expected_close"] = open_deals["expected_close_date"] < end
    open_deals["stale"] = open_deals["past_expected_close"] | (open_deals["age_days"] > 180)
    open_deals["stale_reason"] = np.where(open_deals["past_expected_close"], "past_expected_close",
                                          np.where(open_deals["age_days"] > 180, "open_too_long", ""))
    open_deals["p_win"] = open_deals["stage"].map(P_WIN)
    open_deals["weighted_amount"] = open_deals["amount"] * open_deals["p_win"]
    pbs = (open_deals.groupby(["stage", "stage_order"], as_index=False)
           .agg(open_n=("amount", "size"), open_amount=("amount", "sum"), weighted_amount=("weighted_amount", "sum")))
    pbs["network_p_win"] = pbs["stage"].map(P_WIN)

    days = np.arange(0, 301, 10)
    curves = []
    for group, rate in (("partner", 1 / 70), ("peers", 1 / 85)):
        s = np.exp(-rate * days)
        curves.append(pd.DataFrame({"group": group, "days": days, "survival": s,
                                    "ci_low": np.clip(s - 0.08, 0, 1), "ci_high": np.clip(s + 0.08, 0, 1)}))
    cycle_curve = pd.concat(curves, ignore_index=True)
    cycle_summary = pd.DataFrame({"group": ["partner", "peers"], "median_days": [49.0, 59.0],
                                  "ci_low": [38.0, 52.0], "ci_high": [63.0, 66.0],
                                  "n": [3 if low_sample else 40, 310], "events": [2 if low_sample else 31, 260]})
    cycle_test = {} if low_sample else {"statistic": 2.1, "p_value": 0.15, "n_partner": 40, "n_peers": 310}

    tier_history = pd.DataFrame({"period": quarters, "qualifying_tier": [tier] * 8})
    nxt_tier = TIERS[TIERS.index(tier) + 1] if tier != TIERS[-1] else None
    if nxt_tier is None:
        tier_gap = pd.DataFrame(columns=["next_tier", "criterion", "required", "actual", "gap", "met"])
    else:
        req = {"Silver": {"revenue": 100000, "certified_reps": 1},
               "Gold": {"revenue": 500000, "certified_reps": 3, "registration_rate": 0.7},
               "Platinum": {"revenue": 2000000, "certified_reps": 6, "registration_rate": 0.85,
                            "csat_mean": 4.0}}[nxt_tier]
        t4q = kpis[(kpis["period"] == period) & (kpis["window"] == "t4q")].iloc[0]
        actual = {"revenue": t4q["revenue"], "certified_reps": cur["certified_reps"],
                  "registration_rate": cur["registration_rate"], "csat_mean": cur["csat_mean"]}
        tier_gap = pd.DataFrame({"next_tier": nxt_tier, "criterion": list(req),
                                 "required": [float(v) for v in req.values()],
                                 "actual": [float(actual[c]) for c in req]})
        tier_gap["gap"] = (tier_gap["required"] - tier_gap["actual"]).clip(lower=0)
        tier_gap["met"] = tier_gap["actual"] >= tier_gap["required"]

    bench_metrics = ["revenue", "revenue_growth_yoy", "gross_margin_pct", "win_rate", "registration_rate",
                     "lead_accept_rate", "lead_accept_days_median", "mdf_utilization", "csat_mean"]
    pct = rng.uniform(5, 95, len(bench_metrics)).round(1)  # 0..100, as benchmarks.peer_percentiles
    benchmarks = pd.DataFrame({"metric": bench_metrics, "value": [cur[m] for m in bench_metrics],
                               "percentile": pct})
    benchmarks["peer_median"] = benchmarks["value"] * rng.uniform(0.8, 1.3, len(bench_metrics))
    benchmarks["peer_p25"] = benchmarks["peer_median"] * 0.8
    benchmarks["peer_p75"] = benchmarks["peer_median"] * 1.2
    benchmarks["peer_n"] = 12
    # the same measures within the tenure cohort "9+" (partners at the same quarter of partnership)
    tenure_benchmarks = benchmarks[["metric", "value", "percentile"]].assign(
        window="quarter", tenure_band="9+", cohort_n=9, cohort_median=benchmarks["peer_median"] * 1.05,
        cohort_p25=benchmarks["peer_p25"], cohort_p75=benchmarks["peer_p75"], reason=None)

    b = bundle_mod.PartnerBundle(
        partner={"partner_id": partner_id, "name": name, "partner_type": "reseller", "region": "West",
                 "country": "FR" if locale.startswith("fr") else "GB", "locale": locale, "tier": tier,
                 "tier_source": "recorded", "qualified_tier": tier, "recommendation": "hold",
                 "recommended_tier": tier, "quarters_qualified": 0,
                 "status": "active", "onboarded_date": pd.Timestamp("2023-02-15"),
                 "peer_group": "reseller · West", "peer_n": 12},
        period=period, as_of=end + pd.Timedelta(days=5), period_start=start, period_end=end,
        reporting_currency=currency, fy_start=1,
        kpis=kpis, targets=targets, monthly_revenue=monthly, forecast=forecast, category_mix=category_mix,
        open_deals=open_deals, pipeline_by_stage=pbs, cycle_curve=cycle_curve, cycle_summary=cycle_summary,
        cycle_test=cycle_test, tier_history=tier_history, tier_gap=tier_gap, benchmarks=benchmarks,
        tenure_benchmarks=tenure_benchmarks,
        segment={"abc_class": "B", "score": 0.56, "performance": "medium", "potential": "high",
                 "action": "Develop"},
        settings=ReportSettings.from_params(load_defaults()),
        facts={"forecast_method": "exp_smoothing", "stale_threshold_days": 180.0, "account_coverage": True},
        account_moves=pd.DataFrame({"customer_id": ["C-0017", "C-0042"], "name": ["Kessler & Co <AG>", None],
                                    "change": ["promoted", "relegated"], "from_segment": ["core", "core"],
                                    "to_segment": ["key", "digital"], "action": ["change_coverage", "hand_over"]}),
    )
    return _blank(b, missing)


def _blank(b: bundle_mod.PartnerBundle, missing: tuple[str, ...]) -> bundle_mod.PartnerBundle:
    cols = {
        "leads": ["leads_received", "lead_accept_rate", "lead_accept_days_median", "lead_conversion_rate"],
        "mdf": ["mdf_allocated", "mdf_claimed", "mdf_utilization", "mdf_attributed_revenue", "mdf_return"],
        "surveys": ["csat_mean", "nps"],
        "trainings": ["certified_reps", "trainings_completed"],
        "opportunities": ["win_rate", "deal_size_mean", "deal_size_median", "pipeline_open", "pipeline_weighted",
                          "pipeline_coverage", "sales_cycle_median_days", "sales_cycle_n", "sales_cycle_events",
                          "pipeline_open_n", "pipeline_open_amount", "stale_deals_n"],
    }
    for table in missing:
        for c in cols.get(table, []):
            b.kpis[c] = np.nan
    if "opportunities" in missing:
        b.open_deals = b.open_deals.iloc[0:0]
        b.pipeline_by_stage = b.pipeline_by_stage.iloc[0:0]
        b.cycle_curve = pd.DataFrame()
        b.cycle_summary = pd.DataFrame()
        b.cycle_test = {}
    if "targets" in missing:
        b.targets = pd.DataFrame(columns=["period", "metric", "target", "actual", "attainment", "status"])
    if "forecast" in missing:
        b.forecast = pd.DataFrame()
    if "benchmarks" in missing:
        b.benchmarks = pd.DataFrame()
        b.tenure_benchmarks = pd.DataFrame()
    if "category_mix" in missing:
        b.category_mix = pd.DataFrame()
    return b


def mdf_incrementality() -> pd.DataFrame:
    """An ``mdf_incrementality`` table (exports): the network and two activity types with an estimate,
    one type whose comparison group is too small."""
    return pd.DataFrame({
        "scope": ["network", "activity_type", "activity_type", "activity_type"],
        "activity_type": [None, "event", "trade show", "webinar"],
        "mdf_incremental_effect": [0.12, 0.25, -0.03, np.nan],
        "mdf_incremental_effect_low": [0.04, 0.08, -0.15, np.nan],
        "mdf_incremental_effect_high": [0.21, 0.45, 0.11, np.nan],
        "log_effect": np.log1p([0.12, 0.25, -0.03, np.nan]), "std_error": [0.04, 0.08, 0.06, np.nan],
        "p_value": [0.004, 0.006, 0.62, np.nan], "n_treated": [40, 12, 9, 6], "n_controls": [55, 30, 25, 3],
        "n_strata": [14, 8, 7, 2], "status": ["ok", "ok", "ok", "too_few_controls"]})


def network_bundle(n_partners: int = 30, *, period: str = "2026Q3", seed: int = 1,
                   currency: str = "EUR") -> bundle_mod.NetworkBundle:
    """The network overview's bundle for ``n_partners`` fake partners (P0001…)."""
    rng = np.random.default_rng(seed)
    quarters = periods.quarter_range(period, 8)
    ids = [f"P{i:04d}" for i in range(1, n_partners + 1)]
    names = [f"Partner {i} & Co" for i in range(1, n_partners + 1)]
    names[0] = "Smith & Sons <Pro>"
    size = np.sort(rng.pareto(1.2, n_partners) + 0.2)[::-1] * 80_000
    tiers_now = np.where(size > 400_000, "Gold", np.where(size > 90_000, "Silver", "Registered"))
    partners = pd.DataFrame({"partner_id": ids, "name": names,
                             "partner_type": rng.choice(["reseller", "distributor", "integrator"], n_partners),
                             "region": rng.choice(["West", "East", "North"], n_partners),
                             "country": rng.choice(["FR", "PL", "GB"], n_partners),
                             "locale": rng.choice(["fr_FR", "pl_PL", "en"], n_partners),
                             "onboarded_date": pd.to_datetime("2022-01-01") + pd.to_timedelta(
                                 rng.integers(0, 1400, n_partners), unit="D")})
    frames = []
    for pid, s in zip(ids, size):
        k = _kpi_rows(rng, quarters, pid, s, low_sample=False)
        frames.append(k)
    kpis = pd.concat(frames, ignore_index=True)
    status = rng.choice(["active", "active", "active", "at_risk", "onboarding"], n_partners)
    kpis["status"] = kpis["partner_id"].map(dict(zip(ids, status)))
    kpis.loc[kpis["status"] == "at_risk", "revenue_growth_yoy"] = -0.35

    qrows = kpis[kpis["window"] == "quarter"]
    network = qrows.groupby("period", as_index=False).agg(revenue=("revenue", "sum"),
                                                           gross_margin=("gross_margin", "sum"),
                                                           mdf_claimed=("mdf_claimed", "sum"))
    network["partners_active_end"] = np.linspace(n_partners - 6, n_partners, len(network)).round()
    network["partners_onboarded"] = 1
    network["partners_churned"] = 0
    network["retention_rate"] = np.linspace(0.9, 0.95, len(network))
    network["churn_rate"] = 1 - network["retention_rate"]
    network["activation_rate"] = np.linspace(0.5, 0.7, len(network))
    network["channel_return"] = np.linspace(9, 11, len(network))

    t4q = kpis[(kpis["window"] == "t4q") & (kpis["period"] == period)].set_index("partner_id")["revenue"]
    ordered = t4q.sort_values(ascending=False)
    pareto = pd.DataFrame({"partner_id": ordered.index, "value": ordered.to_numpy()})
    pareto["share"] = pareto["value"] / pareto["value"].sum()
    pareto["cum_share"] = pareto["share"].cumsum()
    pareto["rank"] = np.arange(1, len(pareto) + 1)
    pareto["abc_class"] = np.select([pareto["cum_share"] <= 0.8, pareto["cum_share"] <= 0.95], ["A", "B"], "C")
    v = np.sort(pareto["value"].to_numpy())
    gini = float((2 * np.arange(1, len(v) + 1) - len(v) - 1) @ v / (len(v) * v.sum()))

    levels = ["low", "medium", "high"]
    segments = pd.DataFrame({"partner_id": ids, "score": rng.uniform(0, 1, n_partners),
                             "headroom": rng.uniform(0, 1e6, n_partners),
                             "performance": rng.choice(levels, n_partners),
                             "potential": rng.choice(levels, n_partners)})
    segments["action"] = (segments["performance"] + "_" + segments["potential"]).map(
        {"high_high": "Invest", "high_medium": "Grow", "high_low": "Maintain", "medium_high": "Develop",
         "medium_medium": "Maintain", "medium_low": "Maintain", "low_high": "Develop", "low_medium": "Monitor",
         "low_low": "Reduce"})

    table = partners.merge(segments[["partner_id", "action"]], on="partner_id")
    pipeline_by_segment = table.groupby("partner_type", as_index=False).agg(partners=("partner_id", "size"))
    qk = qrows[qrows["period"] == period]
    mdf_by_tier = (qk.assign(tier=qk["partner_id"].map(dict(zip(ids, tiers_now))))
                   .groupby("tier", as_index=False)[["mdf_allocated", "mdf_claimed", "mdf_attributed_revenue"]].sum())
    mdf_by_tier["mdf_utilization"] = mdf_by_tier["mdf_claimed"] / mdf_by_tier["mdf_allocated"]
    mdf_by_tier["mdf_return"] = mdf_by_tier["mdf_attributed_revenue"] / mdf_by_tier["mdf_claimed"]

    prev_q = periods.shift(period, -1)
    tiers_prev = tiers_now.copy()
    tiers_prev[2], tiers_prev[5] = "Silver", "Gold"  # one promoted, one relegated
    tiers = pd.concat([
        pd.DataFrame({"partner_id": ids, "period": prev_q, "qualifying_tier": tiers_prev, "tier": tiers_prev,
                      "change": "unchanged", "previous_tier": tiers_prev}),
        pd.DataFrame({"partner_id": ids, "period": period, "qualifying_tier": tiers_now, "tier": tiers_now,
                      "change": "unchanged", "previous_tier": tiers_prev}),
    ], ignore_index=True)
    rank = {t: i for i, t in enumerate(TIERS)}
    cur = tiers["period"] == period
    up = cur & (tiers["tier"].map(rank) > tiers["previous_tier"].map(rank))
    down = cur & (tiers["tier"].map(rank) < tiers["previous_tier"].map(rank))
    tiers.loc[up, "change"] = "promoted"
    tiers.loc[down, "change"] = "relegated"

    deals = []
    for pid in ids:
        n = int(rng.integers(0, 6))
        st = rng.choice(STAGES, n)
        amt = rng.lognormal(10, 0.7, n)
        age = rng.integers(1, 300, n)
        deals.append(pd.DataFrame({"partner_id": pid, "opportunity_id": [f"O-{pid}-{i}" for i in range(n)],
                                   "stage": st, "amount": amt, "age_days": age,
                                   "weighted_amount": amt * pd.Series(st).map(P_WIN).to_numpy(),
                                   "stale": age > 180}))
    open_deals = pd.concat(deals, ignore_index=True)
    seg_deals = open_deals.assign(partner_type=open_deals["partner_id"].map(dict(zip(ids, partners["partner_type"]))))
    agg = seg_deals.groupby("partner_type").agg(open_deals=("amount", "size"), pipeline_open=("amount", "sum"),
                                                pipeline_weighted=("weighted_amount", "sum"),
                                                stale_deals=("stale", "sum"))
    rev = qk.assign(partner_type=qk["partner_id"].map(dict(zip(ids, partners["partner_type"])))).groupby(
        "partner_type")["revenue"].sum()
    pipeline_by_segment = pipeline_by_segment.merge(agg, left_on="partner_type", right_index=True, how="left").merge(
        rev, left_on="partner_type", right_index=True, how="left")

    days = np.arange(0, 301, 10)
    cycle_curves = pd.concat([pd.DataFrame({"group": g, "days": days, "survival": np.exp(-r * days),
                                            "ci_low": np.exp(-r * days) - 0.05, "ci_high": np.exp(-r * days) + 0.05})
                              for g, r in (("reseller", 1 / 60), ("distributor", 1 / 90), ("integrator", 1 / 120))],
                             ignore_index=True)
    cohorts = []
    for i, q in enumerate(quarters[:6]):
        for m in range(0, 3 * (8 - i), 3):
            cohorts.append({"cohort": q, "months": m, "partners": 4, "retained": 4 - min(m // 6, 3)})
    cohorts = pd.DataFrame(cohorts)
    cohorts["retained_share"] = cohorts["retained"] / cohorts["partners"]

    network = network.sort_values("period", ignore_index=True)
    network["revenue_growth_prev"] = network["revenue"] / network["revenue"].shift(1) - 1
    network["revenue_gini_t4q"] = np.where(network["period"] == period, gini, np.nan)
    # activation as a Kaplan–Meier curve (tenure.py): 12 partners onboarded since the data begin
    act_days = np.array([0.0, 5, 20, 45, 90, 150, 200])
    act_share = np.array([0.0, 0.1, 0.25, 0.4, 0.55, 0.65, 0.7])
    activation_curve = pd.DataFrame({"group": "all", "days": act_days, "activated_share": act_share,
                                     "ci_low": np.clip(act_share - 0.1, 0, 1), "ci_high": np.clip(act_share + 0.1, 0, 1),
                                     "at_risk": [12, 12, 11, 9, 7, 5, 4], "events": [0, 1, 2, 2, 2, 1, 1]})
    network["activation_km_partners"] = np.linspace(6, 12, len(network)).round()
    network["activation_share_90d"] = 0.55
    network["activation_share_180d"] = 0.65
    network["activation_share_365d"] = np.nan  # nobody followed that long
    network["activation_median_days"] = 75.0

    # the overview's tables, shaped as build.network_bundle shapes them
    names = partners[["partner_id", "name"]]
    seg = segments.merge(names, on="partner_id").sort_values("name")
    segment_cells = seg.groupby(["performance", "potential"], as_index=False).agg(
        action=("action", "first"), partners=("partner_id", "size"), names=("name", "; ".join))
    migration = pd.crosstab(pd.Categorical(tiers_prev, TIERS), pd.Categorical(tiers_now, TIERS), dropna=False)
    tier_migration = pd.DataFrame([(a, b, int(migration.loc[a, b])) for a in TIERS for b in TIERS],
                                  columns=["from_tier", "to_tier", "partners"])
    cur_tiers = tiers[tiers["period"] == period]
    # recommended moves (tiers.tier_status rows whose recommendation is not "hold")
    moved = cur_tiers[cur_tiers["change"].isin(["promoted", "relegated"])].sort_values(["change", "partner_id"])
    movements = pd.DataFrame({
        "partner_id": moved["partner_id"], "period": period, "official_tier": moved["previous_tier"],
        "tier_source": "recorded", "tier": moved["previous_tier"], "qualified_tier": moved["tier"],
        "recommendation": moved["change"].map({"promoted": "promote", "relegated": "relegate"}),
        "recommended_tier": moved["tier"], "quarters_qualified": 2}).merge(names, on="partner_id", how="left")
    pipeline_by_segment["weighted_to_revenue"] = pipeline_by_segment["pipeline_weighted"] / pipeline_by_segment["revenue"]
    pipeline_by_segment = pipeline_by_segment.sort_values("pipeline_open", ascending=False, ignore_index=True)
    mdf_by_tier = mdf_by_tier.assign(_o=mdf_by_tier["tier"].map({t: i for i, t in enumerate(TIERS)})).sort_values(
        "_o").drop(columns="_o").reset_index(drop=True)
    t4q_rev = kpis[(kpis["window"] == "t4q") & (kpis["period"] == period)][["partner_id", "revenue"]]
    key_figures = (qk[["partner_id", "revenue", "revenue_growth_yoy", "gross_margin_pct", "win_rate",
                       "registration_rate", "pipeline_weighted", "pipeline_coverage", "csat_mean", "status"]]
                   .merge(partners[["partner_id", "name", "partner_type", "region"]], on="partner_id")
                   .merge(t4q_rev.rename(columns={"revenue": "revenue_t4q"}), on="partner_id")
                   .merge(cur_tiers[["partner_id", "tier"]], on="partner_id")
                   .merge(pareto[["partner_id", "abc_class"]], on="partner_id", how="left")
                   .merge(segments[["partner_id", "action"]], on="partner_id", how="left")
                   .sort_values("revenue_t4q", ascending=False, ignore_index=True))
    at_risk = key_figures[key_figures["status"] == "at_risk"].sort_values("revenue", ascending=False,
                                                                          ignore_index=True)
    # churn risk (channel_analysis.churn): every partner ranked, the at-risk list by risk, a backtest
    risk = pd.DataFrame({"partner_id": ids, "churn_risk": np.sort(rng.uniform(0.001, 0.3, len(ids)))[::-1]})
    risk["churn_rank"] = pd.array(np.arange(1, len(ids) + 1), dtype="Int64")
    risk["drivers"] = "revenue_growth_prev_quarter:low; pipeline_open_n_quarter:low"
    at_risk = at_risk.merge(risk, on="partner_id", how="left").sort_values("churn_risk", ascending=False,
                                                                          ignore_index=True)
    churn_calibration = pd.DataFrame({"band": [1, 2, 3], "p_low": [0.001, 0.01, 0.05],
                                      "p_high": [0.009, 0.049, 0.3], "n": [40, 40, 40], "events": [0, 1, 3],
                                      "predicted": [0.004, 0.025, 0.11], "observed": [0.0, 0.025, 0.075]})
    network["churn_concordance"] = np.where(network["period"] == period, 0.74, np.nan)

    return bundle_mod.NetworkBundle(
        period=period, as_of=periods.quarter_bounds(period)[1] + pd.Timedelta(days=5), reporting_currency=currency,
        tables={"network": network, "pareto": pareto, "segment_cells": segment_cells,
                "tier_migration": tier_migration, "movements": movements,
                "pipeline_by_segment": pipeline_by_segment, "cycle_curves": cycle_curves, "cohorts": cohorts,
                "mdf_by_tier": mdf_by_tier, "at_risk": at_risk, "churn_calibration": churn_calibration,
                "key_figures": key_figures,
                "partners": partners.assign(status="active", reported=True),
                # account coverage, shaped as exports._account_overview shapes it
                "account_coverage": pd.DataFrame({"segment": ["digital", "core", "key"],
                                                  "coverage": ["inside_sales", "partner_managed", "key_account_rep"],
                                                  "accounts": [120, 40, 6], "value": [2.0e5, 9.0e5, 1.1e6]}),
                "account_migration": pd.DataFrame(
                    [(period, a, b, n) for (a, b), n in zip(
                        [(a, b) for a in ("digital", "core", "key") for b in ("digital", "core", "key")],
                        [110, 3, 0, 2, 36, 1, 0, 0, 5])], columns=["period", "from_segment", "to_segment", "accounts"]),
                "account_moves": pd.DataFrame({
                    "customer_id": ["C-0017", "C-0099", "C-0042"], "name": ["Kessler & Co <AG>", None, None],
                    "period": period, "partner_id": [partners["partner_id"].iloc[0]] * 2 + [partners["partner_id"].iloc[1]],
                    "change": ["promoted", "promoted", "relegated"], "from_segment": ["core", "digital", "core"],
                    "to_segment": ["key", "core", "digital"], "from_coverage": ["partner_managed", "inside_sales",
                                                                                "partner_managed"],
                    "to_coverage": ["key_account_rep", "partner_managed", "inside_sales"],
                    "action": ["change_coverage", "receive", "hand_over"], "value": [7.0e4, 1.2e4, 4.0e3],
                    "potential": [4.0e5, None, 5.0e4]}),
                **_programme_tables(pareto, names, key_figures, period),
                "mdf_incrementality": mdf_incrementality(), "activation_curve": activation_curve},
        notes={"gini": gini, "abc": {"a": 0.8, "b": 0.95}, "min_sample": 5, "tier_levels": TIERS,
               "forecast_backtest_mape": 0.14, "activity_start": "2024-10-01", "onboarded_before_data": 8,
               "mdf_incrementality": {"pre_quarters": 2, "post_quarters": 2, "min_treated": 5, "min_controls": 5,
                                      "size_bands": 3, "match_on": ["tier"], "confidence": 0.95},
               "churn": {"status": "fitted", "events": 14, "min_events": 5, "backtest_quarters": 3,
                         "backtest_rows": 120, "backtest_events": 4, "concordance": 0.74}},
    )


def _programme_tables(pareto: pd.DataFrame, names: pd.DataFrame, figures: pd.DataFrame, period: str) -> dict:
    """The overview's treatment section tables, shaped as exports.network_bundle shapes them: the
    default treatments of the ABC classes, a small rebate and benefit schedule."""
    prog = ProgrammeSettings.from_params(load_defaults())
    treated = programme.treatments(pareto[["partner_id", "abc_class"]], prog)
    value = programme.programme_value(
        figures[["partner_id", "tier", "revenue"]].assign(mdf_allocated=1000.0), TIERS, period,
        rebates=pd.DataFrame({"tier": ["Silver", "Gold"], "rate": [0.01, 0.02]}),
        benefits=pd.DataFrame({"tier": ["Gold"], "benefit": ["hotline"], "value": [2500.0]}))
    partners = (treated.merge(names, on="partner_id", how="left")
                .merge(value[["partner_id", "programme_value", "next_tier_extra_value"]], on="partner_id", how="left")
                .sort_values(["programme_value", "partner_id"], ascending=[False, True], ignore_index=True))
    return {"treatment_counts": programme.treatment_counts(treated, prog), "treatment_partners": partners,
            "programme_totals": pd.DataFrame([programme.network_totals(value)])}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/2026Q3/.work")
    bundle_mod.save(partner_bundle(), out / "partners" / "P0001.bundle")
    bundle_mod.save(network_bundle(), out / "network.bundle")
    print("wrote", out)
