"""What a scorecard notebook may read: one small bundle per partner, one for the network.

The statistics are computed once for the whole network (:mod:`channel_analysis.build`); each
partner's notebook then reads only its :class:`PartnerBundle`: that partner's own rows and anonymized
aggregates of its peer group and the network (groups of at least ``benchmarks.min_peers`` partners).
No other partner's id, name or figures are ever written into a partner bundle — this is what makes the
report private, whatever the notebook does.

A bundle is stored in an open, non-executable format (:func:`to_bytes` / :func:`from_bytes`, files
with :func:`save` / :func:`load`): a zip archive holding ``bundle.json`` (the scalars: partner facts,
period, settings) and one Arrow IPC stream per table (``<name>.arrow``). Loading parses JSON and
Arrow only — a tampered file can hold wrong numbers, never code — and refuses unknown members.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import ChannelAnalysisError
from .files import write_atomic
from .settings import ReportSettings


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
    account_moves : DataFrame
        The end-customer accounts this partner serves that changed segment this quarter
        [customer_id, name, change, from_segment, to_segment, action] (``exports`` ``account_moves``);
        ``facts["account_coverage"]`` is False when account coverage was not available.
    benchmarks : DataFrame
        [metric, value, percentile, peer_median, peer_p25, peer_p75, peer_n] — aggregates only.
    tenure_benchmarks : DataFrame
        The same within the partner's tenure cohort (partners at the same quarter of partnership):
        [window, metric, value, percentile, tenure_band, cohort_n, cohort_median, cohort_p25,
        cohort_p75, reason] — aggregates only (``tenure.cohort_benchmarks``).
    segment : dict
        abc_class, score, performance, potential, action.
    settings : ReportSettings
        The thresholds the page applies (typed; see :mod:`channel_analysis.settings`).
    facts : dict
        Results of the run the page states: ``forecast_method`` (this partner's), ``stale_threshold_days``,
        ``data_end`` (the data's last day, ISO, when the reported quarter is incomplete; else None).
    ratings : DataFrame
        The partner's qualitative ratings [criterion, period (quarter rated), score, raters] (programme.py).
    programme_value : DataFrame
        What the partner earned this quarter, one row (``programme.VALUE_COLUMNS`` without partner_id).
    programme : dict
        segment, treatment, treatment_name, treatment_contents (programme.treatments; empty when the
        partner has no segment).
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
    account_moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    benchmarks: pd.DataFrame = field(default_factory=pd.DataFrame)
    tenure_benchmarks: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment: dict = field(default_factory=dict)
    settings: ReportSettings | None = None
    facts: dict = field(default_factory=dict)
    ratings: pd.DataFrame = field(default_factory=pd.DataFrame)
    programme_value: pd.DataFrame = field(default_factory=pd.DataFrame)
    programme: dict = field(default_factory=dict)

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

    ``tables`` maps a name to a DataFrame — exactly the tables the overview shows (network,
    tier_migration, at_risk, key_figures, partners, pareto, segment_cells, …; see
    :func:`channel_analysis.exports.network_bundle`); ``notes`` holds results of the run worth
    stating (gini, top20_share, stale_threshold_days, the backtest summary), no thresholds.
    """

    period: str
    as_of: Any
    reporting_currency: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


class BundleError(ChannelAnalysisError):
    """A bundle file cannot be read (missing, not a bundle, or from another version)."""


_FORMAT = "channel-analysis bundle 1"
_TIMESTAMPS = ("as_of", "period_start", "period_end")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _jsonable(value: Any) -> Any:
    """Scalars, dicts and lists as JSON values: NaN → null, dates → ISO text, numpy → Python."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (pd.Timestamp, dt.date)):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _arrow(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _frame(data: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pandas()


def to_bytes(obj: PartnerBundle | NetworkBundle) -> bytes:
    """The bundle as bytes (a zip of ``bundle.json`` and one Arrow stream per table)."""
    if isinstance(obj, PartnerBundle):
        kind = "partner"
        tables = {f.name: getattr(obj, f.name) for f in fields(obj)
                  if isinstance(getattr(obj, f.name), pd.DataFrame)}
        scalars = {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in tables}
        if obj.settings is not None:
            scalars["settings"] = obj.settings.to_dict()
    elif isinstance(obj, NetworkBundle):
        kind = "network"
        tables = dict(obj.tables)
        scalars = {"period": obj.period, "as_of": obj.as_of, "reporting_currency": obj.reporting_currency,
                   "notes": obj.notes}
    else:
        raise TypeError(f"not a bundle: {type(obj).__name__}")
    meta = {"format": _FORMAT, "kind": kind, "tables": sorted(tables), "scalars": _jsonable(scalars)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        # fixed member dates: the same bundle gives the same bytes (report fingerprints hash them)
        zf.writestr(zipfile.ZipInfo("bundle.json", _EPOCH),
                    json.dumps(meta, ensure_ascii=False, sort_keys=True, allow_nan=False))
        for name in sorted(tables):
            zf.writestr(zipfile.ZipInfo(f"{name}.arrow", _EPOCH), _arrow(tables[name]))
    return buf.getvalue()


def from_bytes(data: bytes, *, source: str = "bundle") -> PartnerBundle | NetworkBundle:
    """Read :func:`to_bytes`' output. Only JSON and Arrow are parsed; anything else is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            meta = json.loads(zf.read("bundle.json"))
            if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
                raise BundleError(f"{source} is not a {_FORMAT!r} file; re-run the statistics step")
            names = [str(n) for n in meta.get("tables", [])]
            members = set(zf.namelist()) - {"bundle.json"}
            if members != {f"{n}.arrow" for n in names}:
                raise BundleError(f"{source} holds unexpected members; re-run the statistics step")
            tables = {n: _frame(zf.read(f"{n}.arrow")) for n in names}
    except (zipfile.BadZipFile, KeyError, ValueError, pa.ArrowInvalid) as exc:
        raise BundleError(f"{source} cannot be read as a bundle ({exc}); re-run the statistics step") from None
    scalars = dict(meta.get("scalars") or {})
    for key in _TIMESTAMPS:
        if scalars.get(key) is not None:
            scalars[key] = pd.Timestamp(scalars[key])
    if meta.get("kind") == "network":
        return NetworkBundle(period=scalars["period"], as_of=scalars.get("as_of"),
                             reporting_currency=scalars["reporting_currency"], tables=tables,
                             notes=scalars.get("notes") or {})
    known = {f.name for f in fields(PartnerBundle)}
    unknown = (set(scalars) | set(tables)) - known
    if unknown:
        raise BundleError(f"{source} has fields this version does not know: {sorted(unknown)}")
    if scalars.get("settings") is not None:
        scalars["settings"] = ReportSettings.from_dict(scalars["settings"])
    return PartnerBundle(**scalars, **tables)


def save(obj: PartnerBundle | NetworkBundle, path: str | Path) -> Path:
    """Write a bundle atomically (temp file + rename)."""
    return write_atomic(Path(path), to_bytes(obj))


def load(path: str | Path) -> PartnerBundle | NetworkBundle:
    """Read a bundle written by :func:`save`; a :class:`BundleError` saying what to do otherwise."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle not found: {path}; run the quarter first (make reports)") from None
    return from_bytes(data, source=str(path))
