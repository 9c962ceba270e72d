"""The measure catalog: every number a page, a table, an email or a doc shows, declared once.

A :class:`Measure` says what a KPI-table (or network-table) column is called, how it is formatted,
which direction is good, whether it is a sampled statistic (with ``<key>_n`` / ``<key>_low_sample``
columns) and has an interval, whether it is benchmarked against peers, which agreed target it
answers, whether the email quotes it, and its one-line definition. Everything else reads this:

- :mod:`~channel_analysis.kpis`: which columns get ``_n``/``_low_sample`` (:data:`SAMPLED`) and
  which column holds a target's actual (:data:`TARGET_ACTUALS`);
- :mod:`~channel_analysis.schema`: which ``targets.metric`` values are valid (:data:`TARGET_METRICS`);
- :mod:`~channel_analysis.build`: which measures are peer-benchmarked (:data:`BENCHMARKED`);
- :mod:`~channel_analysis.scorecard`, :mod:`~channel_analysis.overview` and the email: labels,
  formats, directions (:func:`get`), the headline figures (:data:`HEADLINE`);
- ``docs/kpis.md``: its "Measure catalog" section is generated from here (:func:`catalog_markdown`).

Labels are gettext message ids (translated where shown); :func:`get` raises for an undeclared key,
so a page can never fall back to showing a raw column name. Adding a KPI end to end: one entry
here, its formula in :mod:`~channel_analysis.kpis`, its label in the catalogs, a test
(``docs/architecture.md`` walks through an example).

This module imports nothing heavy: the KPI code, the schema and the email all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .i18n import N_

#: Display formats (:func:`channel_analysis.i18n.format_value` kinds).
KINDS = ("currency", "percent", "integer", "decimal", "days", "ratio", "number")
#: Which way is good: "up" (more is better), "down" (less is better), "none" (neither).
DIRECTIONS = ("up", "down", "none")
#: Tables a measure is a column of (``programme_value``, ``churn_risk``: the exported tables of those
#: names, one row per partner; ``churn_risk`` is internal: never in a partner's bundle).
TABLES = ("kpis", "network", "programme_value", "churn_risk")


@dataclass(frozen=True)
class Measure:
    """One measure (a column of the KPI table or of the network table).

    ``key`` the column; ``label`` the gettext msgid shown to readers; ``kind`` the display format;
    ``direction`` up | down | none; ``doc`` the one-line definition (the full definition is in
    docs/kpis.md); ``sampled``: the table carries ``<key>_n`` and ``<key>_low_sample``;
    ``interval``: it also carries ``<key>_low`` / ``<key>_high`` (95 %); ``benchmark``: shown among
    the peer benchmarks; ``target``: the ``targets.metric`` value whose actual this column holds;
    ``headline``: quoted in the email's headline figures; ``table``: kpis | network | churn_risk; ``needs``: the
    inputs it is computed from, each ``"table"`` or ``"table.column"`` (``"a|b"``: either one) —
    without them the measure is not available (NaN, never 0; see :func:`unavailable`).
    """

    key: str
    label: str
    kind: str
    doc: str
    direction: str = "up"
    sampled: bool = False
    interval: bool = False
    benchmark: bool = False
    target: str | None = None
    headline: bool = False
    table: str = "kpis"
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.direction not in DIRECTIONS or self.table not in TABLES:
            raise ValueError(f"measure {self.key!r}: kind/direction/table must be one of {KINDS}/{DIRECTIONS}/{TABLES}")

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "down"


_M = Measure
_CATALOG: tuple[Measure, ...] = (
    # revenue, growth, margin
    _M("revenue", N_("Revenue"), "currency", "Sum of sales revenue in the window.",
       benchmark=True, target="revenue", headline=True, needs=("sales",)),
    _M("revenue_prev", N_("Revenue, previous period"), "currency",
       "Revenue of the window of the same length just before.", needs=("sales",)),
    _M("revenue_growth_prev", N_("Growth vs previous period"), "percent", "revenue ÷ revenue_prev − 1.",
       needs=("sales",)),
    _M("revenue_yoy", N_("Revenue a year earlier"), "currency", "Revenue of the same window one year earlier.",
       needs=("sales",)),
    _M("revenue_growth_yoy", N_("Growth vs a year earlier"), "percent", "revenue ÷ revenue_yoy − 1.",
       benchmark=True, headline=True, needs=("sales",)),
    _M("gross_margin", N_("Gross margin"), "currency", "Revenue − cost over lines with a known cost.",
       target="gross_margin", needs=("sales.cost",)),
    _M("gross_margin_pct", N_("Gross margin %"), "percent", "gross_margin ÷ revenue of the lines with a known cost.",
       benchmark=True, needs=("sales.cost",)),
    _M("revenue_target_fy", N_("Revenue target of the fiscal year"), "currency",
       "Sum of the fiscal year's quarterly revenue targets (all four agreed).", needs=("targets",)),
    _M("revenue_run_rate_needed", N_("Revenue needed per remaining quarter"), "currency",
       "(Fiscal-year revenue target − revenue so far this year) ÷ quarters left in the year.", direction="down",
       needs=("sales", "targets")),
        _M("units", N_("Units sold"), "integer", "Sum of quantities sold in the window.", needs=("sales",)),
    _M("revenue_per_rep", N_("Revenue per sales rep"), "currency", "revenue ÷ partners.sales_reps.",
       needs=("sales", "partners.sales_reps")),
    _M("potential", N_("Market potential"), "currency", "Sum of the potential of the window's quarters.",
       needs=("potential",)),
    _M("share_of_wallet", N_("Share of wallet"), "percent", "Revenue ÷ potential, quarters with a potential.",
       benchmark=True, needs=("sales", "potential")),
    # end customers
    _M("customers_active", N_("Active customers"), "integer", "Distinct customers who bought in the window.",
       benchmark=True, needs=("sales.customer_id",)),
    _M("customers_new", N_("New customers"), "integer",
       "Active customers buying from the partner for the first time.", target="new_customers",
       needs=("sales.customer_id",)),
    _M("customers_lost", N_("Lost customers"), "integer",
       "Customers who bought in the previous window of the same length and not in this one.", direction="down",
       needs=("sales.customer_id",)),
    _M("cross_sell_rate", N_("Cross-sell rate"), "percent",
       "Active customers buying two or more categories ÷ active customers.", sampled=True, interval=True, benchmark=True,
       needs=("sales.customer_id", "sales.category")),
    _M("upsell_rate", N_("Upsell rate"), "percent",
       "Returning customers who spent more than in the previous window ÷ returning customers.", sampled=True, interval=True,
       needs=("sales.customer_id",)),
    # registration
    _M("registration_rate", N_("Registration rate"), "percent",
       "Registered units ÷ units sold through to end customers.", sampled=True, interval=True, benchmark=True,
       target="registration_rate", headline=True, needs=("sales.registered_units",)),
    _M("registration_lag_days_median", N_("Median days to registration"), "days",
       "Median days from sale to registration.", direction="down", sampled=True,
       needs=("sales.registered_units", "sales.registered_date")),
    # leads
    _M("leads_received", N_("Leads received"), "integer", "Leads assigned in the window.", needs=("leads",)),
    _M("lead_accept_rate", N_("Leads accepted"), "percent", "Accepted leads ÷ decided leads.",
       sampled=True, interval=True, benchmark=True, needs=("leads",)),
    _M("lead_accept_days_median", N_("Median days to accept a lead"), "days",
       "Kaplan–Meier median days from assignment to acceptance, leads not accepted censored at the "
       "window's end (or as_of); empty where fewer than half were accepted.", direction="down", sampled=True,
       needs=("leads.accepted_date",)),
    _M("lead_accept_days_not_reached", N_("Days followed, fewer than half of the leads accepted"), "days",
       "Where the median time to accept is not reached: the longest follow-up of the window's leads (days).",
       direction="none", needs=("leads.accepted_date",)),
    _M("lead_conversion_rate", N_("Leads converted to deals"), "percent", "Converted leads ÷ decided leads.",
       sampled=True, interval=True, needs=("leads",)),
    _M("lead_convert_days_median", N_("Median days to convert a lead"), "days",
       "Kaplan–Meier median days from assignment to the creation of the lead's deal, leads not converted "
       "censored at the window's end (or as_of); empty where fewer than half were converted, or without "
       "the opportunities table.", direction="down", sampled=True,
       needs=("leads.opportunity_id", "opportunities")),
    _M("lead_convert_days_not_reached", N_("Days followed, fewer than half of the leads converted"), "days",
       "Where the median time to convert is not reached: the longest follow-up of the window's leads (days).",
       direction="none", needs=("leads.opportunity_id", "opportunities")),
    # deals
    _M("deals_created", N_("Deals registered"), "integer", "Deals created in the window.",
       needs=("opportunities",)),
    _M("deals_won", N_("Deals won"), "integer", "Deals won (closed) in the window.", needs=("opportunities",)),
    _M("deals_lost", N_("Deals lost"), "integer", "Deals lost (closed) in the window.", direction="down",
       needs=("opportunities",)),
    _M("win_rate", N_("Win rate"), "percent", "Deals won ÷ deals closed in the window.", sampled=True,
       interval=True, target="win_rate", headline=True, needs=("opportunities",)),
    _M("win_rate_shrunk", N_("Win rate (adjusted for few deals)"), "percent",
       "Empirical-Bayes win rate: pulled towards the network's rate when few deals closed.", benchmark=True,
       needs=("opportunities",)),
    _M("deal_size_mean", N_("Average deal size"), "currency", "Won amount ÷ deals won.", sampled=True,
       needs=("opportunities.amount",)),
    _M("deal_size_median", N_("Median deal size"), "currency", "Median amount of the deals won.",
       sampled=True, benchmark=True, needs=("opportunities.amount",)),
    # pipeline and sales cycle
    _M("pipeline_open_n", N_("Open deals"), "integer", "Deals open at the period's snapshot.",
       needs=("opportunities",)),
    _M("pipeline_open", N_("Open pipeline"), "currency", "Amount of the deals open at the snapshot.",
       target="pipeline", needs=("opportunities.amount",)),
    _M("pipeline_open_amount", N_("Open pipeline"), "currency", "Same as pipeline_open (the pipeline module's name).",
       needs=("opportunities.amount",)),
    _M("pipeline_weighted", N_("Weighted pipeline"), "currency",
       "Open amount × the network's chance of winning at each deal's stage.", needs=("opportunities.amount",)),
    _M("stale_deals_n", N_("Stale deals"), "integer",
       "Open deals past their expected close date or open unusually long.", direction="down",
       needs=("opportunities",)),
    _M("next_quarter_revenue_target", N_("Next quarter's revenue target"), "currency",
       "The revenue target agreed for the next quarter.", needs=("targets",)),
    _M("pipeline_coverage", N_("Pipeline coverage"), "percent",
       "Weighted pipeline ÷ next quarter's revenue target.", needs=("opportunities.amount", "targets")),
    _M("pipeline_velocity", N_("Pipeline velocity"), "currency",
       "Open deals × win rate × average deal size ÷ median sales cycle, per quarter.",
       needs=("opportunities.amount",)),
    _M("sales_cycle_median_days", N_("Median sales cycle"), "days",
       "Kaplan–Meier median days to close, deals created in the last four quarters, open deals censored.",
       direction="down", benchmark=True, needs=("opportunities",)),
    _M("sales_cycle_events", N_("Deals closed in the sales-cycle estimate"), "integer",
       "Closed deals behind the median sales cycle.", needs=("opportunities",)),
    # MDF
    _M("mdf_allocated", N_("MDF allocated"), "currency", "Marketing funds allocated in the window.",
       needs=("mdf",)),
    _M("mdf_claimed", N_("MDF claimed"), "currency", "Marketing funds claimed in the window.", needs=("mdf",)),
    _M("mdf_utilization", N_("MDF used"), "percent", "mdf_claimed ÷ mdf_allocated.", benchmark=True,
       needs=("mdf",)),
    _M("mdf_attributed_revenue", N_("Revenue from MDF activities"), "currency",
       "Revenue attributed to MDF activities.", needs=("mdf.attributed_revenue",)),
    _M("mdf_return", N_("Return on MDF"), "ratio", "Attributed revenue ÷ funds claimed for those activities.",
       needs=("mdf.attributed_revenue",)),
    _M("mdf_incremental_effect", N_("Revenue lift from MDF"), "percent",
       "Relative revenue change MDF caused: difference-in-differences of partners starting MDF against "
       "matched partners without (docs/methods.md); the reported quarter's row, whole history.",
       interval=True, table="network", needs=("sales", "mdf")),
    # people
    _M("certified_reps", N_("Certified sales reps"), "integer",
       "People holding a valid certification at the end of the window.", benchmark=True,
       target="certified_reps", needs=("trainings",)),
    _M("trainings_completed", N_("Trainings completed"), "integer", "Trainings completed in the window.",
       needs=("trainings",)),
    # satisfaction
    _M("csat_mean", N_("Customer satisfaction (1–5)"), "decimal", "Mean satisfaction score of survey answers.",
       sampled=True, benchmark=True, target="csat", needs=("surveys.csat",)),
    _M("nps", N_("Net promoter score"), "integer", "100 × (promoters − detractors) ÷ answers.", sampled=True,
       needs=("surveys.nps",)),
    # tenure
    _M("tenure_days", N_("Days in the programme"), "days", "Days from onboarding to the end of the window.",
       direction="none"),
    _M("time_to_first_deal_days", N_("Days to first deal"), "days",
       "Days from onboarding to the first sale or won deal; empty for a partner onboarded before the data begin.",
       direction="down", needs=("sales|opportunities",)),
    _M("tenure_quarter", N_("Quarter of partnership"), "integer",
       "Quarters since onboarding at the window's last quarter: 1 = the quarter the partner was onboarded in.",
       direction="none"),
    # network table
    _M("partners_active_start", N_("Active partners at the start"), "integer",
       "Partners active on the quarter's first day.", table="network"),
    _M("partners_active_end", N_("Active partners"), "integer", "Partners active on the quarter's last day.",
       table="network"),
    _M("partners_onboarded", N_("Partners onboarded"), "integer", "Partners onboarded in the quarter.",
       table="network"),
    _M("partners_churned", N_("Partners lost"), "integer", "Partners whose contract ended in the quarter.",
       direction="down", table="network"),
    _M("retention_rate", N_("Partner retention"), "percent",
       "Partners active at the start and still at the end ÷ active at the start.", sampled=True, table="network"),
    _M("churn_rate", N_("Partner churn"), "percent", "Partners active at the start who ended ÷ active at the start.",
       direction="down", sampled=True, table="network"),
    _M("accounts_promoted", N_("Accounts moved up"), "integer",
       "End-customer accounts promoted to a higher segment in the quarter (account coverage).", direction="none",
       table="network", needs=("sales.customer_id",)),
    _M("accounts_relegated", N_("Accounts moved down"), "integer",
       "End-customer accounts relegated to a lower segment in the quarter (account coverage).", direction="none",
       table="network", needs=("sales.customer_id",)),
    _M("activation_cohort", N_("Partners in the activation cohort"), "integer",
       "Partners onboarded in the last four quarters whose activation period is over.", table="network",
       needs=("sales|opportunities",)),
    _M("partners_activated", N_("Partners activated"), "integer",
       "Cohort partners with a first deal within the activation period.", table="network",
       needs=("sales|opportunities",)),
    _M("activation_rate", N_("Activation rate"), "percent", "partners_activated ÷ activation_cohort: the fixed-window figure (kpis.activation_days).",
       sampled=True, table="network", needs=("sales|opportunities",)),
    _M("activation_km_partners", N_("Partners onboarded since the data begin"), "integer",
       "Partners onboarded from the first day of the data to the quarter's end: the activation curve's sample.",
       direction="none", table="network", needs=("sales|opportunities",)),
    _M("activation_share_90d", N_("Activated within 90 days"), "percent",
       "Kaplan–Meier share of those partners with a first deal within 90 days of onboarding.",
       table="network", needs=("sales|opportunities",)),
    _M("activation_share_180d", N_("Activated within 180 days"), "percent",
       "Kaplan–Meier share of those partners with a first deal within 180 days of onboarding.",
       table="network", needs=("sales|opportunities",)),
    _M("activation_share_365d", N_("Activated within 365 days"), "percent",
       "Kaplan–Meier share of those partners with a first deal within 365 days of onboarding.",
       table="network", needs=("sales|opportunities",)),
    _M("activation_median_days", N_("Median days to activation"), "days",
       "Kaplan–Meier median days from onboarding to the first deal of those partners.",
       direction="down", table="network", needs=("sales|opportunities",)),
    _M("program_costs_cohort", N_("Programme costs of the cohort"), "currency",
       "Programme costs of the activation cohort.", direction="none", table="network", needs=("program_costs",)),
    _M("cost_to_acquire_and_onboard_per_activated_partner", N_("Cost per activated partner"), "currency",
       "Cohort programme costs ÷ partners activated.", direction="down", table="network",
       needs=("program_costs", "sales|opportunities")),
    _M("program_costs", N_("Programme costs"), "currency", "Programme costs dated in the quarter.",
       direction="none", table="network", needs=("program_costs",)),
    _M("channel_return", N_("Channel return"), "ratio", "Revenue ÷ (programme costs + MDF claimed).",
       table="network", needs=("sales", "program_costs|mdf")),
    _M("leads_unassigned", N_("Leads not assigned to a partner"), "integer",
       "Leads of the quarter without a partner (counted in the network's leads_received).",
       direction="down", table="network", needs=("leads",)),
    _M("revenue_gini_t4q", N_("Gini coefficient"), "decimal",
       "Concentration of partners' trailing-four-quarter revenue: 0 = equal, 1 = one partner sells all.",
       direction="none", table="network", needs=("sales",)),
    # partner programme: what a partner earned this quarter (table programme_value, programme.py)
    _M("rebate_rate", N_("Rebate rate"), "percent",
       "Rebate rate of the partner's tier at its quarter revenue (rebates schedule).",
       table="programme_value", needs=("rebates", "sales")),
    _M("rebate_earned", N_("Rebate earned"), "currency", "Rebate rate × the quarter's revenue.",
       table="programme_value", needs=("rebates", "sales")),
    _M("benefits_value", N_("Value of your tier's benefits"), "currency",
       "Σ the quarterly value of the benefits of the partner's tier (benefits table).",
       table="programme_value", needs=("benefits",)),
    _M("programme_value", N_("Total earned from the programme"), "currency",
       "rebate_earned + MDF allocated in the quarter + benefits_value, over the parts available.",
       table="programme_value", needs=("rebates|benefits|mdf",)),
    _M("next_tier_extra_value", N_("Extra at the next tier"), "currency",
       "What the next tier would add at the same results: its rebate and benefits minus the current ones.",
       table="programme_value", needs=("rebates|benefits",)),
    # churn risk (channel_analysis.churn; internal: the network overview only)
    _M("churn_risk", N_("Churn risk"), "percent",
       "Probability that the partner ends its contract next quarter (Cox model of past churn, docs/methods.md).",
       direction="down", table="churn_risk", needs=("partners.end_date",)),
    _M("churn_concordance", N_("Churn model concordance"), "percent",
       "Backtest: share of (churned, stayed) partner pairs whose churned partner had the higher predicted risk "
       "(50 % = chance; reported quarter only).", table="network", needs=("partners.end_date",)),
)

#: key → Measure, KPI-table measures and network-table measures (keys are unique across both,
#: except where the network table totals a KPI-table column under the same name: revenue,
#: gross_margin, mdf_claimed keep their KPI-table declaration).
MEASURES: dict[str, Measure] = {m.key: m for m in _CATALOG}
if len(MEASURES) != len(_CATALOG):  # pragma: no cover - a catalog edit that declares a key twice
    raise ValueError("the measure catalog declares a key twice")

#: KPI-table columns that carry ``<key>_n`` and ``<key>_low_sample`` (network rates declare it too).
SAMPLED: tuple[str, ...] = tuple(m.key for m in _CATALOG if m.sampled and m.table == "kpis")
#: KPI-table columns that carry a 95 % interval ``<key>_low`` / ``<key>_high`` (a network measure
#: with ``interval`` carries its own, e.g. ``mdf_incremental_effect`` at ``mdf.incrementality.confidence``).
WITH_INTERVAL: tuple[str, ...] = tuple(m.key for m in _CATALOG if m.interval and m.table == "kpis")
#: Measures shown among the peer benchmarks (quarter and t4q windows).
BENCHMARKED: tuple[str, ...] = tuple(m.key for m in _CATALOG if m.benchmark)
#: ``targets.metric`` → KPI-table column holding the actual (the quarter window).
TARGET_ACTUALS: dict[str, str] = {m.target: m.key for m in _CATALOG if m.target}
#: Valid ``targets.metric`` values.
TARGET_METRICS: tuple[str, ...] = tuple(TARGET_ACTUALS)
#: Measures quoted in the email's headline figures (quarter window), in display order.
HEADLINE: tuple[str, ...] = tuple(m.key for m in _CATALOG if m.headline)
#: KPI-table columns that are not measures: keys, and the companions of sampled measures.
KEY_COLUMNS = ("partner_id", "period", "window", "period_start", "period_end", "status")


def lacking(key: str, provided) -> str | None:
    """Why measure ``key`` cannot be computed ("sales.cost not provided"), None when it can.

    ``provided(name)`` tells whether an input (``"table"`` or ``"table.column"``) was provided
    (:meth:`channel_analysis.dataset.Dataset.provided`). A measure cannot be computed when any of
    its :attr:`Measure.needs` has none of its alternatives (``"a|b"``) provided."""
    missing = [need for need in get(key).needs if not any(provided(alt) for alt in need.split("|"))]
    return ", ".join(" or ".join(need.split("|")) for need in missing) + " not provided" if missing else None


def unavailable(provided) -> dict[str, str]:
    """The measures whose inputs the data lacks: key → reason (see :func:`lacking`)."""
    reasons = {m.key: lacking(m.key, provided) for m in _CATALOG}
    return {key: why for key, why in reasons.items() if why}


def get(key: str) -> Measure:
    """The declaration of ``key``; a KeyError naming the catalog for an undeclared key."""
    try:
        return MEASURES[key]
    except KeyError:
        raise KeyError(f"{key!r} is not declared in channel_analysis/measures.py (the measure catalog)") from None


def for_target(metric: str) -> Measure:
    """The measure whose actual a ``targets.metric`` value is compared with."""
    return get(TARGET_ACTUALS[metric])


def companion_of(column: str) -> str | None:
    """The measure a companion column belongs to (``win_rate_n`` → ``win_rate``), else None.

    Companions: ``_n`` and ``_low_sample`` of sampled measures, ``_low``/``_high`` of measures with
    an interval, ``sales_cycle_ci_low``/``_ci_high``/``_n``/``_low_sample`` of the sales cycle."""
    for suffix in ("_low_sample", "_n", "_low", "_high", "_ci_low", "_ci_high"):
        if not column.endswith(suffix):
            continue
        base = column[: -len(suffix)]
        if base == "sales_cycle":
            return "sales_cycle_median_days"
        m = MEASURES.get(base)
        if m is not None and (m.sampled if suffix in ("_low_sample", "_n") else m.interval):
            return base
    return None


def undeclared(columns) -> list[str]:
    """Columns of a KPI or network table that are neither a key, a measure, nor a companion."""
    return [c for c in columns if c not in KEY_COLUMNS and c not in MEASURES and companion_of(c) is None]


def catalog_markdown() -> str:
    """The "Measure catalog" section of docs/kpis.md (generated; a test keeps it current)."""
    yes = "✓"
    lines = [
        "## Measure catalog",
        "",
        "Generated from `channel_analysis/measures.py` (`channel-analysis docs`); do not edit by hand.",
        "Every page, table, email and doc reads these declarations. *better*: which direction is good;",
        "*sampled*: carries `_n` and `_low_sample`; *interval*: carries `_low`/`_high`; *benchmark*:",
        "compared with peers; *target*: the `targets.metric` it answers; *email*: a headline figure;",
        "*needs*: the input tables/columns it is computed from (`a \\| b`: either) — without them it is",
        "not available (empty, never 0) and the run summary lists it.",
        "",
        "| measure | label | table | format | better | sampled | interval | benchmark | target | email | needs | definition |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in _CATALOG:
        lines.append(
            f"| `{m.key}` | {m.label} | {m.table} | {m.kind} | {m.direction} | {yes if m.sampled else ''} | "
            f"{yes if m.interval else ''} | {yes if m.benchmark else ''} | {m.target or ''} | "
            f"{yes if m.headline else ''} | {_needs_cell(m.needs)} | {m.doc} |")
    return "\n".join(lines) + "\n"


def _needs_cell(needs: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`".replace("|", "` \\| `") for n in needs)


#: The KPI definitions doc whose last section is the generated catalog.
KPI_DOC = Path(__file__).resolve().parents[1] / "docs" / "kpis.md"
_SECTION = "## Measure catalog"


def with_catalog(doc_text: str) -> str:
    """``docs/kpis.md``'s text with its "Measure catalog" section (the last one) regenerated."""
    head = doc_text.split(_SECTION, 1)[0].rstrip()
    return head + "\n\n" + catalog_markdown()


def write_catalog_doc(path: str | Path = KPI_DOC) -> Path:
    """Regenerate the catalog section of ``docs/kpis.md`` (``channel-analysis docs``)."""
    path = Path(path)
    path.write_text(with_catalog(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path
