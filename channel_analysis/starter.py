"""The starter run file: ``channel-analysis init --data PATH`` inspects an extract and writes a
run file fitted to it, so that no run judges real data against the sample's dates.

:func:`inspect` reads the extract (a folder, a DuckDB file or a database URL, through
:func:`channel_analysis.io.sources.read_tables`) and finds

- ``as_of``: the latest date of something that happened (a sale, a deal created or closed, a stage
  entered, a lead assigned or accepted, a survey, a training, a programme cost);
- ``period``: the last quarter that ended on or before it (a quarter the data end inside is
  partial and is not reported);
- ``history_quarters``: the quarters from the first one with activity to ``period``, at most the
  documented default;
- ``reporting_currency``: the currency found, or the most frequent one (all are listed);
- ``pipeline.stages``: the open stages of ``opportunities``, earliest first: by the median rank
  at which deals enter them (``opportunity_stages``), else by the median age of the open deals in
  each stage (younger first), else in the order they are first seen;
- which tables and columns hold data, hence which KPIs are available (from the KPI uses the
  schema declares per column, :data:`channel_analysis.schema.TABLES`);
- ``tiers.levels`` and ``segmentation.weights``: the defaults restricted to criteria whose inputs
  hold data (and, for growth criteria, that enough quarters exist to compare).

:func:`render` writes the run file as commented YAML text; :func:`write` checks that it loads
(:func:`channel_analysis.params.load_params` rules) before writing it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from . import measures, periods
from .errors import ParamsError
from .files import is_url, write_atomic
from .io import sources
from .io.mapping import merge_fragments, parse_tables, read_fragment
from .params import finalize, load_defaults, merge, run_file_for
from .schema import TABLES
from .validation import coerce_tables

#: Dates of things that happened: the latest one is ``as_of``.
ACTIVITY_DATES = (
    ("sales", "date"), ("opportunities", "created_date"), ("opportunities", "closed_date"),
    ("opportunity_stages", "entered_date"), ("leads", "assigned_date"), ("leads", "accepted_date"),
    ("surveys", "date"), ("trainings", "completed_date"), ("program_costs", "date"),
)
#: Tables whose dates set the history span, by preference (the first one present wins).
SPAN_TABLES = ("sales", "opportunities", "leads")
#: Quarters a growth criterion needs: its trailing four quarters and the four before.
GROWTH_QUARTERS = 8
#: Columns holding a row's currency.
CURRENCY_COLUMNS = (("partners", "currency"), ("sales", "currency"), ("opportunities", "currency"),
                    ("mdf", "currency"))
_CLOSED = {"won", "lost"}


@dataclass
class Inspection:
    """What an extract holds, as far as the run file is concerned."""

    source: str
    tables: dict[str, pd.DataFrame]
    failures: dict[str, str]
    filled: set[tuple[str, str]]  # (table, column) holding at least one value
    as_of: pd.Timestamp | None
    as_of_from: str
    first: pd.Timestamp | None
    span_from: str
    currencies: Counter
    stages: list[str]
    stage_order: str
    fy: int = 1
    files: dict[str, str] = field(default_factory=dict)
    mapping: list[str] = field(default_factory=list)  # mapping files the tables were read through
    #: the data may end this many days before a quarter's last day and the quarter still counts as
    #: complete (``kpis.partial_quarter_days``, the run's own rule)
    complete_within: int = 0

    @property
    def period(self) -> str | None:
        """The last complete quarter of the data: the one the data's last date falls in when that
        date is at most :attr:`complete_within` days before its end, else the quarter before."""
        if self.as_of is None:
            return None
        q_now = pd.Period(self.as_of, freq=periods.quarter_freq(self.fy))
        if self.as_of >= q_now.end_time.normalize() - pd.Timedelta(days=self.complete_within):
            return str(q_now)
        return periods.last_complete_quarter(self.as_of.date(), self.fy)

    def quarters(self) -> int:
        """Quarters from the first one with activity to :attr:`period` (0 if none)."""
        if self.first is None or self.period is None:
            return 0
        first = pd.Period(self.first, freq=periods.quarter_freq(self.fy))
        return max(0, (periods.parse_quarter(self.period, self.fy) - first).n + 1)

    def has(self, table: str, column: str | None = None) -> bool:
        if column is None:
            return table in self.tables and len(self.tables[table]) > 0
        return (table, column) in self.filled


def inspect(source: str | Path, *, mapping: list[Path] = (), fy: int = 1,
            progress: bool = False) -> Inspection:
    """Read ``source`` (through the ``mapping`` files, ``params/mappings/*.yaml``, if any) and find
    what a run file needs (see the module's docstring). A table that cannot be read is listed in
    ``failures`` (and left out), the others are inspected."""
    failures: dict[str, str] = {}
    tables = merge_fragments([read_fragment(Path(f)) for f in mapping], {})
    parse_tables(tables)  # a mistake in a mapping file is named before reading
    raw = sources.read_tables(source, tables, progress=progress, failures=failures)
    typed = coerce_tables(raw)
    filled = {(name, str(col)) for name, frame in raw.items() for col in frame.columns
              if frame[col].notna().any()}
    latest, latest_from = None, ""
    for table, col in ACTIVITY_DATES:
        if (table, col) in filled:
            top = typed[table][col].max()
            if pd.notna(top) and (latest is None or top > latest):
                latest, latest_from = top, f"{table}.{col}"
    first, span_from = None, ""
    for table in SPAN_TABLES:
        cols = [c for t, c in ACTIVITY_DATES if t == table and (t, c) in filled]
        starts = pd.Series([typed[table][c].min() for c in cols], dtype="datetime64[ns]").dropna()
        if len(starts):
            first, span_from = starts.min(), table
            break
    currencies: Counter = Counter()
    for table, col in CURRENCY_COLUMNS:
        if (table, col) in filled:
            currencies.update(typed[table][col].dropna().astype(str).str.strip().str.upper())
    stages, order = _open_stages(typed, filled, latest)
    return Inspection(
        source=str(source) if is_url(source) else str(Path(source).expanduser().resolve()),
        tables=typed, failures=failures, filled=filled, as_of=latest, as_of_from=latest_from,
        first=first, span_from=span_from, currencies=currencies, stages=stages, stage_order=order,
        fy=fy, files={name: frame.attrs.get("file", name) for name, frame in raw.items()},
        mapping=[str(Path(f).expanduser().resolve()) for f in mapping],
        complete_within=int(load_defaults()["kpis"]["partial_quarter_days"]),
    )


def _open_stages(t: dict[str, pd.DataFrame], filled, as_of) -> tuple[list[str], str]:
    """The open stages of the opportunities, earliest first, and how they were ordered."""
    if ("opportunities", "stage") not in filled:
        return [], ""
    o = t["opportunities"]
    stage = o["stage"].astype(str).str.strip()
    if ("opportunities", "outcome") in filled:
        is_open = o["outcome"].astype(str).str.strip().str.lower().eq("open")
    else:
        is_open = ~stage.str.lower().isin(_CLOSED) & ~stage.str.lower().str.startswith("closed")
    found = list(dict.fromkeys(stage[is_open & o["stage"].notna()]))
    if not found:
        return [], ""
    if {("opportunity_stages", "stage"), ("opportunity_stages", "entered_date")} <= filled:
        h = t["opportunity_stages"].dropna(subset=["opportunity_id", "stage", "entered_date"])
        h = h.assign(stage=h["stage"].astype(str).str.strip())
        h = h.assign(rank=h.groupby("opportunity_id")["entered_date"].rank(method="first"))
        rank = h.groupby("stage")["rank"].median()
        if set(found) <= set(rank.index):
            ordered = sorted(found, key=lambda s: (rank[s], found.index(s)))
            return ordered, ("by the median position at which deals enter each stage "
                             "(opportunity_stages.entered_date)")
    if ("opportunities", "created_date") in filled and as_of is not None:
        age = (as_of - o.loc[is_open, "created_date"]).dt.days.groupby(stage[is_open]).median()
        if age.notna().all():
            ordered = sorted(found, key=lambda s: (age[s], found.index(s)))
            return ordered, ("by the median age of the open deals in each stage, youngest first "
                             "(no opportunity_stages history): check the order")
    return found, "in the order the stages first appear in opportunities: check the order"


# --- what is available -----------------------------------------------------------------------

def _uses(table: str) -> dict[str, list[str]]:
    """Column → the KPIs the schema says use it."""
    schema = TABLES[table][0].to_schema()
    return {name: list((col.metadata or {}).get("kpis", [])) for name, col in schema.columns.items()}


def why_not(key: str, found: Inspection) -> str | None:
    """Why KPI column ``key`` cannot be computed from the extract (None: it can): an input its
    measure declares (:attr:`channel_analysis.measures.Measure.needs`) that the extract lacks, or
    (a comparison with an earlier period) too few quarters. A leading '-' (lower is better) is
    ignored."""
    key = key.lstrip("-").strip()
    if key not in measures.MEASURES:
        return "not a measure of the catalog (docs/kpis.md)"
    missing = measures.lacking(key, lambda name: found.has(*name.split(".", 1)))
    if missing:
        return missing
    compares = {"growth", "yoy", "prev"} & set(key.split("_"))
    if compares and found.quarters() < GROWTH_QUARTERS:
        return (f"over four quarters it compares with the four before: needs {GROWTH_QUARTERS} "
                f"quarters, the extract has {found.quarters()}")
    return None


def criterion_available(key: str, found: Inspection) -> bool:
    """True if KPI column ``key`` can be computed from the extract (see :func:`why_not`)."""
    return why_not(key, found) is None


def _restricted_levels(levels: list[dict], found: Inspection) -> tuple[list[dict], list[str]]:
    out, dropped = [], []
    for i, level in enumerate(levels):
        criteria = {k: v for k, v in (level.get("criteria") or {}).items() if criterion_available(k, found)}
        dropped += [f"{k} ({why_not(k, found)})" for k in (level.get("criteria") or {})
                    if k not in criteria and not any(d.startswith(k + " ") for d in dropped)]
        if i == 0 or (criteria and criteria != out[-1]["criteria"]):
            out.append({"name": level["name"], "criteria": criteria if i else {}})
    return out, dropped


def _restricted_weights(weights: dict, found: Inspection) -> tuple[dict, list[str], str]:
    kept = {k: v for k, v in weights.items() if criterion_available(k, found)}
    dropped = [f"{k} ({why_not(k, found)})" for k in weights if k not in kept]
    if kept:
        return kept, dropped, "the defaults whose inputs exist (weights rescaled by the run)"
    # none of the defaults: the peer-benchmarked measures that can be computed, equally weighted
    bench = [measures.get(k) for k in measures.BENCHMARKED if criterion_available(k, found)]
    if not bench:
        return dict(weights), [], "the defaults: no criterion's inputs were found (check the extract)"
    w = round(1.0 / len(bench), 3)
    return ({("-" if m.lower_is_better else "") + m.key: w for m in bench}, dropped,
            "the peer-benchmarked measures the extract allows, equally weighted (no default "
            "criterion's inputs exist)")


# --- the file --------------------------------------------------------------------------------

def _flow(value) -> str:
    """A value as one line of YAML (JSON is YAML's flow style)."""
    return json.dumps(value, ensure_ascii=False)


def _wrap(text: str, prefix: str = "# ", width: int = 100) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(prefix) + len(line) + 1 + len(word) > width:
            lines.append(prefix + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([prefix + line] if line else [])


def render(found: Inspection) -> str:
    """The run file for ``found``, as commented YAML text."""
    defaults = load_defaults()
    if found.as_of is None:
        raise ParamsError(
            f"{sources.describe(found.source)}: no dated activity found (sales.date, "
            "opportunities.created_date, leads.assigned_date, …), so as_of cannot be set: check "
            "the extract (docs/data-model.md)"
        )
    as_of = found.as_of.date()
    period = found.period
    lines = [
        f"# Run file written by `channel-analysis init` for {sources.describe(found.source)}.",
        "# Every value below was found in the extract; check them, then run (this file is used for",
        "# this extract unless --params names another):",
        f"#   channel-analysis validate --data {found.source}",
        "# Every key you can set is documented in params/defaults.yaml.",
        "",
    ]
    lines += _wrap(f"The latest date of activity in the extract ({found.as_of_from}).")
    lines.append(f"as_of: {as_of.isoformat()}")
    q_now = pd.Period(found.as_of, freq=periods.quarter_freq(found.fy))
    end = q_now.end_time.normalize()
    why = "the last quarter that ended on or before as_of"
    if str(q_now) == period and found.as_of < end:
        why = (f"the quarter the data end in: they end {(end - found.as_of).days} day(s) before its last "
               f"day, within kpis.partial_quarter_days = {found.complete_within}, so it counts as complete")
    elif str(q_now) != period:
        days = (found.as_of - q_now.start_time.normalize()).days + 1
        why += (f"; the data end {days} day{'s' * (days != 1)} into {q_now} (it ends {end:%Y-%m-%d}), a partial quarter "
                f"that is not reported. If {q_now} is in fact complete, set period: {q_now} and "
                f"as_of: {end:%Y-%m-%d}")
    lines += _wrap(why[0].upper() + why[1:] + f". Quarters are fiscal quarters of a year starting "
                   f"in month {found.fy} (fiscal_year_start_month, params/defaults.yaml).")
    lines.append(f"period: {period}")

    n = found.quarters()
    default_n = int(defaults["history_quarters"])
    hist = max(1, min(default_n, n))
    first = f"{found.first:%Y-%m-%d}" if found.first is not None else "?"
    lines += _wrap(f"Quarters of history: {found.span_from} start on {first}, {n} quarter"
                   f"{'s' * (n != 1)} up to {period}" + (f" (at most {default_n}, the default)."
                                                          if n > default_n else "."))
    if hist < int(defaults["forecast"]["min_history"]):
        lines += _wrap(f"Fewer than forecast.min_history = {defaults['forecast']['min_history']} "
                       "quarters: the forecast smooths the level only (no trend).")
    lines.append(f"history_quarters: {hist}")

    cur = found.currencies.most_common()
    default_cur = defaults["reporting_currency"]
    if not cur:
        lines += _wrap(f"NO CURRENCY FOUND in the extract (partners.currency, sales.currency, …): "
                       f"amounts are taken to be in {default_cur}. Set your currency here.")
        currency = default_cur
    else:
        currency = cur[0][0]
        listed = ", ".join(f"{c} ({k:,} rows)" for c, k in cur)
        converted = ([] if not found.has("fx_rates", "currency") else
                     sorted(set(found.tables["fx_rates"]["currency"].dropna().astype(str).str.upper())))
        unconverted = [c for c, _ in cur if c not in converted]
        if len(cur) == 1:
            lines += _wrap(f"The only currency found: {listed}.")
        elif converted and unconverted:
            currency = unconverted[0]
            lines += _wrap(f"Currencies found: {listed}. fx_rates converts {', '.join(converted)} "
                           f"into the reporting currency, so it is {currency}"
                           + (f" (the most frequent of {', '.join(unconverted)}, which have no rate)."
                              if len(unconverted) > 1 else "."))
        else:
            lines += _wrap(f"Currencies found: {listed}. The most frequent is the reporting currency; "
                           "the others are converted with fx_rates (one rate per currency and quarter"
                           + (": the extract has no fx_rates table, validation will list the rates "
                              "needed)." if not found.has("fx_rates") else ")."))
    lines.append(f"reporting_currency: {currency}")
    lines.append("")

    lines.append("data:")
    lines += _wrap("The extract this file was written for (--data overrides it).", "  # ")
    lines.append(f"  source: {_flow(found.source)}")
    if found.mapping:
        lines += _wrap("The mapping files the extract was read through (docs/mappings.md); add "
                       "your own entries under data.tables (they win key by key).", "  # ")
        lines.append(f"  mapping: {_flow(found.mapping)}")
    lines.append("")

    lines += _tables_comment(found)

    lines.append("pipeline:")
    if found.stages:
        lines += _wrap(f"Open stages found in opportunities, ordered {found.stage_order}.", "  # ")
        lines.append(f"  stages: {_flow(found.stages)}")
    else:
        lines += _wrap("No open deal in the extract: the default stages are kept.", "  # ")
        lines.append(f"  stages: {_flow(defaults['pipeline']['stages'])}")
    lines.append("")

    levels, dropped = _restricted_levels(defaults["tiers"]["levels"], found)
    lines.append("tiers:")
    note = "The default tiers, restricted to criteria whose inputs exist in the extract"
    note += f" (left out: {', '.join(dropped)})." if dropped else "."
    lines += _wrap(note + f" Amounts are in {currency}: adjust them to your programme.", "  # ")
    lines.append("  levels:")
    for level in levels:
        lines.append(f"    - name: {_flow(level['name'])}")
        lines.append(f"      criteria: {_flow(level['criteria'])}")
    lines.append("")

    weights, dropped, how = _restricted_weights(defaults["segmentation"]["weights"], found)
    lines.append("segmentation:")
    note = f"Weighted-score criteria: {how}"
    note += f"; left out: {', '.join(dropped)}." if dropped else "."
    lines += _wrap(note, "  # ")
    lines.append("  weights:")
    for key, w in weights.items():
        lines.append(f"    {_flow(key)}: {w}")
    return "\n".join(lines).rstrip() + "\n"


def _tables_comment(found: Inspection) -> list[str]:
    lines = ["# Tables in the extract (docs/data-model.md), and the KPIs each one makes available:"]
    for name, (_, required) in TABLES.items():
        uses = _uses(name)
        kpis = list(dict.fromkeys(k for col in uses.values() for k in col if k != "all"))
        if name in found.failures:
            lines += _wrap(f"{name}: CANNOT BE READ — {found.failures[name]}", "#   ")
        elif not found.has(name):
            what = ("required" if required else
                    "not available: " + ", ".join(kpis) if kpis else "no KPI needs it")
            lines += _wrap(f"{name}: absent ({what})", "#   ")
        else:
            frame = found.tables[name]
            lines += _wrap(f"{name} ({found.files.get(name, name)}): {len(frame):,} rows", "#   ")
            for col, col_kpis in uses.items():
                if (name, col) not in found.filled and col_kpis:
                    lines += _wrap(f"no {col}: not available: {', '.join(col_kpis)}", "#     ")
    kpis = [m.key for m in measures.MEASURES.values() if m.table == "kpis"]
    have = [k for k in kpis if criterion_available(k, found)]
    lines += _wrap("KPIs the extract allows (measure catalog, docs/kpis.md): " + (", ".join(have) or "none"))
    lines += _wrap("KPIs reported as not available: " + ("; ".join(
        f"{k} ({why_not(k, found)})" for k in kpis if k not in have) or "none") + ".")
    lines.append("")
    return lines


def check(text: str, source: str) -> dict:
    """The parameters ``text`` gives (defaults ← text), checked like any run file."""
    return finalize(merge(load_defaults(), yaml.safe_load(text) or {}, source=source))


def write(source: str | Path, out: str | Path | None = None, *, mapping: list[Path] = (),
          force: bool = False, fy: int | None = None, progress: bool = False) -> tuple[Path, Inspection]:
    """Inspect ``source`` (through the ``mapping`` files) and write its run file to ``out``
    (default: :func:`run_file_for`); an existing file is replaced only with ``force``. Returns the
    path and the inspection."""
    path = Path(out).expanduser().resolve() if out else run_file_for(source)
    if path.exists() and not force:
        raise ParamsError(f"{path} already exists: pass --force to replace it, or --out another file")
    fy = int(load_defaults()["fiscal_year_start_month"]) if fy is None else fy
    found = inspect(source, mapping=mapping, fy=fy, progress=progress)
    text = render(found)
    check(text, str(path))  # never write a run file that does not load
    write_atomic(path, text)
    return path, found
