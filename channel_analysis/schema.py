"""The partner data model: one pandera ``DataFrameModel`` per input table.

This module is the single source of truth for table and column names, types, which columns are
required, and what each means (``docs/data-model.md`` is generated from it: ``channel-analysis
docs``). Each field's ``metadata`` carries an ``example`` and the KPIs that use it (``kpis``).

Conventions
- IDs are strings (leading zeros survive); dates are day precision (``datetime64``).
- Money columns are in the row's ``currency`` (or the partner's currency when the column is absent
  or empty) and are converted to the reporting currency with ``fx_rates``.
- Period columns hold quarter labels like ``2026Q3`` (see :mod:`channel_analysis.periods`).
- A column marked optional may be absent from the file (it then stays absent from the validated
  frame and the KPIs that need it are not available); a nullable one may also be empty in a row.
- Required input is what a CRM has: ``partners`` (``partner_id``, ``name``) and at least one of
  :data:`ACTIVITY_TABLES`.

Cross-table rules (unknown partners, closed before created, ...) live in
:mod:`channel_analysis.validation`; statistics rely on what is guaranteed here and do not re-check.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from . import measures

QUARTER = r"^\d{4}Q[1-4]$"
EMAIL = r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}$"

PARTNER_TYPES = ["distributor", "reseller", "dealer", "franchise", "integrator", "agent", "other"]
SALES_CHANNELS = ["sell_in", "sell_through"]
OUTCOMES = ["open", "won", "lost"]
LEAD_STATUSES = ["assigned", "accepted", "rejected", "converted", "expired"]
TARGET_METRICS = list(measures.TARGET_METRICS)  # the measure catalog's targetable measures
COST_TYPES = ["recruiting", "onboarding", "training", "enablement", "other"]


def F(description: str, example, kpis: tuple[str, ...] = (), **checks) -> pa.Field:
    """A documented field: description, example value and the KPIs that use the column."""
    return pa.Field(
        description=description,
        metadata={"example": example, "kpis": list(kpis)},
        **checks,
    )


class _Table(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = False  # extra columns are reported as warnings by validation, then dropped


class Partners(_Table):
    """One row per partner (PRM / CRM account master)."""

    partner_id: Series[str] = F("Partner identifier, unique.", "P0042", ("all",), unique=True)
    name: Series[str] = F("Partner's trading name, shown only in its own report.", "Nordlicht GmbH",
                          str_length={"min_value": 1})
    partner_type: Optional[Series[str]] = F("distributor, reseller, dealer, franchise, integrator, agent or other.",
                                            "reseller", ("peer groups",), nullable=True, isin=PARTNER_TYPES)
    region: Optional[Series[str]] = F("Sales region of the partner.", "DACH", ("peer groups",), nullable=True)
    country: Optional[Series[str]] = F("ISO 3166-1 alpha-2 country code.", "DE", nullable=True,
                                       str_matches=r"^[A-Z]{2}$")
    locale: Optional[Series[str]] = F("Language of the partner's report and email (fr, pl_PL, en_GB).",
                                      "de_DE", nullable=True, str_matches=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
    currency: Optional[Series[str]] = F("ISO 4217 currency the partner reports in; absent or empty: the "
                                        "reporting currency.", "EUR", nullable=True, str_matches=r"^[A-Z]{3}$")
    onboarded_date: Optional[Series[pd.Timestamp]] = F(
        "Date the partner agreement started; absent or empty: derived as the partner's first activity "
        "(first sale, deal created or lead assigned), and the run says so.", "2023-02-15",
        ("tenure", "activation", "time_to_first_deal", "retention"), nullable=True)
    end_date: Optional[Series[pd.Timestamp]] = F("Date the partner churned or was terminated; empty while active.",
                                                 "2026-05-31", ("status", "retention", "churn_rate"), nullable=True)
    sales_reps: Optional[Series[pd.Int64Dtype]] = F("Number of the partner's sales reps selling our products.",
                                                    "4", ("revenue_per_rep",), nullable=True, ge=0)
    tier: Optional[Series[str]] = F("Current program tier as recorded in the PRM.", "Gold",
                                    ("tier migration",), nullable=True)
    parent_id: Optional[Series[str]] = F("Partner id of the group this partner belongs to.", "P0007",
                                         nullable=True)


class PartnerContacts(_Table):
    """People at the partner; those flagged receive the scorecard email."""

    partner_id: Series[str] = F("Partner the contact works for.", "P0042")
    name: Series[str] = F("Contact's full name.", "Anna Schmidt")
    email: Series[str] = F("Email address.", "anna.schmidt@nordlicht.example", str_matches=EMAIL)
    role: Optional[Series[str]] = F("Role, e.g. owner, sales manager, marketing.", "sales manager",
                                    nullable=True)
    receives_scorecard: Series[bool] = F("True if this contact receives the quarterly scorecard.", "true")


class Sales(_Table):
    """One row per invoice line (sell-in, ERP) or point-of-sale line (sell-through, partner POS)."""

    line_id: Series[str] = F("Line identifier, unique.", "INV-2026-000123-1", unique=True)
    date: Series[pd.Timestamp] = F("Invoice / sale date.", "2026-08-14", ("revenue", "customers"))
    partner_id: Series[str] = F("Selling partner.", "P0042", ("all",))
    customer_id: Optional[Series[str]] = F("End customer identifier (as known to the partner); absent: the "
                                           "customer KPIs are not available.", "C-88121",
                                           ("active/new/lost customers", "cross_sell_rate", "upsell_rate"))
    product_id: Optional[Series[str]] = F("Product (SKU).", "SKU-4410")
    category: Optional[Series[str]] = F("Product category; absent: no product mix, cross-sell not available.",
                                        "Controllers", ("product mix", "cross_sell_rate"))
    quantity: Series[int] = F("Units sold.", "3", ("registration_rate",), ge=0)
    revenue: Series[float] = F("Net revenue of the line, in `currency`.", "1250.00",
                               ("revenue", "growth", "share_of_wallet", "forecast"), ge=0)
    cost: Optional[Series[float]] = F("Cost of goods of the line, in `currency`.", "830.00",
                                      ("gross_margin", "gross_margin_pct"), nullable=True, ge=0)
    currency: Optional[Series[str]] = F("ISO 4217 currency of revenue and cost; empty: the partner's currency.",
                                        "EUR", nullable=True, str_matches=r"^[A-Z]{3}$")
    registered_units: Optional[Series[int]] = F(
        "Units of the line registered by the end customer (warranty/product registration); absent: "
        "the registration KPIs are not available.", "2", ("registration_rate",), ge=0)
    registered_date: Optional[Series[pd.Timestamp]] = F("Date the (last) unit was registered.", "2026-08-20",
                                                        ("registration_lag_days",), nullable=True)
    channel: Optional[Series[str]] = F("sell_in (manufacturer → partner) or sell_through (partner → end "
                                       "customer); absent: every line counts as sell_through for registration.",
                                       "sell_through", ("registration_rate",), isin=SALES_CHANNELS)


class Opportunities(_Table):
    """Registered deals (CRM deal registration)."""

    opportunity_id: Series[str] = F("Deal identifier, unique.", "O-2026-0913", unique=True)
    partner_id: Series[str] = F("Partner working the deal.", "P0042", ("pipeline", "win_rate", "sales cycle"))
    customer_id: Optional[Series[str]] = F("End customer of the deal.", "C-88121", nullable=True)
    created_date: Series[pd.Timestamp] = F("Date the deal was registered.", "2026-04-02",
                                           ("sales_cycle_median_days", "pipeline age"))
    stage: Series[str] = F("Current stage (an open stage from params pipeline.stages, or Won / Lost).",
                           "Propose", ("pipeline by stage", "P(win | stage)"))
    amount: Optional[Series[float]] = F("Expected (open) or final (closed) deal value, in `currency`; may be "
                                        "empty for open and lost deals, required for won ones.", "48000",
                                        ("pipeline", "deal size", "velocity"), nullable=True, ge=0)
    currency: Optional[Series[str]] = F("ISO 4217 currency of amount; empty: the partner's currency.", "EUR",
                                        nullable=True, str_matches=r"^[A-Z]{3}$")
    expected_close_date: Optional[Series[pd.Timestamp]] = F("Expected close date of an open deal.", "2026-11-30",
                                                            ("stale deals", "pipeline coverage"), nullable=True)
    closed_date: Optional[Series[pd.Timestamp]] = F("Date the deal was won or lost; empty while open.", "2026-09-18",
                                                    ("win_rate", "sales cycle"), nullable=True)
    outcome: Series[str] = F("open, won or lost.", "won", ("win_rate", "sales cycle"), isin=OUTCOMES)


class OpportunityStages(_Table):
    """Optional stage history: one row each time a deal entered a stage."""

    opportunity_id: Series[str] = F("Deal.", "O-2026-0913", ("stage conversion",))
    stage: Series[str] = F("Stage entered.", "Develop", ("stage conversion",))
    entered_date: Series[pd.Timestamp] = F("Date the deal entered the stage.", "2026-05-10", ("stage conversion",))


class Leads(_Table):
    """Leads the manufacturer passed to partners."""

    lead_id: Series[str] = F("Lead identifier, unique.", "L-77120", unique=True)
    partner_id: Series[str] = F("Partner the lead was assigned to; empty: not assigned to a partner (counted "
                                "in the network funnel only).", "P0042", ("leads",), nullable=True)
    assigned_date: Series[pd.Timestamp] = F("Date the lead was assigned.", "2026-07-01", ("leads_received",))
    accepted_date: Optional[Series[pd.Timestamp]] = F("Date the partner accepted it; empty if not (yet).",
                                                      "2026-07-03", ("lead_accept_rate", "lead_accept_days_median"),
                                                      nullable=True)
    status: Series[str] = F("assigned, accepted, rejected, converted or expired.", "converted",
                            ("lead_accept_rate", "lead_conversion_rate"), isin=LEAD_STATUSES)
    opportunity_id: Optional[Series[str]] = F("Deal the lead became, if any.", "O-2026-0913",
                                              ("lead_conversion_rate",), nullable=True)


class Targets(_Table):
    """Commitments agreed with each partner, per quarter and metric (joint business plan)."""

    partner_id: Series[str] = F("Partner.", "P0042", ("target attainment",))
    period: Series[str] = F("Quarter label.", "2026Q3", ("target attainment",), str_matches=QUARTER)
    metric: Series[str] = F("revenue, gross_margin, new_customers, registration_rate, certified_reps, "
                            "pipeline, win_rate or csat.", "revenue", ("target attainment",), isin=TARGET_METRICS)
    target: Series[float] = F("Agreed value (money in the reporting currency, rates as 0..1).", "250000",
                              ("target attainment",), ge=0)

    @pa.dataframe_check(description="one target per partner, period and metric")
    def unique_target(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["partner_id", "period", "metric"], keep=False)


class Mdf(_Table):
    """Market development funds: one row per funded activity."""

    activity_id: Series[str] = F("MDF activity / claim identifier, unique.", "MDF-2026-118", unique=True)
    partner_id: Series[str] = F("Partner.", "P0042", ("mdf",))
    period: Series[str] = F("Quarter the funds belong to.", "2026Q3", ("mdf",), str_matches=QUARTER)
    activity_type: Series[str] = F("Event, digital campaign, demo equipment, training, ...", "event")
    allocated: Series[float] = F("Funds allocated to the partner for the activity.", "10000",
                                 ("mdf_allocated", "mdf_utilization"), ge=0)
    requested: Series[float] = F("Funds the partner requested.", "9000", ge=0)
    approved: Series[float] = F("Funds approved.", "8000", ge=0)
    claimed: Series[float] = F("Funds claimed / spent with proof of performance.", "7600",
                               ("mdf_claimed", "mdf_utilization", "mdf_return"), ge=0)
    attributed_revenue: Optional[Series[float]] = F("Revenue attributed to the activity.", "61000",
                                                    ("mdf_return",), nullable=True, ge=0)
    currency: Optional[Series[str]] = F("ISO 4217 currency of the amounts; empty: the reporting currency.",
                                        "EUR", nullable=True, str_matches=r"^[A-Z]{3}$")


class Trainings(_Table):
    """Training completions and certifications of partner staff."""

    partner_id: Series[str] = F("Partner.", "P0042", ("certified_reps", "trainings_completed"))
    person_id: Series[str] = F("Person (rep) identifier at the partner.", "P0042-R03", ("certified_reps",))
    course: Series[str] = F("Course or certification name.", "Controllers Sales Professional")
    completed_date: Series[pd.Timestamp] = F("Completion date.", "2026-03-12", ("trainings_completed",))
    certification: Series[bool] = F("True if the course grants a certification.", "true", ("certified_reps",))
    expires_date: Optional[Series[pd.Timestamp]] = F("Certification expiry; empty: does not expire.",
                                                     "2028-03-12", ("certified_reps",), nullable=True)


class Surveys(_Table):
    """End-customer satisfaction responses about the partner."""

    response_id: Series[str] = F("Response identifier, unique.", "S-19920", unique=True)
    partner_id: Series[str] = F("Partner the response is about.", "P0042", ("csat", "nps"))
    date: Series[pd.Timestamp] = F("Response date.", "2026-08-30", ("csat", "nps"))
    csat: Optional[Series[float]] = F("Satisfaction 1 (very dissatisfied) .. 5 (very satisfied).", "4",
                                      ("csat_mean",), nullable=True, ge=1, le=5)
    nps: Optional[Series[pd.Int64Dtype]] = F("Likelihood to recommend 0..10.", "9", ("nps",), nullable=True,
                                             ge=0, le=10)


class Potential(_Table):
    """Partner's addressable revenue per quarter (its total business or market potential)."""

    partner_id: Series[str] = F("Partner.", "P0042", ("share_of_wallet",))
    period: Series[str] = F("Quarter label.", "2026Q3", ("share_of_wallet",), str_matches=QUARTER)
    potential: Series[float] = F("Potential revenue in the reporting currency.", "900000",
                                 ("share_of_wallet", "performance x potential"), ge=0)


class ProgramCosts(_Table):
    """What the manufacturer spent to recruit, onboard and train each partner."""

    partner_id: Series[str] = F("Partner.", "P0042", ("cost_per_activated_partner", "channel_return"))
    date: Series[pd.Timestamp] = F("Date of the cost.", "2025-11-03", ("cost_per_activated_partner",))
    cost_type: Series[str] = F("recruiting, onboarding, training, enablement or other.", "onboarding",
                               isin=COST_TYPES)
    amount: Series[float] = F("Cost in the reporting currency.", "2500", ("cost_per_activated_partner",), ge=0)


class FxRates(_Table):
    """Average rate per currency and quarter: reporting-currency units for one unit of `currency`."""

    currency: Series[str] = F("ISO 4217 currency.", "PLN", str_matches=r"^[A-Z]{3}$")
    period: Series[str] = F("Quarter label.", "2026Q3", str_matches=QUARTER)
    rate: Series[float] = F("Reporting-currency units per unit of `currency`.", "0.2341", gt=0)

    @pa.dataframe_check(description="one rate per currency and period")
    def unique_rate(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["currency", "period"], keep=False)


class Accounts(_Table):
    """End-customer accounts buying through the network (CRM account master); optional: without it
    accounts are segmented on value only (account coverage, docs/methods.md)."""

    customer_id: Series[str] = F("End customer identifier, unique; as `sales.customer_id`.", "C-88121",
                                 ("account coverage",), unique=True)
    name: Optional[Series[str]] = F("Account name, shown to the partner that serves it and on the overview.",
                                    "Brauerei Kessler AG", nullable=True)
    industry: Optional[Series[str]] = F("Industry of the account.", "Food & beverage", nullable=True)
    employees: Optional[Series[pd.Int64Dtype]] = F("Number of employees of the account.", "420", nullable=True,
                                                   ge=0)
    potential: Optional[Series[float]] = F("Annual addressable revenue of the account for our products, in the "
                                           "reporting currency; empty: unknown (its segment's potential minimum "
                                           "is not met).", "250000", ("account segments",), nullable=True, ge=0)
    coverage: Optional[Series[str]] = F("Coverage model recorded in the CRM (a model of params "
                                        "accounts.coverage_models).", "partner_managed", nullable=True)


class PartnerRatings(_Table):
    """Qualitative ratings of partners by the channel team (brand image, willingness, ...): one row
    per partner, period, criterion and rater. Criteria are those of ``programme.rating_criteria``,
    scores on the scale ``programme.rating_scale`` (both checked by validation)."""

    partner_id: Series[str] = F("Partner rated.", "P0042", ("rating_<criterion>", "weighted score"))
    period: Series[str] = F("Quarter the rating was given in; a partner's latest rated quarter up to the "
                            "reported one counts.", "2026Q3", ("rating_<criterion>",), str_matches=QUARTER)
    criterion: Series[str] = F("What is rated: one of programme.rating_criteria (brand_image, willingness, "
                               "sector_potential, geography_fit by default).", "brand_image",
                               ("rating_<criterion>",))
    score: Series[float] = F("The rater's score on the scale programme.rating_scale (1..5 by default).", "4",
                             ("rating_<criterion>",))
    rater: Series[str] = F("Who rated (a person or a team); the rating is the mean over raters.", "A. Weber",
                           ("rating_<criterion>",))

    @pa.dataframe_check(description="one score per partner, period, criterion and rater")
    def unique_rating(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["partner_id", "period", "criterion", "rater"], keep=False)


class Rebates(_Table):
    """The rebate schedule of the partner programme: the share of a quarter's revenue paid back to a
    partner of a tier. With thresholds, the row with the highest threshold the quarter's revenue reaches
    applies (to the whole revenue)."""

    tier: Series[str] = F("Tier the rate applies to (a name of tiers.levels).", "Gold",
                          ("rebate_earned", "next_tier_extra_value"))
    rate: Series[float] = F("Rebate as a share of the quarter's revenue (0.03 = 3 %).", "0.03",
                            ("rebate_earned",), ge=0, le=1)
    threshold: Optional[Series[float]] = F("Quarter revenue (reporting currency) from which the rate applies; "
                                           "absent or empty: 0.", "100000", ("rebate_earned",), nullable=True, ge=0)

    @pa.dataframe_check(description="one rate per tier and threshold")
    def unique_rebate(cls, df: pd.DataFrame) -> Series[bool]:
        keys = ["tier", "threshold"] if "threshold" in df.columns else ["tier"]
        return ~df.duplicated(keys, keep=False)


class Benefits(_Table):
    """What a tier of the partner programme gives a partner each quarter besides rebates (sales tools,
    hotline, demo equipment, ...), with its value."""

    tier: Series[str] = F("Tier that receives the benefit (a name of tiers.levels).", "Gold",
                          ("benefits_value", "next_tier_extra_value"))
    benefit: Series[str] = F("The benefit.", "Dedicated hotline", ("benefits_value",))
    value: Series[float] = F("Its value per quarter in the reporting currency.", "1500", ("benefits_value",), ge=0)

    @pa.dataframe_check(description="one row per tier and benefit")
    def unique_benefit(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["tier", "benefit"], keep=False)


#: The activity tables: a source needs at least one of them (besides ``partners``); the KPIs of the
#: others are then not available.
ACTIVITY_TABLES = ("sales", "opportunities", "leads")

#: Text columns with few distinct values, held in memory as pandas categoricals once typed (a
#: 10-million-line ``sales`` table: about 0.45 GB less than one string per line). Their values are
#: unchanged; ``.astype(str)`` gives plain text.
CATEGORICAL: dict[str, tuple[str, ...]] = {"sales": ("product_id", "category", "channel")}

#: Every input table: name → (model, required?). The name is the file / database table name.
TABLES: dict[str, tuple[type[pa.DataFrameModel], bool]] = {
    "partners": (Partners, True),
    "partner_contacts": (PartnerContacts, False),
    "sales": (Sales, False),
    "opportunities": (Opportunities, False),
    "opportunity_stages": (OpportunityStages, False),
    "leads": (Leads, False),
    "targets": (Targets, False),
    "mdf": (Mdf, False),
    "trainings": (Trainings, False),
    "surveys": (Surveys, False),
    "potential": (Potential, False),
    "program_costs": (ProgramCosts, False),
    "fx_rates": (FxRates, False),
    "accounts": (Accounts, False),
    "partner_ratings": (PartnerRatings, False),
    "rebates": (Rebates, False),
    "benefits": (Benefits, False),
}
