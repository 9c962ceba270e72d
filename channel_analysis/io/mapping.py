"""Mapping an export as it comes onto the data model, declared per table in the run file.

``data.tables.<table>`` is either a string (a table / file name or a SQL query in the source, see
:mod:`channel_analysis.io.sources`) or a mapping with these keys, all optional::

    opportunities:
      from: sales_pipeline            # table / file name or SELECT query; default: the table's name
      columns:                        # source column -> data-model column (or a list of them)
        opportunity_id: opportunity_id
        account: partner_id
        deal_stage: [stage, outcome]  # one source column feeding two model columns
      values:                         # per data-model column: source value -> value
        outcome: {Won: won, Lost: lost, Engaging: open}
      dates: {created_date: "%d-%m-%y", closed_date: excel}   # or one format for every date column
      constants: {currency: USD}      # a data-model column the export lacks, one value for all rows
      only_when: {closed_date: {outcome: [won, lost]}}   # keep a column only in rows like these

Every key names data-model columns except the keys of ``columns`` and ``from``, which name what
is in the export. The mapping is applied right after reading and before validation, in this
order: columns are renamed (a source column listed under ``columns`` is copied to each model
column it names; other source columns are kept as they are and validation reports the ones the
data model does not know), constants are added, values are mapped, dates are parsed, ``only_when``
empties cells. Rows keep their order, so validation messages still name the file's row numbers
(the rows of a query's result when ``from`` is a query). :func:`channel_analysis.params.load_params`
keeps each entry in its canonical plain form (:meth:`TableMapping.as_params`).

- ``values``: text is compared exactly (after trimming spaces; an unquoted YAML key ``Yes`` /
  ``No`` / ``true`` / ``On`` ... is a boolean and matches each of those spellings: quote it to
  match one). A value the map does not list is kept as it is and reported (a warning naming the
  values and how many rows have them); validation then flags it where the column only allows
  some values. An empty cell stays empty.
- ``dates``: a strftime format (``"%d-%m-%y"``, ``"%m/%d/%Y %H:%M"``), ``excel`` (Excel serial
  day numbers, 45000 = 2023-03-15), ``dayfirst`` / ``monthfirst`` (day or month first in any
  separator style) or ``iso`` (YYYY-MM-DD, the default). Parsed dates are written as YYYY-MM-DD;
  a value that does not fit the format is kept as it is, reported, and then flagged by validation
  with its row number.
- ``only_when``: per data-model column, a condition on another (mapped) data-model column: the
  column keeps its value only in rows where that column has one of the listed values, and is
  empty elsewhere. For the CRMs whose one "Close Date" is the expected date while a deal is open
  and the actual date once it is closed: ``Close Date: [closed_date, expected_close_date]`` with
  ``only_when: {closed_date: {outcome: [won, lost]}, expected_close_date: {outcome: [open]}}``.
- ``constants``: only for a column the export does not have (an honest fact such as the currency
  of a one-currency export), never to fill a column with a made-up value.

``data.mapping`` in the run file names one or more mapping files (``params/mappings/*.yaml``),
each holding ``tables:`` in this form; their entries are merged under ``data.tables``, the run
file's own entries winning key by key (see :func:`merge_fragments`).

:meth:`TableMapping.parse` checks an entry once (unknown keys, unknown tables or columns, bad
formats) and raises :class:`~channel_analysis.errors.ParamsError` naming the key and what to do;
:meth:`TableMapping.apply` reports a column the mapping names but the export lacks as a warning
(the model column stays absent, and validation says so if it is required: a ready mapping file
can name columns that only some exports have) and raises
:class:`~channel_analysis.errors.DataSourceError` when the mapped frame would be ambiguous.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from ..errors import DataSourceError, ParamsError
from ..schema import TABLES

KEYS = ("from", "columns", "values", "dates", "constants", "only_when")
#: Date formats with a name; anything else must be a strftime format (containing "%").
DATE_FORMATS = ("iso", "excel", "dayfirst", "monthfirst")
# Excel's day 0 for serials from 61 (1900-03-01) on: Excel counts a 29 February 1900 that did not exist
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_YAML_BOOL = {flag: tuple(v for w in words for v in (w, w.capitalize(), w.upper()))
              for flag, words in ((True, ("true", "yes", "on")), (False, ("false", "no", "off")))}
_EXCEL_LAST = 130_000  # serial 130000 is in 2255: later ones cannot be held and are reported


def _model_columns(table: str) -> dict[str, str]:
    """Data-model column → its kind (date or other) for ``table``."""
    schema = TABLES[table][0].to_schema()
    return {name: ("date" if "datetime" in str(col.dtype) else "other")
            for name, col in schema.columns.items()}


def _hint(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _text(value) -> str:
    """A source value or a YAML key as the text it is compared as (true/false lower case)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class Note:
    """Something the mapping did not do for some rows (reported as a validation warning)."""

    column: str
    problem: str
    fix: str


@dataclass(frozen=True)
class TableMapping:
    """One table's mapping (see the module docstring). Build it with :meth:`parse`."""

    table: str
    source: str | None = None
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    dates: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    only_when: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def transforms(self) -> bool:
        """True if the mapping changes the frame (not only where it is read from)."""
        return bool(self.columns or self.values or self.dates or self.constants or self.only_when)

    # --- parsing ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, table: str, entry) -> "TableMapping":
        """``data.tables.<table>`` (a string or a mapping) checked and typed."""
        where = f"data.tables.{table}"
        if table not in TABLES:
            raise ParamsError(f"data.tables names unknown table {table!r}{_hint(table, TABLES)}; "
                              f"the tables are: {', '.join(TABLES)}")
        if isinstance(entry, str):
            if not entry.strip():
                raise ParamsError(f"{where} is empty: give a table name, a SQL query or a mapping")
            return cls(table, source=entry)
        if not isinstance(entry, Mapping):
            raise ParamsError(f"{where} must be a table name, a SQL query (SELECT ...) or a mapping "
                              f"with keys {', '.join(KEYS)}; got {entry!r}")
        unknown = [k for k in entry if k not in KEYS]
        if unknown:
            raise ParamsError(f"{where}: unknown key {unknown[0]!r}{_hint(unknown[0], KEYS)}; a table "
                              f"mapping has the keys {', '.join(KEYS)} (see docs/mappings.md)")
        model = _model_columns(table)
        source = entry.get("from")
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise ParamsError(f"{where}.from must be a table / file name or a SQL query, got {source!r}")
        columns = cls._parse_columns(where, entry.get("columns"), model)
        values = cls._parse_values(where, entry.get("values"), model)
        dates = cls._parse_dates(where, entry.get("dates"), model)
        constants = _mapping_of(f"{where}.constants", entry.get("constants"))
        for col, value in constants.items():
            _check_column(f"{where}.constants", col, model, table)
            if isinstance(value, (Mapping, list)) or value is None:
                raise ParamsError(f"{where}.constants.{col} must be one value (text, number, date), "
                                  f"got {value!r}")
        targets = {t for ts in columns.values() for t in ts}
        both = sorted(targets & set(constants))
        if both:
            raise ParamsError(f"{where}: column {both[0]!r} is both mapped from the export (columns) and "
                              "a constant; keep one")
        only_when = cls._parse_only_when(where, entry.get("only_when"), model)
        return cls(table, source=source, columns=columns, values=values, dates=dates,
                   constants={str(k): v for k, v in constants.items()}, only_when=only_when)

    @staticmethod
    def _parse_only_when(where, raw, model) -> dict[str, tuple[str, tuple[str, ...]]]:
        raw = _mapping_of(f"{where}.only_when", raw)
        table = where.rsplit(".", 1)[-1]
        out = {}
        for col, cond in raw.items():
            _check_column(f"{where}.only_when", col, model, table)
            cond = _mapping_of(f"{where}.only_when.{col}", cond)
            if len(cond) != 1:
                raise ParamsError(f"{where}.only_when.{col} must name one column and its values, e.g. "
                                  "{outcome: [won, lost]}")
            (other, values), = cond.items()
            _check_column(f"{where}.only_when.{col}", other, model, table)
            values = values if isinstance(values, list) else [values]
            if not values or any(isinstance(v, (Mapping, list)) or v is None for v in values):
                raise ParamsError(f"{where}.only_when.{col}.{other} must list the values to keep "
                                  f"{col} for, got {cond[other]!r}")
            out[str(col)] = (str(other), tuple(_text(v) for v in values))
        return out

    @staticmethod
    def _parse_columns(where, raw, model) -> dict[str, tuple[str, ...]]:
        raw = _mapping_of(f"{where}.columns", raw)
        out: dict[str, tuple[str, ...]] = {}
        seen: dict[str, str] = {}
        table = where.rsplit(".", 1)[-1]
        for src, target in raw.items():
            targets = target if isinstance(target, list) else [target]
            if not targets or not all(isinstance(t, str) and t for t in targets):
                raise ParamsError(f"{where}.columns.{src} must name a data-model column of {table} "
                                  f"(or a list of them), got {target!r}")
            for t in targets:
                _check_column(f"{where}.columns.{src}", t, model, table)
                if t in seen:
                    raise ParamsError(f"{where}.columns: {seen[t]!r} and {src!r} both map to {t!r}; "
                                      "map one source column to each data-model column")
                seen[t] = str(src)
            out[str(src)] = tuple(targets)
        return out

    @staticmethod
    def _parse_values(where, raw, model) -> dict[str, dict[str, str | None]]:
        raw = _mapping_of(f"{where}.values", raw)
        table = where.rsplit(".", 1)[-1]
        out = {}
        for col, pairs in raw.items():
            _check_column(f"{where}.values", col, model, table)
            pairs = _mapping_of(f"{where}.values.{col}", pairs)
            if not pairs:
                raise ParamsError(f"{where}.values.{col} is empty: list source value: value pairs")
            for key, value in pairs.items():
                if isinstance(value, (Mapping, list)):
                    raise ParamsError(f"{where}.values.{col}.{key} must be one value, got {value!r}")
            mapped: dict[str, str | None] = {}
            for key, value in pairs.items():
                # YAML reads an unquoted Yes/No/On/Off/true/false key as a boolean: it stands for
                # each of those spellings (write the key in quotes to match one exact text)
                for text in (_YAML_BOOL[key] if isinstance(key, bool) else (_text(key),)):
                    mapped[text] = None if value is None else _text(value)
            out[str(col)] = mapped
        return out

    @staticmethod
    def _parse_dates(where, raw, model) -> dict[str, str]:
        if raw is None:
            return {}
        table = where.rsplit(".", 1)[-1]
        date_cols = [c for c, kind in model.items() if kind == "date"]
        if isinstance(raw, str):
            raw = {c: raw for c in date_cols}
            every = True
        else:
            raw = _mapping_of(f"{where}.dates", raw)
            every = False
        out = {}
        for col, fmt in raw.items():
            if col not in date_cols:
                raise ParamsError(f"{where}.dates: {table} has no date column {col!r}"
                                  f"{_hint(col, date_cols)}; its date columns are: {', '.join(date_cols)}")
            if not isinstance(fmt, str) or not (fmt in DATE_FORMATS or "%" in fmt):
                key = f"{where}.dates" if every else f"{where}.dates.{col}"
                raise ParamsError(f"{key} = {fmt!r} is not a date format: use a strftime format such as "
                                  f"\"%d-%m-%y\", or one of {', '.join(DATE_FORMATS)}")
            if fmt != "iso":
                out[str(col)] = fmt
        return out

    def as_params(self) -> str | dict:
        """The canonical plain form of this entry for ``params["data"]["tables"]``: text keys only
        (YAML booleans and numbers spelled out), so the parameters stay JSON-able and sortable, and
        :meth:`parse` of it gives this mapping back."""
        if not self.transforms:
            return self.source if self.source is not None else {}
        out: dict[str, Any] = {} if self.source is None else {"from": self.source}
        if self.columns:
            out["columns"] = {src: (list(t) if len(t) > 1 else t[0]) for src, t in self.columns.items()}
        for key in ("values", "dates", "constants"):
            if getattr(self, key):
                out[key] = {col: (dict(v) if isinstance(v, Mapping) else v) for col, v in getattr(self, key).items()}
        if self.only_when:
            out["only_when"] = {col: {other: list(keep)} for col, (other, keep) in self.only_when.items()}
        return out

    # --- applying --------------------------------------------------------------------------------

    def apply(self, frame: pd.DataFrame, *, file: str = "") -> tuple[pd.DataFrame, list[Note]]:
        """A new frame in the data model's names and values, and what could not be mapped.

        ``frame`` is not modified; its index and row order are kept (row numbers stay those of the
        file). ``file`` names the export in messages.
        """
        where = f"data.tables.{self.table}"
        what = file or self.table
        present = [str(c) for c in frame.columns]
        notes: list[Note] = []
        for src in (c for c in self.columns if c not in present):
            targets = self.columns[src]
            notes.append(Note(
                targets[0],
                f"mapped column {src!r}{_hint(src, present)} is not in {what}: {', '.join(targets)} "
                "stays absent",
                f"fix {where}.columns (names are case-sensitive; {what} has: {', '.join(present)}), or "
                "add the column to the export",
            ))
        out: dict[str, pd.Series] = {}
        origin: dict[str, str] = {}
        for col, src in zip(frame.columns, present):
            names = self.columns.get(src, (src,))
            for name in names:
                if name in out:
                    raise DataSourceError(
                        f"{where}: {what} would get two columns {name!r} (from {origin[name]!r} and "
                        f"{src!r}); map only one of them to {name!r}"
                    )
                out[name] = frame[col]
                origin[name] = src
        for col, value in self.constants.items():
            if col in out:
                raise DataSourceError(
                    f"{where}.constants.{col}: {what} already has a column {col!r}; remove the constant "
                    "(a constant is only for a column the export lacks)"
                )
            out[col] = pd.Series(_text(value) if not isinstance(value, str) else value,
                                 index=frame.index, dtype=object)
        for col, pairs in self.values.items():
            if col not in out:
                continue  # reported above (an optional source column absent) or by validation
            out[col], note = _map_values(out[col], pairs, f"{where}.values.{col}")
            if note:
                notes.append(Note(col, *note))
        for col, fmt in self.dates.items():
            if col not in out:
                continue  # an optional date column the export lacks; a required one is reported by validation
            out[col], note = _parse_dates(out[col], fmt, f"{where}.dates.{col}")
            if note:
                notes.append(Note(col, *note))
        for col, (other, keep) in self.only_when.items():
            if col not in out:
                continue
            if other not in out:
                raise DataSourceError(
                    f"{where}.only_when.{col}: {what} has no column {other!r} to decide by; map a "
                    f"column to {other!r} under {where}.columns"
                )
            kept = pd.Series([_text(v) for v in out[other].to_numpy()], index=frame.index).isin(keep)
            out[col] = out[col].astype(object).where(kept, None)
        mapped = pd.DataFrame(out, index=frame.index) if out else pd.DataFrame(index=frame.index)
        mapped.attrs = dict(frame.attrs)
        return mapped, notes


def _mapping_of(where: str, raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where} must be a mapping (key: value lines), got {raw!r}")
    return dict(raw)


def _check_column(where: str, col, model: Mapping[str, str], table: str) -> None:
    if col not in model:
        raise ParamsError(f"{where}: {table} has no column {col!r}{_hint(col, model)}; its columns are: "
                          f"{', '.join(model)} (see docs/data-model.md)")


def _present(s: pd.Series) -> pd.Series:
    return s.notna() & s.astype(str).str.strip().ne("")


def _map_values(s: pd.Series, pairs: Mapping[str, str | None], where: str):
    """``s`` with its values mapped; unmapped values kept and reported as ``(problem, fix)``."""
    text = pd.Series([_text(v) for v in s.to_numpy()], index=s.index, dtype=object)
    present = _present(s)
    known = text.isin(list(pairs)) & present
    out = s.astype(object).copy()
    out[known] = text[known].map(pairs)
    left = text[present & ~known]
    if left.empty:
        return out, None
    counts = left.value_counts()
    shown = ", ".join(repr(v) for v in counts.index[:8]) + (f" and {len(counts) - 8} more" if len(counts) > 8 else "")
    problem = f"unmapped {shown} ({len(left):,} row{'s' * (len(left) != 1)}), kept as they are"
    return out, (problem, f"add them to {where}")


def _parse_dates(s: pd.Series, fmt: str, where: str):
    """``s`` parsed with ``fmt`` as YYYY-MM-DD text; values that do not fit are kept and reported."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s, None
    present = _present(s)
    text = pd.Series(s.astype(object).where(present, None), index=s.index, dtype=object)
    if fmt == "excel":
        serial = pd.to_numeric(text, errors="coerce")
        serial = serial.where((serial >= 1) & (serial < _EXCEL_LAST))
        parsed = _EXCEL_EPOCH + pd.to_timedelta(np.floor(serial), unit="D")
    elif fmt in ("dayfirst", "monthfirst"):
        parsed = pd.to_datetime(text.astype(str).str.strip(), format="mixed", errors="coerce",
                                dayfirst=fmt == "dayfirst").where(present)
    else:
        parsed = pd.to_datetime(text.astype(str).str.strip(), format=fmt, errors="coerce")
        parsed = parsed.where(present)
    ok = present & parsed.notna()
    out = s.astype(object).copy()
    out[ok] = parsed[ok].dt.strftime("%Y-%m-%d")
    bad = present & ~ok
    if not bad.any():
        return out, None
    first = text[bad].iloc[0]
    n = int(bad.sum())
    problem = f"{first!r}{f' and {n - 1:,} more' if n > 1 else ''} not in date format {fmt!r}, kept as they are"
    return out, (problem, f"fix the values, or the format in {where}")


# --- the run file --------------------------------------------------------------------------------

def parse_tables(tables: Mapping | None) -> dict[str, TableMapping]:
    """Every ``data.tables`` entry checked and typed (table name → :class:`TableMapping`)."""
    if tables is None:
        return {}
    if not isinstance(tables, Mapping):
        raise ParamsError(f"data.tables must be a mapping of table names, got {tables!r}")
    unknown = [str(name) for name in tables if name not in TABLES]
    if unknown:
        hints = ", ".join(f"{name!r}{_hint(name, TABLES)}" for name in unknown)
        raise ParamsError(f"data.tables names unknown table(s) {hints}; the tables are: {', '.join(TABLES)}")
    return {str(name): TableMapping.parse(str(name), entry) for name, entry in tables.items()}


def read_fragment(path: Path) -> dict:
    """The ``tables`` of a mapping file (``params/mappings/*.yaml``)."""
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"data.mapping: mapping file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"data.mapping: {path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, Mapping) or set(loaded) != {"tables"} or not isinstance(loaded["tables"], Mapping):
        raise ParamsError(f"data.mapping: {path} must hold one key, tables:, with one entry per table "
                          "(see docs/mappings.md)")
    return dict(loaded["tables"])


def merge_fragments(fragments: list[Mapping], tables: Mapping) -> dict:
    """Mapping files' tables merged in order, then ``tables`` (the run file's) on top.

    A later entry wins key by key: for a table given as a mapping in both, ``from`` is replaced and
    ``columns``, ``values``, ``dates`` and ``constants`` are merged name by name (a run-file
    ``values.stage`` replaces the file's ``values.stage`` as a whole). A table given as a string
    replaces the earlier entry.
    """
    out: dict = {}
    for layer in [*fragments, tables]:
        for name, entry in (layer or {}).items():
            before = out.get(name)
            if isinstance(entry, Mapping) and isinstance(before, Mapping):
                merged = dict(before)
                for key, value in entry.items():
                    if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                        merged[key] = {**merged[key], **value}
                    else:
                        merged[key] = value
                out[name] = merged
            else:
                out[name] = entry
    return out
