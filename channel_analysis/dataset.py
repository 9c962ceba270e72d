"""The validated tables one run works on.

A :class:`Dataset` holds one typed frame per input table of :mod:`channel_analysis.schema`
(``None`` for an optional table the source does not have), with every money column already in the
reporting currency. Statistics take a Dataset (or single frames from it) and never modify it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from . import periods, validation
from .errors import DataSourceError, DataValidationError
from .io import sources
from .schema import ACTIVITY_TABLES, TABLES
from .validation import MONEY_COLUMNS, money_period, row_currency


@dataclass(frozen=True)
class Dataset:
    """Validated input tables plus the run's time frame.

    ``as_of`` is the date the run describes; ``period`` the quarter reported (``"2026Q3"``);
    ``fy_start`` the first month of the fiscal year. ``sales`` is optional like every table but
    ``partners`` (a source has at least one of sales, opportunities, leads). A partner without
    ``onboarded_date`` (column or value) gets its first activity date (:meth:`first_activity`);
    ``onboarded_derived`` counts them and ``notes`` says so.
    """

    partners: pd.DataFrame
    as_of: dt.date
    period: str
    sales: pd.DataFrame | None = None
    fy_start: int = 1
    reporting_currency: str = "EUR"
    partner_contacts: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None
    opportunity_stages: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    targets: pd.DataFrame | None = None
    mdf: pd.DataFrame | None = None
    trainings: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    potential: pd.DataFrame | None = None
    program_costs: pd.DataFrame | None = None
    fx_rates: pd.DataFrame | None = None
    accounts: pd.DataFrame | None = None
    partner_ratings: pd.DataFrame | None = None
    rebates: pd.DataFrame | None = None
    benefits: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())
    #: partners whose onboarded_date was derived from their first activity (see __post_init__)
    onboarded_derived: int = 0

    def __post_init__(self):
        # partners.onboarded_date absent (column or value): the partner's first activity — first
        # sale, first deal created, first lead assigned — stated in ``notes``. The given frame is
        # not modified; the Dataset holds a new one.
        p = self.partners
        given = p["onboarded_date"] if "onboarded_date" in p else pd.Series(pd.NaT, index=p.index,
                                                                           dtype="datetime64[ns]")
        missing = given.isna()
        if not missing.any() and "onboarded_date" in p:
            return
        first = self.first_activity().reindex(p["partner_id"].astype(str).to_numpy())
        derived = given.where(~missing, pd.Series(first.to_numpy(), index=p.index))
        n = int((missing & derived.notna()).sum())
        none = int(derived.isna().sum())
        notes = list(self.notes)
        if n:
            notes.append(f"partners.onboarded_date: derived from first activity (first sale, deal created "
                         f"or lead assigned) for {n:,} partner{'s' * (n != 1)}")
        if none:
            notes.append(f"partners.onboarded_date: {none:,} partner{'s' * (none != 1)} without onboarded_date "
                         f"and without any activity: not reported")
        object.__setattr__(self, "partners", p.assign(onboarded_date=pd.to_datetime(derived)))
        object.__setattr__(self, "notes", tuple(notes))
        object.__setattr__(self, "onboarded_derived", n)

    def first_activity(self) -> pd.Series:
        """Each partner's first activity date (first sale, first deal created, first lead
        assigned), indexed by partner id; partners without activity are absent."""
        parts = []
        for table, col in (("sales", "date"), ("opportunities", "created_date"), ("leads", "assigned_date")):
            frame = getattr(self, table)
            if frame is not None and len(frame):
                known = frame["partner_id"].notna()  # (unassigned leads belong to no partner)
                parts.append(pd.DataFrame({"partner_id": frame.loc[known, "partner_id"].astype(str).to_numpy(),
                                           "date": pd.to_datetime(frame.loc[known, col]).to_numpy()}))
        if not parts:
            return pd.Series(dtype="datetime64[ns]")
        d = pd.concat(parts, ignore_index=True).dropna()
        return d.groupby("partner_id")["date"].min()

    def has(self, table: str) -> bool:
        """True if the optional ``table`` was provided (KPIs that need it are otherwise unavailable)."""
        return getattr(self, table) is not None

    def provided(self, name: str) -> bool:
        """True if the source provided input ``name``: a table (``"sales"``) or a column
        (``"sales.cost"``). Validation keeps only the columns a source has, so a column in a typed
        frame is a provided one (an empty value in some rows is still "provided"). The one test
        behind "not available" (:func:`channel_analysis.measures.unavailable`)."""
        table, _, column = name.partition(".")
        frame = getattr(self, table, None) if table in TABLES else None
        if frame is None:
            return False
        return not column or column in frame.columns

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The provided tables by name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def account_managers(self, mapping: dict) -> pd.Series:
        """Each partner's channel account manager by name (``report.account_managers``: keyed by
        partner id, else by region), indexed by partner id; None where the mapping has neither."""
        p = self.partners
        ids = p["partner_id"].astype(str)
        by_id = ids.map({str(k): str(v) for k, v in mapping.items()})
        by_region = (p["region"].astype(str).map({str(k): str(v) for k, v in mapping.items()})
                     if "region" in p else pd.Series(None, index=p.index))
        return pd.Series(by_id.where(by_id.notna(), by_region).to_numpy(dtype=object), index=ids.to_numpy())

    def contract_rates(self) -> pd.DataFrame:
        """Each partner's contract currency and its rate for the reported quarter:
        [partner_id, currency, fx_rate] with ``fx_rate`` in reporting-currency units per unit of the
        partner's currency (as ``fx_rates.rate``; 1 for the reporting currency, NaN when no rate is
        known). Without ``partners.currency`` every partner is in the reporting currency."""
        p = self.partners
        cur = (p["currency"].astype(object).where(p["currency"].notna(), self.reporting_currency)
               if "currency" in p else pd.Series(self.reporting_currency, index=p.index, dtype=object))
        cur = cur.astype(str)
        quarter = pd.Series(pd.PeriodIndex([self.period] * len(p), freq=periods.quarter_freq(self.fy_start)))
        rate = _FxLookup(self.fx_rates, self.fy_start).rates(cur.to_numpy(dtype=object), quarter)
        rate = np.where(cur.to_numpy() == self.reporting_currency, 1.0, rate)
        return pd.DataFrame({"partner_id": p["partner_id"].astype(str).to_numpy(), "currency": cur.to_numpy(),
                             "fx_rate": rate})

    def summary(self) -> str:
        lines = [f"Dataset as of {self.as_of}, period {self.period}, money in {self.reporting_currency}"]
        for f in fields(self):
            if f.name in TABLES:
                frame = getattr(self, f.name)
                lines.append(f"  {f.name:<20} {'—' if frame is None else f'{len(frame):>10,} rows'}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # a readable repr in notebooks
        return self.summary()


# --- loading -------------------------------------------------------------------------------------

def load_dataset(params: dict, *, validate: bool = True, progress: bool = True) -> Dataset:
    """Read ``params["data"]["source"]``, validate it and convert money to the reporting currency.

    Returns a :class:`Dataset` with ``as_of``, ``period``, ``fy_start`` and ``reporting_currency``
    from ``params``. With ``validate`` (default) every rule of :mod:`channel_analysis.validation`
    runs and any error raises :class:`~channel_analysis.errors.DataValidationError` carrying the
    formatted report (``.problems`` holds the full problems table); warnings are kept in
    ``notes``. ``validate=False`` only converts types (for a source validated before).

    Money: ``sales.revenue``/``cost`` (in the line's ``currency``, else the partner's),
    ``opportunities.amount`` (the deal's ``currency``, else the partner's) and the ``mdf`` amounts
    (their ``currency``, else the reporting currency) are multiplied by ``fx_rates.rate``
    (reporting-currency units per unit) of the row's quarter: the sale date, the deal's closed
    date or else its created date, the mdf ``period``. A quarter without a rate (rows after
    ``as_of``) uses the currency's nearest earlier rate (else its earliest). ``currency`` columns
    then hold the reporting currency. Empty optional tables are treated as absent (``None``).
    """
    data = params.get("data", {}) or {}
    source = data.get("source")
    if not source:
        raise DataSourceError("data.source is not set: pass --data PATH or set data.source in the run file")
    if validate:
        report = validation.validate_source(params, progress=progress)
        if not report.ok:
            n = len(report.errors)
            raise DataValidationError(
                f"{sources.describe(source)} failed validation with {n:,} error{'s' * (n != 1)}; "
                f"fix them and re-run (`channel-analysis validate` lists them all):\n\n"
                + report.format(),
                report.problems,
            )
        tables = report.tables
        notes = tuple(
            f"{r.table}{'.' + r.column if r.column else ''}: {r.problem}"
            for r in report.warnings.drop_duplicates(["table", "column", "fix"]).itertuples()
        )
    else:
        raw = sources.read_tables(source, data.get("tables") or {}, progress=progress,
                                  since=validation.read_since(params))
        missing = [name for name, (_, required) in TABLES.items() if required and name not in raw]
        if missing:
            raise DataSourceError(f"{sources.describe(source)} has no table {', '.join(missing)} (required)")
        if not any(name in raw for name in ACTIVITY_TABLES):
            raise DataSourceError(f"{sources.describe(source)} has none of {', '.join(ACTIVITY_TABLES)}: "
                                  "provide at least one activity table")
        tables = validation.coerce_tables(raw)
        notes = ()
    tables = convert_money(tables, params)
    kwargs = {name: (frame if len(frame) or TABLES[name][1] else None) for name, frame in tables.items()}
    return Dataset(
        as_of=_as_date(params["as_of"]),
        period=str(params["period"]),
        fy_start=int(params.get("fiscal_year_start_month", 1)),
        reporting_currency=str(params.get("reporting_currency", "EUR")),
        notes=notes,
        **kwargs,
    )


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def convert_money(tables: dict[str, pd.DataFrame], params: dict) -> dict[str, pd.DataFrame]:
    """New frames with money columns in ``params["reporting_currency"]`` (see :func:`load_dataset`).

    The inputs are not modified; tables without money in other currencies are returned as they
    are, with ``currency`` filled with the reporting currency.
    """
    reporting = str(params.get("reporting_currency", "EUR"))
    fy = int(params.get("fiscal_year_start_month", 1))
    out = dict(tables)
    fx = tables.get("fx_rates")
    fx_lookup = None
    for table, cols in MONEY_COLUMNS.items():
        frame = tables.get(table)
        if frame is None:
            continue
        cur = row_currency(tables, table, reporting)
        foreign = (cur != reporting).to_numpy()
        frame = frame.copy(deep=False)  # copy-on-write: new columns never touch the input
        if foreign.any():
            if fx_lookup is None:
                fx_lookup = _FxLookup(fx, fy)
            when = [c for c in ("date", "created_date", "closed_date", "period") if c in frame.columns]
            q = money_period(frame.loc[foreign, when], table, fy)
            rate = np.ones(len(frame))
            rate[foreign] = fx_lookup.rates(cur[foreign].to_numpy(dtype=object), q)
            bad = np.isnan(rate)
            if bad.any():
                missing = sorted(set(cur[bad].astype(str)))
                raise DataValidationError(
                    f"{table}: no fx_rates at all for currency {', '.join(missing)}; add fx_rates rows "
                    f"({reporting} per unit) for the quarters used"
                )
            for col in cols:
                if col in frame.columns:
                    frame[col] = frame[col] * rate
        # every row now holds the reporting currency: one category, not one string per row
        frame["currency"] = pd.Categorical.from_codes(np.zeros(len(frame), dtype="int8"), [reporting])
        out[table] = frame
    return out


class _FxLookup:
    """Rate per (currency, quarter), vectorized; a missing quarter falls back to the nearest
    earlier rate of the currency, else its earliest."""

    def __init__(self, fx: pd.DataFrame | None, fy: int):
        freq = periods.quarter_freq(fy)
        if fx is None or fx.empty:
            fx = pd.DataFrame({"currency": pd.Series(dtype="str"), "period": pd.Series(dtype="str"),
                               "rate": pd.Series(dtype="float64")})
        ords = np.array([pd.Period(p, freq=freq).ordinal for p in fx["period"].astype(str)], dtype="int64")
        self.by_currency = {}
        frame = pd.DataFrame({"currency": fx["currency"].astype(str).to_numpy(), "ord": ords,
                              "rate": fx["rate"].to_numpy(dtype="float64")}).sort_values(["currency", "ord"])
        for currency, grp in frame.groupby("currency", sort=False):
            self.by_currency[currency] = (grp["ord"].to_numpy(), grp["rate"].to_numpy())

    def rates(self, currencies, quarters: pd.Series):
        ords = quarters.array.asi8 if hasattr(quarters.array, "asi8") else np.asarray(
            [q.ordinal for q in quarters], dtype="int64")
        out = np.full(len(currencies), np.nan)
        codes, uniques = pd.factorize(pd.Series(currencies))
        for i, currency in enumerate(uniques):
            if currency not in self.by_currency:
                continue
            sel = codes == i
            fx_ord, fx_rate = self.by_currency[currency]
            pos = np.searchsorted(fx_ord, ords[sel], side="right") - 1  # latest rate at or before
            out[sel] = fx_rate[np.clip(pos, 0, len(fx_rate) - 1)]
        return out
