"""The per-partner × period KPI table, monthly revenue, target attainment and network-level KPIs.

Every figure is computed once for the whole network, vectorized: each input row is assigned its
partner index and quarter once, additive measures are accumulated into dense partner × quarter
arrays (``np.bincount``), and the windows (``quarter``, fiscal ``ytd``, trailing four quarters
``t4q``) are column slices of those arrays. Distinct counts (end customers, certified persons) work
on de-duplicated (partner, customer, quarter) rows; medians on (partner, value, count) rows. The
only Python loops run over the reported periods × windows, never over partners or rows.

Definitions of every column — numerator, denominator, window, exclusions, unit — are in
``docs/kpis.md``; the docstrings here repeat the essentials. Inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
import numpy as np
import pandas as pd

from . import measures, periods, salescycle, tenure
from .dataset import Dataset
from .errors import ParamsError

WINDOWS = ("quarter", "ytd", "t4q")
KEY_COLUMNS = ["partner_id", "period", "window", "period_start", "period_end"]

#: Target metric → actual column, and the sampled columns, as the measure catalog declares them.
TARGET_ACTUALS = measures.TARGET_ACTUALS
SAMPLED = measures.SAMPLED

_EPOCH = pd.Timestamp("1970-01-01")
#: The sales lines of a source without a sales table: none (every sales KPI is then not available).
_NO_SALES = pd.DataFrame({"line_id": pd.Series(dtype="str"), "date": pd.Series(dtype="datetime64[ns]"),
                          "partner_id": pd.Series(dtype="str"), "quantity": pd.Series(dtype="int64"),
                          "revenue": pd.Series(dtype="float64")})
# Combined integer keys (partner, customer, category, quarter) must stay below this.
_KEY_LIMIT = 2.0**62


# --------------------------------------------------------------------------------------------
# small vectorized helpers
# --------------------------------------------------------------------------------------------


def wilson_interval(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion ``k / n`` (vectorized).

    Returns ``(low, high)`` arrays of the same shape as the broadcast inputs, in [0, 1]; NaN where
    ``n`` is 0 or missing. ``confidence`` is two-sided (0.95 → z = 1.95996).
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    k, n = np.broadcast_arrays(k, n)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    # exact end points (avoid 1e-17 rounding outside the point estimate)
    low = np.where(k <= 0, 0.0, np.minimum(low, p))
    high = np.where(k >= n, 1.0, np.maximum(high, p))
    bad = ~(n > 0)
    low = np.where(bad, np.nan, low)
    high = np.where(bad, np.nan, high)
    return low, high


def _days(values) -> np.ndarray:
    """Day numbers since 1970-01-01 as float (NaN for NaT); any datetime resolution."""
    s = pd.Series(values)
    if len(s) == 0:
        return np.zeros(0, dtype=float)
    s = pd.to_datetime(s)
    return ((s - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def positions(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """Position of each of ``ids`` in ``index`` (-1 if absent), each distinct id looked up once: a
    10-million-line column is factorized (no Python string per line) instead of hashed as is."""
    codes, uniques = pd.factorize(ids)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    lookup = index.get_indexer(pd.Index(uniques).astype(str))
    return np.where(codes >= 0, lookup[codes], -1).astype(np.int64)


def _ratio(num, den) -> np.ndarray:
    """num ÷ den, NaN where den is 0 or NaN."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _group_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray | None,
                  n_groups: int, presorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` per group (weights are integer repeat counts), and the group's n.

    Standard median: the middle value, or the mean of the two middle values for an even n.
    NaN (and n = 0) for a group without values. Vectorized: one sort (skipped when
    ``presorted``: rows already ordered by group, then value), one searchsorted.
    """
    values = np.asarray(values, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    keep = ~np.isnan(values) & (w > 0)
    group, values, w = group[keep], values[keep], w[keep]
    n = np.bincount(group, weights=w, minlength=n_groups).astype(float)
    med = np.full(n_groups, np.nan)
    if len(values) == 0:
        return med, n
    if presorted:  # already sorted by (group, value)
        v = values
    else:
        order = np.lexsort((values, group))
        v, w = values[order], w[order]
    cum = np.cumsum(w)
    base = np.concatenate([[0.0], np.cumsum(n)[:-1]])
    has = n > 0
    lo_rank = np.floor((n + 1) / 2)
    hi_rank = np.floor(n / 2) + 1
    i_lo = np.searchsorted(cum, (base + lo_rank)[has], side="left")
    i_hi = np.searchsorted(cum, (base + hi_rank)[has], side="left")
    med[has] = (v[i_lo] + v[i_hi]) / 2.0
    return med, n


def _label_ordinals(labels: pd.Series, fy: int) -> np.ndarray:
    """Quarter ordinals of a column of quarter labels (each distinct label parsed once)."""
    codes, uniques = pd.factorize(labels)
    ords = np.array([periods.parse_quarter(u, fy).ordinal for u in uniques], dtype=np.int64)
    return ords[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _settings(params: dict) -> dict:
    """The ``kpis`` thresholds, read once. ``params`` are always merged over
    ``params/defaults.yaml`` (:mod:`channel_analysis.params`), so every key is present: no default
    is repeated here."""
    k = params["kpis"]
    ramp_up = int(k["ramp_up_quarters"])
    if ramp_up < 1:
        raise ParamsError(f"kpis.ramp_up_quarters must be a whole number ≥ 1, got {ramp_up!r}")
    return {
        "min_sample": k["min_sample"],
        "at_risk_decline": float(k["at_risk_decline"]),
        "inactive_quarters": int(k["inactive_quarters"]),
        "ramp_up_quarters": ramp_up,
        "green": float(k["target_status"]["green"]),
        "amber": float(k["target_status"]["amber"]),
        "activation_days": int(k["activation_days"]),
    }


def _default_quarters(ds: Dataset, params: dict) -> list[str]:
    return periods.quarter_range(ds.period, int(params["history_quarters"]), ds.fy_start)


# --------------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    period: str
    window: str
    lo: int  # first quarter ordinal
    hi: int  # last quarter ordinal (the period)
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def length(self) -> int:
        return self.hi - self.lo + 1


def _windows(quarters: list[str], fy: int) -> list[_Window]:
    out = []
    for label in quarters:
        q = periods.parse_quarter(label, fy)
        for name, length in (("quarter", 1), ("ytd", q.quarter), ("t4q", 4)):
            first = q - (length - 1)
            out.append(_Window(str(q), name, first.ordinal, q.ordinal,
                               first.start_time.normalize(), q.end_time.normalize()))
    return out


# --------------------------------------------------------------------------------------------
# the prepared network: partner index, dense partner × quarter cubes, customer structures
# --------------------------------------------------------------------------------------------


class _Cube:
    """Dense partner × quarter sums over the quarter ordinals ``qlo..qhi``."""

    def __init__(self, n_partners: int, qlo: int, qhi: int):
        self.np, self.qlo, self.nq = n_partners, qlo, qhi - qlo + 1
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, name: str, p: np.ndarray, q: np.ndarray, weights=None) -> None:
        p = np.asarray(p, dtype=np.int64)
        key = np.asarray(q, dtype=np.int64) - self.qlo  # a new array: the quarter, then the key
        ok = (p >= 0) & (key >= 0) & (key < self.nq)
        key += p * self.nq
        w = None if weights is None else np.asarray(weights, dtype=float)
        if not ok.all():  # (10M sales lines: no masked copies when every line counts)
            key = key[ok]
            w = None if w is None else w[ok]
        flat = np.bincount(key, weights=w, minlength=self.np * self.nq).astype(float)
        self.arrays[name] = flat.reshape(self.np, self.nq)

    def sum(self, name: str, lo: int, hi: int) -> np.ndarray:
        a, b = lo - self.qlo, hi - self.qlo
        if a < 0 or b >= self.nq:  # outside the prepared span: not computable
            return np.full(self.np, np.nan)
        return self.arrays[name][:, a:b + 1].sum(axis=1)


class _Network:
    """Everything prepared once for all windows."""

    def __init__(self, ds: Dataset, params: dict, windows: list[_Window], customers: bool = True):
        self.ds, self.fy, self.cfg = ds, ds.fy_start, _settings(params)
        parts = ds.partners
        self.ids = parts["partner_id"].astype(str).to_numpy()
        self.index = pd.Index(self.ids)
        self.np = len(self.ids)
        self.onboarded = _days(parts["onboarded_date"])
        # onboarded on or after the first day the data can show a first deal (tenure.activity_start):
        # only these partners have a measurable time to first deal
        self.onboarded_inside = tenure.onboarded_inside(parts["onboarded_date"], tenure.activity_start(ds))
        self.end = _days(parts["end_date"]) if "end_date" in parts else np.full(self.np, np.nan)
        if "sales_reps" in parts:
            self.reps = pd.to_numeric(parts["sales_reps"], errors="coerce").to_numpy(dtype=float,
                                                                                     na_value=np.nan)
        else:
            self.reps = np.full(self.np, np.nan)

        # the earliest quarter any column reads: the previous / year-earlier window (≤ 4 quarters
        # back) and the inactivity look-back of the status
        self.qlo = min(w.lo for w in windows) - max(4, self.cfg["inactive_quarters"])
        self.qhi = max(w.hi for w in windows)
        self.cube = _Cube(self.np, self.qlo, self.qhi)
        self.with_customers = customers
        sold = self._sales()  # its per-line arrays are freed before the customers' are built
        if customers:
            self._customers(*sold)
        del sold
        self._optional()

    # -- helpers -------------------------------------------------------------------------------
    def pidx(self, partner_ids: pd.Series) -> np.ndarray:
        """Row index of each id in the partners table (-1 if unknown)."""
        return positions(self.index, partner_ids)

    def quarters_of(self, dates: pd.Series) -> np.ndarray:
        """Quarter ordinals of dates (NaT → a sentinel far outside every window)."""
        q = periods.to_quarter(pd.to_datetime(dates), self.fy)
        out = np.asarray(q.array.asi8, dtype=np.int64)
        return np.where(q.isna().to_numpy(), np.iinfo(np.int64).min // 2, out)

    # -- sales ---------------------------------------------------------------------------------
    def _sales(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The sales cubes, lags and first sales; returns the sales read and their lines' (known
        partner, partner, quarter, revenue) for :meth:`_customers`."""
        # no sales table: no line at all, so every sales window is "not covered" (NaN, never 0)
        s = self.ds.sales if self.ds.sales is not None else _NO_SALES
        p = self.pidx(s["partner_id"])
        q = self.quarters_of(s["date"])
        ok = p >= 0
        p, q = p[ok], q[ok]
        rev = s["revenue"].to_numpy(dtype=float)[ok]
        qty = s["quantity"].to_numpy(dtype=float)[ok]
        # without a channel column every line counts as sell-through (the registration base)
        st = ((s["channel"] == "sell_through").to_numpy() if "channel" in s else np.ones(len(s), bool))[ok]
        cube = self.cube
        self.data_start = int(q.min()) if len(q) else None
        cube.add("lines", p, q)
        cube.add("revenue", p, q, rev)
        cube.add("units", p, q, qty)
        self.has_cost = "cost" in s
        if self.has_cost:
            cost = s["cost"].to_numpy(dtype=float, na_value=np.nan)[ok]
            known = ~np.isnan(cost)
            cube.add("margin", p[known], q[known], rev[known] - cost[known])
            cube.add("revenue_costed", p[known], q[known], rev[known])
        # registration (sell-through lines only; registered units capped at the line's quantity)
        self.has_registration = "registered_units" in s
        reg = (s["registered_units"].to_numpy(dtype=float, na_value=np.nan)[ok] if self.has_registration
               else np.zeros(int(ok.sum())))
        if self.has_registration:
            cube.add("st_units", p[st], q[st], qty[st])
            cube.add("st_registered", p[st], q[st], np.minimum(reg[st], qty[st]))
        day = _days(s["date"])[ok]  # (made once the cubes are added: one 10M-line array less at their peak)
        self.has_reg_date = self.has_registration and "registered_date" in s
        if self.has_reg_date and self.with_customers:  # (the network KPIs need neither)
            rday = _days(s["registered_date"])[ok]
            lagok = st & (reg > 0) & ~np.isnan(rday)
            lag = rday[lagok] - day[lagok]
            # (partner, quarter, lag) → count, sorted by (partner, lag): the medians per window
            # work on this small table without sorting again
            lp, lq = p[lagok].astype(np.int64), q[lagok]
            lag = np.round(lag).astype(np.int64)
            if len(lag):
                l0, nl = int(lag.min()), int(lag.max() - lag.min()) + 1
                q0, nq = int(lq.min()), int(lq.max() - lq.min()) + 1
                inv, uni = pd.factorize((lp * nq + (lq - q0)) * nl + (lag - l0))
                n = np.bincount(inv, minlength=len(uni))
                up, uq, ul = uni // nl // nq, uni // nl % nq + q0, uni % nl + l0
                o = np.lexsort((ul, up))
                self.lags = {"p": up[o], "q": uq[o], "lag": ul[o].astype(float), "n": n[o]}
            else:
                self.lags = {"p": lp, "q": lq, "lag": lag.astype(float), "n": np.zeros(0)}
        # first sale per partner (any channel)
        self.first_sale = np.full(self.np, np.nan)
        if len(p):
            first = pd.Series(day).groupby(p).min()
            self.first_sale[first.index.to_numpy()] = first.to_numpy()
        self.has_customers = "customer_id" in s
        self.has_categories = "category" in s
        return s, ok, p, q, rev

    def _customers(self, s: pd.DataFrame, ok: np.ndarray, p: np.ndarray, q: np.ndarray,
                   rev: np.ndarray) -> None:
        """Distinct (partner-customer, category, quarter) rows, sorted by quarter for slicing."""
        # (without customer_id the structures are built on no customer: the customer KPIs are NaN)
        # (the per-line arrays are dropped as soon as they are used: 10M lines, 80 MB each)
        c, c_uni = (pd.factorize(s["customer_id"]) if self.has_customers
                    else (np.zeros(len(s), dtype=np.int64), np.zeros(1)))
        k, k_uni = (pd.factorize(s["category"]) if self.has_categories
                    else (np.zeros(len(s), dtype=np.int64), np.zeros(1)))
        c, k = np.asarray(c[ok], dtype=np.int64), np.asarray(k[ok], dtype=np.int64)
        nc, nk = max(len(c_uni), 1), max(len(k_uni), 1)
        del c_uni, k_uni
        q0 = int(q.min()) if len(q) else 0
        nq = int(q.max()) - q0 + 1 if len(q) else 1
        p = p.astype(np.int64, copy=False)
        if float(self.np) * nc * nk * nq < _KEY_LIMIT:
            # one pass over the lines: (partner, customer, category, quarter) → spend
            key = p * nc  # ((p * nc + c) * nk + k) * nq + (q - q0), in place
            key += c
            key *= nk
            key += k
            key *= nq
            key += q
            key -= q0
            del c, k
            inv, uni = pd.factorize(key)
            del key
            spend = np.bincount(inv, weights=rev, minlength=len(uni))
            del inv
            u_q, u_ck = uni % nq + q0, uni // nq
            del uni
            u_pc, pc_uni = pd.factorize(u_ck // nk)
            u_pck = u_pc.astype(np.int64) * nk + u_ck % nk
            del u_ck
        else:  # key space too large for one int64: number (partner, customer) pairs first
            pc, pc_uni = pd.factorize(p * nc + c)
            inv, uni = pd.factorize((pc.astype(np.int64) * nk + k) * nq + (q - q0))
            del pc, c, k
            spend = np.bincount(inv, weights=rev, minlength=len(uni))
            del inv
            u_q, u_pck = uni % nq + q0, uni // nq
            del uni
            u_pc = u_pck // nk
        u_pc = np.asarray(u_pc, dtype=np.int64)
        self.npc = len(pc_uni)
        self.pc_partner = (np.asarray(pc_uni, dtype=np.int64) // nc)
        # first quarter ever of each (partner, customer)
        first_q = np.full(self.npc, np.iinfo(np.int64).max)
        if len(u_q):
            fq = pd.Series(u_q).groupby(u_pc).min()
            first_q[fq.index.to_numpy()] = fq.to_numpy()
        self.pc_first_q = first_q
        # keep the prepared span only, sorted by quarter (a window is then a contiguous slice)
        span = (u_q >= self.qlo) & (u_q <= self.qhi)
        order = np.argsort(u_q[span], kind="stable")
        u_q, u_pck, u_pc, spend = u_q[span][order], u_pck[span][order], u_pc[span][order], spend[span][order]
        # (pc, quarter) rows with spend
        pcq_inv, pcq_uni = pd.factorize(u_pc * nq + (u_q - q0))
        self.pcq_pc = pcq_uni // nq
        self.pcq_q = pcq_uni % nq + q0
        self.pcq_spend = np.bincount(pcq_inv, weights=spend, minlength=len(pcq_uni))
        o = np.argsort(self.pcq_q, kind="stable")
        self.pcq_pc, self.pcq_q, self.pcq_spend = self.pcq_pc[o], self.pcq_q[o], self.pcq_spend[o]
        # (pc, category) index of each (pc, category, quarter) row
        self.pckq_pck, pck_uni = pd.factorize(u_pck)
        self.pck_pc = pck_uni // nk
        self.npck = len(pck_uni)
        self.pckq_q = u_q

    @staticmethod
    def _slice(sorted_q: np.ndarray, lo: int, hi: int) -> slice:
        return slice(int(np.searchsorted(sorted_q, lo, "left")), int(np.searchsorted(sorted_q, hi, "right")))

    def customer_activity(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Per (partner, customer): bought in quarters lo..hi (bool) and spend there."""
        w = self._slice(self.pcq_q, lo, hi)
        lines = np.bincount(self.pcq_pc[w], minlength=self.npc)
        spend = np.bincount(self.pcq_pc[w], weights=self.pcq_spend[w], minlength=self.npc)
        return lines > 0, spend

    def categories_bought(self, lo: int, hi: int) -> np.ndarray:
        """Per (partner, customer): number of distinct categories bought in quarters lo..hi."""
        w = self._slice(self.pckq_q, lo, hi)
        active = np.bincount(self.pckq_pck[w], minlength=self.npck) > 0
        return np.bincount(self.pck_pc[active], minlength=self.npc)

    def per_partner(self, flags: np.ndarray) -> np.ndarray:
        """Number of (partner, customer) pairs flagged, per partner (float)."""
        return np.bincount(self.pc_partner[flags], minlength=self.np).astype(float)

    # -- optional tables -----------------------------------------------------------------------
    def _optional(self) -> None:
        ds, cube = self.ds, self.cube
        self.first_won = np.full(self.np, np.nan)
        if ds.leads is not None:
            L = ds.leads
            p, q = self.pidx(L["partner_id"]), self.quarters_of(L["assigned_date"])
            acc_day = _days(L["accepted_date"]) if "accepted_date" in L else np.full(len(L), np.nan)
            status = L["status"].astype(str).to_numpy()
            accepted = ~np.isnan(acc_day) | np.isin(status, ["accepted", "converted"])
            converted = status == "converted"
            if "opportunity_id" in L:
                converted |= L["opportunity_id"].notna().to_numpy()
            decided = status != "assigned"
            decided |= accepted  # an accepted lead is decided whatever its status says
            cube.add("leads", p, q)
            cube.add("leads_decided", p, q, decided)
            cube.add("leads_accepted", p, q, decided & accepted)
            cube.add("leads_converted", p, q, decided & converted)
            # times to accept and to convert, Kaplan–Meier per window (_lead_days): a lead accepted
            # (converted) without a known date has no known time and is left out of that estimate;
            # every other lead is at risk until accepted (converted). A lead converts on the day
            # its deal (opportunity_id) was created; without the opportunities table no time is known.
            assigned = _days(L["assigned_date"])
            conv_day = np.full(len(L), np.nan)
            if "opportunity_id" in L and ds.opportunities is not None:
                created = ds.opportunities.drop_duplicates("opportunity_id").set_index("opportunity_id")["created_date"]
                conv_day = np.maximum(_days(L["opportunity_id"].map(created)), assigned)  # NaN stays NaN
            self.lead_times = {
                "accepted": pd.DataFrame({"p": p, "q": q, "assigned": assigned, "day": acc_day})[
                    (p >= 0) & ~np.isnan(assigned) & ~(accepted & np.isnan(acc_day))],
                "converted": pd.DataFrame({"p": p, "q": q, "assigned": assigned, "day": conv_day})[
                    (p >= 0) & ~np.isnan(assigned) & ~(converted & np.isnan(conv_day))]
                if ds.opportunities is not None else None,
            }
            # the network funnel: every lead, assigned to a partner or not (quarter ordinal → count)
            self.network_leads = pd.DataFrame({"q": q, "unassigned": L["partner_id"].isna().to_numpy(),
                                               "decided": decided, "converted": decided & converted})
        if ds.opportunities is not None:
            o = ds.opportunities
            p = self.pidx(o["partner_id"])
            cube.add("deals_created", p, self.quarters_of(o["created_date"]))
            closed = o["closed_date"] if "closed_date" in o else pd.Series(pd.NaT, index=o.index)
            cq = self.quarters_of(closed)
            outcome = o["outcome"].astype(str).to_numpy()
            won, lost = outcome == "won", outcome == "lost"
            amount = (o["amount"].to_numpy(dtype=float, na_value=np.nan) if "amount" in o
                      else np.full(len(o), np.nan))  # (validation: every won deal has an amount)
            cube.add("deals_won", p[won], cq[won])
            cube.add("deals_lost", p[lost], cq[lost])
            cube.add("won_amount", p[won], cq[won], amount[won])
            self.won = pd.DataFrame({"p": p[won], "q": cq[won], "amount": amount[won]})
            cday = _days(closed)
            sel = won & (p >= 0) & ~np.isnan(cday)
            if sel.any():
                fw = pd.Series(cday[sel]).groupby(p[sel]).min()
                self.first_won[fw.index.to_numpy()] = fw.to_numpy()
        if ds.mdf is not None:
            m = ds.mdf
            p, q = self.pidx(m["partner_id"]), _label_ordinals(m["period"], self.fy)
            cube.add("mdf_allocated", p, q, m["allocated"].to_numpy(dtype=float))
            claimed = m["claimed"].to_numpy(dtype=float)
            cube.add("mdf_claimed", p, q, claimed)
            if "attributed_revenue" in m:
                attr = m["attributed_revenue"].to_numpy(dtype=float, na_value=np.nan)
                has = ~np.isnan(attr)
                cube.add("mdf_attributed", p[has], q[has], attr[has])
                cube.add("mdf_claimed_attr", p[has], q[has], claimed[has])
        if ds.trainings is not None:
            t = ds.trainings
            p = self.pidx(t["partner_id"])
            cube.add("trainings", p, self.quarters_of(t["completed_date"]))
            cert = t["certification"].to_numpy(dtype=bool) & (p >= 0)
            person, _ = pd.factorize(p[cert].astype(str).astype(object)
                                     + "\x1f" + t["person_id"].astype(str).to_numpy()[cert])
            self.cert_person = person
            self.cert_partner = p[cert]
            self.cert_done = _days(t["completed_date"])[cert]
            self.cert_expires = (_days(t["expires_date"])[cert] if "expires_date" in t
                                 else np.full(int(cert.sum()), np.nan))
        if ds.surveys is not None:
            sv = ds.surveys
            p, q = self.pidx(sv["partner_id"]), self.quarters_of(sv["date"])
            if "csat" in sv:
                cs = sv["csat"].to_numpy(dtype=float, na_value=np.nan)
                has = ~np.isnan(cs)
                cube.add("csat_n", p[has], q[has])
                cube.add("csat_sum", p[has], q[has], cs[has])
            if "nps" in sv:
                sc = pd.to_numeric(sv["nps"]).to_numpy(dtype=float, na_value=np.nan)
                has = ~np.isnan(sc)
                cube.add("nps_n", p[has], q[has])
                cube.add("nps_promoters", p[has], q[has], sc[has] >= 9)
                cube.add("nps_detractors", p[has], q[has], sc[has] <= 6)
        if ds.potential is not None:
            pt = ds.potential
            p, q = self.pidx(pt["partner_id"]), _label_ordinals(pt["period"], self.fy)
            cube.add("potential", p, q, pt["potential"].to_numpy(dtype=float))
            cube.add("potential_rows", p, q)

    # -- point-in-time -------------------------------------------------------------------------
    def certified_at(self, day: float) -> np.ndarray:
        """Distinct persons per partner holding a certification valid on ``day``."""
        valid = (self.cert_done <= day) & (np.isnan(self.cert_expires) | (self.cert_expires > day))
        n_persons = int(self.cert_person.max()) + 1 if len(self.cert_person) else 0
        held = np.bincount(self.cert_person[valid], minlength=n_persons) > 0
        person_partner = np.zeros(n_persons, dtype=np.int64)
        person_partner[self.cert_person] = self.cert_partner
        return np.bincount(person_partner, weights=held, minlength=self.np)

    def first_deal(self) -> np.ndarray:
        """Day of the first deal: the earlier of the first sales line and the first won deal."""
        return np.fmin(self.first_sale, self.first_won)

    def existed(self, w: _Window) -> np.ndarray:
        start, end = _days([w.start])[0], _days([w.end])[0]
        return (self.onboarded <= end) & (np.isnan(self.end) | (self.end >= start))


# --------------------------------------------------------------------------------------------
# the KPI table
# --------------------------------------------------------------------------------------------


def _lead_days(net: _Network, w: _Window, event: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier median days from assignment to acceptance (``event`` "accepted") or to
    conversion ("converted": the creation of the lead's deal) per partner, leads assigned in the
    window: a lead without the event by the snapshot (the window's last day, or as_of if earlier)
    is censored there — rejected and expired ones included, they never had it — so the median is
    not that of the accepted (converted) leads only (salescycle.km_median, as the sales cycle).
    Returns (median days, NaN where fewer than half had the event; the events; the longest
    follow-up in days where the median is not reached, else NaN); all NaN when the time is unknown
    (conversion without the opportunities table)."""
    nan = np.full(net.np, np.nan)
    lt = net.lead_times[event]
    if lt is None:
        return nan, nan.copy(), nan.copy()
    snap = min(_days([w.end])[0], _days([pd.Timestamp(net.ds.as_of)])[0])
    lt = lt[(lt["q"] >= w.lo) & (lt["q"] <= w.hi) & (lt["assigned"] <= snap)]
    if lt.empty:
        return nan, np.zeros(net.np), nan.copy()
    day = lt["day"].to_numpy()
    had = day <= snap  # (NaN compares False: not (yet))
    days = np.where(had, day, snap) - lt["assigned"].to_numpy()
    dur = pd.DataFrame({"partner_id": lt["p"].to_numpy(), "days": days, "event": had})
    km = salescycle.km_median(dur, by="partner_id", event="event")
    groups = km["group"].to_numpy(dtype=np.int64)
    median, events = nan.copy(), np.zeros(net.np)
    median[groups] = km["median_days"].to_numpy()
    events[groups] = km["events"].to_numpy()
    followed = dur.groupby("partner_id")["days"].max()
    longest = nan.copy()
    longest[followed.index.to_numpy(dtype=np.int64)] = followed.to_numpy()
    not_reached = np.where(np.isnan(median), longest, np.nan)
    return median, events, not_reached


def _sales_covered(net: _Network, lo: int) -> bool:
    """True if the sales data reach back to quarter ``lo`` (else the window is not measurable)."""
    return net.data_start is not None and lo >= net.data_start and lo >= net.qlo


def _status(net: _Network, w: _Window) -> np.ndarray:
    """churned / onboarding / at_risk / active at the end of ``w``'s period (see docs/kpis.md)."""
    cfg = net.cfg
    end_day = _days([w.end])[0]
    churned = ~np.isnan(net.end) & (net.end <= end_day)
    onboarding = ~churned & in_ramp_up(net.onboarded, w.period, cfg["ramp_up_quarters"], net.fy)
    k = cfg["inactive_quarters"]
    recent_lo = w.hi - k + 1
    lines_recent = net.cube.sum("lines", recent_lo, w.hi)
    inactive = (lines_recent == 0) if _sales_covered(net, recent_lo) else np.zeros(net.np, bool)
    t4q = net.cube.sum("revenue", w.hi - 3, w.hi)
    prev = net.cube.sum("revenue", w.hi - 7, w.hi - 4)
    if not _sales_covered(net, w.hi - 7):
        prev = np.full(net.np, np.nan)
    with np.errstate(invalid="ignore"):
        declined = (prev > 0) & (t4q < (1.0 - cfg["at_risk_decline"]) * prev)
    status = np.full(net.np, "active", dtype=object)
    status[~churned & ~onboarding & (inactive | declined)] = "at_risk"
    status[onboarding] = "onboarding"
    status[churned] = "churned"
    return status


def in_ramp_up(onboarded, period: str, ramp_up_quarters: int, fy_start: int = 1) -> np.ndarray:
    """True where a partner is in ramp-up in ``period``: onboarded on or after the first day of the
    ``ramp_up_quarters`` quarters ending with ``period`` (``kpis.ramp_up_quarters``). ``onboarded``:
    onboarding dates (any date-like values, or day numbers since 1970-01-01 as floats). The one
    definition of "onboarding" used by the KPI ``status`` and, through it, by segmentation."""
    days = np.asarray(onboarded, dtype=float) if np.asarray(onboarded).dtype.kind == "f" else _days(onboarded)
    first = pd.Period(period, freq=periods.quarter_freq(fy_start)) - (int(ramp_up_quarters) - 1)
    return days >= _days([first.start_time.normalize()])[0]


def _window_columns(net: _Network, w: _Window) -> dict[str, np.ndarray]:
    cube, ds = net.cube, net.ds
    nan = np.full(net.np, np.nan)
    L = w.length
    col: dict[str, np.ndarray] = {}

    def sales_sum(name, lo, hi):
        return cube.sum(name, lo, hi) if _sales_covered(net, lo) else nan.copy()

    # revenue, growth, margin, units
    rev = sales_sum("revenue", w.lo, w.hi)
    col["revenue"] = rev
    col["revenue_prev"] = sales_sum("revenue", w.lo - L, w.hi - L)
    col["revenue_growth_prev"] = _ratio(rev, col["revenue_prev"]) - 1.0
    col["revenue_yoy"] = sales_sum("revenue", w.lo - 4, w.hi - 4)
    col["revenue_growth_yoy"] = _ratio(rev, col["revenue_yoy"]) - 1.0
    if net.has_cost:
        col["gross_margin"] = sales_sum("margin", w.lo, w.hi)
        col["gross_margin_pct"] = _ratio(col["gross_margin"], sales_sum("revenue_costed", w.lo, w.hi))
    else:
        col["gross_margin"], col["gross_margin_pct"] = nan.copy(), nan.copy()
    col["units"] = sales_sum("units", w.lo, w.hi)
    col["revenue_per_rep"] = _ratio(rev, net.reps)

    # potential / share of wallet
    if ds.potential is not None:
        rows = cube.sum("potential_rows", w.lo, w.hi)
        pot = np.where(rows > 0, cube.sum("potential", w.lo, w.hi), np.nan)
        # revenue of the quarters that have a potential figure
        has_q = cube.arrays["potential_rows"][:, w.lo - cube.qlo:w.hi - cube.qlo + 1] > 0
        rev_q = cube.arrays["revenue"][:, w.lo - cube.qlo:w.hi - cube.qlo + 1]
        rev_pot = np.where(has_q, rev_q, 0.0).sum(axis=1)
        col["potential"] = pot
        col["share_of_wallet"] = np.where(np.isnan(rev), np.nan, _ratio(rev_pot, pot))
    else:
        col["potential"], col["share_of_wallet"] = nan.copy(), nan.copy()

    # end customers (not available without sales.customer_id)
    covered = _sales_covered(net, w.lo) and net.has_customers
    act, spend = net.customer_activity(w.lo, w.hi)
    active_n = net.per_partner(act)
    col["customers_active"] = np.where(covered, active_n, np.nan)
    new = act & (net.pc_first_q >= w.lo) & (net.pc_first_q <= w.hi)
    col["customers_new"] = (net.per_partner(new) if covered and _sales_covered(net, w.lo - 1) else nan.copy())
    # lost: bought in the previous window of the same length, not in this one
    act_prev, spend_prev = net.customer_activity(w.lo - L, w.hi - L)
    prev_covered = net.has_customers and _sales_covered(net, w.lo - L)
    col["customers_lost"] = net.per_partner(act_prev & ~act) if prev_covered else nan.copy()
    ncat = net.categories_bought(w.lo, w.hi)
    cross_n = np.where(covered and net.has_categories, active_n, np.nan)
    col["cross_sell_rate"] = _ratio(net.per_partner(act & (ncat >= 2)), cross_n)
    col["cross_sell_rate_n"] = cross_n
    repeat = act & act_prev
    up_n = net.per_partner(repeat) if prev_covered else nan.copy()
    col["upsell_rate"] = _ratio(net.per_partner(repeat & (spend > spend_prev)), up_n)
    col["upsell_rate_n"] = up_n

    # registration (not available without sales.registered_units)
    st_units = sales_sum("st_units", w.lo, w.hi) if net.has_registration else nan.copy()
    col["registration_rate"] = (_ratio(sales_sum("st_registered", w.lo, w.hi), st_units)
                                if net.has_registration else nan.copy())
    col["registration_rate_n"] = st_units
    if net.has_reg_date and covered:
        lg = net.lags
        sel = (lg["q"] >= w.lo) & (lg["q"] <= w.hi)
        med, n = _group_median(lg["p"][sel], lg["lag"][sel], lg["n"][sel], net.np, presorted=True)
        col["registration_lag_days_median"], col["registration_lag_days_median_n"] = med, n
    else:
        col["registration_lag_days_median"] = nan.copy()
        col["registration_lag_days_median_n"] = nan.copy()

    # leads
    if ds.leads is not None:
        decided = cube.sum("leads_decided", w.lo, w.hi)
        col["leads_received"] = cube.sum("leads", w.lo, w.hi)
        col["lead_accept_rate"] = _ratio(cube.sum("leads_accepted", w.lo, w.hi), decided)
        col["lead_accept_rate_n"] = decided
        for kind, key in (("accepted", "lead_accept_days"), ("converted", "lead_convert_days")):
            col[key + "_median"], col[key + "_median_n"], col[key + "_not_reached"] = _lead_days(net, w, kind)
        col["lead_conversion_rate"] = _ratio(cube.sum("leads_converted", w.lo, w.hi), decided)
        col["lead_conversion_rate_n"] = decided
    else:
        for c in ("leads_received", "lead_accept_rate", "lead_accept_rate_n", "lead_accept_days_median",
                  "lead_accept_days_median_n", "lead_accept_days_not_reached", "lead_conversion_rate",
                  "lead_conversion_rate_n", "lead_convert_days_median", "lead_convert_days_median_n",
                  "lead_convert_days_not_reached"):
            col[c] = nan.copy()

    # deals
    if ds.opportunities is not None:
        won, lost = cube.sum("deals_won", w.lo, w.hi), cube.sum("deals_lost", w.lo, w.hi)
        col["deals_created"] = cube.sum("deals_created", w.lo, w.hi)
        col["deals_won"], col["deals_lost"] = won, lost
        closed = won + lost
        col["win_rate"] = _ratio(won, closed)
        col["win_rate_n"] = closed
        col["deal_size_mean"] = _ratio(cube.sum("won_amount", w.lo, w.hi), won)
        col["deal_size_mean_n"] = won
        wd = net.won[(net.won["q"] >= w.lo) & (net.won["q"] <= w.hi) & (net.won["p"] >= 0)]
        med, n = _group_median(wd["p"].to_numpy(), wd["amount"].to_numpy(), None, net.np)
        col["deal_size_median"], col["deal_size_median_n"] = med, n
    else:
        for c in ("deals_created", "deals_won", "deals_lost", "win_rate", "win_rate_n", "deal_size_mean", "deal_size_mean_n", "deal_size_median",
                  "deal_size_median_n"):
            col[c] = nan.copy()

    # MDF
    if ds.mdf is not None:
        alloc, claimed = cube.sum("mdf_allocated", w.lo, w.hi), cube.sum("mdf_claimed", w.lo, w.hi)
        col["mdf_allocated"], col["mdf_claimed"] = alloc, claimed
        col["mdf_utilization"] = _ratio(claimed, alloc)
        if "mdf_attributed" in cube.arrays:
            attr = cube.sum("mdf_attributed", w.lo, w.hi)
            claimed_attr = cube.sum("mdf_claimed_attr", w.lo, w.hi)
            col["mdf_attributed_revenue"] = attr
            col["mdf_return"] = _ratio(attr, claimed_attr)
        else:
            col["mdf_attributed_revenue"], col["mdf_return"] = nan.copy(), nan.copy()
    else:
        for c in ("mdf_allocated", "mdf_claimed", "mdf_utilization", "mdf_attributed_revenue", "mdf_return"):
            col[c] = nan.copy()

    # people
    if ds.trainings is not None:
        col["certified_reps"] = net.certified_at(_days([w.end])[0])
        col["trainings_completed"] = cube.sum("trainings", w.lo, w.hi)
    else:
        col["certified_reps"], col["trainings_completed"] = nan.copy(), nan.copy()

    # satisfaction
    has_csat = ds.surveys is not None and "csat_n" in cube.arrays
    has_nps = ds.surveys is not None and "nps_n" in cube.arrays
    if has_csat:
        n = cube.sum("csat_n", w.lo, w.hi)
        col["csat_mean"], col["csat_mean_n"] = _ratio(cube.sum("csat_sum", w.lo, w.hi), n), n
    else:
        col["csat_mean"], col["csat_mean_n"] = nan.copy(), nan.copy()
    if has_nps:
        n = cube.sum("nps_n", w.lo, w.hi)
        diff = cube.sum("nps_promoters", w.lo, w.hi) - cube.sum("nps_detractors", w.lo, w.hi)
        col["nps"], col["nps_n"] = 100.0 * _ratio(diff, n), n
    else:
        col["nps"], col["nps_n"] = nan.copy(), nan.copy()

    # tenure, first deal, status
    end_day = _days([w.end])[0]
    last_day = np.fmin(end_day, np.where(np.isnan(net.end), end_day, net.end))
    col["tenure_days"] = np.maximum(last_day - net.onboarded, 0.0)
    first = net.first_deal()
    col["time_to_first_deal_days"] = np.where((first <= end_day) & net.onboarded_inside,
                                              np.maximum(first - net.onboarded, 0.0), np.nan)
    col["tenure_quarter"] = tenure.tenure_quarter(net.ds.partners["onboarded_date"], w.period, net.fy)
    col["status"] = _status(net, w)
    return col


def _column_order(cols: list[str]) -> list[str]:
    out = []
    for c in cols:
        if c.endswith("_n") and c[:-2] in SAMPLED:
            continue
        out.append(c)
        if c in SAMPLED:
            out.append(c + "_n")
            if c in measures.WITH_INTERVAL:
                out += [c + "_low", c + "_high"]
            out.append(c + "_low_sample")
    seen, ordered = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            ordered.append(c)
    return ordered


def partner_kpis(ds: Dataset, params: dict, quarters: list[str] | None = None) -> pd.DataFrame:
    """The KPI table: one row per partner × period × window.

    ``quarters`` are the periods (quarter labels) reported; default the ``history_quarters``
    quarters ending with ``ds.period``. For each period three windows: ``quarter``, fiscal year to
    date ``ytd`` and trailing four quarters ``t4q``. A partner has a row for a window when it existed
    during it (onboarded on or before the window's last day and not ended before its first day);
    partners without sales get zeros. Columns from an optional table that is missing are NaN.

    Money is in the reporting currency, rates are fractions 0..1 (``nps`` −100..100), durations in
    days. Every column is defined in ``docs/kpis.md``.
    """
    quarters = list(quarters) if quarters is not None else _default_quarters(ds, params)
    wins = _windows(quarters, ds.fy_start)
    if not wins:
        return pd.DataFrame(columns=KEY_COLUMNS)
    net = _Network(ds, params, wins)
    min_sample = net.cfg["min_sample"]
    parts: dict[str, list[np.ndarray]] = {}
    for w in wins:
        col = _window_columns(net, w)
        keep = net.existed(w)
        n = int(keep.sum())
        key = {"partner_id": net.ids[keep], "period": np.full(n, w.period, dtype=object),
               "window": np.full(n, w.window, dtype=object),
               "period_start": np.full(n, w.start.to_datetime64()),
               "period_end": np.full(n, w.end.to_datetime64())}
        col = {name: np.asarray(values)[keep] for name, values in col.items()}
        for name, values in {**key, **col}.items():
            parts.setdefault(name, []).append(values)
    out = pd.DataFrame({name: np.concatenate(chunks) for name, chunks in parts.items()})
    for name in ("partner_id", "period", "window"):
        out[name] = out[name].astype(str)
    for name in SAMPLED:
        out[name + "_low_sample"] = ~(out[name + "_n"] >= min_sample)
    for name in measures.WITH_INTERVAL:  # proportions: 95 % Wilson interval from the rate and its n
        n = out[name + "_n"].to_numpy(dtype=float)
        out[name + "_low"], out[name + "_high"] = wilson_interval(np.round(out[name].to_numpy(dtype=float) * n), n)
    out = out[_column_order(list(out.columns))]
    out["status"] = out["status"].astype(str)
    out["period_start"] = pd.to_datetime(out["period_start"])
    out["period_end"] = pd.to_datetime(out["period_end"])
    return out.sort_values(["period", "window", "partner_id"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# an incomplete reported quarter
# --------------------------------------------------------------------------------------------

#: Dated columns of the activity tables: the data end at the latest of them.
ACTIVITY_DATES = {"sales": ("date",), "opportunities": ("created_date", "closed_date"),
                  "leads": ("assigned_date", "accepted_date")}
#: KPI columns that compare the reported quarter with earlier ones: not reported for an incomplete one.
PARTIAL_ARTEFACTS = ("revenue_growth_prev", "revenue_growth_yoy")


def data_end(ds: Dataset) -> pd.Timestamp | None:
    """The last day the data describe: the latest activity date (:data:`ACTIVITY_DATES`) on or
    before ``as_of``; None without any dated activity."""
    cap = pd.Timestamp(ds.as_of).normalize()
    latest = []
    for table, columns in ACTIVITY_DATES.items():
        frame = getattr(ds, table, None)
        if frame is None:
            continue
        for c in columns:
            if c in frame:
                d = pd.to_datetime(frame[c])
                d = d[d <= cap].max()
                if pd.notna(d):
                    latest.append(pd.Timestamp(d).normalize())
    return max(latest) if latest else None


def partial_period_end(ds: Dataset, params: dict) -> pd.Timestamp | None:
    """The data's last day when the reported quarter is incomplete — the data end (:func:`data_end`)
    more than ``kpis.partial_quarter_days`` days before the quarter's last day — else None."""
    tolerance = int(params["kpis"]["partial_quarter_days"])
    if tolerance < 0:
        raise ParamsError(f"kpis.partial_quarter_days must be a whole number ≥ 0, got {tolerance!r}")
    end = data_end(ds)
    last_day = periods.quarter_bounds(ds.period, ds.fy_start)[1].normalize()
    if end is None or end >= last_day - pd.Timedelta(days=tolerance):
        return None
    return end


def without_partial_artefacts(kpi: pd.DataFrame, period: str, fy_start: int = 1) -> pd.DataFrame:
    """The KPI table with the artefacts of an incomplete ``period`` removed (a copy): its
    :data:`PARTIAL_ARTEFACTS` are NaN, and its at-risk flags are those of the quarter before —
    a partner "active" or "at_risk" in ``period`` gets the previous period's flag (same window;
    "active" when it had none), so a short quarter does not make anyone at risk. The date-based
    statuses (onboarding, churned) stay."""
    out = kpi.copy()
    here = out["period"] == period
    out.loc[here, [c for c in PARTIAL_ARTEFACTS if c in out]] = np.nan
    prev = out.loc[out["period"] == periods.shift(period, -1, fy_start), ["partner_id", "window", "status"]]
    judged = here & out["status"].isin(["active", "at_risk"])
    before = out.loc[judged, ["partner_id", "window"]].merge(prev, on=["partner_id", "window"], how="left")
    out.loc[judged, "status"] = np.where(before["status"].to_numpy() == "at_risk", "at_risk", "active")
    return out


# --------------------------------------------------------------------------------------------
# monthly revenue
# --------------------------------------------------------------------------------------------


def monthly_revenue(ds: Dataset, params: dict) -> pd.DataFrame:
    """Revenue and gross margin per partner and calendar month over the history window.

    Returns [partner_id, month (Timestamp, first day of the month), revenue, gross_margin]: one
    row per partner and month in which the partner existed (onboarded on or before the month's
    last day, not ended before its first day), zeros for months without sales (NaN for both
    without a sales table). ``gross_margin`` sums revenue − cost over lines with a known cost (NaN
    when sales have no cost column).
    """
    quarters = _default_quarters(ds, params)
    start, _ = periods.quarter_bounds(quarters[0], ds.fy_start)
    _, end = periods.quarter_bounds(quarters[-1], ds.fy_start)
    months = pd.period_range(start, end, freq="M")
    ids = ds.partners["partner_id"].astype(str).to_numpy()
    index = pd.Index(ids)
    s = ds.sales if ds.sales is not None else _NO_SALES
    p = positions(index, s["partner_id"])
    mi = np.asarray(pd.to_datetime(s["date"]).dt.to_period("M").array.asi8, dtype=np.int64) - months[0].ordinal
    ok = (p >= 0) & (mi >= 0) & (mi < len(months))
    key = p[ok].astype(np.int64) * len(months) + mi[ok]
    size = len(ids) * len(months)
    rev = s["revenue"].to_numpy(dtype=float)[ok]
    revenue = np.bincount(key, weights=rev, minlength=size)
    if ds.sales is None:  # no sales table: revenue not available, not zero
        revenue = np.full(size, np.nan)
    if "cost" in s:
        cost = s["cost"].to_numpy(dtype=float, na_value=np.nan)[ok]
        known = ~np.isnan(cost)
        margin = np.bincount(key[known], weights=(rev - cost)[known], minlength=size)
    else:
        margin = np.full(size, np.nan)
    month_start = months.start_time.normalize()
    month_end = months.end_time.normalize()
    onb = _days(ds.partners["onboarded_date"])
    endd = (_days(ds.partners["end_date"]) if "end_date" in ds.partners else np.full(len(ids), np.nan))
    ms, me = _days(month_start), _days(month_end)
    exists = (onb[:, None] <= me[None, :]) & (np.isnan(endd)[:, None] | (endd[:, None] >= ms[None, :]))
    flat = exists.ravel()
    out = pd.DataFrame({
        "partner_id": pd.Series(np.repeat(ids, len(months))[flat], dtype=str),
        "month": np.tile(month_start.to_numpy(), len(ids))[flat],
        "revenue": revenue[flat],
        "gross_margin": margin[flat],
    })
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# target attainment
# --------------------------------------------------------------------------------------------

TARGET_COLUMNS = ["partner_id", "period", "metric", "target", "actual", "attainment", "status"]


def target_attainment(kpi_table: pd.DataFrame, targets: pd.DataFrame | None, params: dict) -> pd.DataFrame:
    """Attainment of every agreed target: actual (quarter window) ÷ target.

    Returns [partner_id, period, metric, target, actual, attainment, status]. The actual comes from
    the KPI table's ``quarter`` row of the partner and period (column per :data:`TARGET_ACTUALS`);
    status is ``green`` (attainment ≥ ``kpis.target_status.green``), ``amber`` (≥ ``amber``),
    ``red`` (below), or ``no_data`` when the actual is unavailable. A target of 0 is met by any
    actual: attainment NaN, status green.
    """
    if targets is None or len(targets) == 0:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("target", "actual", "attainment") else str)
                             for c in TARGET_COLUMNS})
    cfg = _settings(params)
    quarter = kpi_table[kpi_table["window"] == "quarter"]
    present = {m: c for m, c in TARGET_ACTUALS.items() if c in quarter.columns}
    long = quarter[["partner_id", "period", *present.values()]].melt(
        id_vars=["partner_id", "period"], value_vars=list(present.values()),
        var_name="column", value_name="actual")
    long["metric"] = long["column"].map({c: m for m, c in present.items()})
    t = targets[["partner_id", "period", "metric", "target"]].copy()
    t["partner_id"] = t["partner_id"].astype(str)
    out = t.merge(long[["partner_id", "period", "metric", "actual"]],
                  on=["partner_id", "period", "metric"], how="left")
    actual = pd.to_numeric(out["actual"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    target = out["target"].to_numpy(dtype=float)
    out["actual"] = actual
    out["attainment"] = _ratio(actual, target)
    status = np.where(out["attainment"] >= cfg["green"], "green",
                      np.where(out["attainment"] >= cfg["amber"], "amber", "red")).astype(object)
    status[(target == 0) & ~np.isnan(actual)] = "green"
    status[np.isnan(actual)] = "no_data"
    out["status"] = status.astype(str)
    return out[TARGET_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# network KPIs
# --------------------------------------------------------------------------------------------


def network_kpis(ds: Dataset, params: dict, quarters: list[str] | None = None) -> pd.DataFrame:
    """Network-level KPIs, one row per quarter (definitions in docs/kpis.md, "Network").

    Returns [period, period_start, period_end, partners_active_start, partners_active_end,
    partners_onboarded, partners_churned, retention_rate (+ _n: retained ÷ active at start),
    churn_rate (+ _n), activation_cohort, partners_activated, activation_rate (+ _n: activated ÷
    cohort, first deal within ``kpis.activation_days``), program_costs_cohort,
    cost_to_acquire_and_onboard_per_activated_partner (cohort program costs ÷ activated),
    program_costs, mdf_claimed, revenue, gross_margin, channel_return (revenue ÷ (program costs +
    MDF claimed)), leads_received, leads_unassigned, lead_conversion_rate (+ _n) — the network's
    lead funnel: every lead assigned in the quarter, leads without a partner included] plus the
    ``_low_sample`` flags of the rates. Money in the reporting currency.
    """
    quarters = list(quarters) if quarters is not None else _default_quarters(ds, params)
    wins = [w for w in _windows(quarters, ds.fy_start) if w.window == "quarter"]
    cols = ["period", "period_start", "period_end"]
    if not wins:
        return pd.DataFrame(columns=cols)
    net = _Network(ds, params, wins, customers=False)
    cfg = net.cfg
    act_days = cfg["activation_days"]
    onb, endd = net.onboarded, net.end
    alive_end = np.isnan(endd)
    first = net.first_deal()
    if ds.program_costs is not None:
        pc = ds.program_costs
        cost_p = net.pidx(pc["partner_id"])
        cost_day = _days(pc["date"])
        cost_amt = pc["amount"].to_numpy(dtype=float)
    rows = []
    for w in wins:
        start, end = _days([w.start])[0], _days([w.end])[0]
        active_start = (onb < start) & (alive_end | (endd >= start))
        active_end = (onb <= end) & (alive_end | (endd > end))
        churned = ~alive_end & (endd >= start) & (endd <= end)
        onboarded = (onb >= start) & (onb <= end)
        retained = active_start & active_end
        # activation cohort: onboarded in the trailing four quarters, N-day window over by period end
        t4q_start = _days([(pd.Period(w.period, freq=periods.quarter_freq(net.fy)) - 3)
                           .start_time.normalize()])[0]
        cohort = (onb >= t4q_start) & (onb + act_days <= end)
        activated = cohort & (first <= onb + act_days)
        row = {
            "period": w.period, "period_start": w.start, "period_end": w.end,
            "partners_active_start": int(active_start.sum()),
            "partners_active_end": int(active_end.sum()),
            "partners_onboarded": int(onboarded.sum()),
            "partners_churned": int(churned.sum()),
            "retention_rate": _ratio(retained.sum(), active_start.sum()).item(),
            "retention_rate_n": int(active_start.sum()),
            "churn_rate": _ratio((active_start & churned).sum(), active_start.sum()).item(),
            "churn_rate_n": int(active_start.sum()),
            "activation_cohort": int(cohort.sum()),
            "partners_activated": int(activated.sum()),
            "activation_rate": _ratio(activated.sum(), cohort.sum()).item(),
            "activation_rate_n": int(cohort.sum()),
        }
        if ds.program_costs is not None:
            in_cohort = np.zeros(len(cost_p), bool)
            valid = cost_p >= 0
            in_cohort[valid] = cohort[cost_p[valid]]
            cohort_cost = cost_amt[in_cohort & (cost_day <= end)].sum()
            row["program_costs_cohort"] = float(cohort_cost)
            row["cost_to_acquire_and_onboard_per_activated_partner"] = _ratio(
                cohort_cost, activated.sum()).item()
            row["program_costs"] = float(cost_amt[(cost_day >= start) & (cost_day <= end)].sum())
        else:
            row["program_costs_cohort"] = row["cost_to_acquire_and_onboard_per_activated_partner"] = np.nan
            row["program_costs"] = np.nan
        row["mdf_claimed"] = (float(np.nansum(net.cube.sum("mdf_claimed", w.lo, w.hi)))
                              if ds.mdf is not None else np.nan)
        covered = _sales_covered(net, w.lo)
        row["revenue"] = float(net.cube.sum("revenue", w.lo, w.hi).sum()) if covered else np.nan
        row["gross_margin"] = (float(net.cube.sum("margin", w.lo, w.hi).sum())
                               if covered and net.has_cost else np.nan)
        if ds.leads is not None:  # the network funnel counts leads no partner was assigned
            nl = net.network_leads[(net.network_leads["q"] >= w.lo) & (net.network_leads["q"] <= w.hi)]
            row["leads_received"] = float(len(nl))
            row["leads_unassigned"] = float(nl["unassigned"].sum())
            row["lead_conversion_rate"] = _ratio(nl["converted"].sum(), nl["decided"].sum()).item()
            row["lead_conversion_rate_n"] = float(nl["decided"].sum())
        else:
            row["leads_received"] = row["leads_unassigned"] = np.nan
            row["lead_conversion_rate"] = row["lead_conversion_rate_n"] = np.nan
        spend = np.nansum([row["program_costs"], row["mdf_claimed"]])
        both_missing = ds.program_costs is None and ds.mdf is None
        row["channel_return"] = np.nan if both_missing else _ratio(row["revenue"], spend).item()
        rows.append(row)
    out = pd.DataFrame(rows)
    for rate in ("retention_rate", "churn_rate", "activation_rate", "lead_conversion_rate"):
        out[rate + "_low_sample"] = ~(out[rate + "_n"] >= cfg["min_sample"])
    out["period_start"] = pd.to_datetime(out["period_start"])
    out["period_end"] = pd.to_datetime(out["period_end"])
    return out
