"""The internal network overview's content (never sent to partners).

``notebooks/network_overview.py`` makes one call per block::

    overview = channel_analysis.overview.Overview(bundle, locale=locale)
    overview.pareto()

Each block reads one table of the :class:`~channel_analysis.bundle.NetworkBundle`
(:func:`channel_analysis.exports.network_bundle`) and only formats it: nothing is recomputed here, so
every number shown is a cell of that table; tables marked "exported" are the same frames as the
run's exported tables (``docs/exports.md``). A missing table makes its block say "not available".

===================  ===========================================================================
table                block(s)
===================  ===========================================================================
network (exported)   totals (the reported quarter's row), trends
pareto               pareto, lorenz (segmentation.pareto: partner_id, value, cum_share, abc_class)
segment_cells        segment_matrix: performance, potential, action, partners, names
tier_migration       tier_migration (exported): from_tier, to_tier, partners
movements            tier_moves (tiers.movements + name)
pipeline_by_segment  pipeline_health: partner_type, partners, open_deals, pipeline_open,
                     pipeline_weighted, stale_deals, weighted_to_revenue (sorted as shown)
cycle_curves         cycle_curves (salescycle.km_curve by partner type)
cohorts              cohorts (salescycle.partner_retention(...).cohorts)
mdf_by_tier          mdf_by_tier: tier, mdf_return (tiers in programme order)
mdf_incrementality   mdf_incrementality (exported): network and per-activity-type revenue lift from MDF
                     with its interval (incrementality.estimate); its design in notes["mdf_incrementality"]
at_risk (exported)   at_risk: exports.AT_RISK of the partners at risk, highest churn risk first
churn_calibration    churn_risk: the backtest's calibration table (exported); the concordance is
                     the network table's churn_concordance, the model's status notes["churn"]
key_figures          partner_table: exports.KEY_FIGURES of every partner, largest first
skipped (exported)   header (data_gaps): what the data did not allow (item, reason)
treatment_counts     treatments: partners per programme treatment (programme.treatment_counts)
treatment_partners   treatments: reported partners with treatment, programme_value and
                     next_tier_extra_value (exported treatments + programme_value)
===================  ===========================================================================

KPI values in tables and tiles are :func:`channel_analysis.blocks.tagged` with the KPI-table (or
network-table) column they show, its window and, per partner, the partner id.

Texts are gettext message ids (the overview is shown in the channel team's language,
``locale.network``); numbers are formatted by Babel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import blocks, i18n, measures, plots
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
    "accounts": (N_("Account coverage"), N_(
        "End-customer accounts by segment and coverage model, how they moved since last quarter, and "
        "the accounts whose serving partner hands them over or takes them over.")),
    "pipeline": (N_("Pipeline health by segment"), N_(
        "Open, weighted and stale pipeline of each partner type.")),
    "sales_cycle": (N_("Sales cycle by segment"), N_(
        "Share of deals still open after a given number of days (Kaplan–Meier, open deals censored).")),
    "cohorts": (N_("Onboarding cohorts"), N_(
        "Of the partners onboarded in each quarter, the share still active after each number of months.")),
    "mdf": (N_("MDF return by tier"), N_(
        "Revenue attributed to MDF activities per unit of funds claimed.")),
    "mdf_incrementality": (N_("Did MDF move sales?"), N_(
        "Revenue change of partners that started MDF against matched partners without MDF over the same "
        "quarters (difference-in-differences).")),
    "at_risk": (N_("Partners at risk"), N_(
        "Partners whose revenue of the last four quarters fell sharply, or who stopped selling.")),
    "partners": (N_("Every partner"), N_("Key figures of every partner for the quarter.")),
    "treatments": (N_("Programme treatments"), N_(
        "The treatment each partner's segment receives, and what partners earned from the programme.")),
    "churn": (N_("Churn risk"), N_(
        "How likely each partner is to end its contract next quarter, estimated from the partners who left "
        "before (their revenue, growth, pipeline and engagement), and how well that estimate did on past "
        "quarters.")),
}

#: Group of the whole network in the ``activation_curve`` table (``tenure.ALL``).
ALL_GROUP = "all"

#: The cohort heatmap shows the latest cohorts only, up to this age (months).
COHORTS_SHOWN = 12
COHORT_MONTHS = 36

#: Recommended tier moves (tiers.tier_status ``recommendation``) → words.
TIER_CHANGE = {"promote": N_("Move up"), "relegate": N_("Move down")}


def _words(code: Any) -> str:
    """A parameter identifier as words ("inside_sales" → "Inside sales"): how the overview names
    the coverage models of params ``accounts.coverage_models``."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _usable(frame: Any, *columns: str) -> bool:
    return isinstance(frame, pd.DataFrame) and len(frame) > 0 and all(c in frame.columns for c in columns)


class Overview:
    """The network overview in one locale; each method returns one block of the report."""

    def __init__(self, bundle: NetworkBundle, locale: str | None = None):
        self.b = bundle
        self.locale = i18n.pick_locale(locale)
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

    def _tag(self, text: str, measure: str, value: Any, window: str = "quarter",
             partner: str | None = None) -> Html:
        return blocks.tagged(text, measure, value, window=window, partner=partner)

    # ---- blocks -----------------------------------------------------------------------------

    def population(self) -> tuple[int, int, int]:
        """(reported, churned, outside the quarter): the run's one partner count and its exclusions,
        from the exported ``partners`` snapshot — reported partners get a scorecard; churned ones
        (ended on or before as_of) do not; the others had no contract during the quarter."""
        p = self.table("partners")
        if not _usable(p, "reported", "status"):
            return 0, 0, 0
        reported = p["reported"].astype(bool)
        in_quarter = p["status"].notna()
        return int(reported.sum()), int((~reported & in_quarter).sum()), int((~reported & ~in_quarter).sum())

    def header(self) -> Html:
        _ = self.tr.gettext
        reported, churned, outside = self.population()
        count = self.tr.ngettext("{n} partner reported", "{n} partners reported", reported).format(
            n=i18n.format_number(reported, self.locale, 0))
        left_out = _("not reported: {churned} churned, {outside} without a contract in the quarter").format(
            churned=i18n.format_number(churned, self.locale, 0), outside=i18n.format_number(outside, self.locale, 0))
        facts = [(_("Quarter"), str(self.b.period)), (_("Data as of"), i18n.format_date(self.b.as_of, self.locale)),
                 (_("Reporting currency"), self.currency), (_("Partners"), f"{count} ({left_out})")]
        dl = "".join(f"<dt>{blocks.esc(k)}</dt><dd>{blocks.esc(v)}</dd>" for k, v in facts)
        heading = _("Channel network overview")  # not inside the f-string: pybabel cannot see into one
        end = self.b.notes.get("data_end")
        partial = "" if not end else '<p class="ca-note ca-partial">{}</p>'.format(blocks.esc(
            _(blocks.PARTIAL_QUARTER).format(quarter=self.b.period, date=i18n.format_date(end, self.locale))))
        return (Html(f'<header class="ca-header"><h1>{blocks.esc(heading)}</h1>'
                     f'<dl class="ca-meta">{dl}</dl>{partial}') + self.data_gaps() + Html('</header>')
                + blocks.grid_script(_("Filter")))

    def data_gaps(self) -> Html:
        """What this data did not allow (the exported ``skipped`` table): the measures not available
        by their labels, and how many tier criteria, segmentation weights and peer groupings were
        skipped. Nothing when the data has everything."""
        _ = self.tr.gettext
        gaps = self.table("skipped")
        if not _usable(gaps, "item"):
            return Html("")
        items = gaps["item"].astype(str)
        keys = [k for k in items if k in measures.MEASURES]
        out = Html("")
        if keys:
            labels = sorted({_(measures.get(k).label) for k in keys})
            out += blocks.note(_("Not available with this data: {measures}.").format(measures=", ".join(labels)),
                               "unavailable")
        settings = int(items.str.startswith(("tiers.", "segmentation.", "benchmarks.")).sum())
        if settings:
            out += blocks.note(self.tr.ngettext(
                "{n} tier criterion, segmentation weight or peer grouping was skipped for lack of data "
                "(kpis/skipped.csv lists each with its reason).",
                "{n} tier criteria, segmentation weights or peer groupings were skipped for lack of data "
                "(kpis/skipped.csv lists each with its reason).", settings).format(n=settings))
        return out

    def title(self) -> str:
        return self.tr.gettext("Channel network overview — {period}").format(period=self.b.period)

    def section(self, key: str) -> Html:
        heading, intro = SECTIONS[key]
        _ = self.tr.gettext
        return blocks.section(_(heading), _(intro) if intro else None)

    def totals(self) -> Html:
        """Tiles: revenue (growth vs previous quarter), active partners, retention, activation,
        channel return, Gini: the reported quarter's row of the network table."""
        _ = self.tr.gettext
        net = self.table("network")
        if not _usable(net, "period", "revenue"):
            return self.unavailable()
        cur = net[net["period"] == self.b.period]
        if cur.empty:
            return self.unavailable()
        row = cur.iloc[-1]
        tag, loc = self._tag, self.locale

        def value(col, fmt):
            v = row.get(col)
            return tag(fmt(v), col, v)

        growth = value("revenue_growth_prev", lambda v: i18n.format_percent(v, loc, 1))
        items = [
            Tile(_("Revenue"), value("revenue", self.money),
                 Html(blocks.esc(_("{growth} vs previous quarter")).format(growth=growth.markup))),
            Tile(_("Active partners"), value("partners_active_end", lambda v: i18n.format_number(v, loc, 0))),
            Tile(_("Partner retention"), value("retention_rate", lambda v: i18n.format_percent(v, loc, 1))),
            Tile(_("Activation rate"), value("activation_rate", lambda v: i18n.format_percent(v, loc)),
                 _("Fixed window after onboarding; the activation curve is below")),
            Tile(_("Channel return"), value("channel_return", lambda v: i18n.format_number(v, loc, 1)),
                 _("Revenue per unit of programme cost and MDF")),
            Tile(_("Gini coefficient"), value("revenue_gini_t4q", lambda v: i18n.format_number(v, loc, 2)),
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
        net = self.table("network")
        now = net[net["period"] == self.b.period] if _usable(net, "period", "revenue_gini_t4q") else net.iloc[0:0]
        gini = now["revenue_gini_t4q"].iloc[0] if len(now) else None
        ax = plots.lorenz_curve(p, value="value", gini=gini, locale=self.locale)
        caption = blocks.fill(_("Lorenz curve of partner revenue: the further below the diagonal, the more "
                                "concentrated (Gini {g})."),
                              g=blocks.tagged(i18n.format_number(gini, self.locale, 2), "revenue_gini_t4q", gini, "quarter"))
        return blocks.figure(ax, caption)

    def segment_matrix(self) -> Html:
        """The 3×3 matrix (partners per cell and its action) and, below it, the partners of each cell."""
        _ = self.tr.gettext
        cells = self.table("segment_cells")
        if not _usable(cells, "performance", "potential", "partners"):
            return self.unavailable()
        levels = ("low", "medium", "high")
        label = {"low": _("low"), "medium": _("medium"), "high": _("high")}
        ax = plots.segment_matrix(cells, levels=levels, level_labels=[label[lv] for lv in levels],
                                  locale=self.locale)
        known = cells["performance"].isin(levels) & cells["potential"].isin(levels)
        unknown = int(cells.loc[~known, "partners"].sum())
        caption = _("Partners by performance (rows) and untapped potential (columns), with each cell's action.")
        notes = [blocks.note(_("{n} partners without a score or a potential are not shown.").format(n=unknown))] \
            if unknown else []
        figure = blocks.figure(ax, caption, notes=notes)
        frame = pd.DataFrame({
            "performance": [label.get(v, "—") for v in cells["performance"]],
            "potential": [label.get(v, "—") for v in cells["potential"]],
            "action": [("—" if i18n.is_missing(v) else str(v)) for v in cells.get("action", [None] * len(cells))],
            "names": cells["names"].astype(str) if "names" in cells else "",
        })
        listing = blocks.table(frame, [("performance", _("Performance"), False), ("potential", _("Potential"), False),
                                       ("action", _("Action"), False), ("names", _("Partners"), False)],
                               _("The partners in each cell of the matrix, with the cell's action."))
        return figure + listing

    def tier_migration(self) -> Html:
        """Official tier × tier recommended at the next review (counts), from the exported long table."""
        _ = self.tr.gettext
        m = self.table("tier_migration")
        if not _usable(m, "from_tier", "to_tier", "partners"):
            return self.unavailable()
        wide = m.pivot(index="from_tier", columns="to_tier", values="partners")
        order = list(dict.fromkeys(m["from_tier"]))  # the table lists tiers in programme order
        wide = wide.reindex(index=order, columns=list(dict.fromkeys(m["to_tier"])))
        frame = wide.reset_index(names="from").astype(str)
        cols = [("from", _("Official tier \u2192 recommended tier"), False)] + [(c, c, True) for c in wide.columns]
        return blocks.table(frame, cols, _("Number of partners by official tier (rows) and by the tier their results "
                                           "recommend at the next review (columns); off the diagonal are the moves "
                                           "to approve."))

    def tier_moves(self) -> Html:
        """The tier moves the results recommend, for a programme manager to approve."""
        _ = self.tr.gettext
        moves = self.table("movements")
        if not {"partner_id", "recommendation", "tier", "recommended_tier"} <= set(moves.columns):
            return self.unavailable()
        if moves.empty:
            return blocks.note(_("No tier move is recommended this quarter."))
        frame = pd.DataFrame({"change": [_(TIER_CHANGE.get(c, c)) for c in moves["recommendation"]],
                              "id": moves["partner_id"].astype(str),
                              "name": moves.get("name", pd.Series("", moves.index)).fillna("").astype(str),
                              "from": moves["tier"].astype(str), "to": moves["recommended_tier"].astype(str),
                              "quarters": [i18n.format_number(q, self.locale, 0)
                                           for q in moves.get("quarters_qualified", pd.Series(np.nan, moves.index))]})
        return blocks.table(frame, [("change", _("Recommendation"), False), ("id", _("Partner"), False),
                                    ("name", _("Name"), False), ("from", _("Official tier"), False),
                                    ("to", _("Recommended tier"), False), ("quarters", _("Quarters in a row"), True)],
                            _("Tier moves the results recommend at the next review (anti-flapping rules met); a "
                              "programme manager approves each one."))

    def account_coverage(self) -> Html:
        """Accounts per segment and coverage model, the segment migration matrix and the moves of the
        quarter (tables ``account_coverage``, ``account_migration``, ``account_moves``)."""
        _ = self.tr.gettext
        cov = self.table("account_coverage")
        if not _usable(cov, "segment", "coverage", "accounts"):
            return self.unavailable()
        net = self.table("network")
        row = net[net["period"] == self.b.period] if _usable(net, "period") else net
        moved = Html("")
        if _usable(row, "accounts_promoted", "accounts_relegated"):
            parts = [f"{blocks.esc(_(measures.get(k).label))}: "
                     + self._tag(i18n.format_number(row[k].iloc[0], self.locale, 0), k, row[k].iloc[0]).markup
                     for k in ("accounts_promoted", "accounts_relegated")]
            moved = Html(f'<p class="ca-intro">{" · ".join(parts)}</p>')
        counts = blocks.table(pd.DataFrame({
            "segment": cov["segment"].astype(str), "coverage": [_words(c) for c in cov["coverage"]],
            "accounts": [i18n.format_number(n, self.locale, 0) for n in cov["accounts"]],
            "value": [self.money(v) for v in cov["value"]]}),
            [("segment", _("Segment"), False), ("coverage", _("Coverage"), False), ("accounts", _("Accounts"), True),
             ("value", _("Last 4 quarters"), True)],
            _("Accounts by official segment this quarter, their coverage model and their revenue of the last "
              "four quarters."))
        m = self.table("account_migration")
        matrix = Html("")
        if _usable(m, "from_segment", "to_segment", "accounts"):
            order = list(dict.fromkeys(m["from_segment"]))
            wide = m.pivot(index="from_segment", columns="to_segment", values="accounts").reindex(
                index=order, columns=order)
            frame = wide.reset_index(names="from").astype(str)
            matrix = blocks.table(frame, [("from", _("Segment last quarter → this quarter"), False)]
                                  + [(c, c, True) for c in order],
                                  _("Accounts by official segment last quarter (rows) and this quarter (columns); "
                                    "off the diagonal are the moves."))
        moves = self.table("account_moves")
        if not _usable(moves, "customer_id", "action"):
            listing = blocks.note(_("No account changes segment this quarter."))
        else:
            # the largest moves only (accounts.overview_moves); every move is in kpis/account_moves
            total = len(moves)
            limit = self.b.notes.get("account_overview_moves", total)
            if "value" in moves:
                moves = moves.sort_values("value", ascending=False, kind="stable", na_position="last")
            moves = moves.head(limit)
            shown = blocks.note(_("The {shown} largest of {total} moves by revenue of the last four quarters; "
                                  "the exported table of account moves lists them all.").format(
                shown=i18n.format_number(len(moves), self.locale, 0),
                total=i18n.format_number(total, self.locale, 0))) if len(moves) < total else Html("")
            listing = blocks.table(pd.DataFrame({
                "change": [_(blocks.ACCOUNT_CHANGE.get(c, c)) for c in moves["change"]],
                "account": moves["customer_id"].astype(str),
                "name": moves["name"].fillna("").astype(str) if "name" in moves else "",
                "from": moves["from_segment"].astype(str), "to": moves["to_segment"].astype(str),
                "partner": moves["partner_id"].fillna("").astype(str),
                "action": [_(blocks.ACCOUNT_ACTIONS.get(a, a)) for a in moves["action"]]}),
                [("change", _("Change"), False), ("account", _("Account"), False), ("name", _("Name"), False),
                 ("from", _("From"), False), ("to", _("To"), False), ("partner", _("Partner"), False),
                 ("action", _("What to do"), False)],
                _("Accounts that moved to another segment this quarter and what their serving partner does."))
            listing = blocks.join(listing, shown)
        return blocks.join(moved, counts, matrix, listing)

    def pipeline_health(self) -> Html:
        """Open, weighted and stale pipeline per segment (partner type)."""
        _ = self.tr.gettext
        g = self.table("pipeline_by_segment")
        if not _usable(g, "partner_type", "pipeline_open"):
            return self.unavailable()

        def fmt(col, f):
            return [f(v) for v in g[col]] if col in g else ["—"] * len(g)

        frame = pd.DataFrame({
            "segment": g["partner_type"].astype(str),
            "partners": fmt("partners", lambda v: i18n.format_number(v, self.locale, 0)),
            "deals": fmt("open_deals", lambda v: i18n.format_number(v, self.locale, 0)),
            "open": fmt("pipeline_open", self.money), "weighted": fmt("pipeline_weighted", self.money),
            "stale": fmt("stale_deals", lambda v: i18n.format_number(v, self.locale, 0)),
            "coverage": fmt("weighted_to_revenue", lambda v: i18n.format_percent(v, self.locale)),
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
        return blocks.figure(ax, _("Share of each onboarding cohort (rows, the last {k}) still active after n months "
                                   "(columns, up to {m}).").format(k=COHORTS_SHOWN, m=COHORT_MONTHS))

    def activation_curve(self) -> Html:
        """Activation as a Kaplan–Meier curve (``activation_curve`` export) for the network and each
        onboarding year with enough partners, with the shares read off it (``network`` table)."""
        _ = self.tr.gettext
        c, net = self.table("activation_curve"), self.table("network")
        if not _usable(c, "group", "days", "activated_share") or not _usable(net, "period", "activation_share_90d"):
            return self.unavailable()
        cur = net[net["period"] == self.b.period]
        if cur.empty:
            return self.unavailable()
        row, loc = cur.iloc[-1], self.locale
        order = [ALL_GROUP] + sorted(g for g in c["group"].astype(str).unique() if g != ALL_GROUP)
        c = c.assign(group=c["group"].astype(str)).set_index("group").loc[[g for g in order if g in set(c["group"])]]
        ax = plots.activation_curves(c.reset_index(), labels={ALL_GROUP: _("all partners")},
                                     marks=[90, 180, 365], locale=loc)

        def pct(col):
            return self._tag(i18n.format_percent(row.get(col), loc), col, row.get(col))

        start = self.b.notes.get("activity_start")
        caption = blocks.fill(_(
            "Share of the {n} partners onboarded since the data begin ({start}) with a first deal within a given "
            "number of days (Kaplan–Meier; partners still without one are censored): {d90} within 90 days, {d180} "
            "within 180, {d365} within 365; median {median}. The {before} partners onboarded earlier are left "
            "out: their first deal may predate the data."),
            n=self._tag(i18n.format_number(row.get("activation_km_partners"), loc, 0), "activation_km_partners",
                        row.get("activation_km_partners")),
            start=i18n.format_date(start, loc) if start else "—",
            d90=pct("activation_share_90d"), d180=pct("activation_share_180d"), d365=pct("activation_share_365d"),
            median=self._tag(i18n.format_value(row.get("activation_median_days"), "days", loc), "activation_median_days",
                             row.get("activation_median_days")),
            before=i18n.format_number(self.b.notes.get("onboarded_before_data") or 0, loc, 0))
        return blocks.figure(ax, caption)

    def mdf_by_tier(self) -> Html:
        _ = self.tr.gettext
        g = self.table("mdf_by_tier")
        if not _usable(g, "tier", "mdf_return") or g["mdf_return"].isna().all():
            return self.unavailable()
        ax = plots.mdf_return(g, group="tier", value="mdf_return", locale=self.locale)
        return blocks.figure(ax, _("Revenue attributed to MDF activities per unit of funds claimed this quarter, "
                                   "by tier; below the dotted line the funds brought less than they cost."))

    def _lift(self, row: pd.Series, column: str) -> Html:
        """A lift (or an end of its interval) of the ``mdf_incrementality`` table, tagged with its row."""
        key = {"scope": str(row["scope"]),
               "activity_type": "" if i18n.is_missing(row.get("activity_type")) else str(row["activity_type"])}
        v = row.get(column)
        return blocks.tagged(i18n.format_percent(v, self.locale, 1), column, v, table="mdf_incrementality", row=key)

    def _no_estimate(self, row: pd.Series) -> str:
        """Why a row of ``mdf_incrementality`` has no estimate, in words ("" when it has one)."""
        _ = self.tr.gettext
        design = self.b.notes.get("mdf_incrementality") or {}
        if row["status"] == "too_few_controls":
            return _("Comparison group too small: {n} matched partners without MDF, at least {min} needed.").format(
                n=i18n.format_number(row["n_controls"], self.locale, 0), min=design.get("min_controls", "?"))
        if row["status"] == "too_few_treated":
            return _("Too few partners with MDF: {n}, at least {min} needed.").format(
                n=i18n.format_number(row["n_treated"], self.locale, 0), min=design.get("min_treated", "?"))
        return ""

    def mdf_incrementality(self) -> Html:
        """Did MDF move sales: the network estimate in words, the coefficient plot and the table of
        the network and every activity type (effect, interval, partners compared, or why no estimate)."""
        _ = self.tr.gettext
        t = self.table("mdf_incrementality")
        if not _usable(t, "scope", "mdf_incremental_effect", "status"):
            return self.unavailable()
        loc = self.locale
        net = t[t["scope"] == "network"].iloc[0]
        out = Html("")
        if net["status"] == "ok" and pd.notna(net["mdf_incremental_effect"]):
            tag = lambda col: blocks.tagged(i18n.format_percent(net[col], loc, 1), col, net[col],  # noqa: E731
                                            window="quarter")
            out += Html('<p class="ca-intro">') + blocks.fill(
                _("Across the network, revenue of partners starting MDF changed by {effect} against comparable "
                  "partners without MDF (interval {low} to {high}; {treated} partners with MDF, {controls} "
                  "without)."),
                effect=tag("mdf_incremental_effect"), low=tag("mdf_incremental_effect_low"),
                high=tag("mdf_incremental_effect_high"), treated=i18n.format_number(net["n_treated"], loc, 0),
                controls=i18n.format_number(net["n_controls"], loc, 0)) + Html("</p>")
            low, high = net["mdf_incremental_effect_low"], net["mdf_incremental_effect_high"]
            out += blocks.note(_("The interval lies above zero: MDF moved sales.") if low > 0 else
                               _("The interval lies below zero: revenue fell against comparable partners.")
                               if high < 0 else _("The interval includes zero: the data do not show an effect."))
        else:
            out += blocks.note(self._no_estimate(net) or _("Not available for this run."), "lowsample")
        labels = [_("Network") if r["scope"] == "network" else str(r["activity_type"]) for _i, r in t.iterrows()]
        shown = t.assign(label=labels)
        if shown["mdf_incremental_effect"].notna().any():
            ax = plots.effect_intervals(shown, label="label", effect="mdf_incremental_effect",
                                        low="mdf_incremental_effect_low", high="mdf_incremental_effect_high",
                                        locale=loc, xlabel=_(measures.get("mdf_incremental_effect").label))
            out += blocks.figure(ax, _("Revenue lift from MDF with its interval; left of the dotted line, revenue "
                                       "fell against comparable partners."))
        rows = []
        for label, (_i, r) in zip(labels, t.iterrows()):
            ok = r["status"] == "ok" and pd.notna(r["mdf_incremental_effect"])
            rows.append({
                "scope": label,
                "effect": self._lift(r, "mdf_incremental_effect") if ok else "—",
                "interval": (blocks.fill("{low} – {high}", low=self._lift(r, "mdf_incremental_effect_low"),
                                         high=self._lift(r, "mdf_incremental_effect_high")) if ok else
                             self._no_estimate(r) or "—"),
                "treated": i18n.format_number(r["n_treated"], loc, 0),
                "controls": i18n.format_number(r["n_controls"], loc, 0),
            })
        return out + blocks.table(pd.DataFrame(rows), [
            ("scope", _("Activity type"), False), ("effect", _(measures.get("mdf_incremental_effect").label), True),
            ("interval", _("Interval"), False), ("treated", _("With MDF"), True),
            ("controls", _("Without MDF"), True)],
            _("Revenue lift from MDF for the network and per activity type: partners starting MDF against "
              "matched partners without."))

    def _partner_table(self, d: pd.DataFrame, caption: str) -> Html:
        """A table of exports.KEY_FIGURES rows, in the table's order; KPI values tagged."""
    def drivers(self, codes: Any) -> str:
        """Churn drivers (``churn_risk.drivers``: "<measure>_<window>:low; …") in words: each measure's
        label and whether its value is low or high ("—" when none)."""
        _ = self.tr.gettext
        if i18n.is_missing(codes) or not str(codes).strip():
            return "—"
        side = {"low": _("low"), "high": _("high")}
        words = []
        for code in str(codes).split("; "):
            covariate, _sep, level = code.partition(":")
            measure = covariate.rpartition("_")[0]
            label = _(measures.get(measure).label) if measure in measures.MEASURES else covariate
            words.append(f"{label}: {side.get(level, level)}")
        return "; ".join(words)

    def _partner_table(self, d: pd.DataFrame, caption: str, churn: bool = False) -> Html:
        """A table of exports.KEY_FIGURES rows, in the table's order; KPI values tagged. ``churn``:
        with the churn risk (tagged) and its drivers after the status (the at-risk list)."""
        _ = self.tr.gettext
        status = {"active": _("Active"), "at_risk": _("At risk"), "onboarding": _("Onboarding"),
                  "churned": _("Churned")}
        ids = d["partner_id"].astype(str).tolist()

        def col(name, fmt):
            return [fmt(v) for v in d[name]] if name in d else ["—"] * len(d)

        def kpi(name, fmt, measure=None, window="quarter"):
            if name not in d:
                return ["—"] * len(d)
            return [self._tag(fmt(v), measure or name, v, window=window, partner=pid)
                    for v, pid in zip(d[name], ids)]

        pct = lambda v: i18n.format_percent(v, self.locale)  # noqa: E731
        frame = pd.DataFrame({
            "id": ids, "name": col("name", lambda v: "" if i18n.is_missing(v) else str(v)),
            "tier": col("tier", lambda v: "—" if i18n.is_missing(v) else str(v)),
            "status": col("status", lambda v: status.get(v, str(v))),
            "rev": kpi("revenue", self.money), "t4q": kpi("revenue_t4q", self.money, "revenue", "t4q"),
            "yoy": kpi("revenue_growth_yoy", pct), "margin": kpi("gross_margin_pct", pct),
            "win": kpi("win_rate", pct), "reg": kpi("registration_rate", pct),
            "action": col("action", lambda v: "—" if i18n.is_missing(v) else str(v)),
        })
        columns = [("id", _("Partner"), False), ("name", _("Name"), False), ("action", _("Action"), False),
                   ("tier", _("Tier"), False), ("status", _("Status"), False)]
        if churn:
            frame["churn"] = kpi("churn_risk", lambda v: i18n.format_percent(v, self.locale, 1))
            frame["drivers"] = col("drivers", self.drivers)
            columns += [("churn", _("Churn risk"), True), ("drivers", _("Drivers"), False)]
        # the action comes right after the name: visible without scrolling sideways
        return blocks.table(frame, columns + [
            ("rev", _("Revenue"), True), ("t4q", _("Last 4 quarters"), True), ("yoy", _("Growth y/y"), True),
            ("margin", _("Margin %"), True), ("win", _("Win rate"), True), ("reg", _("Registration"), True)],
            caption, grid=True)

    def treatments(self) -> Html:
        """Partners per treatment (name, contents, count), the network's programme totals, and the
        partners of each treatment with what they earned (table ``treatment_partners``)."""
        _ = self.tr.gettext
        counts, d = self.table("treatment_counts"), self.table("treatment_partners")
        if not _usable(counts, "treatment", "partners"):
            return self.unavailable()
        none = _("No treatment")
        summary = pd.DataFrame({
            "name": [none if i18n.is_missing(v) else str(v) for v in counts["treatment_name"]],
            "contents": ["—" if i18n.is_missing(v) else str(v) for v in counts["treatment_contents"]],
            "partners": [i18n.format_number(v, self.locale, 0) for v in counts["partners"]],
        })
        out = blocks.table(summary, [("name", _("Treatment"), False), ("contents", _("What the partner gets"), False),
                                     ("partners", _("Partners"), True)],
                           _("Reported partners per programme treatment."))
        totals = self.table("programme_totals")
        if _usable(totals):
            row = totals.iloc[0]
            out += blocks.tiles([Tile(_(measures.get(c).label), self._tag(self.money(row.get(c)), c, row.get(c)))
                                 for c in ("rebate_earned", "benefits_value", "programme_value",
                                           "next_tier_extra_value") if c in totals and pd.notna(row.get(c))])
        if _usable(d, "partner_id"):
            ids = d["partner_id"].astype(str).tolist()
            frame = pd.DataFrame({
                "id": ids, "name": ["" if i18n.is_missing(v) else str(v) for v in d.get("name", [None] * len(d))],
                "treatment": [none if i18n.is_missing(v) else str(v) for v in d["treatment_name"]],
                "value": [self._tag(self.money(v), "programme_value", v, partner=pid)
                          for v, pid in zip(d["programme_value"], ids)],
                "extra": [self._tag(self.money(v), "next_tier_extra_value", v, partner=pid)
                          for v, pid in zip(d["next_tier_extra_value"], ids)],
            })
            out += blocks.table(frame, [
                ("id", _("Partner"), False), ("name", _("Name"), False), ("treatment", _("Treatment"), False),
                ("value", _(measures.get("programme_value").label), True),
                ("extra", _(measures.get("next_tier_extra_value").label), True)],
                _("Every reported partner with its treatment and what it earned this quarter, largest first."),
                grid=True)
        return out

    def at_risk(self) -> Html:
        _ = self.tr.gettext
        risk = self.table("at_risk")
        if not isinstance(risk, pd.DataFrame) or "partner_id" not in risk:
            return self.unavailable()
        if risk.empty:
            return blocks.note(_("No partner is at risk this quarter."))
        if "churn_risk" in risk and risk["churn_risk"].notna().any():
            return self._partner_table(risk, self.tr.ngettext(
                "{n} partner at risk, highest churn risk first.", "{n} partners at risk, highest churn risk first.",
                len(risk)).format(n=len(risk)), churn=True)
        return self._partner_table(risk, self.tr.ngettext(
            "{n} partner at risk, largest first.", "{n} partners at risk, largest first.", len(risk)).format(
            n=len(risk)))

    def churn_risk(self) -> Html:
        """The churn model's backtest in plain words: its concordance (the network table's
        ``churn_concordance``) and the calibration table (exported ``churn_calibration``); or why
        there is no churn risk this run (``notes["churn"]``)."""
        _ = self.tr.gettext
        cal = self.table("churn_calibration")
        facts = self.b.notes.get("churn")
        if not isinstance(facts, dict):
            return self.unavailable()
        if facts.get("status") != "fitted":
            if facts.get("status") == "too_few_events":
                return blocks.note(_("No churn risk this quarter: too few partners left during the history to "
                                     "estimate it ({n} of the {m} needed).").format(
                    n=i18n.format_number(facts.get("events"), self.locale, 0),
                    m=i18n.format_number(facts.get("min_events"), self.locale, 0)))
            return self.unavailable()
        net = self.table("network")
        now = net[net["period"] == self.b.period] if _usable(net, "period", "churn_concordance") else net.iloc[0:0]
        c = now["churn_concordance"].iloc[0] if len(now) else None
        if not _usable(cal, "band", "n") or i18n.is_missing(c):
            return blocks.note(_("The churn model could not be tested on past quarters yet: too few partners "
                                 "left before them."))
        pct = lambda v: i18n.format_percent(v, self.locale, 1)  # noqa: E731
        sentence = blocks.fill(_("Tested on past quarters ({k}), the model gave a partner who left a higher risk "
                                 "than one who stayed in {c} of the pairs (concordance; a coin toss would give "
                                 "half)."),
                               k=i18n.format_number(facts.get("backtest_quarters"), self.locale, 0),
                               c=self._tag(pct(c), "churn_concordance", c))
        frame = pd.DataFrame({
            "band": [f"{pct(lo)} – {pct(hi)}" for lo, hi in zip(cal["p_low"], cal["p_high"])],
            "n": [i18n.format_number(v, self.locale, 0) for v in cal["n"]],
            "predicted": [pct(v) for v in cal["predicted"]],
            "observed": [pct(v) for v in cal["observed"]],
            "events": [i18n.format_number(v, self.locale, 0) for v in cal["events"]],
        })
        table = blocks.table(frame, [("band", _("Predicted risk"), False), ("n", _("Partners × quarters"), True),
                                     ("predicted", _("Predicted churn"), True),
                                     ("observed", _("Observed churn"), True), ("events", _("Churned"), True)],
                             _("Backtest: partners grouped by the risk the model predicted for a past quarter, "
                               "against the share that did leave in it."))
        return Html('<p class="ca-note">') + sentence + Html("</p>") + table

    def partner_table(self) -> Html:
        _ = self.tr.gettext
        d = self.table("key_figures")
        if not _usable(d, "partner_id"):
            return self.unavailable()
        return self._partner_table(d, _("Every partner with its key figures for the quarter, largest first "
                                        "(revenue of the last four quarters)."))
