"""Everything the channel team acts on, as open tables: one truth per number.

:func:`network_tables` cuts a run's :class:`~channel_analysis.build.NetworkStats` into the tables
written to ``reports/<period>/kpis/`` (Parquet and CSV, :func:`write_exports`); the network overview
reads the same frames (:func:`channel_analysis.exports.network_bundle`), so a figure on the page and
the cell of an exported table are one computation. ``partners`` and ``recipients`` are the run's
snapshot of who is reported and who receives the scorecard, for delivery to read instead of the raw
source.

:data:`EXPORTS` declares every column of every table (type and meaning); ``docs/exports.md`` is
generated from it (:func:`render_doc`, ``channel-analysis docs``) and a test fails when a table has
an undeclared column or the document drifts. This module computes no statistic: it selects, joins
and reshapes what :func:`channel_analysis.build.compute` produced (the one derived column is the
network's quarter-on-quarter ``revenue_growth_prev``). It imports no rendering or delivery code.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import bundle, incrementality, measures, programme, salescycle, tenure, tiers
from .build import NetworkStats, reported_partners
from .io.sources import write_tables
from .params import PROJECT_ROOT

#: The folder of a run (``reports/<period>/``) the tables are written to.
SUBDIR = "kpis"
DEFAULT_DOC_PATH = PROJECT_ROOT / "docs" / "exports.md"


class Col(NamedTuple):
    """One declared column: its type (text | number | integer | true/false | date), its meaning,
    and whether the table may come without it."""

    type: str
    meaning: str
    optional: bool = False


# --------------------------------------------------------------------------------------------
# declarations: every column of every exported table
# --------------------------------------------------------------------------------------------

_KEY = {
    "partner_id": Col("text", "the partner"),
    "period": Col("text", "quarter label the window ends in, e.g. `2026Q3`"),
    "window": Col("text", "`quarter`, `ytd` (fiscal year to date) or `t4q` (trailing four quarters)"),
    "period_start": Col("date", "first day of the window"),
    "period_end": Col("date", "last day of the window"),
}

#: KPI-table columns stored as whole numbers (counts of the pipeline snapshot); the other
#: measures are numbers (NaN-able floats).
_INTEGER_KPIS = {"pipeline_open_n", "stale_deals_n"}


def _kpi_columns() -> dict[str, Col]:
    """The KPI table's columns, read from the measure catalog (measures.py): each measure with its
    one-line definition, then its companions (``_n``, ``_low``/``_high``, ``_low_sample``)."""
    cols = dict(_KEY)
    for m in measures.MEASURES.values():
        if m.table != "kpis":
            continue
        cols[m.key] = Col("integer" if m.key in _INTEGER_KPIS else "number", m.doc)
        if m.key == "sales_cycle_median_days":
            cols["sales_cycle_ci_low"] = Col("number", "lower end of the 95 % interval of that median")
            cols["sales_cycle_ci_high"] = Col("number", "upper end of the 95 % interval of that median")
            cols["sales_cycle_n"] = Col("number", "deals in the sales-cycle estimate")
            cols["sales_cycle_low_sample"] = Col("true/false", "`sales_cycle_events` below `kpis.min_sample`")
        if m.sampled:
            cols[f"{m.key}_n"] = Col("number", f"number of observations behind `{m.key}` (its denominator)")
        if m.interval:
            cols[f"{m.key}_low"] = Col("number", f"lower end of the 95 % Wilson interval of `{m.key}`")
            cols[f"{m.key}_high"] = Col("number", f"upper end of the 95 % Wilson interval of `{m.key}`")
        if m.sampled:
            cols[f"{m.key}_low_sample"] = Col("true/false", f"`{m.key}_n` below `kpis.min_sample`, or unavailable")
    cols["status"] = Col("text", "`active`, `at_risk`, `onboarding` or `churned` at `period_end`")
    return cols


KPI_COLUMNS: dict[str, Col] = _kpi_columns()

_TIER_STATUS = {
    "partner_id": Col("text", "the partner"),
    "period": Col("text", "the reported quarter"),
    "official_tier": Col("text", "tier recorded in the PRM (`partners.tier`); empty when none or not a defined level"),
    "tier_source": Col("text", "`recorded` (the official tier) or `computed` (no recorded tier: qualification replayed)"),
    "tier": Col("text", "the partner's tier: the official one when recorded, else the computed one"),
    "qualified_tier": Col("text", "highest tier whose criteria the partner meets this quarter (trailing four quarters)"),
    "recommendation": Col("text", "`promote`, `relegate` or `hold`: the move a programme manager is asked to approve"),
    "recommended_tier": Col("text", "the tier after the recommended move"),
    "quarters_qualified": Col("integer", "consecutive quarters, ending with this one, that support the recommendation"),
}

#: Key figures of a partner this quarter (``at_risk`` and the overview's table of every partner).
KEY_FIGURES: dict[str, Col] = {
    "partner_id": Col("text", "the partner"),
    "name": Col("text", "partner name"),
    "partner_type": Col("text", "partner type (reseller, distributor, …)"),
    "region": Col("text", "sales region"),
    "tier": Col("text", "tier held this quarter"),
    "status": Col("text", "status at the end of the quarter (see `kpis.status`)"),
    "abc_class": Col("text", "ABC class by trailing-four-quarter revenue"),
    "action": Col("text", "action of the partner's performance × potential cell"),
    "revenue": Col("number", "revenue of the quarter (`kpis.revenue`, window quarter)"),
    "revenue_t4q": Col("number", "revenue of the trailing four quarters (`kpis.revenue`, window t4q)"),
    "revenue_growth_yoy": Col("number", "quarter revenue vs the same quarter a year earlier"),
    "gross_margin_pct": Col("number", "gross margin % of the quarter"),
    "win_rate": Col("number", "win rate of the quarter"),
    "registration_rate": Col("number", "registration rate of the quarter"),
    "pipeline_weighted": Col("number", "weighted open pipeline at the quarter's snapshot"),
    "pipeline_coverage": Col("number", "weighted pipeline ÷ next quarter's revenue target"),
    "csat_mean": Col("number", "mean customer satisfaction of the quarter"),
}

#: The ``at_risk`` table: the key figures and the partner's churn risk (empty when no churn model
#: was fitted: the list then keeps its rule-based order).
AT_RISK: dict[str, Col] = {
    **KEY_FIGURES,
    "churn_risk": Col("number", "probability of churn next quarter (`churn_risk` table; empty: no churn model)"),
    "churn_rank": Col("integer", "rank of `churn_risk` among every active partner (1 = highest)"),
    "drivers": Col("text", "what raises the partner's churn risk most (`churn_risk` table)"),
}

#: table → column → declaration. ``docs/exports.md`` is generated from this.
EXPORTS: dict[str, dict[str, Col]] = {
    "kpis": KPI_COLUMNS,
    "targets": {
        "partner_id": Col("text", "the partner"),
        "period": Col("text", "quarter of the target"),
        "metric": Col("text", "the target's metric (revenue, win_rate, …)"),
        "target": Col("number", "the agreed target"),
        "actual": Col("number", "the partner's value of the quarter"),
        "attainment": Col("number", "`actual ÷ target`"),
        "status": Col("text", "`green`, `amber`, `red` or `no data`"),
    },
    "network": {
        "period": Col("text", "the quarter"),
        "period_start": Col("date", "first day of the quarter"),
        "period_end": Col("date", "last day of the quarter"),
        "partners_active_start": Col("integer", "partners active at the quarter's start"),
        "partners_active_end": Col("integer", "partners active at the quarter's end"),
        "partners_onboarded": Col("integer", "partners onboarded in the quarter"),
        "partners_churned": Col("integer", "partners whose contract ended in the quarter"),
        "retention_rate": Col("number", "active at start and still active at end ÷ active at start"),
        "retention_rate_n": Col("integer", "partners active at the start"),
        "retention_rate_low_sample": Col("true/false", "`retention_rate_n` below `kpis.min_sample`"),
        "churn_rate": Col("number", "partners ended in the quarter ÷ active at start"),
        "churn_rate_n": Col("integer", "partners active at the start"),
        "churn_rate_low_sample": Col("true/false", "`churn_rate_n` below `kpis.min_sample`"),
        "accounts_promoted": Col("integer", "end-customer accounts promoted to a higher segment in the quarter "
                                            "(`account_moves`; empty without `sales.customer_id`)"),
        "accounts_relegated": Col("integer", "end-customer accounts relegated to a lower segment in the quarter"),
        "activation_cohort": Col("integer", "recently onboarded partners whose activation period is over"),
        "partners_activated": Col("integer", "of which made a first deal within the activation period"),
        "activation_rate": Col("number", "`partners_activated ÷ activation_cohort`"),
        "activation_rate_n": Col("integer", "`activation_cohort`"),
        "activation_rate_low_sample": Col("true/false", "`activation_rate_n` below `kpis.min_sample`"),
        "program_costs_cohort": Col("number", "programme costs of the activation cohort"),
        "cost_to_acquire_and_onboard_per_activated_partner": Col(
            "number", "`program_costs_cohort ÷ partners_activated`"),
        "program_costs": Col("number", "programme costs dated in the quarter"),
        "mdf_claimed": Col("number", "MDF claimed in the quarter"),
        "leads_received": Col("number", "leads assigned in the quarter, with or without a partner"),
        "leads_unassigned": Col("number", "of which without a partner (`leads.partner_id` empty)"),
        "lead_conversion_rate": Col("number", "converted ÷ decided leads of the quarter, every lead"),
        "lead_conversion_rate_n": Col("number", "decided leads of the quarter"),
        "lead_conversion_rate_low_sample": Col("true/false", "`lead_conversion_rate_n` below `kpis.min_sample`"),
        "revenue": Col("number", "network revenue of the quarter"),
        "revenue_growth_prev": Col("number", "`revenue` ÷ the previous quarter's `revenue` − 1"),
        "gross_margin": Col("number", "network gross margin of the quarter"),
        "channel_return": Col("number", "`revenue ÷ (program_costs + mdf_claimed)`"),
        "revenue_gini_t4q": Col("number", "Gini coefficient of the partners' trailing-four-quarter revenue "
                                          "(reported quarter only; empty for earlier quarters)"),
        "mdf_incremental_effect": Col("number", "revenue lift caused by MDF, network estimate (`mdf_incrementality`, "
                                                "reported quarter only; empty when a group is too small)"),
        "mdf_incremental_effect_low": Col("number", "lower end of its interval (`mdf.incrementality.confidence`)"),
        "mdf_incremental_effect_high": Col("number", "upper end of its interval"),
        "activation_km_partners": Col("number", "partners onboarded from the first day of the data to the "
                                                 "quarter's end: the activation curve's sample"),
        "activation_share_90d": Col("number", "Kaplan–Meier share of them with a first deal within 90 days of "
                                              "onboarding, seen at the quarter's end (empty: nobody followed "
                                              "that long)"),
        "activation_share_180d": Col("number", "the same within 180 days"),
        "activation_share_365d": Col("number", "the same within 365 days"),
        "activation_median_days": Col("number", "Kaplan–Meier median days from onboarding to the first deal "
                                                "(empty until half of them had one)"),
        "churn_concordance": Col("number", "concordance of the churn model's backtest (`churn_calibration`; "
                                           "reported quarter only; empty without a churn model)"),
    },
    "skipped": {
        "item": Col("text", "a measure key (`docs/kpis.md`), `tiers.<level>.<criterion>`, "
                            "`segmentation.weights.<criterion>`, `benchmarks.peer_groups[…]`, `forecast`, "
                            "`churn` (no churn model) or the input derived"),
        "reason": Col("text", "the input missing (`sales.cost not provided`) and what was done instead"),
    },
    "mdf_incrementality": {
        "scope": Col("text", "`network` (every partner starting MDF) or `activity_type` (those whose first MDF "
                             "quarter included that type)"),
        "activity_type": Col("text", "the activity type (empty for the network)"),
        "mdf_incremental_effect": Col("number", "revenue lift caused by MDF: `exp(log_effect) − 1` (0.25 = +25 %); "
                                                "empty without an estimate (see `status`)"),
        "mdf_incremental_effect_low": Col("number", "lower end of its interval (`mdf.incrementality.confidence`)"),
        "mdf_incremental_effect_high": Col("number", "upper end of its interval"),
        "log_effect": Col("number", "difference-in-differences of log quarterly revenue (β of the OLS)"),
        "std_error": Col("number", "standard error of `log_effect`, clustered by partner"),
        "p_value": Col("number", "two-sided p-value of `log_effect` = 0 (t distribution)"),
        "n_treated": Col("integer", "partners starting MDF in the comparison (matched to a control)"),
        "n_controls": Col("integer", "matched partners without MDF in the comparison"),
        "n_strata": Col("integer", "matching cells (event quarter × match attributes × size band) compared"),
        "status": Col("text", "`ok`, `too_few_treated` (`n_treated` < `mdf.incrementality.min_treated`) or "
                              "`too_few_controls` (`n_controls` < `mdf.incrementality.min_controls`), `no_spread` (every "
                              "difference alike: no interval)"),
    },
    "forecast": {
        "partner_id": Col("text", "the partner"),
        "period": Col("text", "the quarter forecast (the one after the reported quarter)"),
        "forecast": Col("number", "forecast revenue (empty: not enough history, see `method`)"),
        "lower": Col("number", "lower end of the prediction interval (`forecast.interval`)"),
        "upper": Col("number", "upper end of the prediction interval"),
        "method": Col("text", "forecasting method used for the partner; `not_enough_history` below "
                              "`forecast.min_quarters`"),
        "n_history": Col("integer", "quarters of history the forecast used"),
    },
    "backtest": {
        "period": Col("text", "quarter forecast one quarter ahead (rolling origin)"),
        "partners": Col("integer", "partners with a forecast"),
        "no_forecast": Col("integer", "partners with revenue in the quarter and no forecast (new, or too short a "
                                      "history: `forecast.min_quarters`); their revenue counts in `actual`"),
        "actual": Col("number", "Σ actual revenue of every partner"),
        "forecast": Col("number", "Σ forecast revenue (a missing forecast counts as 0)"),
        "network_ape": Col("number", "|Σ actual − Σ forecast| ÷ Σ actual"),
        "mape": Col("number", "mean absolute percentage error over forecast partners with actual > 0"),
        "wape": Col("number", "Σ|actual − forecast| ÷ Σ actual"),
        "coverage": Col("number", "share of the forecast partners' actuals inside the prediction interval"),
    },
    "segments": {
        "partner_id": Col("text", "the partner"),
        "abc_class": Col("text", "ABC class by trailing-four-quarter revenue (`segmentation.abc`)"),
        "score": Col("number", "weighted performance score 0..100 (percentiles of the weighted KPIs)"),
        "performance": Col("text", "performance level: low, medium, high or unknown"),
        "potential": Col("text", "untapped-potential level: low, medium, high or unknown"),
        "action": Col("text", "action agreed for the performance × potential cell"),
    },
    "tier_status": _TIER_STATUS,
    "tier_gap": {
        "partner_id": Col("text", "the partner"),
        "period": Col("text", "the reported quarter"),
        "current_tier": Col("text", "tier held this quarter"),
        "next_tier": Col("text", "the tier above (empty for the top tier)"),
        "criterion": Col("text", "KPI the next tier requires"),
        "required": Col("number", "minimum the next tier requires"),
        "actual": Col("number", "the partner's value (trailing four quarters)"),
        "gap": Col("number", "`max(required − actual, 0)`"),
        "met": Col("true/false", "`actual ≥ required`"),
    },
    "tier_migration": {
        "from_tier": Col("text", "tier in the previous quarter"),
        "to_tier": Col("text", "tier in the reported quarter"),
        "partners": Col("integer", "partners with that pair of tiers (every pair listed, zeros included)"),
    },
    "account_segments": {
        "customer_id": Col("text", "the end-customer account (`sales.customer_id`)"),
        "period": Col("text", "quarter at whose end the account is assessed"),
        "value": Col("number", "the account's revenue through every partner in the trailing four quarters"),
        "potential": Col("number", "the account's annual potential (`accounts.potential`; empty: unknown)"),
        "partner_id": Col("text", "serving partner: the most trailing-four-quarter revenue from the account "
                                  "(ties: smallest id; a quarter without revenue keeps the last one)"),
        "qualifying_segment": Col("text", "highest segment whose minimums the account meets this quarter"),
        "previous_segment": Col("text", "official segment before this quarter's decision (empty: new account)"),
        "segment": Col("text", "official segment after the anti-flapping rules (`accounts.promote_after`, "
                               "`accounts.relegate_after`)"),
        "change": Col("text", "`new`, `unchanged`, `promoted` or `relegated`"),
        "coverage": Col("text", "coverage model of `segment` (`accounts.segments`)"),
        "previous_coverage": Col("text", "coverage model of `previous_segment`"),
    },
    "account_moves": {
        "customer_id": Col("text", "the account"),
        "name": Col("text", "account name (`accounts.name`; empty when not provided)"),
        "period": Col("text", "the reported quarter"),
        "partner_id": Col("text", "the account's serving partner, who hands it over, receives it or keeps it"),
        "change": Col("text", "`promoted` or `relegated`"),
        "from_segment": Col("text", "official segment last quarter"),
        "to_segment": Col("text", "official segment this quarter"),
        "from_coverage": Col("text", "coverage model last quarter"),
        "to_coverage": Col("text", "coverage model this quarter"),
        "action": Col("text", "what the serving partner does: `hand_over` (to the manufacturer's coverage), "
                              "`receive` (from it), `change_coverage` (another partner-run model) or `no_change`"),
        "value": Col("number", "trailing-four-quarter revenue of the account"),
        "potential": Col("number", "annual potential of the account (empty: unknown)"),
    },
    "account_migration": {
        "period": Col("text", "the reported quarter"),
        "from_segment": Col("text", "official segment last quarter"),
        "to_segment": Col("text", "official segment this quarter"),
        "accounts": Col("integer", "accounts with that pair of segments (every pair listed, zeros included; "
                                   "accounts new this quarter are not counted)"),
    },
    "stage_conversion": {
        "from_stage": Col("text", "pipeline stage"),
        "to_stage": Col("text", "the next stage (or Won)"),
        "reached_from": Col("integer", "deals that reached `from_stage`"),
        "reached_to": Col("integer", "of which reached `to_stage`"),
        "conversion_rate": Col("number", "`reached_to ÷ reached_from`"),
    },
    "monthly_revenue": {
        "partner_id": Col("text", "the partner"),
        "month": Col("date", "first day of the month"),
        "revenue": Col("number", "revenue of the month"),
        "gross_margin": Col("number", "gross margin of the month"),
    },
    "at_risk": AT_RISK,
    "churn_risk": {
        "partner_id": Col("text", "the partner (every partner active at `as_of` with a KPI row of the quarter)"),
        "period": Col("text", "the reported quarter, whose KPIs the risk is predicted from"),
        "churn_risk": Col("number", "probability that the partner's contract ends within the next quarter "
                                    "(`1 − exp(−H̄·exp(linear_predictor))`, docs/methods.md)"),
        "churn_rank": Col("integer", "rank of `churn_risk`, 1 = the highest (ties by partner id)"),
        "linear_predictor": Col("number", "`Σ coef × z` of the partner's standardized covariates (0 = the "
                                          "network's average partner)"),
        "drivers": Col("text", "up to `churn.drivers` covariates adding most to the risk (`coef × z > 0`), "
                               "largest first, each `<covariate>:low` or `:high` (value below or above the "
                               "mean), separated by `; `"),
    },
    "churn_model": {
        "covariate": Col("text", "`<measure>_<window>` of the KPI table of the quarter before (`churn.covariates`)"),
        "coef": Col("number", "Cox coefficient per standard deviation of the (transformed) covariate"),
        "hazard_ratio": Col("number", "`exp(coef)`: change of the churn hazard per standard deviation"),
        "ci_low": Col("number", "lower end of the 95 % interval of `hazard_ratio`"),
        "ci_high": Col("number", "upper end of the 95 % interval of `hazard_ratio`"),
        "p_value": Col("number", "Wald test of `coef = 0`"),
        "mean": Col("number", "mean of the transformed covariate over the panel (its z = 0)"),
        "std": Col("number", "standard deviation of the transformed covariate over the panel"),
    },
    "churn_calibration": {
        "band": Col("integer", "band of the backtest's predicted probability, 1 = lowest (quantiles, `churn.bins`)"),
        "p_low": Col("number", "lowest predicted probability in the band"),
        "p_high": Col("number", "highest predicted probability in the band"),
        "n": Col("integer", "partner-quarters of the backtest in the band"),
        "events": Col("integer", "of which churned within the quarter"),
        "predicted": Col("number", "mean predicted probability of the band"),
        "observed": Col("number", "`events ÷ n`: the churn rate that happened"),
    },
    "time_to_first_deal": {
        "partner_id": Col("text", "the partner"),
        "onboarded_date": Col("date", "onboarding date"),
        "days": Col("number", "days to the first deal, or to the censoring date while none"),
        "first_deal": Col("true/false", "whether a first deal happened (false: `days` is censored)"),
        "onboarded_in_data": Col("true/false", "onboarded on or after the first day of the data "
                                               "(false: the first deal may predate the data; `days` is "
                                               "left-truncated and not used by `kpis.time_to_first_deal_days`)"),
    },
    "activation_curve": {
        "group": Col("text", "`all` (every partner onboarded since the data begin) or an onboarding year "
                             "with at least `kpis.min_sample` such partners"),
        "days": Col("number", "days since onboarding (0, then each day a first deal happened)"),
        "activated_share": Col("number", "Kaplan–Meier share of the group with a first deal within `days` days"),
        "ci_low": Col("number", "lower end of its pointwise 95 % interval"),
        "ci_high": Col("number", "upper end of its pointwise 95 % interval"),
        "at_risk": Col("integer", "partners still without a first deal and followed at least `days` days"),
        "events": Col("integer", "first deals on that day"),
    },
    "tenure_benchmarks": {
        "period": Col("text", "the reported quarter"),
        "window": Col("text", "`quarter`, `ytd` or `t4q`"),
        "tenure_band": Col("text", "the tenure cohort: quarters of partnership (`benchmarks.tenure_bands`; "
                                   "1 = the onboarding quarter)"),
        "metric": Col("text", "a benchmarked measure (`docs/kpis.md`)"),
        "cohort_n": Col("integer", "partners of the cohort with a value"),
        "cohort_median": Col("number", "median of the cohort (empty below `benchmarks.min_peers` partners)"),
        "cohort_p25": Col("number", "first quartile of the cohort"),
        "cohort_p75": Col("number", "third quartile of the cohort"),
        "reason": Col("text", "why the statistics are empty (fewer than `benchmarks.min_peers` partners "
                              "with a value); empty when shown"),
    },
    "partners": {
        "partner_id": Col("text", "the partner"),
        "name": Col("text", "partner name"),
        "locale": Col("text", "language of the partner's scorecard and email (empty: fallback)"),
        "partner_type": Col("text", "partner type"),
        "region": Col("text", "sales region"),
        "country": Col("text", "country code"),
        "status": Col("text", "status at the end of the reported quarter (empty: no KPI row)"),
        "reported": Col("true/false", "whether the partner gets a scorecard this run"),
        "currency": Col("text", "the partner's contract currency: its scorecard and email show amounts in it"),
        "fx_rate": Col("number", "reporting-currency units per unit of `currency` for the reported quarter "
                                 "(1 for the reporting currency; empty when no rate is known)"),
        "account_manager": Col("text", "the partner's channel account manager (`report.account_managers`)",
                               optional=True),
    },
    "recipients": {
        "partner_id": Col("text", "the (reported) partner"),
        "email": Col("text", "contact's email address"),
        "name": Col("text", "contact's name"),
        "receives_scorecard": Col("true/false", "whether the contact is sent the scorecard"),
    },
    "ratings": {
        "partner_id": Col("text", "the partner"),
        "criterion": Col("text", "the criterion rated (`programme.rating_criteria`)"),
        "period": Col("text", "the quarter of the partner's latest rating on it, up to the reported quarter"),
        "score": Col("number", "mean score over that quarter's raters (`programme.rating_scale`); the score's "
                               "`rating_<criterion>`"),
        "raters": Col("integer", "raters behind the score"),
    },
    "treatments": {
        "partner_id": Col("text", "the partner"),
        "segment": Col("text", "the segment deciding the treatment (`programme.treatment_by`: ABC class or action)"),
        "treatment": Col("text", "treatment id (`programme.treatment_map`); empty when the segment has none"),
        "treatment_name": Col("text", "the treatment's name (`programme.treatments`)"),
        "treatment_contents": Col("text", "what the partner gets under it"),
    },
    "programme_value": {
        "partner_id": Col("text", "the partner"),
        "period": Col("text", "the reported quarter"),
        "tier": Col("text", "tier held this quarter (as `tier_status.tier`)"),
        **{key: Col("number", measures.get(key).doc) for key in ("rebate_rate", "rebate_earned")},
        "mdf_allocated": Col("number", "MDF allocated in the quarter (`kpis.mdf_allocated`, window quarter)"),
        **{key: Col("number", measures.get(key).doc) for key in ("benefits_value", "programme_value")},
        "next_tier": Col("text", "the tier above (empty for the top tier)"),
        "next_tier_value": Col("number", "`programme_value` at the next tier with the same results"),
        "next_tier_extra_value": Col("number", measures.get("next_tier_extra_value").doc),
    },
}

#: What each table is, one sentence (for docs/exports.md).
PURPOSE = {
    "kpis": "One row per partner × period × window: every KPI (definitions in `docs/kpis.md`).",
    "targets": "Target attainment: one row per partner × quarter × metric with a target.",
    "network": "Network-level KPIs, one row per quarter of the history.",
    "skipped": "What the data did not allow, and why: one row per KPI not available (its inputs are absent), "
               "tier criterion, segmentation weight or peer grouping skipped, and input derived "
               "(`partners.onboarded_date` from first activity). Empty when the data has everything.",
    "mdf_incrementality": "Did MDF move sales? Difference-in-differences of the revenue of partners starting MDF "
                          "against matched partners without, for the network and per activity type "
                          "(`docs/methods.md`). Empty without `mdf`.",
    "forecast": "Next-quarter revenue forecast, one row per partner.",
    "backtest": "How the forecast would have done in each of the last quarters (absent when the history "
                "is too short).",
    "segments": "Segmentation of every scored partner: ABC class, score, performance × potential cell "
                "and its action.",
    "tier_status": "Tier of every partner this quarter: the tier programme's own status frame when it "
                   "provides one (recorded, qualified and recommended tier), else this quarter's rows of "
                   "the tier history.",
    "tier_gap": "What each partner misses for the next tier, one row per criterion (long form).",
    "tier_migration": "Partners by tier last quarter and this quarter, one row per pair of tiers.",
    "account_segments": "End-customer accounts by quarter: value, potential, serving partner, qualifying "
                        "and official segment, coverage model (absent without `sales.customer_id`).",
    "account_moves": "Accounts promoted or relegated this quarter, with the coverage change and what their "
                     "serving partner does (absent without `sales.customer_id`).",
    "account_migration": "Accounts by official segment last quarter and this quarter, one row per pair of "
                         "segments (absent without `sales.customer_id`).",
    "stage_conversion": "Network conversion from each pipeline stage to the next.",
    "monthly_revenue": "Revenue and gross margin per partner and month.",
    "at_risk": "Partners whose status is `at_risk` this quarter with their key figures and churn risk, highest "
               "churn risk first (without a churn model: largest revenue first).",
    "churn_risk": "Probability of each active partner ending its contract next quarter, from the churn model "
                  "(Cox, docs/methods.md), highest first; empty when no model could be fitted (`skipped` says why).",
    "churn_model": "The churn model's coefficients, one row per covariate it used (empty: no model).",
    "churn_calibration": "Backtest of the churn model: predicted against observed churn by band of predicted "
                         "probability (empty: no held-out quarter had a model).",
    "time_to_first_deal": "Days from onboarding to the first deal per partner (censored while none).",
    "activation_curve": "Activation as a Kaplan–Meier curve: the share of partners onboarded since the data "
                        "begin with a first deal within d days, for the network and by onboarding year "
                        "(docs/statistics.md).",
    "tenure_benchmarks": "Benchmarks by tenure cohort (partners at the same quarter of their partnership): "
                         "cohort aggregates only, no partner.",
    "partners": "The run's snapshot of every partner of the source: who is reported this run.",
    "recipients": "The run's snapshot of the contacts of reported partners (delivery reads it).",
    "ratings": "Qualitative ratings per partner and criterion as of the reported quarter (input `partner_ratings`; "
               "empty without it).",
    "treatments": "The programme treatment of every segmented partner (VIP / develop / maintain by default).",
    "programme_value": "What each partner earned from the programme this quarter (rebate, MDF, tier benefits) and "
                       "what the next tier would add at the same results.",
}


# --------------------------------------------------------------------------------------------
# building the tables
# --------------------------------------------------------------------------------------------

def _rows(kpis: pd.DataFrame, period: str, window: str) -> pd.DataFrame:
    return kpis[(kpis["period"] == period) & (kpis["window"] == window)]


def _network(stats: NetworkStats) -> pd.DataFrame:
    """The network KPIs plus the quarter-on-quarter revenue growth and the reported quarter's Gini."""
    net = stats.network.sort_values("period").reset_index(drop=True)
    prev = net["revenue"].shift(1)
    growth = net["revenue"] / prev.where(prev != 0) - 1
    out = net.copy()
    out.insert(out.columns.get_loc("revenue") + 1, "revenue_growth_prev", growth)
    gini = getattr(stats.concentration, "gini", np.nan)
    out["revenue_gini_t4q"] = np.where(out["period"] == stats.dataset.period, gini, np.nan)
    c = stats.churn.backtest.concordance if stats.churn is not None else np.nan
    out["churn_concordance"] = np.where(out["period"] == stats.dataset.period, c, np.nan)
    return out


def churn_tables(stats: NetworkStats) -> dict[str, pd.DataFrame]:
    """``churn_risk``, ``churn_model`` and ``churn_calibration`` (:mod:`channel_analysis.churn`);
    empty frames with their columns when no churn model was fitted."""
    result = stats.churn
    if result is None:
        empty = {name: pd.DataFrame(columns=list(EXPORTS[name])) for name in ("churn_risk", "churn_model",
                                                                               "churn_calibration")}
        return empty
    return {"churn_risk": result.risk.reset_index(drop=True),
            "churn_model": result.model.coefficients[list(EXPORTS["churn_model"])].reset_index(drop=True),
            "churn_calibration": result.backtest.calibration.reset_index(drop=True)}


def at_risk(stats: NetworkStats, figures: pd.DataFrame, risk: pd.DataFrame) -> pd.DataFrame:
    """The partners at risk (KPI status) with their key figures and churn risk: highest churn risk
    first, then largest revenue (without a churn model the revenue order alone)."""
    d = figures[figures["status"] == "at_risk"].merge(
        risk.reindex(columns=["partner_id", "churn_risk", "churn_rank", "drivers"]), on="partner_id", how="left")
    d["churn_risk"] = d["churn_risk"].astype(float)
    d["churn_rank"] = d["churn_rank"].astype("Int64")
    d["drivers"] = d["drivers"].astype(object)
    d = d.sort_values(["churn_risk", "revenue", "partner_id"], ascending=[False, False, True], na_position="last")
    return d[list(AT_RISK)].reset_index(drop=True)


def segments(stats: NetworkStats) -> pd.DataFrame:
    """[partner_id, abc_class, score, performance, potential, action] of every scored partner."""
    seg = stats.scores[["partner_id", "score"]].merge(
        stats.matrix[["partner_id", "performance", "potential", "action"]], on="partner_id", how="outer").merge(
        stats.concentration.table[["partner_id", "abc_class"]], on="partner_id", how="outer")
    return seg[list(EXPORTS["segments"])].sort_values("partner_id", ignore_index=True)


def tier_status(stats: NetworkStats) -> pd.DataFrame:
    """Every partner's official tier, the tier it qualifies for and the recommended move
    (``tiers.tier_status``)."""
    return stats.tier_status.reset_index(drop=True)


def tier_migration(stats: NetworkStats) -> pd.DataFrame:
    """Official tier (from) × the tier recommended at the next review (to), in long form: the moves a
    programme manager is asked to approve (``tiers.recommendation_matrix``), zeros included."""
    m = tiers.recommendation_matrix(stats.tier_status, stats.params["tiers"]["levels"])
    long = m.stack().rename("partners").reset_index()
    long.columns = ["from_tier", "to_tier", "partners"]
    long["from_tier"] = long["from_tier"].astype(str)
    long["to_tier"] = long["to_tier"].astype(str)
    long["partners"] = long["partners"].astype("int64")
    return long


def account_tables(stats: NetworkStats) -> dict[str, pd.DataFrame]:
    """``account_segments``, ``account_moves``, ``account_migration`` (:mod:`channel_analysis.accounts`);
    none when account coverage was skipped (no ``sales.customer_id``)."""
    cov = stats.account_coverage
    if cov is None:
        return {}
    text = ["qualifying_segment", "previous_segment", "segment"]
    seg = cov.history.assign(**{c: cov.history[c].astype(object) for c in text})
    return {"account_segments": seg[list(EXPORTS["account_segments"])].reset_index(drop=True),
            "account_moves": cov.moves[list(EXPORTS["account_moves"])].reset_index(drop=True),
            "account_migration": cov.migration[list(EXPORTS["account_migration"])].reset_index(drop=True)}


def key_figures(stats: NetworkStats) -> pd.DataFrame:
    """Every reported partner's key figures for the quarter (:data:`KEY_FIGURES`), largest first
    (by trailing-four-quarter revenue)."""
    ds, k = stats.dataset, stats.kpis
    quarter = _rows(k, ds.period, "quarter")
    t4q = _rows(k, ds.period, "t4q")[["partner_id", "revenue"]].rename(columns={"revenue": "revenue_t4q"})
    figures = ["revenue", "revenue_growth_yoy", "gross_margin_pct", "win_rate", "registration_rate",
               "pipeline_weighted", "pipeline_coverage", "csat_mean", "status"]
    info = ds.partners.reindex(columns=["partner_id", "name", "partner_type", "region"])
    status = tier_status(stats)
    tier = status[["partner_id", "tier"]].assign(tier=status["tier"].astype(object)) \
        if "tier" in status else pd.DataFrame(columns=["partner_id", "tier"])
    seg = segments(stats)[["partner_id", "abc_class", "action"]]
    d = (quarter.reindex(columns=["partner_id", *figures]).merge(info, on="partner_id", how="left")
         .merge(t4q, on="partner_id", how="left").merge(tier, on="partner_id", how="left")
         .merge(seg, on="partner_id", how="left"))
    d = d.sort_values(["revenue_t4q", "partner_id"], ascending=[False, True], na_position="last")
    return d[list(KEY_FIGURES)].reset_index(drop=True)


def partners(stats: NetworkStats) -> pd.DataFrame:
    """Every partner of the source with its status this quarter and whether it is reported."""
    ds = stats.dataset
    out = ds.partners.reindex(columns=["partner_id", "name", "locale", "partner_type", "region", "country"])
    status = _rows(stats.kpis, ds.period, "quarter").set_index("partner_id")["status"]
    out["status"] = out["partner_id"].map(status)
    out["reported"] = out["partner_id"].isin(reported_partners(stats)["partner_id"]).astype(bool)
    contract = stats.partner_contract
    out["currency"] = out["partner_id"].map(contract["currency"])
    out["fx_rate"] = out["partner_id"].map(contract["fx_rate"])
    out["account_manager"] = out["partner_id"].map(contract["account_manager"]).astype(object)
    return out.reset_index(drop=True)


def recipients(stats: NetworkStats) -> pd.DataFrame:
    """The contacts of reported partners [partner_id, email, name, receives_scorecard]; empty (with
    those columns) when the source has no partner_contacts."""
    cols = list(EXPORTS["recipients"])
    ds = stats.dataset
    if not ds.has("partner_contacts"):
        return pd.DataFrame({"partner_id": pd.Series(dtype=str), "email": pd.Series(dtype=str),
                             "name": pd.Series(dtype=str), "receives_scorecard": pd.Series(dtype=bool)})
    c = ds.partner_contacts
    c = c[c["partner_id"].isin(reported_partners(stats)["partner_id"])].reindex(columns=cols)
    c["receives_scorecard"] = c["receives_scorecard"].fillna(False).astype(bool)
    return c.sort_values(["partner_id", "email"], ignore_index=True)


def network_tables(stats: NetworkStats) -> dict[str, pd.DataFrame]:
    """Every exported table of a run (names and columns as :data:`EXPORTS`)."""
    figures = key_figures(stats)
    churn = churn_tables(stats)
    tables = {
        "kpis": stats.kpis,
        "targets": stats.targets,
        "network": _network(stats),
        "skipped": stats.skipped.reset_index(drop=True),
        "forecast": stats.forecast,
        "mdf_incrementality": (stats.mdf_incrementality.table if stats.mdf_incrementality is not None
                               else incrementality.empty_table()),
    }
    if hasattr(stats.backtest, "per_quarter"):
        tables["backtest"] = stats.backtest.per_quarter
    tables.update({
        "segments": segments(stats),
        "tier_status": tier_status(stats),
        "tier_gap": stats.tier_gap,
        "tier_migration": tier_migration(stats),
        **account_tables(stats),
        "stage_conversion": stats.stage_conversion,
        "monthly_revenue": stats.monthly,
        "at_risk": at_risk(stats, figures, churn["churn_risk"]),
        **churn,
        "time_to_first_deal": stats.time_to_first_deal,
        "activation_curve": stats.activation_curve,
        "tenure_benchmarks": tenure.cohort_table(stats.tenure_benchmarks),
        "partners": partners(stats),
        "recipients": recipients(stats),
        "ratings": stats.ratings.reindex(columns=list(EXPORTS["ratings"])),
        "treatments": stats.treatments.reindex(columns=list(EXPORTS["treatments"])),
        "programme_value": stats.programme_value.reindex(columns=list(EXPORTS["programme_value"])),
    })
    return tables



def network_bundle(stats: NetworkStats, exported: dict[str, pd.DataFrame] | None = None) -> bundle.NetworkBundle:
    """Exactly what the internal network overview shows, one table per block (all partners).

    The exported tables of :func:`channel_analysis.exports.network_tables` the overview shows
    (``network``, ``tier_migration``, ``at_risk``) plus overview-only tables, each already in the
    shape its block formats: ``key_figures`` (every partner, :data:`exports.KEY_FIGURES`), ``pareto``,
    ``mdf_incrementality`` (exported; its design in ``notes["mdf_incrementality"]``),
    ``segment_cells``, ``movements``, ``pipeline_by_segment``, ``mdf_by_tier``, ``cycle_curves`` and
    ``cohorts``. The overview recomputes nothing.
    """
    ds = stats.dataset
    exported = network_tables(stats) if exported is None else exported
    names = ds.partners[["partner_id", "name"]]
    figures = key_figures(stats)

    quarter = stats.kpis[(stats.kpis["period"] == ds.period) & (stats.kpis["window"] == "quarter")]
    # (partners.partner_type is optional: without it there is no segment to group by)
    types = ds.partners.reindex(columns=["partner_id", "partner_type"])
    table = quarter.merge(types, on="partner_id", how="left").merge(
        figures[["partner_id", "tier"]], on="partner_id", how="left")
    order = {lvl["name"]: i for i, lvl in enumerate(stats.params["tiers"]["levels"])}
    mdf_by_tier = table.groupby("tier", observed=True).agg(
        partners=("partner_id", "size"), mdf_allocated=("mdf_allocated", "sum"),
        mdf_claimed=("mdf_claimed", "sum"), mdf_attributed_revenue=("mdf_attributed_revenue", "sum")).reset_index()
    mdf_by_tier["mdf_utilization"] = mdf_by_tier["mdf_claimed"] / mdf_by_tier["mdf_allocated"].where(mdf_by_tier["mdf_allocated"] > 0)
    mdf_by_tier["mdf_return"] = mdf_by_tier["mdf_attributed_revenue"] / mdf_by_tier["mdf_claimed"].where(mdf_by_tier["mdf_claimed"] > 0)
    mdf_by_tier = mdf_by_tier.iloc[np.argsort(mdf_by_tier["tier"].map(order).fillna(len(order)).to_numpy(),
                                              kind="stable")].reset_index(drop=True)
    pipeline_by_segment = table.groupby("partner_type", observed=True).agg(
        partners=("partner_id", "size"), open_deals=("pipeline_open_n", "sum"),
        pipeline_open=("pipeline_open_amount", "sum"), pipeline_weighted=("pipeline_weighted", "sum"),
        stale_deals=("stale_deals_n", "sum"), revenue=("revenue", "sum")).reset_index()
    pipeline_by_segment["weighted_to_revenue"] = (
        pipeline_by_segment["pipeline_weighted"] / pipeline_by_segment["revenue"].where(pipeline_by_segment["revenue"] != 0))
    pipeline_by_segment = pipeline_by_segment.sort_values("pipeline_open", ascending=False, ignore_index=True)

    segment_of = types.set_index("partner_id")["partner_type"]
    durations = stats.durations.assign(segment=stats.durations["partner_id"].map(segment_of)).dropna(
        subset=["segment"])  # (partners without a partner_type are in no segment's curve)
    tables = {
        "network": exported["network"],
        "pareto": stats.concentration.table,
        "segment_cells": _segment_cells(exported["segments"], names),
        "tier_migration": exported["tier_migration"],
        "movements": stats.tier_status[stats.tier_status["recommendation"] != "hold"].merge(
            names, on="partner_id", how="left"),
        "pipeline_by_segment": pipeline_by_segment,
        "cycle_curves": salescycle.km_curve(durations, by="segment") if len(durations) else pd.DataFrame(),
        "cohorts": stats.retention.cohorts,
        "mdf_by_tier": mdf_by_tier,
        "mdf_incrementality": exported["mdf_incrementality"],
        "at_risk": exported["at_risk"],
        "churn_calibration": exported["churn_calibration"],
        "key_figures": figures,
        "partners": exported["partners"],
        "skipped": exported["skipped"],
        **_account_overview(stats, exported),
        **_programme_tables(stats, exported, names),
        "activation_curve": exported["activation_curve"],
    }
    notes = dict(stats.notes)
    if stats.mdf_incrementality is not None:  # the design the overview states (minimum group sizes)
        notes["mdf_incrementality"] = stats.mdf_incrementality.settings.to_dict()
    if stats.account_coverage is not None:  # how many account moves the overview lists
        notes["account_overview_moves"] = stats.account_coverage.settings.overview_moves
    return bundle.NetworkBundle(period=ds.period, as_of=ds.as_of, reporting_currency=ds.reporting_currency,
                                tables=tables, notes=notes)


def _account_overview(stats: NetworkStats, exported: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The overview's account-coverage tables: ``account_migration`` and ``account_moves`` (exported)
    and ``account_coverage``: accounts and their value per official segment of the reported quarter
    [segment, coverage, accounts, value], segments in order. None without account coverage."""
    if stats.account_coverage is None or "account_segments" not in exported:
        return {}
    seg = exported["account_segments"]
    now = seg[seg["period"] == stats.dataset.period]
    order = list(stats.account_coverage.settings.names)
    cover = {s.name: s.coverage for s in stats.account_coverage.settings.segments}
    counts = now.groupby("segment").agg(accounts=("customer_id", "size"), value=("value", "sum"))
    counts = counts.reindex(order).fillna({"accounts": 0, "value": 0.0})
    table = pd.DataFrame({"segment": order, "coverage": [cover[s] for s in order],
                          "accounts": counts["accounts"].astype("int64").to_numpy(),
                          "value": counts["value"].to_numpy(dtype=float)})
    return {"account_coverage": table, "account_migration": exported["account_migration"],
            "account_moves": exported["account_moves"]}
def _programme_tables(stats: NetworkStats, exported: dict[str, pd.DataFrame], names: pd.DataFrame) -> dict:
    """The overview's treatment section: ``treatment_counts`` (partners per treatment, programme.
    treatment_counts), ``treatment_partners`` (reported partners with their treatment and
    programme value, largest programme value first) and ``programme_totals`` (one row: the totals of
    the exported ``programme_value`` table, programme.network_totals)."""
    settings = stats.programme_settings
    reported = reported_partners(stats)["partner_id"].astype(str)
    treated = exported["treatments"][exported["treatments"]["partner_id"].isin(reported)]
    value = exported["programme_value"][["partner_id", "programme_value", "next_tier_extra_value"]]
    partners_ = (treated.merge(names.assign(partner_id=names["partner_id"].astype(str)), on="partner_id", how="left")
                 .merge(value, on="partner_id", how="left")
                 .sort_values(["programme_value", "partner_id"], ascending=[False, True], na_position="last",
                              ignore_index=True))
    totals = pd.DataFrame([programme.network_totals(exported["programme_value"])])
    return {"treatment_counts": programme.treatment_counts(treated, settings), "treatment_partners": partners_,
            "programme_totals": totals}


def _segment_cells(segments: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """One row per performance × potential cell that has partners: [performance, potential, action,
    partners (count), names (the partners' names, alphabetical, separated by "; ")]; high performance
    first, then potential low → high, unknown levels last."""
    levels = {"high": 0, "medium": 1, "low": 2}
    d = segments.merge(names, on="partner_id", how="left")
    d["name"] = d["name"].fillna(d["partner_id"]).astype(str)
    d["performance"] = d["performance"].fillna("unknown").astype(str)
    d["potential"] = d["potential"].fillna("unknown").astype(str)
    cells = (d.sort_values("name").groupby(["performance", "potential"], as_index=False, sort=False)
             .agg(action=("action", "first"), partners=("partner_id", "size"), names=("name", "; ".join)))
    rank = cells["performance"].map(levels).fillna(3) * 10 + cells["potential"].map(
        {"low": 0, "medium": 1, "high": 2}).fillna(3)
    return cells.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def write_exports(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write every table as Parquet and CSV into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    written: list[Path] = []
    for fmt in ("parquet", "csv"):
        write_tables(tables, out, fmt, keep_other_format=True)
        written += [out / f"{name}.{fmt}" for name in tables]
    return written


# --------------------------------------------------------------------------------------------
# docs/exports.md
# --------------------------------------------------------------------------------------------

_INTRO = """\
# Exported tables

<!-- Generated from channel_analysis/exports.py by `channel-analysis docs`; do not edit by hand. -->

Every quarterly run (`make reports`, or `make kpis` alone) writes these {n} tables to
`reports/<period>/{subdir}/`, each as `<table>.parquet` and `<table>.csv` (UTF-8, comma-separated,
header row, dates `YYYY-MM-DD`, empty cell = missing). The network overview shows the same numbers:
it reads these frames, never its own recomputation. Money is in the run's reporting currency, rates
are fractions (0.25 = 25 %). Internal: the tables name partners and their contacts; never send them
to a partner.

Types: text, number (decimal; empty when unavailable), integer, true/false, date.
"""


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def render_doc() -> str:
    """The Markdown text of ``docs/exports.md``: one section per table, one row per column."""
    parts = [_INTRO.format(n=len(EXPORTS), subdir=SUBDIR).rstrip()]
    for name, columns in EXPORTS.items():
        lines = [f"## `{name}`", "", PURPOSE[name], "", "| column | type | meaning |", "|---|---|---|"]
        for col, decl in columns.items():
            meaning = decl.meaning + (" (not always present)" if decl.optional else "")
            lines.append(f"| `{col}` | {decl.type} | {_cell(meaning)} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def write_doc(path: str | Path = DEFAULT_DOC_PATH) -> Path:
    """Write :func:`render_doc` to ``path`` (default ``docs/exports.md``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_doc(), encoding="utf-8", newline="\n")
    return path
