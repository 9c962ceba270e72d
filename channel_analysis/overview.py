"""The internal network overview's content (never sent to partners).

``notebooks/network_overview.py`` makes one call per block::

    overview = channel_analysis.overview.Overview(bundle, locale=locale)
    overview.pareto()

It reads the :class:`~channel_analysis.bundle.NetworkBundle` tables below (any of them may be absent:
the block then says "not available"). Column names are those of the statistics modules:

==============  ==================================================================================
table           columns read
==============  ==================================================================================
partners        partner_id, name, partner_type, region (optional: country, locale)
kpis            the KPI table (kpis.partner_kpis): partner_id, period, window, revenue,
                revenue_growth_yoy, gross_margin_pct, win_rate, registration_rate, status,
                mdf_claimed, mdf_attributed_revenue, certified_reps, csat_mean, ...
network         network KPIs per quarter (kpis.network_kpis): period, revenue,
                partners_active_end, retention_rate, activation_rate, channel_return
pareto          segmentation.pareto: partner_id, value, share, cum_share, rank, abc_class
matrix          segmentation.performance_potential: partner_id, score, performance, potential, action
tiers           tiers.assign_tiers: partner_id, period, qualifying_tier, tier, change, previous_tier
pipeline_by_segment  partner_type, partners, open_deals, pipeline_open, pipeline_weighted,
                stale_deals, revenue (segment = partner type)
mdf_by_tier     tier, partners, mdf_allocated, mdf_claimed, mdf_attributed_revenue, mdf_utilization,
                mdf_return (the quarter)
cycle_curves    salescycle.km_curve by segment (partner type): group, days, survival, ci_low, ci_high
cohorts         salescycle.partner_retention(...).cohorts: cohort, months, partners, retained,
                retained_share
==============  ==================================================================================

``notes``: ``gini``, ``tier_levels`` (tier names, lowest first), ``min_sample``.
Texts are gettext message ids (the overview is shown in the channel team's language,
``locale.network``); numbers are formatted by Babel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from . import blocks, i18n, plots
from .blocks import Html, Tile
from .bundle import NetworkBundle
from .i18n import N_

SECTIONS: dict[str, tuple[str, str | None]] = {
    "about": (N_("About this overview"), N_(
        "Internal: the whole partner network for the quarter. It names partners and must not be sent "
        "to any of them.")),
    "totals": (N_("Totals and trends"), N_("Network revenue, active partners, retention and activation.")),
    "concentration": (N_("Concentration"), N_(
        "How revenue is spread across partners: the Pareto curve, ABC classes and the Lorenz curve "
        "with its Gini coefficient (0 = every partner sells the same, 1 = one partner sells all).")),
    "segments": (N_("Performance and potential"), N_(
        "Partners by weighted performance score and by untapped potential, with the action agreed for "
        "each cell.")),
    "tiers": (N_("Tier migration"), N_("Partners by tier last quarter and this quarter; who moved up and down.")),
    "pipeline": (N_("Pipeline health by segment"), N_(
        "Open, weighted and stale pipeline of each partner type.")),
    "sales_cycle": (N_("Sales cycle by segment"), N_(
        "Share of deals still open after a given number of days (Kaplan–Meier, open deals censored).")),
    "cohorts": (N_("Onboarding cohorts"), N_(
        "Of the partners onboarded in each quarter, the share still active after each number of months.")),
    "mdf": (N_("MDF return by tier"), N_(
        "Revenue attributed to MDF activities per unit of funds claimed.")),
    "at_risk": (N_("Partners at risk"), N_(
        "Partners whose revenue of the last four quarters fell sharply, or who stopped selling.")),
    "partners": (N_("Every partner"), N_("Key figures of every partner for the quarter.")),
}

#: The cohort heatmap shows the latest cohorts only, up to this age (months).
COHORTS_SHOWN = 12
COHORT_MONTHS = 36

TIER_CHANGE = {"promoted": N_("Moved up"), "relegated": N_("Moved down")}


def _usable(frame: Any, *columns: str) -> bool:
    return isinstance(frame, pd.DataFrame) and len(frame) > 0 and all(c in frame.columns for c in columns)


class Overview:
    """The network overview in one locale; each method returns one block of the report."""

    def __init__(self, bundle: NetworkBundle, locale: str | None = None):
        self.b = bundle
        self.locale = i18n.pick_locale(locale, bundle.notes.get("locale"))
        self.tr = i18n.translator(self.locale)
        self.currency = bundle.reporting_currency

    # ---- helpers ----------------------------------------------------------------------------

    def table(self, name: str) -> pd.DataFrame:
        """A bundle table, or an empty frame when the bundle does not have it."""
        return self.b.tables.get(name, pd.DataFrame())

    def money(self, v: Any) -> str:
        return i18n.format_currency(v, self.locale, self.currency, digits=0)

    def unavailable(self) -> Html:
        return blocks.note(self.tr.gettext("Not available for this run."), "unavailable")

    def _kpis(self, window: str = "quarter") -> pd.DataFrame:
        k = self.table("kpis")
        if not _usable(k, "partner_id", "period", "window"):
            return pd.DataFrame()
        return k[(k["period"] == self.b.period) & (k["window"] == window)]

    def _names(self) -> pd.DataFrame:
        p = self.table("partners")
        return p[["partner_id", "name"]] if _usable(p, "partner_id", "name") else pd.DataFrame(
            columns=["partner_id", "name"])

    def _current_tiers(self) -> pd.DataFrame:
        t = self.table("tiers")
        if not _usable(t, "partner_id", "period", "tier"):
            return pd.DataFrame(columns=["partner_id", "tier"])
        return t[t["period"] == self.b.period]

    # ---- blocks -----------------------------------------------------------------------------

    def header(self) -> Html:
        _ = self.tr.gettext
        facts = [(_("Quarter"), str(self.b.period)), (_("Data as of"), i18n.format_date(self.b.as_of, self.locale)),
                 (_("Reporting currency"), self.currency)]
        dl = "".join(f"<dt>{blocks.esc(k)}</dt><dd>{blocks.esc(v)}</dd>" for k, v in facts)
        heading = _("Channel network overview")  # not inside the f-string: pybabel cannot see into one
        return Html(f'<header class="ca-header"><h1>{blocks.esc(heading)}</h1>'
                    f'<dl class="ca-meta">{dl}</dl></header>')

    def title(self) -> str:
        return self.tr.gettext("Channel network overview — {period}").format(period=self.b.period)

    def section(self, key: str) -> Html:
        heading, intro = SECTIONS[key]
        _ = self.tr.gettext
        return blocks.section(_(heading), _(intro) if intro else None)

    def totals(self) -> Html:
        """Tiles: revenue (growth vs previous quarter), active partners, retention, activation, Gini."""
        _ = self.tr.gettext
        net = self.table("network")
        if not _usable(net, "period", "revenue"):
            return self.unavailable()
        net = net.sort_values("period")
        cur = net[net["period"] == self.b.period]
        if cur.empty:
            return self.unavailable()
        row = cur.iloc[-1]
        prev = net[net["period"] < self.b.period]
        growth = row["revenue"] / prev.iloc[-1]["revenue"] - 1 if len(prev) and prev.iloc[-1]["revenue"] else math.nan
        items = [
            Tile(_("Revenue"), self.money(row["revenue"]),
                 _("{growth} vs previous quarter").format(growth=i18n.format_percent(growth, self.locale, 1))),
            Tile(_("Active partners"), i18n.format_number(row.get("partners_active_end"), self.locale, 0)),
            Tile(_("Partner retention"), i18n.format_percent(row.get("retention_rate"), self.locale, 1)),
            Tile(_("Activation rate"), i18n.format_percent(row.get("activation_rate"), self.locale)),
            Tile(_("Channel return"), i18n.format_number(row.get("channel_return"), self.locale, 1),
                 _("Revenue per unit of programme cost and MDF")),
            Tile(_("Gini coefficient"), i18n.format_number(self.b.notes.get("gini"), self.locale, 2),
                 _("Revenue concentration")),
        ]
        return blocks.tiles(items)

    def trends(self) -> Html:
        _ = self.tr.gettext
        net = self.table("network")
        wanted = [("revenue", N_("Revenue"), "currency"), ("partners_active_end", N_("Active partners"), "number"),
                  ("retention_rate", N_("Partner retention"), "percent"),
                  ("activation_rate", N_("Activation rate"), "percent")]
        present = [w for w in wanted if _usable(net, "period", w[0]) and net[w[0]].notna().any()]
        if not present:
            return self.unavailable()
        axes = plots.kpi_trend(net, columns=[c for c, _l, _k in present], titles=[_(t) for _c, t, _k in present],
                               kinds=[k for _c, _l, k in present], locale=self.locale, currency=self.currency)
        return blocks.figure(axes, _("Network totals per quarter over the history of the run."))

    def pareto(self) -> Html:
        _ = self.tr.gettext
        p = self.table("pareto")
        if not _usable(p, "cum_share"):
            return self.unavailable()
        ax = plots.pareto_curve(p, locale=self.locale)
        n80 = int((p["cum_share"].to_numpy() < 0.8).sum()) + 1
        caption = _("Cumulative share of revenue by partner, largest first: {n} of {total} partners ({share}) make "
                    "80% of revenue.").format(n=n80, total=len(p), share=i18n.format_percent(n80 / len(p), self.locale))
        notes = []
        if "abc_class" in p:
            counts = p["abc_class"].value_counts().reindex(["A", "B", "C"], fill_value=0)
            notes.append(blocks.note(_("ABC classes: {a} A, {b} B, {c} C partners.").format(
                a=counts["A"], b=counts["B"], c=counts["C"])))
        return blocks.figure(ax, caption, notes=notes)

    def lorenz(self) -> Html:
        _ = self.tr.gettext
        p = self.table("pareto")
        if not _usable(p, "value"):
            return self.unavailable()
        gini = self.b.notes.get("gini")
        ax = plots.lorenz_curve(p, value="value", gini=gini, locale=self.locale)
        caption = _("Lorenz curve of partner revenue: the further below the diagonal, the more concentrated "
                    "(Gini {g}).").format(g=i18n.format_number(gini, self.locale, 2))
        return blocks.figure(ax, caption)

    def segment_matrix(self) -> Html:
        _ = self.tr.gettext
        s = self.table("matrix")
        if not _usable(s, "performance", "potential"):
            return self.unavailable()
        cells = (s.groupby(["performance", "potential"], as_index=False)
                 .agg(partners=("partner_id", "size"),
                      action=("action", "first") if "action" in s else ("partner_id", "size")))
        levels = ("low", "medium", "high")
        ax = plots.segment_matrix(cells, levels=levels, level_labels=[_("low"), _("medium"), _("high")],
                                  locale=self.locale)
        unknown = int((~s["performance"].isin(levels) | ~s["potential"].isin(levels)).sum())
        caption = _("Partners by performance (rows) and untapped potential (columns), with each cell's action.")
        notes = [blocks.note(_("{n} partners without a score or a potential are not shown.").format(n=unknown))] \
            if unknown else []
        return blocks.figure(ax, caption, notes=notes)

    def tier_migration(self) -> Html:
        """Tier last quarter × tier this quarter (counts)."""
        _ = self.tr.gettext
        t = self._current_tiers()
        if not _usable(t, "previous_tier", "tier"):
            return self.unavailable()
        order = list(self.b.notes.get("tier_levels") or sorted(set(t["tier"].dropna())))
        m = pd.crosstab(t["previous_tier"], t["tier"]).reindex(index=order, columns=order, fill_value=0)
        frame = m.reset_index(names="from").astype(str)
        cols = [("from", _("Last quarter \u2192 this quarter"), False)] + [(c, c, True) for c in order]
        return blocks.table(frame, cols, _("Number of partners by tier last quarter (rows) and this quarter "
                                           "(columns); off the diagonal are moves."))

    def tier_moves(self) -> Html:
        _ = self.tr.gettext
        t = self._current_tiers()
        if not _usable(t, "change", "tier"):
            return self.unavailable()
        moves = t[t["change"].isin(list(TIER_CHANGE))].merge(self._names(), on="partner_id", how="left")
        if moves.empty:
            return blocks.note(_("No partner changed tier this quarter."))
        moves = moves.sort_values(["change", "partner_id"])
        frame = pd.DataFrame({"change": [_(TIER_CHANGE[c]) for c in moves["change"]],
                              "id": moves["partner_id"].astype(str), "name": moves["name"].fillna("").astype(str),
                              "from": moves.get("previous_tier", pd.Series("", moves.index)).astype(str),
                              "to": moves["tier"].astype(str)})
        return blocks.table(frame, [("change", _("Change"), False), ("id", _("Partner"), False),
                                    ("name", _("Name"), False), ("from", _("From"), False), ("to", _("To"), False)],
                            _("Partners promoted or relegated this quarter."))

    def pipeline_health(self) -> Html:
        """Open, weighted and stale pipeline per segment (partner type)."""
        _ = self.tr.gettext
        g = self.table("pipeline_by_segment")
        if not _usable(g, "partner_type", "pipeline_open"):
            return self.unavailable()
        g = g.sort_values("pipeline_open", ascending=False)

        def fmt(col, f):
            return [f(v) for v in g[col]] if col in g else ["—"] * len(g)

        frame = pd.DataFrame({
            "segment": g["partner_type"].astype(str),
            "partners": fmt("partners", lambda v: i18n.format_number(v, self.locale, 0)),
            "deals": fmt("open_deals", lambda v: i18n.format_number(v, self.locale, 0)),
            "open": fmt("pipeline_open", self.money), "weighted": fmt("pipeline_weighted", self.money),
            "stale": fmt("stale_deals", lambda v: i18n.format_number(v, self.locale, 0)),
            "coverage": [i18n.format_percent(w / r if r else math.nan, self.locale)
                         for w, r in zip(g.get("pipeline_weighted", np.nan), g.get("revenue", np.nan))],
        })
        return blocks.table(frame, [("segment", _("Partner type"), False), ("partners", _("Partners"), True),
                                    ("deals", _("Open deals"), True), ("open", _("Open value"), True),
                                    ("weighted", _("Weighted value"), True), ("stale", _("Stale deals"), True),
                                    ("coverage", _("Weighted ÷ quarter revenue"), True)],
                            _("Open pipeline by partner type: value, value weighted by win chance, stale deals, and "
                              "the weighted pipeline against the quarter's revenue."))

    def cycle_curves(self) -> Html:
        _ = self.tr.gettext
        c = self.table("cycle_curves")
        if not _usable(c, "group", "days", "survival"):
            return self.unavailable()
        ax = plots.cycle_curves(c, locale=self.locale)
        return blocks.figure(ax, _("Share of deals still open after a given number of days, by segment; where a "
                                   "curve crosses the dotted line is its median cycle."))

    def cohorts(self) -> Html:
        _ = self.tr.gettext
        c = self.table("cohorts")
        if not _usable(c, "cohort", "months", "retained_share"):
            return self.unavailable()
        recent = sorted(c["cohort"].astype(str).unique())[-COHORTS_SHOWN:]
        c = c[c["cohort"].astype(str).isin(recent) & (c["months"] <= COHORT_MONTHS)]
        ax = plots.cohort_retention(c, cohort="cohort", age="months", value="retained_share", locale=self.locale)
        ax.set_xlabel(_("Months since onboarding"))
        net = self.table("network")
        notes = []
        if _usable(net, "period", "activation_rate"):
            cur = net[net["period"] == self.b.period]
            if len(cur):
                notes.append(blocks.note(_("Activation this quarter: {rate} of recently onboarded partners made a "
                                           "first deal in time.").format(
                    rate=i18n.format_percent(cur.iloc[0]["activation_rate"], self.locale))))
        return blocks.figure(ax, _("Share of each onboarding cohort (rows, the last {k}) still active after n months "
                                   "(columns, up to {m}).").format(k=COHORTS_SHOWN, m=COHORT_MONTHS),
                             notes=notes)

    def mdf_by_tier(self) -> Html:
        _ = self.tr.gettext
        g = self.table("mdf_by_tier")
        if not _usable(g, "tier", "mdf_return") or g["mdf_return"].isna().all():
            return self.unavailable()
        order = list(self.b.notes.get("tier_levels") or [])
        rank = {t: i for i, t in enumerate(order)}
        g = g.assign(_o=g["tier"].map(rank)).sort_values("_o", na_position="last")
        ax = plots.mdf_return(g, group="tier", value="mdf_return", locale=self.locale)
        return blocks.figure(ax, _("Revenue attributed to MDF activities per unit of funds claimed this quarter, "
                                   "by tier; below the dotted line the funds brought less than they cost."))

    def _partner_frame(self) -> pd.DataFrame:
        q = self._kpis("quarter")
        t4 = self._kpis("t4q")
        if q.empty:
            return pd.DataFrame()
        cols = [c for c in ("partner_id", "revenue", "revenue_growth_yoy", "gross_margin_pct", "win_rate",
                            "registration_rate", "status") if c in q]
        d = q[cols].merge(self._names(), on="partner_id", how="left")
        if not t4.empty:
            d = d.merge(t4[["partner_id", "revenue"]].rename(columns={"revenue": "revenue_t4q"}), on="partner_id",
                        how="left")
        d = d.merge(self._current_tiers()[["partner_id", "tier"]], on="partner_id", how="left")
        s = self.table("matrix")
        if _usable(s, "partner_id", "action"):
            d = d.merge(s[["partner_id", "action"]], on="partner_id", how="left")
        return d.sort_values("revenue_t4q" if "revenue_t4q" in d else "revenue", ascending=False)

    def _partner_table(self, d: pd.DataFrame, caption: str) -> Html:
        _ = self.tr.gettext
        status = {"active": _("Active"), "at_risk": _("At risk"), "onboarding": _("Onboarding"),
                  "churned": _("Churned")}

        def col(name, fmt):
            return [fmt(v) for v in d[name]] if name in d else ["—"] * len(d)

        frame = pd.DataFrame({
            "id": d["partner_id"].astype(str), "name": col("name", lambda v: "" if i18n.is_missing(v) else str(v)),
            "tier": col("tier", lambda v: "—" if i18n.is_missing(v) else str(v)),
            "status": col("status", lambda v: status.get(v, str(v))),
            "rev": col("revenue", self.money), "t4q": col("revenue_t4q", self.money),
            "yoy": col("revenue_growth_yoy", lambda v: i18n.format_percent(v, self.locale)),
            "margin": col("gross_margin_pct", lambda v: i18n.format_percent(v, self.locale)),
            "win": col("win_rate", lambda v: i18n.format_percent(v, self.locale)),
            "reg": col("registration_rate", lambda v: i18n.format_percent(v, self.locale)),
            "action": col("action", lambda v: "—" if i18n.is_missing(v) else str(v)),
        })
        return blocks.table(frame, [
            ("id", _("Partner"), False), ("name", _("Name"), False), ("tier", _("Tier"), False),
            ("status", _("Status"), False), ("rev", _("Revenue"), True), ("t4q", _("Last 4 quarters"), True),
            ("yoy", _("Growth y/y"), True), ("margin", _("Margin %"), True), ("win", _("Win rate"), True),
            ("reg", _("Registration"), True), ("action", _("Action"), False)], caption)

    def at_risk(self) -> Html:
        _ = self.tr.gettext
        d = self._partner_frame()
        if d.empty or "status" not in d:
            return self.unavailable()
        risk = d[d["status"] == "at_risk"]
        if risk.empty:
            return blocks.note(_("No partner is at risk this quarter."))
        return self._partner_table(risk, self.tr.ngettext(
            "{n} partner at risk, largest first.", "{n} partners at risk, largest first.", len(risk)).format(
            n=len(risk)))

    def partner_table(self) -> Html:
        _ = self.tr.gettext
        d = self._partner_frame()
        if d.empty:
            return self.unavailable()
        return self._partner_table(d, _("Every partner with its key figures for the quarter, largest first "
                                        "(revenue of the last four quarters)."))
