"""Validation of a whole source: every problem at once, as a table.

:func:`validate_tables` checks raw frames (as read by :mod:`channel_analysis.io.sources`) in four
passes and collects *all* problems instead of stopping at the first:

1. tables: a required table missing or empty is an error, and so is a source without any activity
   table (:data:`~channel_analysis.schema.ACTIVITY_TABLES`: sales, opportunities or leads); an
   optional table empty is a warning;
2. columns and types: a missing required column is an error, an extra column a warning (it is
   dropped); each value is converted to its schema type (numbers, ISO dates, true/false) and a
   value that cannot be is an error naming its row;
3. the pandera models of :mod:`channel_analysis.schema`, run with ``lazy=True`` on the typed frames
   (missing values, allowed values, formats, ranges, unique ids), translated into problems with a
   fix per check type;
4. rules across rows and tables: unknown partners and deals, dates in the wrong order, outcomes
   that contradict the closed date, registrations exceeding quantities, amounts or dates that
   cannot be right, currencies without exchange rates, partners without a report recipient,
   quarters without sales, markup in names.

The result, :class:`ValidationReport`, holds the problems (one row per problem and row, with the
1-based row number in the file and the row's key) and the typed frames (schema columns only, in
schema order). An optional column absent from the source is absent from its typed frame too: a
column in a typed frame means the source provided it (``"cost" in sales`` is the one test for
"provided"; KPIs whose input is absent are not available, never 0). Nothing raises for bad data; a source that
cannot be read at all raises :class:`~channel_analysis.errors.DataSourceError`.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from . import periods
from .errors import DataSourceError
from .files import atomic_path
from .io import sources
from .schema import ACTIVITY_TABLES, CATEGORICAL, TABLES

PROBLEM_COLUMNS = ["severity", "table", "column", "row", "key", "problem", "fix"]

#: The columns naming a row in messages (its id, or what identifies it).
KEYS: dict[str, tuple[str, ...]] = {
    "partners": ("partner_id",),
    "partner_contacts": ("partner_id", "email"),
    "sales": ("line_id",),
    "opportunities": ("opportunity_id",),
    "opportunity_stages": ("opportunity_id", "stage"),
    "leads": ("lead_id",),
    "targets": ("partner_id", "period", "metric"),
    "mdf": ("activity_id",),
    "trainings": ("partner_id", "person_id", "course"),
    "surveys": ("response_id",),
    "potential": ("partner_id", "period"),
    "program_costs": ("partner_id", "date"),
    "fx_rates": ("currency", "period"),
    "accounts": ("customer_id",),
}

#: Money columns in the row's currency (converted by :func:`channel_analysis.dataset.load_dataset`).
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales": ("revenue", "cost"),
    "opportunities": ("amount",),
    "mdf": ("allocated", "requested", "approved", "claimed", "attributed_revenue"),
}
#: Money columns already in the reporting currency.
REPORTING_MONEY: dict[str, tuple[str, ...]] = {
    "targets": ("target",),
    "potential": ("potential",),
    "program_costs": ("amount",),
    "accounts": ("potential",),
    "rebates": ("threshold",),
    "benefits": ("value",),
}

#: Bounds beyond which a value cannot be right.
MAX_AMOUNT = 1e12  # any single money amount (error)
MAX_UNIT_REVENUE = 1e7  # revenue per unit of a sales line (warning)
MIN_DATE = pd.Timestamp("1990-01-01")  # earlier transaction dates are placeholders or typos (error)
MIN_ONBOARDED_DATE = pd.Timestamp("1900-01-01")  # partner agreements can be old
FUTURE_TOLERANCE = pd.Timedelta(days=366)  # a date this far after as_of is a typo (warning)
#: Date columns that lie in the future by nature (no future check).
FUTURE_OK = {("opportunities", "expected_close_date"), ("trainings", "expires_date")}

#: Free-text columns checked for markup (it is kept as data and always shown as text).
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "partners": ("name", "region", "tier"),
    "partner_contacts": ("name", "role"),
    "accounts": ("name",),
}
_MARKUP = r"<\s*[A-Za-z!/?]|&#?\w+;|javascript:"

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}

#: Rows per rule shown by :meth:`ValidationReport.format`.
ROWS_PER_RULE = 10

_DOCS = "docs/data-model.md"


# --- the report ----------------------------------------------------------------------------------

@dataclass
class ValidationReport:
    """Problems found in a source, and its typed tables.

    ``problems`` has the columns :data:`PROBLEM_COLUMNS`: ``severity`` (``error`` / ``warning``),
    ``table``, ``column`` (empty for a whole table), ``row`` (1-based row number in the file:
    line number for a CSV with its header on line 1, else the row's position), ``key`` (the row's
    id, e.g. its ``line_id``), ``problem`` and ``fix``. ``tables`` maps table name to the validated
    frame (schema types; extra columns dropped). ``files`` names where each table came from.
    """

    problems: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    source: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == "warning"]

    @property
    def ok(self) -> bool:
        """True if there is no error (warnings allowed)."""
        return not (self.problems["severity"] == "error").any()

    def summary(self) -> str:
        """One paragraph: verdict, counts of errors and warnings per table."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        where = f" in {self.source}" if self.source else ""
        head = (f"{'OK' if self.ok else 'FAILED'}: {n_err:,} error{'s' * (n_err != 1)}, "
                f"{n_warn:,} warning{'s' * (n_warn != 1)}{where}")
        lines = [head]
        counts = (self.problems.groupby(["table", "severity"], sort=False).size()
                  .unstack(fill_value=0) if len(self.problems) else pd.DataFrame())
        for name in _table_order(self.tables, counts.index):
            rows = len(self.tables[name]) if name in self.tables else None
            err = int(counts.loc[name].get("error", 0)) if name in counts.index else 0
            warn = int(counts.loc[name].get("warning", 0)) if name in counts.index else 0
            size = f"{rows:>12,} rows" if rows is not None else f"{'—':>17}"
            lines.append(f"  {name:<20}{size}   {err:>6,} error{'s' * (err != 1):<1}  "
                         f"{warn:>6,} warning{'s' * (warn != 1)}")
        return "\n".join(lines)

    def format(self, rows_per_rule: int = ROWS_PER_RULE, *, written_to=None) -> str:
        """Every problem as a readable text table, grouped by table, errors first.

        Problems of one rule (same table, column, severity and fix) show their first
        ``rows_per_rule`` rows and then "… and N more rows like this"; the fix is printed once
        per rule, on its own line. Nothing is clipped: keys are printed whole and a problem text
        too long for its column wraps between words (a date, an id or a path is never cut). When
        rows were left out, the last line says how to get them all (``validate --report``), or
        where they are (``written_to``: the file :meth:`write` wrote).
        """
        if self.problems.empty:
            return self.summary() + "\n\nNo problems found."
        out = [self.summary(), ""]
        probs = self.problems.copy()
        probs["_sev"] = (probs["severity"] != "error").astype(int)
        probs["_order"] = np.arange(len(probs))
        tables = _table_order({}, probs["table"].unique())
        elided = 0
        for name in tables:
            part = probs[probs["table"] == name].sort_values(["_sev", "_order"], kind="stable")
            file = self.files.get(name)
            out.append(f"== {name}" + (f" ({file})" if file and file != name else "") + " " + "=" * 40)
            rules = part.groupby(["_sev", "column", "fix"], sort=False, dropna=False)
            rows: list[list[str]] = []
            for _, grp in rules:
                shown = grp.head(rows_per_rule)
                for i, rec in enumerate(shown.itertuples(index=False)):
                    rows.append([
                        rec.severity if i == 0 else "",
                        rec.column if isinstance(rec.column, str) else "",
                        "" if pd.isna(rec.row) else f"{int(rec.row):,}",
                        _text(rec.key),
                        _text(rec.problem),
                    ])
                fix = _text(grp["fix"].iloc[0])
                if fix:
                    rows.append(["", "", "", "", "", "fix: " + fix])
                if len(grp) > rows_per_rule:
                    elided += len(grp) - rows_per_rule
                    rows.append(["", "", "", "", "", f"… and {len(grp) - rows_per_rule:,} more rows like this"])
            out.append(_text_table(["severity", "column", "row", "key", "problem"], rows))
            out.append("")
        if elided:
            where = (f"every problem is in {written_to}" if written_to else
                     "add `--report problems.csv` to the validate command to write every problem, "
                     "untruncated (.csv or .parquet)")
            out.append(f"{elided:,} problem row{'s' * (elided != 1)} not shown above: {where}")
        return "\n".join(out).rstrip() + "\n"

    def write(self, path) -> Path:
        """Write every problem (all rows, all columns of :attr:`problems`, nothing truncated) to
        ``path``: Parquet if its suffix is ``.parquet``, else CSV (UTF-8). Returns the path."""
        path = Path(path).expanduser()
        frame = self.problems.reset_index(drop=True)
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".parquet":
                frame.to_parquet(tmp, index=False, engine="pyarrow")
            else:
                frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        return path

    def __repr__(self) -> str:
        return self.summary()


def _table_order(tables, extra) -> list[str]:
    names = list(TABLES) + sorted(set(map(str, extra)) - set(TABLES))
    present = set(tables) | set(map(str, extra))
    return [n for n in names if n in present]


def _text(value) -> str:
    """A cell as one line of text (empty for missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


#: Width the terminal table aims at; longer problem texts wrap between words, never inside one.
LINE_WIDTH = 120
#: A problem column starting further right than this gets its long texts on their own lines.
_MAX_INDENT = LINE_WIDTH - 50


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    """Rows of cells under ``header``; the last column is free text, wrapped (between words)
    rather than cut. A row with one more cell than the header is a note (the fix, "… and N
    more"): printed from the second column on, whole."""
    ncol = len(header)
    cells = [r for r in rows if len(r) == ncol]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    indent = sum(widths[:-1]) + 2 * (ncol - 1)
    room = LINE_WIDTH - indent
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    lines = [fmt(header), fmt(["-" * w for w in widths[:-1]] + ["-" * max(len(header[-1]), min(room, 40))])]
    note_at = " " * (widths[0] + 2)
    for r in rows:
        if len(r) > ncol:
            lines.append(note_at + r[-1])
            continue
        text = r[-1]
        if len(text) <= room:
            lines.append(fmt(r))
        elif indent <= _MAX_INDENT:
            parts = textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) or [""]
            lines.append(fmt(r[:-1] + [parts[0]]))
            lines.extend(" " * indent + part for part in parts[1:])
        else:  # keys too wide to leave room: the problem on its own line, whole
            lines.append(fmt(r[:-1] + [""]))
            lines.append(note_at + text)
    return "\n".join(lines)


# --- collecting problems -------------------------------------------------------------------------

class _Collector:
    """Accumulates problems vectorized: one call per rule, many rows at once."""

    def __init__(self):
        self.parts: list[pd.DataFrame] = []
        self.meta: dict[str, dict] = {}  # table -> {"first_row", "frame"}
        self.unconverted: dict[tuple[str, str], pd.Index] = {}  # rows already reported per column

    def table(self, severity: str, table: str, problem: str, fix: str, column: str | None = None) -> None:
        self.parts.append(pd.DataFrame({
            "severity": [severity], "table": [table], "column": [column], "row": [pd.NA],
            "key": [None], "problem": [problem], "fix": [fix],
        }))

    def rows(self, severity: str, table: str, column: str | None, index, problem, fix: str,
             key: pd.Series | None = None) -> None:
        """Problems for the rows at ``index`` (labels of the table's frame); ``problem`` is a
        string or a Series of strings aligned with ``index``."""
        index = pd.Index(index)
        if len(index) == 0:
            return
        meta = self.meta.get(table, {})
        frame = meta.get("frame")
        if key is None:
            key = _keys(frame, table, index) if frame is not None else None
        if isinstance(problem, pd.Series):
            problem = problem.to_numpy(dtype=object)
        row = pd.array(np.asarray(index, dtype="int64") + meta.get("first_row", 1), dtype="Int64")
        self.parts.append(pd.DataFrame({
            "severity": severity, "table": table, "column": column, "row": row,
            "key": np.asarray(key, dtype=object) if key is not None else None,
            "problem": problem, "fix": fix,
        }))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "row" else object)
                                 for c in PROBLEM_COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)[PROBLEM_COLUMNS]
        out["row"] = out["row"].astype("Int64")
        for col in ("severity", "table", "column", "key", "problem", "fix"):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        return out


def _keys(frame: pd.DataFrame, table: str, index) -> np.ndarray:
    cols = [c for c in KEYS.get(table, ()) if c in frame.columns]
    if not cols:
        return np.full(len(index), None, dtype=object)
    sub = frame.loc[index, cols]
    parts = []
    for c in cols:
        s = sub[c]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            s = s.dt.strftime("%Y-%m-%d")
        parts.append(s.astype(object).where(s.notna(), "").astype(str))
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out.to_numpy(dtype=object)


def _quote(values: pd.Series, width: int = 200) -> pd.Series:
    """Values as quoted text for messages (vectorized); only a value longer than ``width``
    (free text in the wrong column, not an id or a date) is shortened."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    text = text.where(text.str.len() <= width, text.str.slice(0, width - 1) + "…")
    return "'" + text + "'"


def _schema(table: str) -> pa.DataFrameSchema:
    """The table's pandera schema (built once: building imports and inspects a lot)."""
    if table not in _SCHEMAS:
        _SCHEMAS[table] = TABLES[table][0].to_schema()
    return _SCHEMAS[table]


_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


# --- pass 2: columns and types -------------------------------------------------------------------

def _kind(dtype) -> str:
    text = str(dtype)
    if text.startswith("datetime64"):
        return "date"
    if text in ("bool", "boolean"):
        return "bool"
    if text in ("int64", "Int64"):
        return "int"
    if text.startswith("float"):
        return "float"
    return "str"


def _factorized(raw: pd.Series, parse) -> pd.Series:
    """Apply ``parse`` (vectorized) to the distinct values of ``raw`` only, then expand."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) > 0.5 * len(raw):
        return parse(raw)
    parsed = parse(pd.Series(uniques))
    taken = parsed.take(np.where(codes < 0, 0, codes)) if len(parsed) else parsed.reindex(range(len(raw)))
    taken = pd.Series(taken.to_numpy(), index=raw.index, dtype=parsed.dtype)
    return taken.where(codes >= 0)


def _day_ns(s: pd.Series) -> pd.Series:
    """Dates at day precision as ``datetime64[ns]``; a date outside what nanoseconds can hold
    (before 1677 or after 2262, e.g. year 9999) becomes missing (reported by
    :func:`_unsupported_dates`: placeholder or error, never "unparseable")."""
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if str(s.dtype) != "datetime64[ns]":
        inside = (s >= pd.Timestamp.min) & (s <= pd.Timestamp.max)
        if not inside[s.notna()].all():
            s = s.where(inside)
        s = s.astype("datetime64[ns]")
    return s.dt.floor("D")


def _to_dates(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return _day_ns(raw)

    def parse(values: pd.Series) -> pd.Series:
        text = values.astype(object).where(values.notna(), None)
        text = pd.Series(text, dtype="str").str.strip()
        try:
            out = pd.to_datetime(text, errors="coerce", format="ISO8601")
        except (ValueError, OverflowError):  # mixed time zones and the like: value by value
            out = pd.Series([pd.to_datetime(v, errors="coerce", format="ISO8601", utc=True)
                             for v in text], index=text.index, dtype="datetime64[us, UTC]")
        return _day_ns(out)

    return _factorized(raw, parse)


#: The dates ``datetime64[ns]`` can hold (the project's date type).
FIRST_DATE, LAST_DATE = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
#: Optional "end" dates where a far-future value (2999-12-31, 9999-12-31) is the ERP convention
#: for "no end": read as empty, with a warning.
NO_END_PLACEHOLDER = {("partners", "end_date"), ("trainings", "expires_date"),
                      ("opportunities", "expected_close_date")}


def _unsupported_dates(raw: pd.Series) -> pd.Series:
    """For values that did not convert to a date: the ISO text of those that are valid dates
    outside :data:`FIRST_DATE` … :data:`LAST_DATE` (e.g. ``2999-12-31``), missing for the others
    (truly unparseable)."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.dt.strftime("%Y-%m-%d").where(raw.notna())

    def iso(value) -> str | None:
        if isinstance(value, (dt.date, dt.datetime)):
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        text = str(value).strip()
        if not re.match(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])", text):
            return None
        try:
            return dt.date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            return None

    uniques = pd.Series(raw.dropna().unique())
    found = {v: iso(v) for v in uniques}
    return pd.Series([found.get(v) if not pd.isna(v) else None for v in raw], index=raw.index, dtype=object)


def _report_unconverted_dates(table: str, col: str, raw: pd.Series, out: "_Collector") -> pd.Index:
    """Report values of ``raw`` (the rows whose date did not convert) that are valid dates out
    of the supported range; returns the index of the rest (unparseable, reported by the caller).
    A far-future date in a :data:`NO_END_PLACEHOLDER` column is read as empty with a warning."""
    iso = _unsupported_dates(raw)
    valid = iso.notna()
    late = valid & (iso.astype(str) > LAST_DATE.strftime("%Y-%m-%d"))
    early = valid & ~late
    if late.any():
        idx = late[late].index
        if (table, col) in NO_END_PLACEHOLDER:
            out.rows("warning", table, col, idx,
                     "date " + iso.loc[idx].astype(str) + " read as no end (empty): it is beyond "
                     f"{LAST_DATE:%Y-%m-%d}, the latest date supported",
                     f"a far-future {col} (2999-12-31, 9999-12-31) is taken to mean 'no end'; leave "
                     "the cell empty to say so directly")
        else:
            out.rows("error", table, col, idx,
                     "date " + iso.loc[idx].astype(str) + f" is beyond {LAST_DATE:%Y-%m-%d}, the "
                     "latest date supported; check the year",
                     "correct the year (a placeholder for an unknown date is not allowed; leave "
                     "an optional date empty instead)")
    if early.any():
        idx = early[early].index
        out.rows("error", table, col, idx,
                 "date " + iso.loc[idx].astype(str) + f" is before {FIRST_DATE:%Y-%m-%d}, the "
                 "earliest date supported; check the year",
                 "correct the year (a placeholder for an unknown date is not allowed; leave an "
                 "optional date empty instead)")
    return raw.index[~valid.to_numpy()]


def _to_numbers(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    text = pd.Series(raw.astype(object).where(raw.notna(), None), dtype="str").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _to_bools(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.map({1: True, 0: False}, na_action="ignore").astype("boolean")

    def parse(values: pd.Series) -> pd.Series:
        low = pd.Series(values.astype(object).where(values.notna(), None), dtype="str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[low.isin(_TRUE)] = True
        out[low.isin(_FALSE)] = False
        return out

    return _factorized(raw, parse)


_TYPE_FIX = {
    "date": "write dates as YYYY-MM-DD (ISO 8601), e.g. 2026-08-14",
    "float": "write plain numbers with a dot as decimal separator and no thousands separator or "
             "currency sign, e.g. 1250.50",
    "int": "write whole numbers, e.g. 3",
    "bool": "write true or false",
}
_TYPE_PROBLEM = {
    "date": "unparseable date ",
    "float": "not a number: ",
    "int": "not a whole number: ",
    "bool": "not true/false: ",
}


def _coerce(table: str, raw: pd.Series, dtype, nullable: bool, col: str, out: _Collector) -> pd.Series:
    """``raw`` converted to the schema type; unconvertible values become missing and are reported."""
    kind = _kind(dtype)
    if raw.dtype == object and raw.isna().all():  # an empty column (e.g. all-null in Parquet)
        return _empty(dtype, raw.index)
    if kind == "str":  # pandas' default string dtype ("str": missing is NaN, masks stay boolean)
        if str(raw.dtype) == "str":
            return raw
        if pd.api.types.is_float_dtype(raw.dtype):
            whole = raw.dropna()
            if (whole == whole.round()).all():
                raw = raw.astype("Int64")
        return raw.astype("str")
    if kind == "date":
        typed = _to_dates(raw)
    elif kind == "bool":
        typed = _to_bools(raw)
    else:
        typed = _to_numbers(raw)
    present = raw.notna()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        present &= raw.astype(str).str.strip().ne("")
    failed = present & typed.isna()
    if kind == "int":
        fractional = typed.notna() & (typed != np.floor(typed.fillna(0)))
        failed |= fractional
        typed = typed.where(~fractional)
    if failed.any():
        idx = failed[failed].index
        rest = _report_unconverted_dates(table, col, raw.loc[idx], out) if kind == "date" else idx
        out.unconverted[(table, col)] = idx
        if len(rest):
            out.rows("error", table, col, rest, _TYPE_PROBLEM[kind] + _quote(raw.loc[rest]), _TYPE_FIX[kind])
    if kind == "int":
        typed = typed.astype("Int64")
        if str(dtype) == "int64" and not typed.isna().any():
            typed = typed.astype("int64")
    elif kind == "bool" and str(dtype) == "bool" and not typed.isna().any():
        typed = typed.astype("bool")
    return typed


def _typed_frame(table: str, raw: pd.DataFrame, out: _Collector, *,
                 release: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Schema columns of ``raw`` converted to their types; returns the frame and the missing
    required columns. Optional columns ``raw`` lacks stay absent (a missing required column is
    added empty, so the other checks still run, and reported). Problems (missing/extra columns,
    unconvertible values) go to ``out``. ``release``: each raw column except the table's keys is
    dropped from ``raw`` once converted, so a big table is never held raw and typed at once
    (``raw`` must be the caller's own frame)."""
    schema = _schema(table)
    present = {str(c): c for c in raw.columns}
    extra = [c for c in present if c not in schema.columns]
    for col in extra:
        out.table("warning", table, f"column {col!r} is not in the data model; it is ignored",
                  f"remove it, or rename it to the intended column (see {_DOCS})", column=col)
    dupes = raw.columns[raw.columns.duplicated()].unique()
    for col in dupes:
        out.table("error", table, f"column {col!r} appears more than once",
                  "keep one column of each name", column=str(col))
    missing = []
    typed: dict[str, pd.Series] = {}
    n = len(raw)
    for name, column in schema.columns.items():
        if name not in present or name in dupes:
            if name in dupes:
                missing.append(name)
            elif column.required:
                missing.append(name)
                out.table("error", table, f"required column {name!r} is missing",
                          f"add the column {name!r} ({_DOCS}); column names are case-sensitive",
                          column=name)
            else:
                continue  # an absent optional column stays absent: its KPIs are not available
            typed[name] = _empty(column.dtype, raw.index)
            continue
        typed[name] = _coerce(table, raw[present[name]], column.dtype, column.nullable, name, out)
        if name in CATEGORICAL.get(table, ()):
            typed[name] = typed[name].astype("category")
        if release and name not in KEYS.get(table, ()):  # keys still name the rows of later problems
            del raw[present[name]]
    frame = pd.DataFrame(typed, index=raw.index, copy=False) if n or typed else pd.DataFrame(index=raw.index)
    return frame, missing


def _empty(dtype, index) -> pd.Series:
    """An all-missing column of the schema type (text built from an Arrow null array: fast)."""
    if _kind(dtype) == "str":
        return pd.Series(pd.array(pyarrow.nulls(len(index), pyarrow.large_string()), dtype="str"),
                         index=index)
    return pd.Series(None, index=index, dtype=_empty_dtype(dtype))


def _empty_dtype(dtype) -> str:
    kind = _kind(dtype)
    return {"int": "Int64", "bool": "boolean", "date": "datetime64[ns]", "float": "float64"}.get(kind, "str")


# --- pass 3: pandera -----------------------------------------------------------------------------

def _cases(column, check, values: pd.Series, context="Column") -> pd.DataFrame:
    """Failure cases in pandera's layout for the rows of ``values`` (index = row labels)."""
    return pd.DataFrame({
        "schema_context": context, "column": column, "check": check,
        "failure_case": values.astype(object).to_numpy(), "index": values.index.to_numpy(),
    })


def _failure_cases(table: str, frame: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """All failure cases of the table's pandera model on ``frame``, collected lazily.

    The model's value checks (allowed values, formats, ranges, lengths) run through pandera
    (``lazy=True``) on each column's *distinct* non-missing values for text and true/false columns
    (a 10-million-row table has a few thousand distinct currencies or categories) and on the whole
    column otherwise; missing values and uniqueness are found with one vectorized pass each, and
    dataframe-wide checks run on the whole frame. Failing values are mapped back to their rows.
    """
    schema = _schema(table)
    parts: list[pd.DataFrame] = []
    for name, col in schema.columns.items():
        if name in missing or name not in frame.columns:
            continue
        s = frame[name]
        if not col.nullable:
            na = s.isna()
            if na.any():
                parts.append(_cases(name, "not_nullable", s[na]))
        if col.unique:
            dup = _duplicated(s)
            if dup.any():
                parts.append(_cases(name, "field_uniqueness", s[dup]))
        if not col.checks:
            continue
        present = s.dropna()
        if present.empty:
            continue
        by_value = _kind(col.dtype) in ("str", "bool")
        values = pd.Series(present.unique()) if by_value else present
        check_schema = pa.DataFrameSchema(
            {name: pa.Column(col.dtype, checks=col.checks, nullable=True, coerce=True)}
        )
        try:
            check_schema.validate(pd.DataFrame({name: values}), lazy=True)
            continue
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
        for check, grp in cases.groupby("check", sort=False):
            pos = grp["index"]
            if pos.isna().all():  # the check itself could not run
                parts.append(pd.DataFrame({"schema_context": "Column", "column": name, "check": check,
                                           "failure_case": grp["failure_case"].iloc[:1], "index": [None]}))
                continue
            labels = pos.dropna().astype("int64").unique()  # index labels of ``values``
            if by_value:  # map the failing distinct values back to their rows
                rows = present[present.isin(values.loc[labels])]
            else:
                rows = present.loc[labels]
            parts.append(_cases(name, check, rows))
    if schema.checks:
        frame_schema = pa.DataFrameSchema(checks=schema.checks)
        try:
            frame_schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            fc = fc.drop_duplicates(["check", "index"])
            parts.append(pd.DataFrame({"schema_context": "DataFrameSchema", "column": None,
                                       "check": fc["check"].to_numpy(),
                                       "failure_case": fc["failure_case"].to_numpy(),
                                       "index": fc["index"].to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["schema_context", "column", "check", "failure_case", "index"])
    return pd.concat(parts, ignore_index=True)


def _duplicated(s: pd.Series) -> pd.Series:
    """True for the non-missing values of ``s`` that occur more than once (``duplicated(keep=False)``
    without the missing values). A text column is sorted by Arrow and neighbours compared, instead
    of turning its values into Python strings and hashing them (10M sales lines: ~0.9 GB less at
    the peak of validation)."""
    if not isinstance(s.dtype, pd.ArrowDtype) and str(s.dtype) != "str":
        return s.duplicated(keep=False) & s.notna()
    values = pyarrow.array(s.array)  # no copy: the column's own Arrow data (one or more chunks)
    if len(s) < 2 or values.null_count == len(s):
        return pd.Series(False, index=s.index)
    order = pc.sort_indices(values)  # missing values last
    ranked = values.take(order)
    same = pc.equal(ranked[1:], ranked[:-1]).fill_null(False).to_numpy(zero_copy_only=False)
    del ranked
    in_order = np.zeros(len(s), dtype=bool)
    in_order[1:] |= same
    in_order[:-1] |= same
    dup = np.empty(len(s), dtype=bool)
    dup[order.to_numpy()] = in_order
    return pd.Series(dup, index=s.index)


def _pandera(table: str, frame: pd.DataFrame, missing: list[str], out: _Collector) -> pd.DataFrame:
    """Run the table's pandera model (see :func:`_failure_cases`); translate failures into problems."""
    cases = _failure_cases(table, frame, missing)
    if cases.empty:
        return frame
    cases = cases[cases["check"].astype(str) != "column_in_dataframe"]
    cases = cases[~cases["column"].isin(missing)]
    schema = _schema(table)
    for (column, check), grp in cases.groupby(["column", "check"], sort=False, dropna=False):
        check = str(check)
        if check.startswith(("coerce_dtype", "dtype(")):
            continue  # conversions were done (and reported) by _typed_frame; these are its nulls
        index = grp["index"]
        vals = grp["failure_case"]
        if index.isna().all():
            out.table("error", table, f"check {check} could not run: {vals.iloc[0]}",
                      f"fix the column's values (see {_DOCS})", column=None if pd.isna(column) else column)
            continue
        index = index.astype("int64")
        if check == "not_nullable" and (table, column) in out.unconverted:
            keep = ~index.isin(out.unconverted[(table, column)])  # reported as unconvertible
            index, vals = index[keep], vals[keep]
            if index.empty:
                continue
        if column is None or pd.isna(column) or grp["schema_context"].iloc[0] == "DataFrameSchema":
            # a dataframe-wide check reports each column of each failing row: once per row
            desc = next((c.description for c in schema.checks if c.name == check), check) or check
            rows = pd.Index(index.unique())
            out.rows("error", table, None, rows, f"duplicate row: {desc}",
                     f"keep {desc}: remove or merge the duplicate rows")
            continue
        col_schema = schema.columns.get(column)
        stats = next((c.statistics for c in (col_schema.checks if col_schema else [])
                      if str(c.error) == check or c.name == check), {}) or {}
        problem, fix = _translate(table, column, check, vals.reset_index(drop=True), stats)
        out.rows("error", table, column, pd.Index(index.to_numpy()), problem, fix)
    return frame


def _translate(table: str, column: str, check: str, vals: pd.Series, stats: dict):
    quoted = _quote(vals)
    if check == "not_nullable":
        return "missing value", f"fill in {column} (required; see {_DOCS})"
    if check == "field_uniqueness":
        return f"duplicate {column} " + quoted, f"each {column} must appear once: remove or renumber the duplicates"
    if check.startswith("isin"):
        allowed = ", ".join(map(str, stats.get("allowed_values", [])))
        return quoted + " is not an allowed value", f"use one of: {allowed} (lower case)"
    if check.startswith("str_matches"):
        if column == "email":
            return "invalid email address " + quoted, "correct the address (name@domain.tld, one address per row)"
        if column == "currency":
            return quoted + " is not an ISO 4217 currency code", "use the 3-letter code in capitals, e.g. EUR, PLN, USD"
        if column == "period":
            return quoted + " is not a quarter label", "write quarters like 2026Q3 (fiscal year, Q, quarter 1-4)"
        if column == "country":
            return quoted + " is not an ISO 3166-1 alpha-2 country code", "use the 2-letter code in capitals, e.g. DE, FR, PL"
        if column == "locale":
            return quoted + " is not a locale", "write a language code, optionally with a region: fr, pl_PL, en_GB"
        return quoted + " has the wrong format", f"match the pattern {stats.get('pattern', '')} (see {_DOCS})"
    if check.startswith("greater_than_or_equal_to"):
        low = stats.get("min_value")
        if low == 0:
            return "negative value " + quoted, f"{column} cannot be negative: correct the row (book returns as separate non-negative rows or leave them out)"
        return "value " + quoted + f" is below {low}", f"{column} must be at least {low}"
    if check.startswith("greater_than"):
        return "value " + quoted + f" is not above {stats.get('min_value')}", f"{column} must be greater than {stats.get('min_value')}"
    if check.startswith("less_than_or_equal_to"):
        return "value " + quoted + f" is above {stats.get('max_value')}", f"{column} must be at most {stats.get('max_value')}"
    if check.startswith("in_range"):
        return "value " + quoted + " is out of range", f"{column} must be between {stats.get('min_value')} and {stats.get('max_value')}"
    if check.startswith("str_length"):
        return "empty text " + quoted, f"fill in {column}"
    return f"failed {check}: " + quoted, f"see {_DOCS} for {table}.{column}"


# --- pass 4: rules across rows and tables --------------------------------------------------------

def _ref_check(out, t, table, column, ref_values, ref_table, severity="error", what="partner"):
    frame = t[table]
    s = frame[column]
    bad = s.notna() & ~s.isin(ref_values)
    if bad.any():
        idx = bad[bad].index
        out.rows(severity, table, column, idx, f"unknown {what} " + _quote(s.loc[idx]),
                 f"add the {what} to {ref_table}, or correct the id (ids are case-sensitive text)")


#: (table, earlier date, later date, problem when the later one comes first)
DATE_ORDER = [
    ("partners", "onboarded_date", "end_date", "ends before it started"),
    ("opportunities", "created_date", "closed_date", "closed before created"),
    ("leads", "assigned_date", "accepted_date", "accepted before assigned"),
    ("sales", "date", "registered_date", "registered before it was sold"),
    ("trainings", "completed_date", "expires_date", "expires before completion"),
]


def _order_check(out, t, table, early, late, problem, fix, severity="error"):
    frame = t[table]
    bad = frame[late] < frame[early]
    if bad.any():
        idx = bad[bad].index
        sub = frame.loc[idx]
        msg = (f"{problem}: {late} " + sub[late].dt.strftime("%Y-%m-%d") + f" < {early} "
               + sub[early].dt.strftime("%Y-%m-%d"))
        out.rows(severity, table, late, idx, msg, fix)


def _cross_rules(t: dict[str, pd.DataFrame], usable: dict[str, set], params: dict, out: _Collector) -> None:
    as_of = params.get("as_of")
    as_of = pd.Timestamp(as_of) if as_of is not None else None
    fy = int(params.get("fiscal_year_start_month", 1) or 1)
    ok = lambda table, *cols: table in t and all(c in usable[table] for c in cols)  # noqa: E731

    # references to partners and deals
    if ok("partners", "partner_id"):
        known = pd.Index(t["partners"]["partner_id"].dropna().unique())
        for table in t:
            if table != "partners" and ok(table, "partner_id"):
                _ref_check(out, t, table, "partner_id", known, "partners")
        if ok("partners", "parent_id"):
            _ref_check(out, t, "partners", "parent_id", known, "partners", severity="warning",
                       what="parent partner")
    if ok("opportunities", "opportunity_id"):
        deals = pd.Index(t["opportunities"]["opportunity_id"].dropna().unique())
        for table in ("opportunity_stages", "leads"):
            if ok(table, "opportunity_id"):
                _ref_check(out, t, table, "opportunity_id", deals, "opportunities", what="opportunity")
    elif "opportunities" not in t and ok("opportunity_stages", "opportunity_id") and len(t["opportunity_stages"]):
        out.table("error", "opportunity_stages", "stage history given but the opportunities table is missing",
                  "provide opportunities, or remove opportunity_stages")

    # dates in order
    for table, first, then, problem in DATE_ORDER:
        if ok(table, first, then):
            _order_check(out, t, table, first, then, problem, f"correct {then} or {first}")

    if ok("opportunities", "outcome"):  # a won deal's value is the revenue it brought: never unknown
        o = t["opportunities"]
        won = o["outcome"].eq("won")
        if "amount" not in o.columns:
            if won.any():
                out.table("error", "opportunities", f"{int(won.sum()):,} won deals but no amount column",
                          "add amount (the value of each won deal; it may stay empty for open and lost "
                          "deals)", column="amount")
        else:
            no_amount = won & o["amount"].isna()
            if no_amount.any():
                idx = no_amount[no_amount].index
                out.rows("error", "opportunities", "amount", idx, "won deal without amount",
                         "fill in the won deal's value (amount may stay empty only for open and lost deals)")

    # outcome vs closed date
    if ok("opportunities", "outcome", "closed_date"):
        o = t["opportunities"]
        closed_missing = o["outcome"].isin(["won", "lost"]) & o["closed_date"].isna()
        if closed_missing.any():
            idx = closed_missing[closed_missing].index
            out.rows("error", "opportunities", "closed_date", idx,
                     "outcome " + _quote(o.loc[idx, "outcome"]) + " but no closed_date",
                     "a won or lost deal needs its closed_date (or set outcome to open)")
        open_closed = o["outcome"].eq("open") & o["closed_date"].notna()
        if open_closed.any():
            idx = open_closed[open_closed].index
            out.rows("error", "opportunities", "closed_date", idx,
                     "outcome 'open' but closed_date " + o.loc[idx, "closed_date"].dt.strftime("%Y-%m-%d"),
                     "an open deal has no closed_date: clear it, or set outcome to won/lost")
    elif ok("opportunities", "outcome") and len(t["opportunities"]) and "closed_date" not in usable["opportunities"]:
        o = t["opportunities"]
        closed = o["outcome"].isin(["won", "lost"])
        if closed.any():
            out.table("error", "opportunities", f"{int(closed.sum()):,} won/lost deals but no closed_date column",
                      "add closed_date (the date each deal was won or lost)", column="closed_date")
    if ok("opportunities", "stage"):
        stages = list(params.get("pipeline", {}).get("stages", []) or [])
        if stages:
            allowed = set(stages) | {"Won", "Lost", "won", "lost"}
            _not_listed(out, "error", t, "opportunities", "stage", allowed, "unknown stage ",
                        f"use a stage of pipeline.stages ({', '.join(stages)}) or Won/Lost, or add "
                        "the stage to pipeline.stages in the run file")

    # registrations
    if ok("sales", "registered_units", "quantity"):
        s = t["sales"]
        bad = s["registered_units"] > s["quantity"]
        if bad.any():
            idx = bad[bad].index
            out.rows("error", "sales", "registered_units", idx,
                     "registered_units " + s.loc[idx, "registered_units"].astype(str) + " > quantity "
                     + s.loc[idx, "quantity"].astype(str),
                     "registered_units counts units of this line: at most its quantity")

    # absurd amounts and dates
    for table, cols in {**MONEY_COLUMNS, **REPORTING_MONEY}.items():
        for col in cols:
            if ok(table, col):
                s = t[table][col]
                bad = s > MAX_AMOUNT
                if bad.any():
                    idx = bad[bad].index
                    out.rows("error", table, col, idx, "absurd amount " + s.loc[idx].map("{:,.0f}".format),
                             f"amounts above {MAX_AMOUNT:,.0f} cannot be right: check the decimal "
                             "separator and the unit (cents?)")
    if ok("sales", "revenue", "quantity"):
        s = t["sales"]
        per_unit = s["revenue"] / s["quantity"].where(s["quantity"] > 0)
        bad = per_unit > MAX_UNIT_REVENUE
        if bad.any():
            idx = bad[bad].index
            out.rows("warning", "sales", "revenue", idx,
                     "revenue per unit " + per_unit.loc[idx].map("{:,.0f}".format) + " is implausibly high",
                     f"check revenue and quantity (more than {MAX_UNIT_REVENUE:,.0f} per unit)")
    for table, frame in t.items():
        for col in frame.columns:
            if col not in usable[table] or not pd.api.types.is_datetime64_any_dtype(frame[col].dtype):
                continue
            s = frame[col]
            floor = MIN_ONBOARDED_DATE if (table, col) == ("partners", "onboarded_date") else MIN_DATE
            bad = s < floor
            if bad.any():
                idx = bad[bad].index
                out.rows("error", table, col, idx, "date " + s.loc[idx].dt.strftime("%Y-%m-%d")
                         + f" is before {floor:%Y}", "correct the year (placeholder dates such as "
                         "1900-01-01 are not allowed; leave an optional date empty instead)")
            if as_of is not None and (table, col) not in FUTURE_OK:
                bad = s > as_of + FUTURE_TOLERANCE
                if bad.any():
                    idx = bad[bad].index
                    out.rows("warning", table, col, idx, "date " + s.loc[idx].dt.strftime("%Y-%m-%d")
                             + f" is more than a year after as_of {as_of:%Y-%m-%d}",
                             "check the year; rows dated after as_of are ignored by the run")

    _currency_rules(t, usable, params, fy, as_of, out)
    _programme_rules(t, ok, params, out)

    # recipients, quarters without sales, markup
    if ok("partners", "partner_id"):
        p = t["partners"]
        active = p["end_date"].isna() | (p["end_date"] > as_of) if (as_of is not None and "end_date" in usable["partners"]) else pd.Series(True, index=p.index)
        if ok("partner_contacts", "partner_id", "receives_scorecard"):
            c = t["partner_contacts"]
            receivers = c.loc[c["receives_scorecard"].fillna(False).astype(bool), "partner_id"].unique()
            lacking = active & ~p["partner_id"].isin(receivers)
            if lacking.any():
                idx = lacking[lacking].index
                out.rows("warning", "partners", "partner_id", idx, "no contact receives the scorecard",
                         "add a partner_contacts row with receives_scorecard = true (the report is "
                         "rendered but not emailed)")
        elif "partner_contacts" not in t and len(p):
            out.table("warning", "partner_contacts", "table is missing: no partner will receive its scorecard by email",
                      "provide partner_contacts (who receives each partner's report)")
        for col in TEXT_COLUMNS["partners"]:
            _markup(out, t, "partners", col, usable)
    if "partner_contacts" in t:
        for col in TEXT_COLUMNS["partner_contacts"]:
            _markup(out, t, "partner_contacts", col, usable)

    period = params.get("period")
    if ok("sales", "date") and period and len(t["sales"]):
        n = int(params.get("history_quarters", 8) or 8)
        try:
            window = periods.quarter_range(str(period), n, fy)
        except Exception:  # noqa: BLE001 - a bad period is reported by params
            window = []
        if window:
            q = pd.Series(periods.to_quarter(pd.Series(t["sales"]["date"].dropna().unique()), fy).unique()).dropna()
            have = {str(p) for p in q}
            first = min(q) if len(q) else None
            for label in window:
                if label in have:
                    continue
                before = first is None or pd.Period(label, freq=first.freq) < first
                if before:  # kpis: a window reaching before the first quarter with sales is not measured
                    effect = ("it is before the first quarter with sales, so it is not measured: "
                              "sales KPIs whose window reaches back into it (e.g. the trailing four "
                              "quarters, growth on the year before) are reported as not available")
                else:  # a gap after the data starts: the KPI table counts it as no sales
                    effect = ("it comes after the first quarter with sales, so it counts as a "
                              "quarter without any sale for every partner (revenue 0: partners can "
                              "look inactive or declining)")
                out.table("warning", "sales", f"no sales lines in {label} (within the "
                          f"{n}-quarter history ending {period}): {effect}",
                          "check the extract covers the whole history, or shorten history_quarters "
                          "to the quarters it covers", column="date")


def _programme_rules(t, ok, params: dict, out: _Collector) -> None:
    """The partner programme's inputs against the run's parameters: rating criteria and scores on
    ``programme.rating_criteria`` / ``programme.rating_scale``; rebate and benefit tiers among
    ``tiers.levels`` (a tier no partner can hold is a warning: its rows are never used)."""
    prog = params.get("programme") or {}
    if ok("partner_ratings", "criterion") and prog.get("rating_criteria"):
        criteria = [str(c) for c in prog["rating_criteria"]]
        _not_listed(out, "error", t, "partner_ratings", "criterion", criteria, "unknown criterion ",
                    f"use a criterion of programme.rating_criteria ({', '.join(criteria)}), or add it there "
                    "in the run file")
    if ok("partner_ratings", "score") and prog.get("rating_scale"):
        lo, hi = (float(x) for x in prog["rating_scale"])
        s = t["partner_ratings"]["score"]
        bad = s.notna() & ((s < lo) | (s > hi))
        if bad.any():
            idx = bad[bad].index
            out.rows("error", "partner_ratings", "score", idx, "score " + s.loc[idx].astype(str)
                     + f" outside the rating scale {lo:g}..{hi:g}",
                     "correct the score, or set programme.rating_scale to the scale your raters use")
    levels = [str(lvl.get("name")) for lvl in (params.get("tiers") or {}).get("levels", []) or []]
    for table in ("rebates", "benefits"):
        if levels and ok(table, "tier"):
            _not_listed(out, "warning", t, table, "tier", levels, "unknown tier ",
                        f"use a tier of tiers.levels ({', '.join(levels)}); rows of other tiers are not used")


def _not_listed(out, severity: str, t, table: str, column: str, allowed, problem: str, fix: str) -> None:
    """One row per value of ``table.column`` outside ``allowed`` (missing values pass): ``problem``
    followed by the quoted value, and ``fix``."""
    s = t[table][column]
    bad = s.notna() & ~s.isin(allowed)
    if bad.any():
        idx = bad[bad].index
        out.rows(severity, table, column, idx, problem + _quote(s.loc[idx]), fix)


def _markup(out, t, table, col, usable):
    if col not in usable.get(table, ()):
        return
    s = t[table][col]
    uniques = pd.Series(s.dropna().unique(), dtype="str")
    hits = set(uniques[uniques.str.contains(_MARKUP, regex=True)])
    if hits:
        bad = s.isin(hits)
        idx = bad[bad].index
        out.rows("warning", table, col, idx, "contains markup " + _quote(s.loc[idx]),
                 "accepted as data: it is always shown as plain text, never interpreted; "
                 "clean it up at the source if unintended")


def _currency_rules(t, usable, params, fy, as_of, out: _Collector) -> None:
    """Every currency other than the reporting one needs an fx_rates row for each quarter used,
    up to the reported period (later rows, e.g. the quarter in progress, use the latest rate)."""
    reporting = str(params.get("reporting_currency", "EUR"))
    last = params.get("period")
    if last is None and as_of is not None:
        last = str(pd.Period(as_of, freq=periods.quarter_freq(fy)))
    used = currency_periods(t, reporting, fy, last)
    if used.empty:
        return
    fx = t.get("fx_rates")
    have = set()
    if fx is not None and {"currency", "period"} <= usable.get("fx_rates", set()):
        have = set(zip(fx["currency"].astype(str), fx["period"].astype(str)))
    used = used[[(c, p) not in have for c, p in zip(used["currency"], used["period"])]]
    for (table, currency), grp in used.groupby(["table", "currency"], sort=False):
        labels = sorted(grp["period"].unique())
        shown = ", ".join(labels[:12]) + (f" and {len(labels) - 12} more" if len(labels) > 12 else "")
        out.table("error", table, f"currency {currency} has no fx_rates row for {shown}",
                  f"add fx_rates rows (currency {currency}, period, rate = {reporting} per 1 "
                  f"{currency}) for these quarters", column="currency")


def row_currency(t: dict[str, pd.DataFrame], table: str, reporting: str) -> pd.Series:
    """The currency of each row's money: its ``currency``, else the partner's (sales,
    opportunities; when ``partners.currency`` is given), else the reporting currency."""
    frame = t[table]
    cur = frame["currency"] if "currency" in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="str")
    missing = cur.isna()
    if missing.any() and table in ("sales", "opportunities") and "partners" in t and "currency" in t["partners"]:
        p = t["partners"].drop_duplicates("partner_id")
        partner_cur = p["currency"].to_numpy(dtype=object)
        if len(set(partner_cur) - {None}) == 1 and not pd.isna(partner_cur).any():
            fill = pd.Series(partner_cur[0], index=frame.index, dtype="str")
        else:
            # factorize the partner ids once (cheaper than a string map over every row)
            codes, ids = pd.factorize(frame["partner_id"])
            pos = pd.Index(p["partner_id"]).get_indexer(ids)
            per_id = np.where(pos >= 0, partner_cur[np.clip(pos, 0, None)] if len(p) else None, None)
            fill = pd.Series(np.where(codes >= 0, per_id[np.clip(codes, 0, None)] if len(ids) else None,
                                      None), index=frame.index, dtype="str")
        cur = cur.where(~missing, fill) if not missing.all() else fill
    return cur.fillna(reporting)


def money_period(frame: pd.DataFrame, table: str, fy: int) -> pd.Series:
    """Quarter (pandas Period) whose rate converts each row: the sale date (sales), the closed
    date or else the created date (opportunities), the ``period`` column (mdf)."""
    freq = periods.quarter_freq(fy)
    if table == "sales":
        return periods.to_quarter(frame["date"], fy)
    if table == "opportunities":
        d = frame["closed_date"].fillna(frame["created_date"]) if "closed_date" in frame else frame["created_date"]
        return periods.to_quarter(d, fy)
    labels = frame["period"]
    codes, uniques = pd.factorize(labels)
    parsed = pd.PeriodIndex([pd.Period(u, freq=freq) if re.match(r"^\d{4}Q[1-4]$", str(u)) else pd.NaT
                             for u in uniques], freq=freq)
    return pd.Series(parsed.take(np.where(codes < 0, 0, codes)), index=frame.index).where(codes >= 0)


def currency_periods(t, reporting: str, fy: int, last: str | None = None) -> pd.DataFrame:
    """Distinct (table, currency, period label) of rows whose money is not in ``reporting``,
    up to quarter ``last`` (a label; later rows are converted at the latest rate)."""
    parts = []
    last = pd.Period(last, freq=periods.quarter_freq(fy)) if last is not None else None
    for table in MONEY_COLUMNS:
        frame = t.get(table)
        if frame is None or frame.empty:
            continue
        needed = {"sales": ["date", "partner_id"], "opportunities": ["created_date", "partner_id"],
                  "mdf": ["period"]}[table]
        if any(c not in frame.columns or frame[c].isna().all() for c in needed):
            continue
        cur = row_currency(t, table, reporting)
        foreign = cur.ne(reporting) & cur.notna()
        if not foreign.any():
            continue
        cols = [c for c in ("date", "created_date", "closed_date", "period") if c in frame.columns]
        q = money_period(frame.loc[foreign, cols], table, fy)
        ords = pd.Series(q.array.asi8, index=q.index).where(q.notna())
        pairs = pd.DataFrame({"currency": cur.loc[foreign], "ord": ords}).dropna().drop_duplicates()
        if last is not None:
            pairs = pairs[pairs["ord"] <= last.ordinal]
        freq = periods.quarter_freq(fy)
        pairs = pd.DataFrame({
            "currency": pairs["currency"].astype(str).to_numpy(),
            "period": [str(pd.Period(ordinal=int(o), freq=freq)) for o in pairs["ord"]],
            "table": table,
        })
        parts.append(pairs)
    if not parts:
        return pd.DataFrame(columns=["currency", "period", "table"])
    return pd.concat(parts, ignore_index=True)


def coerce_tables(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Raw frames converted to their schema types without checking anything else (values that
    cannot be converted become missing). For trusted, already validated sources."""
    out = _Collector()
    typed = {}
    for name in TABLES:
        if name in raw:
            typed[name], _ = _typed_frame(name, raw[name].reset_index(drop=True), out)
    return typed


# --- entry points --------------------------------------------------------------------------------

def validate_tables(raw: dict[str, pd.DataFrame], params: dict, *, source: str = "",
                    read_errors: dict[str, str] | None = None, release: bool = False) -> ValidationReport:
    """Check raw frames against the data model and each other; returns every problem found.

    ``raw`` maps table name → frame as read (see :func:`channel_analysis.io.sources.read_tables`);
    tables not in the data model are ignored. ``params`` supplies ``as_of``, ``period``,
    ``fiscal_year_start_month``, ``history_quarters``, ``reporting_currency`` and
    ``pipeline.stages``. ``read_errors`` (table → message) are tables that could not be read.
    ``release`` takes each frame out of ``raw`` (left empty) and drops its columns as they are
    converted, for a caller that owns the frames: the raw and the typed copy of a 10-million-row
    table are then never in memory at once.
    """
    out = _Collector()
    typed: dict[str, pd.DataFrame] = {}
    usable: dict[str, set] = {}
    files: dict[str, str] = {}
    read_errors = dict(read_errors or {})
    for name, message in read_errors.items():
        out.table("error", name, message, "fix or re-export the file (see the message)")
    activity = [name for name in ACTIVITY_TABLES if name in raw or name in read_errors]  # (before release)
    for name, (model, required) in TABLES.items():
        frame = raw.pop(name, None) if release else raw.get(name)
        if frame is None:
            if required and name not in read_errors:
                out.table("error", name, f"required table {name} is missing",
                          f"provide {name} ({name}.csv / {name}.parquet in the folder, or a table "
                          f"{name} in the database, or map it in data.tables)")
            continue
        files[name] = frame.attrs.get("file", name)
        for note in frame.attrs.get("mapping_notes", ()):  # what data.tables.<name> left unmapped
            out.table("warning", name, note.problem, note.fix, column=note.column)
        frame = frame.reset_index(drop=True)
        out.meta[name] = {"first_row": frame.attrs.get("first_row", 1), "frame": frame}
        if len(frame) == 0:
            if required:
                out.table("error", name, f"required table {name} is empty", f"the extract of {name} has no rows: re-export it")
            else:
                out.table("warning", name, f"table {name} is empty", "the KPIs that use it are reported as unavailable")
        typed_frame, missing = _typed_frame(name, frame, out, release=release)
        del frame
        out.meta[name]["frame"] = typed_frame
        typed_frame = _pandera(name, typed_frame, missing, out)
        typed[name] = typed_frame
        usable[name] = set(typed_frame.columns) - set(missing)
    if not activity:
        out.table("error", "sales", "no activity table: the source has none of "
                  + ", ".join(ACTIVITY_TABLES),
                  "provide at least one of " + ", ".join(ACTIVITY_TABLES)
                  + " (the KPIs of the others are reported as not available)")
    _cross_rules(typed, usable, params, out)
    for frame in typed.values():
        frame.attrs = {}
    return ValidationReport(problems=out.frame(), tables=typed, source=source, files=files)


#: ``data.history_only``: the tables read from a first date on (table → its date column). Only the
#: large one; deals, leads and trainings stay whole (an open deal may be years old).
WINDOWED = {"sales": "date"}
#: Quarters before the history window that the KPIs still read: the trailing four quarters of the
#: window's first quarter (3 before it), a year earlier (4 more) — :mod:`channel_analysis.kpis`.
LOOKBACK_QUARTERS = 7


def read_since(params: dict) -> dict[str, tuple[str, pd.Timestamp]]:
    """``data.history_only``: table → (date column, first day read), for
    :func:`channel_analysis.io.sources.read_tables`; empty when off (every row is read)."""
    if not (params.get("data") or {}).get("history_only"):
        return {}
    fy = int(params.get("fiscal_year_start_month", 1))
    back = int(params["history_quarters"]) - 1 + LOOKBACK_QUARTERS
    first = periods.quarter_bounds(periods.shift(str(params["period"]), -back, fy), fy)[0]
    return {table: (column, first) for table, column in WINDOWED.items()}


def validate_source(params: dict, *, progress: bool = True) -> ValidationReport:
    """Read ``params["data"]["source"]`` (with ``data.tables``) and validate every table.

    A table that cannot be read (bad encoding, wrong delimiter, corrupt file) becomes an error in
    the report and the others are still checked; a source that cannot be opened at all raises
    :class:`~channel_analysis.errors.DataSourceError`.
    """

    data = params.get("data", {}) or {}
    source = data.get("source")
    if not source:
        raise DataSourceError("data.source is not set: pass --data PATH or set data.source in the run file")
    failures: dict[str, str] = {}
    raw = sources.read_tables(source, data.get("tables") or {}, progress=progress, failures=failures,
                              since=read_since(params))
    return validate_tables(raw, params, source=sources.describe(source), read_errors=failures, release=True)

