"""The partner scorecard's content: header, KPI tiles, figures, tables, captions, focus list.

The notebook ``notebooks/partner_scorecard.py`` makes one call per block::

    report = channel_analysis.scorecard.Scorecard(bundle, locale=locale)
    report.kpi_tiles()

Each method returns an :class:`~channel_analysis.blocks.Html` block built only from the partner's
:class:`~channel_analysis.bundle.PartnerBundle` (its own rows and anonymized peer aggregates). Every
text is English gettext message ids translated for the report's locale (issue 7 adds the
catalogs), every number is formatted by Babel for that locale, and every value that comes from data
(the partner's name, categories, stages, deal ids) is escaped. A section whose data is missing (an
optional table not supplied) shows a short "not available" note instead of failing.

Nothing here imports scipy or statsmodels: the numbers are precomputed by :mod:`channel_analysis.build`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import blocks, i18n, measures, plots, settings
from .blocks import Html, Tile
from .bundle import PartnerBundle
from .i18n import N_
from .measures import TARGET_ACTUALS

# --------------------------------------------------------------------------------------------
# fixed texts (labels and formats of the measures come from the measure catalog, measures.py)
# --------------------------------------------------------------------------------------------

STATUS_TEXT = {
    "green": N_("On target"),
    "amber": N_("Close to target"),
    "red": N_("Below target"),
    "no_data": N_("No data"),
}

#: Forecast methods (forecast.partner_forecasts ``method``) → how the scorecard names them.
FORECAST_METHODS = {
    "exp_smoothing": N_("exponential smoothing of your quarterly revenue (trend and seasonality)"),
    "seasonal_level": N_("exponential smoothing of your quarterly revenue (seasonality, no trend)"),
    "seasonal_naive": N_("your revenue in the same quarter one year earlier"),
    "mean": N_("the average of your past quarters"),
}
#: Kaplan–Meier medians that may not be reached → (the column holding the days followed when the
#: median is not reached, what the table cell says instead of a median).
NOT_REACHED = {
    "lead_accept_days_median": ("lead_accept_days_not_reached", N_("fewer than half accepted within {days}")),
    "lead_convert_days_median": ("lead_convert_days_not_reached", N_("fewer than half converted within {days}")),
}
#: forecast.NOT_ENOUGH_HISTORY: the ``method`` of a partner without a forecast (too short a history;
#: pages never import the statistics, tests/test_scorecard.py checks the two agree).
NOT_ENOUGH_HISTORY = "not_enough_history"

PARTNER_STATUS = {
    "active": N_("Active"),
    "at_risk": N_("Needs attention"),
    "onboarding": N_("Onboarding"),
    "churned": N_("Inactive"),
}

#: Sections of the scorecard: key → (heading, introduction).
SECTIONS: dict[str, tuple[str, str]] = {
    "about": (N_("About this report"), N_(
        "This scorecard summarises your business with us for the quarter: your results against the "
        "targets we agreed with you, your sales pipeline, your customers and the support programmes "
        "you use. Comparisons with other partners use only anonymous figures of groups of similar "
        "partners; no other partner can be identified. Terms are explained in the glossary at the end.")),
    "glance": (N_("At a glance"), N_(
        "Each tile compares a result of this quarter with the target agreed with you. Green: target "
        "met. Amber: close to the target. Red: further behind.")),
    "revenue": (N_("Revenue"), N_(
        "Your revenue with our products, how it developed and what we expect next quarter.")),
    "customers": (N_("End customers"), N_(
        "The customers you sold our products to: how many bought, how many are new and how many "
        "stopped buying, and how much more they buy from you.")),
    "pipeline": (N_("Pipeline"), N_(
        "The deals you registered with us that are still open: their value, their chance of being "
        "won, and the deals that need an update.")),
    "sales_cycle": (N_("Sales cycle"), N_(
        "How long your deals take to close, compared with similar partners. Deals that are still "
        "open count too, so the figures are not biased towards quick deals.")),
    "leads": (N_("Leads"), N_("The leads we passed to you and what became of them.")),
    "registration": (N_("Product registration"), N_(
        "Registered products give your customers full warranty and support, and give us both a view "
        "of the installed base.")),
    "mdf": (N_("Marketing development funds"), N_(
        "The marketing funds (MDF) made available to you, how much you used, and the revenue they "
        "brought.")),
    "certifications": (N_("Certifications and training"), N_(
        "Certified sales reps know our products best and count towards your partner tier.")),
    "satisfaction": (N_("Customer satisfaction"), N_(
        "What your end customers told us in satisfaction surveys about working with you.")),
    "tier": (N_("Partner tier"), N_(
        "Your tier in our partner programme and what you need to reach the next one.")),
    "accounts": (N_("Your accounts that change segment"), N_(
        "End customers whose purchases through our network moved them to another segment this quarter, "
        "and what changes for you.")),
    "programme": (N_("Your partner programme"), N_(
        "What our partner programme offers you, and what it brought you this quarter.")),
    "benchmark": (N_("How you compare with similar partners"), N_(
        "Your percentile among partners like you: at 75 you do better than 75% of them, at 50 you are "
        "at their median. For measures where less is better (days to accept a lead, for example) the "
        "percentile is turned around, so a long bar is always good.")),
    "focus": (N_("Focus for next quarter"), N_(
        "The points where a change would make the biggest difference, starting with the largest gap.")),
    "glossary": (N_("Glossary"), None),
}

GLOSSARY: list[tuple[str, str]] = [
    (N_("Target attainment"), N_("Your result divided by the agreed target; 100% means the target is met.")),
    (N_("Percentile"), N_("The share of similar partners with a lower result than yours. The peer median is "
                          "the 50th percentile.")),
    (N_("Peer group"), N_("Partners similar to you (same type and region where there are enough of them). "
                          "Only anonymous group figures are shown.")),
    (N_("Tier"), N_("Your level in our partner programme. Each tier has minimum requirements; you move up "
                    "after meeting them for consecutive quarters.")),
    (N_("Weighted pipeline"), N_("The value of your open deals, each multiplied by the share of deals at "
                                 "the same stage that are won across our network.")),
    (N_("Pipeline coverage"), N_("Your weighted pipeline divided by your revenue target for the coming "
                                 "quarter.")),
    (N_("Stale deal"), N_("An open deal past its expected close date, or open much longer than deals "
                          "usually take.")),
    (N_("Sales cycle"), N_("The time from registering a deal to winning or losing it. The median is the "
                           "number of days by which half of the deals are closed.")),
    (N_("Win rate"), N_("Deals won divided by deals closed (won or lost).")),
    (N_("Registration rate"), N_("Units registered by end customers divided by units sold to them.")),
    (N_("Cross-sell rate"), N_("The share of your active customers who bought from two or more product "
                               "categories.")),
    (N_("Upsell rate"), N_("The share of your returning customers who spent more than in the previous "
                           "period.")),
    (N_("MDF"), N_("Marketing development funds: money we make available for your marketing of our "
                   "products.")),
    (N_("Return on MDF"), N_("Revenue attributed to MDF activities divided by the funds claimed.")),
    (N_("Forecast range"), N_("The range next quarter's revenue is expected to fall in, with the stated "
                              "likelihood.")),
    (N_("Low sample"), N_("A figure based on only a few observations; it can change a lot from one "
                          "quarter to the next.")),
]

def tile_status(attainment: Any, green: float, amber: float) -> str:
    """green when attainment ≥ ``green``, amber when ≥ ``amber``, red below; no_data when missing."""
    if i18n.is_missing(attainment):
        return "no_data"
    a = float(attainment)
    return "green" if a >= green else ("amber" if a >= amber else "red")


def _num(value: Any) -> float:
    if i18n.is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _usable(frame: Any, *columns: str) -> bool:
    return isinstance(frame, pd.DataFrame) and len(frame) > 0 and all(c in frame.columns for c in columns)


@dataclass(frozen=True)
class FocusItem:
    """One "focus for next quarter" point: ``topic`` (what it is about), ``severity`` (weighted gap,
    the ranking key) and ``text`` (translated sentence)."""

    topic: str
    rule: str
    severity: float
    text: str


class Scorecard:
    """The scorecard of one partner in one locale; each method returns one block of the report."""

    def __init__(self, bundle: PartnerBundle, locale: str | None = None):
        self.b = bundle
        if bundle.settings is None:
            raise ValueError("the bundle has no report settings: build it with channel_analysis.build")
        self.settings = bundle.settings
        self.locale = i18n.pick_locale(locale, bundle.partner.get("locale"), self.settings.locale_fallback)
        self.tr = i18n.translator(self.locale)
        # amounts show in the partner's contract currency, converted at the quarter's rate (the
        # tables hold the reporting currency; header() says so); the reporting currency without a rate
        rate = bundle.partner.get("fx_rate")
        own = bundle.partner.get("currency")
        usable = own and isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0
        self.currency = str(own) if usable else bundle.reporting_currency
        self.fx = float(rate) if usable else 1.0
        self.green = self.settings.target_green
        self.amber = self.settings.target_amber
        self.min_sample = self.settings.min_sample
        # per-report caches (the bundle does not change while a report is built)
        self._kpi_index: dict | None = None
        self._kpi_rows: dict = {}
        self._cache: dict = {}
        self._noted: set[str] = set()  # notes already shown in the current section

    # ---- formatting -------------------------------------------------------------------------

    def fmt(self, value: Any, kind: str) -> str:
        """A value formatted for this report's locale (kinds as :func:`i18n.format_value`)."""
        if kind == "days" and not i18n.is_missing(value) and math.isfinite(float(value)):
            n = int(round(float(value)))
            return self.tr.ngettext("{n} day", "{n} days", n).format(n=i18n.format_number(n, self.locale, 0))
        if kind == "currency":
            return self.money(value)
        return i18n.format_value(value, kind, self.locale, self.currency)

    def converted(self, value: Any) -> float:
        """An amount of the tables (reporting currency) in the page's currency."""
        return _num(value) / self.fx

    def money(self, value: Any) -> str:
        return i18n.format_currency(self.converted(value), self.locale, self.currency, digits=0)

    def _in_currency(self, frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
        """A copy of ``frame`` with its money ``columns`` in the page's currency (for the charts)."""
        return frame.assign(**{c: frame[c] / self.fx for c in columns if c in frame})

    def measure_label(self, column: str) -> str:
        """The measure's label in the report's language (an undeclared measure is an error, never a
        raw column name on the page)."""
        return self.tr.gettext(measures.get(column).label)

    def measure_value(self, column: str, value: Any) -> str:
        return self.fmt(value, measures.get(column).kind)

    def shown(self, column: str, value: Any, window: str = "quarter") -> blocks.Html:
        """A KPI value as the page shows it: formatted, and tagged with the table cell it comes from."""
        return blocks.tagged(self.measure_value(column, value), column, value, window)

    def kpi(self, column: str, window: str = "quarter", period: str | None = None) -> float:
        """The partner's KPI value (NaN when the column or the row is missing)."""
        row = self._row(window, period)
        return _num(row.get(column)) if row else math.nan

    def _row(self, window: str = "quarter", period: str | None = None) -> dict:
        """The KPI row of (``window``, ``period``; default the reported quarter) as a dict of column →
        value ({} when missing), from the per-report index: O(1) per lookup, each row converted once."""
        key = (window, self.b.period if period is None else period)
        row = self._kpi_rows.get(key)
        if row is None:
            pos = self._kpi_pos.get(key)
            row = {} if pos is None else self.b.kpis.iloc[pos].to_dict()
            self._kpi_rows[key] = row
        return row

    @property
    def _kpi_pos(self) -> dict:
        """(window, period) → position of its first row in the bundle's KPI table (built once)."""
        if self._kpi_index is None:
            k = self.b.kpis
            self._kpi_index = {}
            if _usable(k, "window", "period"):
                for pos, key in enumerate(zip(k["window"].tolist(), k["period"].tolist())):
                    self._kpi_index.setdefault(key, pos)  # the first row wins, as PartnerBundle.kpi
        return self._kpi_index

    def _cached(self, key: str, build) -> pd.DataFrame:
        """A copy of the frame ``build()`` returns, built once per report (callers may change the copy)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key].copy()

    def interval(self, column: str, window: str = "quarter") -> str:
        """The measure's 95 % interval as "31–55 %" ('' when it has none, or it says nothing: missing
        or a single point)."""
        m = measures.get(column)
        if m.interval:
            low, high = self.kpi(f"{column}_low", window), self.kpi(f"{column}_high", window)
        elif column == "sales_cycle_median_days":
            low, high = self.kpi("sales_cycle_ci_low", window), self.kpi("sales_cycle_ci_high", window)
        else:
            return ""
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:  # none, open-ended or a point
            return ""
        return f"{self.measure_value(column, low)}–{self.measure_value(column, high)}"

    def low_sample(self, column: str, window: str = "quarter") -> tuple[bool, float]:
        """(flagged low-sample?, n) of a rate in the KPI table."""
        row = self._row(window)
        if not row:
            return False, math.nan
        flag = row.get(f"{column}_low_sample")
        return (bool(flag) if not i18n.is_missing(flag) else False), _num(row.get(f"{column}_n"))

    def _low_note(self, n: float) -> Html:
        _ = self.tr.gettext
        if i18n.is_missing(n):
            return self.note(_("Based on only a few observations: read with care."), "lowsample")
        k = int(n)
        return self.note(self.tr.ngettext(
            "Based on only {n} observation: read with care.",
            "Based on only {n} observations: read with care.", k).format(n=i18n.format_number(k, self.locale, 0)),
            "lowsample")

    def note(self, text: str, kind: str = "info") -> Html:
        """A note, once per section: words already said in this section are not repeated, and a
        section says "not available" once (its later blocks then stay silent)."""
        key = "\x00unavailable" if kind == "unavailable" else text
        if key in self._noted:
            return Html("")
        self._noted.add(key)
        return blocks.note(text, kind)

    def unavailable(self, what: str | None = None) -> Html:
        _ = self.tr.gettext
        text = _("Not available for this quarter.") if what is None else what
        return self.note(text, "unavailable")

    def _figure(self, ax, caption: str, notes=()) -> Html:
        return blocks.figure(ax, caption, notes=notes)

    # ---- header and framing ------------------------------------------------------------------

    def title(self) -> str:
        """The report title: "Partner scorecard — <name> — <quarter>" (plain text, not escaped)."""
        return self.tr.gettext("Partner scorecard — {name} — {period}").format(
            name=self.b.partner.get("name", self.b.partner_id), period=self.period_label())

    def label(self, kind: str, value: Any) -> str:
        """A data value (stage, category, tier, …) in the report's language (params ``labels``)."""
        return self.settings.label(kind, value, self.locale)

    def period_label(self, period: str | None = None) -> str:
        """A quarter in words ("Q3 2026", "T3 2026"); the label keeps the fiscal year of the data."""
        text = str(self.b.period if period is None else period)
        year, q = text[:4], text[-1]
        return self.tr.gettext("Q{quarter} {year}").format(quarter=q, year=year)

    def header(self) -> Html:
        """Title, partner name, quarter with its dates, tier, status and the data's as-of date."""
        _ = self.tr.gettext
        p = self.b.partner
        status = p.get("status")
        facts = [
            (_("Partner"), f"{p.get('name', '')} ({self.b.partner_id})"),
            (_("Quarter"), _("{quarter} ({start} – {end})").format(
                quarter=self.period_label(), start=i18n.format_date(self.b.period_start, self.locale),
                end=i18n.format_date(self.b.period_end, self.locale))),
            (_("Tier"), Html(f'<span data-fact="tier" data-value="{blocks.esc(p.get("tier") or "")}">'
                             f'{blocks.esc(self.label("tier", p.get("tier")) if p.get("tier") else _("None"))}</span>')),
            (_("Status"), _(PARTNER_STATUS[status]) if status in PARTNER_STATUS else str(status or "—")),
            (_("Data as of"), i18n.format_date(self.b.as_of, self.locale)),
        ]
        if p.get("account_manager"):
            facts.append((_("Your channel account manager"), str(p["account_manager"])))
        dl = "".join(f"<dt>{blocks.esc(k)}</dt><dd>{blocks.esc(v)}</dd>" for k, v in facts)
        heading = _("Partner scorecard")  # not inside the f-string: pybabel cannot see into one
        return Html(
            f'<header class="ca-header"><h1>{blocks.esc(heading)}</h1>'
            f'<p class="ca-subtitle">{blocks.esc(p.get("name", ""))}</p>'
            f'<dl class="ca-meta">{dl}</dl>{self._currency_line()}{self._partial_line()}</header>'
        )

    def _partial_line(self) -> str:
        """Where the data end, when the reported quarter is incomplete (build: ``facts["data_end"]``)."""
        end = self.b.facts.get("data_end")
        if not end:
            return ""
        text = self.tr.gettext(blocks.PARTIAL_QUARTER).format(quarter=self.period_label(),
                                                       date=i18n.format_date(end, self.locale))
        return f'<p class="ca-note ca-partial">{blocks.esc(text)}</p>'

    def _currency_line(self) -> str:
        """One line saying which currency the amounts are in, when it is not the reporting currency."""
        if self.currency == self.b.reporting_currency:
            return ""
        text = self.tr.gettext(
            "Amounts are in {currency}, converted from {reporting} at the rate of {quarter}: "
            "1 {currency} = {rate} {reporting}.").format(
            currency=self.currency, reporting=self.b.reporting_currency, quarter=self.period_label(),
            rate=i18n.format_number(self.fx, self.locale, 4))
        return f'<p class="ca-currency">{blocks.esc(text)}</p>'

    def section(self, key: str) -> Html:
        """A section's heading and its one-paragraph introduction (keys: :data:`SECTIONS`)."""
        heading, intro = SECTIONS[key]
        _ = self.tr.gettext
        self._noted = set()  # a new section: its notes start afresh
        return blocks.section(_(heading), _(intro) if intro else None)

    def how_to_read(self) -> Html:
        """How to read tiles, percentiles and tiers (for a partner who has never seen the report)."""
        _ = self.tr.gettext
        items = [
            _("Colours: green means on target, amber close to target (at least {amber} of it), red further "
              "behind.").format(amber=i18n.format_percent(self.amber, self.locale)),
            _("Percentiles: a percentile of 70 means you do better than 70% of similar partners."),
            _("Tiers: each tier of the partner programme has minimum requirements; the tier section shows "
              "what is missing for the next one."),
            _("Figures marked as based on few observations can change a lot from one quarter to the next."),
        ]
        return Html('<ul class="ca-intro">' + "".join(f"<li>{blocks.esc(i)}</li>" for i in items) + "</ul>")

    # ---- at a glance ------------------------------------------------------------------------

    def target_rows(self) -> pd.DataFrame:
        """The reported quarter's targets in display order, with ``status`` from the bundle or, when
        missing, from attainment and the run's thresholds."""
        return self._cached("target_rows", self._target_rows)

    def _target_rows(self) -> pd.DataFrame:
        t = self.b.targets
        if not _usable(t, "metric", "target"):
            return pd.DataFrame(columns=["metric", "target", "actual", "attainment", "status"])
        t = t[t["period"] == self.b.period] if "period" in t.columns else t
        t = t.copy()
        order = {m: i for i, m in enumerate(TARGET_ACTUALS)}
        t["_o"] = t["metric"].map(order).fillna(len(order))
        t = t.sort_values("_o").drop(columns="_o")
        derived = [tile_status(a, self.green, self.amber) for a in t.get("attainment", pd.Series(np.nan, t.index))]
        given = t["status"] if "status" in t.columns else pd.Series(None, index=t.index)
        t["status"] = [g if g in ("green", "amber", "red") else d for g, d in zip(given, derived)]
        return t.reset_index(drop=True)

    def tiles(self) -> list[Tile]:
        """One tile per agreed target of the quarter (actual, target, attainment, status)."""
        _ = self.tr.gettext
        out = []
        for r in self.target_rows().itertuples(index=False):
            column = TARGET_ACTUALS.get(r.metric, r.metric)
            flagged, n = self.low_sample(column)
            detail = _("Target {target} · {attainment} reached").format(
                target=self.measure_value(column, r.target),
                attainment=i18n.format_percent(getattr(r, "attainment", math.nan), self.locale))
            span = self.interval(column)
            if span:
                detail += " · " + _("95% range {range}").format(range=span)
            note = ""
            if flagged:
                note = self.tr.ngettext("Only {n} observation", "Only {n} observations", int(n or 0)).format(
                    n=i18n.format_number(n, self.locale, 0))
            out.append(Tile(label=self.measure_label(column), value=self.shown(column, r.actual),
                            detail=detail, status=r.status, status_text=_(STATUS_TEXT[r.status]), note=note,
                            **self._trend(column)))
        return out

    def _trend(self, column: str) -> dict:
        """The measure's quarter values over the history (oldest first), for a tile's sparkline."""
        k = self.b.kpis
        if not _usable(k, "window", "period", column):
            return {}
        rows = k[k["window"] == "quarter"].sort_values("period")
        values = pd.to_numeric(rows[column], errors="coerce").tolist()
        if column in measures.MEASURES and measures.get(column).kind == "currency":
            values = [v / self.fx for v in values]
        label = self.tr.gettext("{measure} over the last {n} quarters").format(
            measure=self.measure_label(column), n=len(values))
        return {"trend": values, "trend_label": label}

    def kpi_tiles(self) -> Html:
        """KPI tiles against the agreed targets (or the headline KPIs when no target was agreed)."""
        _ = self.tr.gettext
        items = self.tiles()
        if items:
            return blocks.tiles(items)
        headline = [Tile(label=self.measure_label(c), value=self.shown(c, self.kpi(c)),
                         status="no_data", status_text=_("No target"), **self._trend(c))
                    for c in measures.HEADLINE]
        return blocks.join(self.note(_("No targets were agreed for this quarter; the tiles show your "
                                         "headline figures."), "unavailable"), blocks.tiles(headline))

    # ---- revenue ----------------------------------------------------------------------------

    def revenue_trend(self) -> Html:
        """Quarterly revenue with the next-quarter forecast and its range."""
        _ = self.tr.gettext
        f = self.b.forecast
        if not _usable(f, "period", "kind", "revenue") or f["revenue"].notna().sum() == 0:
            return self.unavailable(_("Revenue history is not available."))
        interval = self.settings.forecast_interval
        ax = plots.revenue_trend(self._in_currency(f, "revenue", "forecast", "lower", "upper", "target"),
                                 locale=self.locale, currency=self.currency, interval=interval)
        fc = f[f["kind"] == "forecast"]
        if len(fc):
            row = fc.iloc[0]
            caption = _("Your revenue per quarter and our forecast for {next}: about {mid}, most likely "
                        "between {low} and {high}.").format(
                next=self.period_label(row["period"]), mid=self.money(row["forecast"]), low=self.money(row["lower"]),
                high=self.money(row["upper"]))
        else:
            caption = _("Your revenue per quarter.")
        notes = []
        method = self.b.facts.get("forecast_method")
        if method == NOT_ENOUGH_HISTORY:
            n = self.settings.forecast_min_quarters
            notes.append(self.note(self.tr.ngettext(
                "Not enough history for a forecast yet: it needs {n} quarter of revenue.",
                "Not enough history for a forecast yet: it needs {n} quarters of revenue.", n).format(
                n=i18n.format_number(n, self.locale, 0)), "lowsample"))
            method = None
        needed, year_target = self.kpi("revenue_run_rate_needed", "ytd"), self.kpi("revenue_target_fy", "ytd")
        if not math.isnan(needed):
            text = (_("To reach this fiscal year's revenue target of {target}, you need {needed} per quarter in "
                      "the quarters left.") if needed > 0 else
                    _("You have already reached this fiscal year's revenue target of {target}."))
            notes.append(Html('<p class="ca-note">' + str(blocks.fill(
                text, target=self.shown("revenue_target_fy", year_target, "ytd"),
                needed=self.shown("revenue_run_rate_needed", needed, "ytd"))) + "</p>"))
        if method:
            method = _(FORECAST_METHODS[method]) if method in FORECAST_METHODS else method
            notes.append(self.note(_("Forecast method: {method}.").format(method=method)))
        n_actual = int((f["kind"] == "actual").sum())
        if len(fc) and n_actual < self.settings.forecast_min_history:
            notes.append(self.note(_("Few quarters of history: the forecast is a simple estimate."), "lowsample"))
        return self._figure(ax, caption, notes)

    def revenue_table(self) -> Html:
        """Revenue, growth and margin for the quarter, the year to date and the last four quarters."""
        _ = self.tr.gettext
        return self._kpi_table(["revenue", "revenue_growth_prev", "revenue_growth_yoy", "gross_margin",
                                "gross_margin_pct", "revenue_per_rep", "share_of_wallet"],
                               _("Your revenue and margin this quarter, so far this fiscal year and over the "
                                 "last four quarters."))

    def category_mix(self) -> Html:
        """Revenue by product category, this quarter and the same quarter last year."""
        _ = self.tr.gettext
        mix = self.b.category_mix
        if not _usable(mix, "category", "revenue") or mix["revenue"].sum() <= 0:
            return self.unavailable(_("No sales by product category this quarter."))
        mix = mix.assign(category=[self.label("category", c) for c in mix["category"]])
        ax = plots.category_mix(self._in_currency(mix, "revenue", "revenue_prev_year"), locale=self.locale,
                                currency=self.currency)
        top = mix.sort_values("revenue", ascending=False).iloc[0]
        share = top["share"] if "share" in mix.columns else top["revenue"] / mix["revenue"].sum()
        caption = _("Your revenue by product category this quarter compared with the same quarter last year; "
                    "{category} brought the most ({share}).").format(
            category=top["category"], share=i18n.format_percent(share, self.locale))
        return self._figure(ax, caption)

    # ---- tables of KPIs ---------------------------------------------------------------------

    def _kpi_table(self, columns: list[str], caption: str) -> Html:
        _ = self.tr.gettext
        def missing(c: str, w: str) -> bool:
            return math.isnan(self.kpi(c, w)) and (c not in NOT_REACHED or math.isnan(self.kpi(NOT_REACHED[c][0], w)))

        present = [c for c in columns if not all(missing(c, w) for w in ("quarter", "ytd", "t4q"))]
        if not present:
            return self.unavailable()
        rows, low = [], []
        for c in present:
            flagged, n = self.low_sample(c)
            label = self.measure_label(c) + (" *" if flagged else "")
            if flagged:
                low.append(n)
            rows.append({"label": label, **{w: self._cell(c, w) for w in ("quarter", "ytd", "t4q")}})
        frame = pd.DataFrame(rows)
        notes = []
        if low:
            notes.append(self.note(_("* Based on fewer than {k} observations this quarter: read with care.").format(
                k=i18n.format_number(self.min_sample, self.locale, 0)), "lowsample"))
        return blocks.table(frame, [("label", _("Measure"), False), ("quarter", _("This quarter"), True),
                                    ("ytd", _("Year to date"), True), ("t4q", _("Last 4 quarters"), True)],
                            caption, notes)

    def _cell(self, column: str, window: str) -> Html:
        """A KPI table cell: the value, or for a median not reached how long the leads were followed."""
        value = self.kpi(column, window)
        if column in NOT_REACHED and math.isnan(value):
            followed, text = NOT_REACHED[column]
            days = self.kpi(followed, window)
            if not math.isnan(days):
                return blocks.fill(self.tr.gettext(text), days=self.shown(followed, days, window))
        return self.shown(column, value, window)

    def customers(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["customers_active", "customers_new", "customers_lost", "cross_sell_rate",
                                "upsell_rate"],
                               _("How many end customers bought from you, how many were new or stopped buying, "
                                 "and how many bought more."))

    def deals(self) -> Html:
        """Registered deals: created, won, lost, win rate and deal size (quarter, year, four quarters)."""
        _ = self.tr.gettext
        return self._kpi_table(["deals_created", "deals_won", "deals_lost", "win_rate", "deal_size_mean",
                                "deal_size_median"],
                               _("Your registered deals: how many you opened, won and lost, your win rate and the "
                                 "size of the deals you won."))

    def leads(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["leads_received", "lead_accept_rate", "lead_accept_days_median",
                                "lead_conversion_rate", "lead_convert_days_median"],
                               _("The leads we passed to you: how many you accepted, how fast, and how many became "
                                 "deals."))

    def registration(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["registration_rate", "registration_lag_days_median"],
                               _("The share of the units you sold that your customers registered, and how soon."))

    def mdf(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["mdf_allocated", "mdf_claimed", "mdf_utilization", "mdf_attributed_revenue",
                                "mdf_return"],
                               _("Marketing funds allocated to you, how much you claimed, and the revenue the "
                                 "funded activities brought per unit spent."))

    def certifications(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["certified_reps", "trainings_completed"],
                               _("Your sales reps with a valid certification at the end of the quarter, and the "
                                 "trainings your staff completed."))

    def satisfaction(self) -> Html:
        _ = self.tr.gettext
        return self._kpi_table(["csat_mean", "nps"],
                               _("Average satisfaction (1 = very dissatisfied, 5 = very satisfied) and net "
                                 "promoter score (−100 to 100) from your customers' survey answers."))

    # ---- pipeline ---------------------------------------------------------------------------

    def pipeline_summary(self) -> Html:
        """Tiles: open pipeline, weighted pipeline, coverage, stale deals (the KPI table's snapshot)."""
        _ = self.tr.gettext
        n_open = self.kpi("pipeline_open_n")
        if math.isnan(n_open):
            return self.unavailable(_("Deal data is not available."))
        if n_open == 0:
            return self.note(_("You have no open registered deals at the end of the quarter."))
        deals = self.b.open_deals
        stale = deals[deals["stale"].fillna(False).astype(bool)] if _usable(deals, "stale") else deals.iloc[0:0]
        items = [
            Tile(_("Open pipeline"), self.shown("pipeline_open", self.kpi("pipeline_open")),
                 blocks.fill(self.tr.ngettext("{n} open deal", "{n} open deals", int(n_open)),
                             n=self.shown("pipeline_open_n", n_open))),
            Tile(_("Weighted pipeline"), self.shown("pipeline_weighted", self.kpi("pipeline_weighted")),
                 _("Open value × chance of winning")),
            Tile(_("Pipeline coverage"), self.shown("pipeline_coverage", self.kpi("pipeline_coverage")),
                 _("Of next quarter's revenue target")),
            Tile(_("Stale deals"), self.shown("stale_deals_n", self.kpi("stale_deals_n")),
                 _("Worth {amount}").format(amount=self.money(stale["amount"].sum(min_count=1) if len(stale) else 0)),
                 status="red" if self.kpi("stale_deals_n") > 0 else "green"),
        ]
        return blocks.tiles(items)

    def pipeline_by_stage(self) -> Html:
        _ = self.tr.gettext
        pbs = self.b.pipeline_by_stage
        if not _usable(pbs, "stage", "open_amount", "weighted_amount"):
            return self.unavailable(_("No open deals to show by stage."))
        if pbs["open_amount"].isna().all():  # open deals, none with an amount
            return self.unavailable(_("Not available for this quarter."))
        pbs = pbs.assign(stage=[self.label("stage", s) for s in pbs["stage"]])
        ax = plots.pipeline_by_stage(self._in_currency(pbs, "open_amount", "weighted_amount"), locale=self.locale,
                                     currency=self.currency)
        caption = _("The value of your open deals at each stage (light) and that value weighted by the chance of "
                    "winning at that stage across our network (dark).")
        notes = [self._low_note(int(pbs["open_n"].sum()))] if "open_n" in pbs and pbs["open_n"].sum() < self.min_sample else []
        return self._figure(ax, caption, notes)

    def pipeline_aging(self) -> Html:
        _ = self.tr.gettext
        deals = self.b.open_deals
        if not _usable(deals, "age_bucket", "amount"):
            return self.unavailable(_("No open deals to show by age."))
        if deals["amount"].isna().all():  # open deals, none with an amount
            return self.unavailable(_("Not available for this quarter."))
        if isinstance(deals["age_bucket"].dtype, pd.CategoricalDtype):
            order = [str(c) for c in deals["age_bucket"].cat.categories]
        elif "age_days" in deals:
            order = [str(c) for c in deals.groupby("age_bucket")["age_days"].min().sort_values().index]
        else:
            order = None
        ax = plots.pipeline_aging(self._in_currency(deals, "amount"), order=order, locale=self.locale,
                                  currency=self.currency)
        caption = _("Your open deal value by how long the deals have been open; red marks stale deals.")
        return self._figure(ax, caption)

    def stale_deals(self, limit: int = 15) -> Html:
        """The stale deals to update or close, largest first."""
        _ = self.tr.gettext
        deals = self.b.open_deals
        if not _usable(deals, "stale", "amount"):
            return self.unavailable(_("Deal data is not available."))
        stale = deals[deals["stale"].fillna(False).astype(bool)].sort_values("amount", ascending=False)
        if stale.empty:
            return self.note(_("No stale deals: every open deal is within its expected close date."))
        days = self.fmt(self.b.facts.get("stale_threshold_days"), "days")
        reasons = {"past_expected_close": _("Past expected close date"),
                   "open_too_long": _("Open longer than {days}").format(days=days),
                   "both": _("Past expected close date and open longer than {days}").format(days=days)}
        shown = stale.head(limit)
        frame = pd.DataFrame({
            "deal": shown["opportunity_id"].astype(str),
            "stage": [self.label("stage", s) for s in shown["stage"]],
            "amount": [self.money(v) for v in shown["amount"]],
            "age": [self.fmt(v, "days") for v in shown.get("age_days", pd.Series(np.nan, shown.index))],
            "close": [i18n.format_date(v, self.locale)
                      for v in shown.get("expected_close_date", pd.Series(pd.NaT, shown.index))],
            "reason": [reasons.get(r, str(r)) if isinstance(r, str) and r else "—"
                       for r in shown.get("stale_reason", pd.Series("", shown.index))],
        })
        caption = self.tr.ngettext(
            "Your open deal that needs an update: it is past its expected close date or open unusually long.",
            "Your {n} open deals that need an update, largest first: past their expected close date or open "
            "unusually long.", len(stale)).format(n=i18n.format_number(len(stale), self.locale, 0))
        notes = []
        if len(stale) > limit:
            notes.append(self.note(_("Showing the {k} largest.").format(k=limit)))
        return blocks.table(frame, [("deal", _("Deal"), False), ("stage", _("Stage"), False),
                                    ("amount", _("Value"), True), ("age", _("Open for"), True),
                                    ("close", _("Expected close"), True), ("reason", _("Why"), False)],
                            caption, notes)

    # ---- sales cycle ------------------------------------------------------------------------

    def sales_cycle(self) -> Html:
        """Kaplan–Meier curve of the partner's deals vs its peer group, with medians in the caption."""
        _ = self.tr.gettext
        curve = self.b.cycle_curve
        if not _usable(curve, "group", "days", "survival"):
            return self.unavailable(_("Not enough closed deals to show the sales cycle."))
        labels = {"partner": _("You"), "peers": _("Similar partners")}
        colors = {"partner": plots.PARTNER_COLOR, "peers": plots.PEER_COLOR}
        ax = plots.cycle_curves(curve, labels=labels, colors=colors, locale=self.locale)
        summary = self.b.cycle_summary
        peers = math.nan
        if _usable(summary, "group", "median_days"):
            s = summary.set_index("group")
            peers = _num(s.at["peers", "median_days"]) if "peers" in s.index else math.nan
        # the partner's median is the KPI table's (the same deals as the curve: registered in the last
        # four quarters, open ones censored at the end of the quarter)
        you = self.kpi("sales_cycle_median_days")
        closed = self.kpi("sales_cycle_events")
        caption = blocks.fill(_(
            "The share of your deals registered in the last four quarters still open after a given number "
            "of days, compared with similar partners; half of your deals close within {you}, against "
            "{peers} for them."), you=blocks.tagged(self.fmt(you, "days"), "sales_cycle_median_days", you, "quarter"),
            peers=self.fmt(peers, "days"))
        notes = []
        few = math.isnan(closed) or closed < self.min_sample
        if few:
            notes.append(self._low_note(closed))
        test = self.b.cycle_test or {}
        p = _num(test.get("p_value"))
        if not math.isnan(p) and not few:  # no test statistic below the minimum sample
            text = (_("The difference from similar partners is clear (statistical test, p = {p}).") if p < 0.05
                    else _("The difference from similar partners may be chance (statistical test, p = {p})."))
            notes.append(self.note(text.format(p=i18n.format_number(p, self.locale, 2))))
        return self._figure(ax, caption, notes)

    # ---- tier -------------------------------------------------------------------------------

    def tier_status(self) -> Html:
        """The partner's tier (the official one, as the programme records it), the tier its results
        qualify for, and the move they recommend at the next review — a recommendation that the
        channel team confirms, as PRM programmes do."""
        _ = self.tr.gettext
        p = self.b.partner
        tier = p.get("tier")
        if not tier:
            return self.unavailable(_("Tier information is not available."))
        name = self.label("tier", tier)
        parts = [_("Your tier: {tier}.").format(tier=name)]
        move, target = p.get("recommendation"), p.get("recommended_tier")
        n = int(p.get("quarters_qualified") or 0)
        qualified = p.get("qualified_tier")
        if move == "promote" and target:
            parts.append(self.tr.ngettext(
                "Your results have met the requirements of {next} for {n} quarter: you qualify for {next} at the "
                "next tier review.",
                "Your results have met the requirements of {next} for {n} quarters in a row: you qualify for "
                "{next} at the next tier review.", n).format(next=self.label("tier", target), n=n))
        elif move == "relegate" and target:
            parts.append(self.tr.ngettext(
                "Your results have missed the requirements of {tier} for {n} quarter: at the next tier review "
                "your tier may change to {next}.",
                "Your results have missed the requirements of {tier} for {n} quarters in a row: at the next "
                "tier review your tier may change to {next}.", n).format(tier=name, next=self.label("tier", target),
                                                                       n=n))
        elif qualified and qualified != tier:
            levels = list(self.settings.tier_levels)
            above = qualified in levels and tier in levels and levels.index(qualified) > levels.index(tier)
            parts.append((_("This quarter your results met the requirements of {q}.") if above else
                          _("This quarter your results met the requirements of {q} only.")).format(
                q=self.label("tier", qualified)))
        parts.append(_("A partner moves up after meeting the next tier's requirements for {up} consecutive "
                       "quarters, and down after missing its own for {down}.").format(
            up=self.settings.promote_after, down=self.settings.relegate_after))
        return blocks.paragraph(" ".join(parts))

    def tier_gap(self) -> Html:
        """Progress towards every requirement of the next tier (figure with its caption)."""
        _ = self.tr.gettext
        gap = self.b.tier_gap
        if not _usable(gap, "criterion", "required", "actual") or gap["criterion"].isna().all():
            if self.b.partner.get("tier"):
                return self.note(_("You are in our highest tier. Thank you!"))
            return self.unavailable(_("Tier requirements are not available."))
        g = gap.dropna(subset=["criterion"]).copy()
        nxt = self.label("tier", g["next_tier"].iloc[0]) if "next_tier" in g else ""
        cols = [str(c) for c in g["criterion"]]
        g["label"] = [f"{self.measure_label(c)}: {self.measure_value(c, a)} / {self.measure_value(c, r)}"
                      for c, a, r in zip(cols, g["actual"], g["required"])]
        ax = plots.tier_gap_bars(g, locale=self.locale)
        missing = g[~g["met"].fillna(False).astype(bool)] if "met" in g else g
        if missing.empty:
            caption = _("You meet every requirement of {tier}; you move up once you have met them for long "
                        "enough.").format(tier=nxt)
        else:
            caption = self.tr.ngettext(
                "How close you are to each requirement of {tier} (100% = met); {n} requirement is still open.",
                "How close you are to each requirement of {tier} (100% = met); {n} requirements are still open.",
                len(missing)).format(tier=nxt, n=len(missing))
        return self._figure(ax, caption)

    # ---- account coverage --------------------------------------------------------------------

    def account_moves(self) -> Html:
        """This partner's end-customer accounts that moved to another segment this quarter, with what
        the partner does (hand over, take over, change coverage); only its own accounts."""
        _ = self.tr.gettext
        if not self.b.facts.get("account_coverage"):
            return self.unavailable()
        m = self.b.account_moves
        if not _usable(m, "customer_id", "from_segment", "to_segment", "action"):
            return self.note(_("No account changes segment this quarter."))
        names = m["name"] if "name" in m else pd.Series(None, index=m.index)
        frame = pd.DataFrame({
            "account": [f"{n} ({c})" if not i18n.is_missing(n) else str(c) for c, n in zip(m["customer_id"], names)],
            "change": [_(blocks.ACCOUNT_CHANGE.get(c, c)) for c in m["change"]],
            "from": [self.label("segment", s) for s in m["from_segment"]],
            "to": [self.label("segment", s) for s in m["to_segment"]],
            "action": [_(blocks.ACCOUNT_ACTIONS.get(a, a)) for a in m["action"]],
        })
        return blocks.table(frame, [("account", _("Account"), False), ("change", _("Change"), False),
                                    ("from", _("From"), False), ("to", _("To"), False),
                                    ("action", _("What to do"), False)],
                            _("Your accounts that moved to another segment this quarter."))

    # ---- partner programme (programme.py) ------------------------------------------------------

    def programme_treatment(self) -> Html:
        """"Your programme: VIP — rewards, …": the treatment of the partner's segment, in its language
        (params ``labels.treatment``); the criteria the channel team rated it on, with the quarter of
        a rating older than the reported one."""
        _ = self.tr.gettext
        prog = self.b.programme or {}
        out = Html("")
        if prog.get("treatment"):
            text = _("Your programme: {name} — {contents}.").format(
                name=self.label("treatment", prog.get("treatment_name")),
                contents=self.label("treatment", prog.get("treatment_contents")))
            out += Html(f'<p class="ca-intro" data-fact="treatment" data-value="{blocks.esc(prog["treatment"])}">'
                        f'{blocks.esc(text)}</p>')
        else:
            out += self.unavailable(_("No programme treatment is assigned to you this quarter."))
        r = self.b.ratings
        if _usable(r, "criterion", "period"):
            names = []
            for c, q in zip(r["criterion"].astype(str), r["period"].astype(str)):
                name = self.label("criterion", c)
                names.append(name if q == str(self.b.period) else
                             _("{criterion} (rated in {quarter})").format(criterion=name, quarter=self.period_label(q)))
            out += blocks.paragraph(_("Criteria our channel team rated you on: {criteria}.").format(
                criteria=", ".join(names)))
        return out

    def programme_value(self) -> Html:
        """What the partner earned this quarter (rebate rate and amount, MDF allocated, the value of its
        tier's benefits, the total), and what the next tier would add at the same results."""
        _ = self.tr.gettext
        v = self.b.programme_value
        if not _usable(v, "programme_value") or pd.isna(v["programme_value"].iloc[0]):
            return self.unavailable()
        row = v.iloc[0]
        rows = [{"label": self.measure_label(c), "quarter": self.shown(c, row.get(c))}
                for c in ("rebate_rate", "rebate_earned", "mdf_allocated", "benefits_value", "programme_value")
                if c in v and pd.notna(row.get(c))]
        frame = pd.DataFrame(rows)
        notes = []
        extra, nxt = row.get("next_tier_extra_value"), row.get("next_tier")
        if isinstance(nxt, str) and nxt and pd.notna(extra):
            notes.append(blocks.paragraph(blocks.fill(
                _("At {tier}, the same results would earn you {extra} more this quarter."),
                tier=self.label("tier", nxt), extra=self.shown("next_tier_extra_value", extra)), "ca-note"))
        return blocks.table(frame, [("label", _("Measure"), False), ("quarter", _("This quarter"), True)],
                            _("What you earned from the programme this quarter at your tier."), notes)

    # ---- peer benchmark ---------------------------------------------------------------------

    def benchmark_rows(self) -> pd.DataFrame:
        """Benchmarks with display labels and the percentile oriented so that higher is better."""
        return self._cached("benchmark_rows", self._benchmark_rows)

    def _benchmark_rows(self) -> pd.DataFrame:
        bm = self.b.benchmarks
        if not _usable(bm, "metric", "percentile"):
            return pd.DataFrame(columns=["metric", "label", "percentile", "value", "peer_median"])
        if "window" in bm.columns:
            bm = bm[bm["window"] == "quarter"]
        if "period" in bm.columns:
            bm = bm[bm["period"] == self.b.period]
        bm = bm.copy()
        flip = bm["metric"].map(lambda m: measures.get(m).lower_is_better).astype(bool)
        bm["percentile"] = np.where(flip, 100 - bm["percentile"].astype(float), bm["percentile"].astype(float))
        bm["label"] = [self.measure_label(m) for m in bm["metric"]]
        return bm.reset_index(drop=True)

    def peer_benchmark(self) -> Html:
        _ = self.tr.gettext
        rows = self.benchmark_rows()
        bm = rows[rows["percentile"].notna()]
        if bm.empty:
            return self.unavailable(_("Not enough similar partners to compare with anonymously."))
        ax = plots.percentile_bars(bm, locale=self.locale)
        left_out = rows.loc[rows["percentile"].isna(), "label"].tolist()
        notes = [self.note(_("Not compared (no value, or too few similar partners with one): {measures}.").format(
            measures=i18n.join_list(left_out, self.locale)))] if left_out else []
        peer_n = self.b.partner.get("peer_n") or (bm["peer_n"].max() if "peer_n" in bm else None)
        keys = self.b.partner.get("peer_keys") or []
        group = (" · ".join(self.label(k, self.b.partner.get(k)) for k in keys) if keys
                 else _("all partners"))
        caption = _("Where you stand among {n} similar partners ({group}) on each measure: a bar past the "
                    "dotted line means better than their median.").format(
            n=i18n.format_number(peer_n, self.locale, 0), group=group)
        return self._figure(ax, caption, notes)

    def benchmark_table(self) -> Html:
        _ = self.tr.gettext
        bm = self.benchmark_rows()
        bm = bm[bm["percentile"].notna()]
        if bm.empty:
            return self.unavailable(_("Not enough similar partners to compare with anonymously."))
        frame = pd.DataFrame({
            "label": bm["label"],
            "value": [self.shown(m, v) for m, v in zip(bm["metric"], bm.get("value", np.nan))],
            "range": [self.interval(m) or "—" for m in bm["metric"]],
            "median": [self.measure_value(m, v) for m, v in zip(bm["metric"], bm.get("peer_median", np.nan))],
            "pct": [i18n.format_number(p, self.locale, 0) for p in bm["percentile"]],
        })
        return blocks.table(frame, [("label", _("Measure"), False), ("value", _("You"), True),
                                    ("range", _("Likely range (95%)"), True),
                                    ("median", _("Peer median"), True), ("pct", _("Percentile"), True)],
                            _("Your figures next to the median of similar partners. The likely range shows how "
                              "much a rate based on few cases could differ by chance."))

    # ---- tenure cohort benchmark (partners at the same quarter of partnership) -----------------

    def tenure_benchmark(self) -> Html:
        """The partner's figures next to the median of partners at the same stage of their
        partnership (its tenure cohort, ``benchmarks.tenure_bands``; aggregates of at least
        ``benchmarks.min_peers`` partners only, ``tenure.cohort_benchmarks``)."""
        _ = self.tr.gettext
        tb = self.b.tenure_benchmarks
        if _usable(tb, "metric", "cohort_median"):
            tb = tb[tb["window"] == "quarter"] if "window" in tb.columns else tb
            tb = tb[tb["cohort_median"].notna()]
        if not _usable(tb, "metric", "cohort_median") or tb.empty:
            return self.unavailable(_("Not enough partners at the same stage to compare with anonymously."))
        flip = tb["metric"].map(lambda m: measures.get(m).lower_is_better).astype(bool).to_numpy()
        pct = tb["percentile"].astype(float).to_numpy()
        frame = pd.DataFrame({
            "label": [self.measure_label(m) for m in tb["metric"]],
            "value": [self.shown(m, v) for m, v in zip(tb["metric"], tb["value"])],
            "median": [self.measure_value(m, v) for m, v in zip(tb["metric"], tb["cohort_median"])],
            "pct": [i18n.format_number(p, self.locale, 0) if not math.isnan(p) else "—"
                    for p in np.where(flip, 100 - pct, pct)],
        })
        quarter = self.kpi("tenure_quarter")
        caption = blocks.fill(_("Partners at the same stage: quarter {quarter} of the partnership ({n} partners "
                                "in quarters {band})."),
            quarter=self.shown("tenure_quarter", quarter), n=i18n.format_number(tb["cohort_n"].max(), self.locale, 0),
            band=str(tb["tenure_band"].iloc[0]))
        return blocks.table(frame, [("label", _("Measure"), False), ("value", _("You"), True),
                                    ("median", _("Median at the same stage"), True),
                                    ("pct", _("Percentile"), True)], caption)

    # ---- focus ------------------------------------------------------------------------------

    def focus_items(self, max_items: int = 5) -> list[FocusItem]:
        """The largest gaps, ranked: missed targets, open tier requirements, stale deals, low
        registration, unused MDF, slow lead acceptance, low coverage or satisfaction, and measures in
        the bottom quarter of the peer group. One item per topic (the most severe), at most
        ``max_items``. Low-sample rates never make an item."""
        _ = self.tr.gettext
        items: list[FocusItem] = []
        weights, low = self.settings.focus_weights, self.settings.benchmark_low
        bench = self.benchmark_rows().set_index("metric") if not self.benchmark_rows().empty else pd.DataFrame()

        def add(topic, rule, gap, text):
            if not math.isnan(gap) and gap > 0:
                items.append(FocusItem(topic, rule, round(float(weights[rule] * min(gap, 1.0)), 6), text))

        def reliable(column):
            return not self.low_sample(column)[0]

        for r in self.target_rows().itertuples(index=False):
            column = TARGET_ACTUALS.get(r.metric, r.metric)
            if r.status in ("amber", "red") and reliable(column):
                add(column, "target", 1 - _num(r.attainment), _(
                    "{measure}: {actual} against the agreed target of {target} ({share} reached); close the gap.").format(
                    measure=self.measure_label(column), actual=self.measure_value(column, r.actual),
                    target=self.measure_value(column, r.target), share=i18n.format_percent(r.attainment, self.locale)))
        gap = self.b.tier_gap
        if _usable(gap, "criterion", "required", "actual"):
            for r in gap.dropna(subset=["criterion"]).itertuples(index=False):
                if bool(r.met) if not i18n.is_missing(r.met) else False:
                    continue
                req = _num(r.required)
                topic = str(r.criterion).removesuffix("_t4q")
                col = str(r.criterion)
                add(topic, "tier", (req - _num(r.actual)) / req if req else math.nan, _(
                    "{measure}: raise it from {actual} to {required} to reach the {tier} tier.").format(
                    tier=self.label("tier", r.next_tier), measure=self.measure_label(col),
                    actual=self.measure_value(col, r.actual), required=self.measure_value(col, r.required)))
        deals = self.b.open_deals
        if _usable(deals, "stale", "amount") and deals["amount"].sum() > 0:
            stale = deals[deals["stale"].fillna(False).astype(bool)]
            if len(stale):
                add("stale_deals", "stale", stale["amount"].sum() / deals["amount"].sum(), self.tr.ngettext(
                    "Update or close your stale deal worth {amount}.",
                    "Update or close your {n} stale deals worth {amount} in total.", len(stale)).format(
                    n=len(stale), amount=self.money(stale["amount"].sum())))
        reg = self.kpi("registration_rate")
        if "registration_rate" in bench.index and reliable("registration_rate"):
            med = _num(bench.at["registration_rate", "peer_median"])
            add("registration_rate", "registration", (med - reg) / med if med else math.nan, _(
                "Ask your customers to register their products: {rate} of units sold were registered, against "
                "{median} for similar partners.").format(rate=i18n.format_percent(reg, self.locale),
                                                         median=i18n.format_percent(med, self.locale)))
        alloc, used = self.kpi("mdf_allocated"), self.kpi("mdf_utilization")
        if alloc > 0 and used < self.settings.mdf_use_min:
            add("mdf_utilization", "mdf", 1 - used, _(
                "Use your marketing funds: {claimed} of the {allocated} available were claimed ({share}).").format(
                claimed=self.money(self.kpi("mdf_claimed")), allocated=self.money(alloc),
                share=i18n.format_percent(used, self.locale)))
        days = self.kpi("lead_accept_days_median")
        if "lead_accept_days_median" in bench.index and reliable("lead_accept_days_median"):
            med = _num(bench.at["lead_accept_days_median", "peer_median"])
            add("lead_accept_days_median", "leads", (days - med) / med if med else math.nan, _(
                "Accept leads faster: half of your leads waited more than {days}, against {peer} for similar "
                "partners.").format(days=self.fmt(days, "days"), peer=self.fmt(med, "days")))
        cov = self.kpi("pipeline_coverage")
        add("pipeline_open", "coverage", 1 - cov, _(
            "Build pipeline: your weighted pipeline covers {share} of next quarter's revenue target.").format(
            share=i18n.format_percent(cov, self.locale)))
        csat = self.kpi("csat_mean")
        if "csat_mean" in bench.index and reliable("csat_mean"):
            med = _num(bench.at["csat_mean", "peer_median"])
            add("csat_mean", "satisfaction", (med - csat) / med if med else math.nan, _(
                "Look into customer satisfaction: {score} out of 5, against {median} for similar partners.").format(
                score=i18n.format_number(csat, self.locale, 1), median=i18n.format_number(med, self.locale, 1)))
        if len(bench):
            for metric, row in bench.iterrows():
                pct = _num(row["percentile"])
                if pct < low and reliable(metric):
                    add(str(metric), "benchmark", (low - pct) / low, _(
                        "{measure}: you are in the bottom quarter of similar partners ({value}; their "
                        "median {median}).").format(measure=self.measure_label(metric),
                                                    value=self.measure_value(metric, row.get("value")),
                                                    median=self.measure_value(metric, row.get("peer_median"))))
        best: dict[str, FocusItem] = {}
        for it in items:
            if it.topic not in best or it.severity > best[it.topic].severity:
                best[it.topic] = it
        rule_order = list(settings.FOCUS_RULES)
        ranked = sorted(best.values(), key=lambda i: (-i.severity, rule_order.index(i.rule), i.topic))
        return ranked[:max_items]

    def focus(self) -> Html:
        """The "focus for next quarter" list (3–5 items when there are that many gaps)."""
        _ = self.tr.gettext
        items = self.focus_items()
        if not items:
            return self.note(_("Nothing stands out this quarter: you met your targets and none of your measures "
                                 "lags behind similar partners. Keep it up!"))
        return blocks.ordered_list([i.text for i in items])

    # ---- glossary ---------------------------------------------------------------------------

    def glossary(self) -> Html:
        _ = self.tr.gettext
        return blocks.definitions([(_(t), _(d)) for t, d in GLOSSARY])
