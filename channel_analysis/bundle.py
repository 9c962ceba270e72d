"""What a scorecard notebook may read: one small bundle per partner, one for the network.

The statistics are computed once for the whole network (:mod:`channel_analysis.build`); each
partner's notebook then reads only its :class:`PartnerBundle`: that partner's own rows and anonymized
aggregates of its peer group and the network (groups of at least ``benchmarks.min_peers`` partners).
No other partner's id, name or figures are ever written into a partner bundle — this is what makes the
report private, whatever the notebook does.

Bundles are pickled dataclasses of DataFrames (fast to load, no heavy imports in the kernel).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class PartnerBundle:
    """Everything one partner's scorecard shows. Frames hold only this partner's rows, except the
    peer/network aggregates, which hold no partner id at all.

    Attributes
    ----------
    partner : dict
        partner_id, name, partner_type, region, country, locale, tier, status, onboarded_date,
        peer_group (readable label), peer_n.
    period, as_of, period_start, period_end, reporting_currency, fy_start
        The run's time frame.
    kpis : DataFrame
        The partner's KPI rows (every period × window of the history), columns as docs/kpis.md.
    targets : DataFrame
        Target attainment [period, metric, target, actual, attainment, status].
    monthly_revenue : DataFrame
        [month (Timestamp, first of month), revenue, gross_margin].
    forecast : DataFrame
        Quarterly revenue history and next-quarter forecast
        [period, revenue, forecast, lower, upper, kind ("actual" | "forecast")], method in ``notes``.
    category_mix : DataFrame
        [category, revenue, revenue_prev_year, share] for the reported quarter.
    open_deals : DataFrame
        The partner's open deals at as_of [opportunity_id, stage, stage_order, amount, age_days,
        age_bucket, expected_close_date, past_expected_close, stale, stale_reason, p_win, weighted_amount].
    pipeline_by_stage : DataFrame
        [stage, stage_order, open_n, open_amount, weighted_amount, network_p_win].
    cycle_curve : DataFrame
        Kaplan–Meier "still open after d days" curves, tidy
        [group ("partner" | "peers"), days, survival, ci_low, ci_high].
    cycle_summary : DataFrame
        [group, median_days, ci_low, ci_high, n, events] for "partner" and "peers".
    cycle_test : dict
        Log-rank partner vs peers: statistic, p_value, n_partner, n_peers (or empty when too few deals).
    tier_history : DataFrame
        [period, qualifying_tier, tier, change].
    tier_gap : DataFrame
        [next_tier, criterion, required, actual, gap, met] (empty for the top tier).
    benchmarks : DataFrame
        [metric, value, percentile, peer_median, peer_p25, peer_p75, peer_n] — aggregates only.
    segment : dict
        abc_class, score, performance, potential, action.
    notes : dict
        Free-form facts for the narrative (method names, thresholds used, low-sample flags).
    """

    partner: dict
    period: str
    as_of: Any
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    reporting_currency: str
    fy_start: int = 1
    kpis: pd.DataFrame = field(default_factory=pd.DataFrame)
    targets: pd.DataFrame = field(default_factory=pd.DataFrame)
    monthly_revenue: pd.DataFrame = field(default_factory=pd.DataFrame)
    forecast: pd.DataFrame = field(default_factory=pd.DataFrame)
    category_mix: pd.DataFrame = field(default_factory=pd.DataFrame)
    open_deals: pd.DataFrame = field(default_factory=pd.DataFrame)
    pipeline_by_stage: pd.DataFrame = field(default_factory=pd.DataFrame)
    cycle_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    cycle_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    cycle_test: dict = field(default_factory=dict)
    tier_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    tier_gap: pd.DataFrame = field(default_factory=pd.DataFrame)
    benchmarks: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    @property
    def partner_id(self) -> str:
        return str(self.partner["partner_id"])

    def kpi(self, window: str = "quarter", period: str | None = None) -> pd.Series:
        """The partner's KPI row for one window of ``period`` (default: the reported quarter)."""
        rows = self.kpis[(self.kpis["window"] == window) & (self.kpis["period"] == (period or self.period))]
        return rows.iloc[0] if len(rows) else pd.Series(dtype=object)


@dataclass
class NetworkBundle:
    """Everything the internal network overview shows (all partners; never sent to partners).

    ``tables`` maps a name to a DataFrame (kpis, targets, network, pareto, segments, tiers,
    migration, open_deals, cycle_curves, cohorts, ...); ``notes`` holds scalars (gini, thresholds,
    methods). See :func:`channel_analysis.build.network_bundle` for the names.
    """

    period: str
    as_of: Any
    reporting_currency: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def save(obj: PartnerBundle | NetworkBundle, path: str | Path) -> Path:
    """Write a bundle atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path) -> PartnerBundle | NetworkBundle:
    """Read a bundle written by :func:`save` (only bundles this project wrote: it is a pickle)."""
    with open(path, "rb") as fh:
        return pickle.load(fh)
