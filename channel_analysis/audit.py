"""Can a partner trust every number and every word of a page? Checks of a rendered run.

:func:`page_problems` reads one page as a reader would: words in another language than the page's
(English UI text left on a translated page, English function words), raw column names, ``nan`` /
``None`` / ``NaT`` / ``inf``, and the same note twice in one section. :func:`check_run` checks
numbers against the exported tables (below).

Every KPI value a page shows is a ``<span class="ca-value" data-measure=… data-window=…
data-value=…>`` (:func:`channel_analysis.blocks.tagged`). :func:`check_run` reads every rendered page
of a run folder (the manifest says which page belongs to which partner), finds each tagged value
and compares its exact number with the exported table cell it names:

- on a partner's scorecard: ``kpis/kpis.parquet`` at (that partner, the run's period, window);
- on a network page, with ``data-partner``: the same, for that partner;
- on a network page without it: ``kpis/network.parquet`` at the run's period;
- with ``data-table`` (a value of another exported table, e.g. ``mdf_incrementality``):
  ``kpis/<table>.parquet``, the one row whose key columns equal ``data-row`` (JSON), column
  ``data-measure``.

A measure of another exported table (``Measure.table``, e.g. ``programme_value``,
``churn_risk``) is compared with
``kpis/<table>.parquet``: at the partner's row (of the run's period), and on a network page without
``data-partner`` with the column's total over the period's rows.

It also refuses a ``data-measure`` that the measure catalog does not declare (as a measure or
a companion column of one, e.g. an interval's ``_low``). ``channel-analysis
audit`` runs it; the test suite runs it on every rendered page.
"""

from __future__ import annotations

import functools
import json
import math
import re
import string
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
from babel.messages.pofile import read_po

from . import i18n, measures

#: Relative tolerance of the comparison (the page carries ``repr`` of the float: exact in practice).
TOLERANCE = 1e-9


class _Values(HTMLParser):
    """Collects the data-* attributes of every tagged value of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-measure" in a:
            self.found.append({k[5:]: v or "" for k, v in a.items() if k.startswith("data-")})


def tagged_values(page: str) -> list[dict[str, str]]:
    """The data-* attributes (without the ``data-`` prefix) of every tagged value in ``page``."""
    parser = _Values()
    parser.feed(page)
    return parser.found


# --------------------------------------------------------------------------------------------
# words: what a reader sees
# --------------------------------------------------------------------------------------------

NBSP, NNBSP = "\xa0", "\u202f"
#: English function words that no sentence of a translated page contains (data values aside).
ENGLISH_WORDS = frozenset({"the", "and", "your", "with", "of", "for", "to", "is", "are", "this", "than", "from"})
#: Of those, the ones that are everyday words of another language too (Dutch "is", "of" = or; Danish
#: and Norwegian "for", "to" = two; Swedish "is" = ice …): not evidence of English there.
SHARED_WORDS = {"nl": {"is", "of"}, "da": {"for", "to"}, "sv": {"is"}, "de": {"is"}, "fi": set()}
_RAW_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
_MISSING = re.compile(r"(?<![\w-])(?:nan|NaN|None|NaT|inf|-inf|null|undefined)(?![\w-])")
_WORD = re.compile(r"[^\W\d_]+")


def normalize(text: str) -> str:
    """Text with no-break spaces as spaces and runs of white space folded."""
    return " ".join(text.replace(NBSP, " ").replace(NNBSP, " ").split())


class _Text(HTMLParser):
    """A page's visible text nodes (plus alt/title attributes; no style or script), and the notes of
    each section (``<p class="ca-note …">`` grouped by the ``h2`` before them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.notes: list[tuple[int, str]] = []
        self._skip = 0
        self._section = 0
        self._note: list[str] | None = None  # the text of the note being read

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("style", "script", "head"):
            self._skip += 1
        if tag == "h2":
            self._section += 1
        if tag == "p" and "ca-note" in (a.get("class") or "").split():
            self._note = []
        self.nodes += [v for k, v in attrs if k in ("alt", "title") and v and not self._skip]

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        if tag == "p" and self._note is not None:  # a note is compared whole, not by its pieces
            self.notes.append((self._section, normalize(" ".join(self._note))))
            self._note = None

    def handle_data(self, data):
        if data.strip() and not self._skip:
            self.nodes.append(normalize(data))
            if self._note is not None:
                self._note.append(data)


def visible_text(markup: str) -> list[str]:
    """The text nodes a reader sees (normalized), in page order."""
    parser = _Text()
    parser.feed(markup)
    return parser.nodes


@functools.lru_cache(maxsize=None)
def english_ui(language: str) -> tuple[frozenset, frozenset]:
    """(whole, fragments): English message texts that must not be shown in ``language``.

    ``whole``: every message id (and plural form) whose translation differs from it, compared with
    whole text nodes. ``fragments``: the literal parts of message ids between placeholders that have
    3 words or more, searched inside any text; a fragment that also appears in the language's own
    translations (a name, "p =") is left out.
    """
    with open(i18n.catalog_path(language), "rb") as po:
        catalog = read_po(po, locale=language)
    own = " ".join(normalize(s) for m in catalog if m.id
                   for s in (m.string if isinstance(m.string, (list, tuple)) else [m.string]))
    whole, fragments = set(), set()
    for m in catalog:
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        for text in ids:
            if text not in strings:
                whole.add(normalize(text))
            for literal, *_ in string.Formatter().parse(text):
                literal = normalize(literal).strip(" .,;:()*·—–")
                if len(re.findall(r"[A-Za-z]+", literal)) >= 3 and literal not in own:
                    fragments.add(literal)
    return frozenset(whole), frozenset(fragments)


def english_leftovers(nodes: list[str], language: str) -> list[str]:
    """English UI texts among ``nodes`` of a page in ``language`` (which has a catalog)."""
    whole, fragments = english_ui(language)
    text = "\n".join(nodes)
    return sorted({n for n in nodes if n in whole} | {f for f in fragments if f in text})


def page_problems(markup: str, locale: str, data_values: tuple[str, ...] = ()) -> list[str]:
    """What a reader of ``markup`` (a page meant for ``locale``) would stumble on, one line each.

    ``data_values``: texts that come from the data as they are (the partner's name, deal ids, …);
    text nodes containing one are not checked for English words.
    """
    parser = _Text()
    parser.feed(markup)
    nodes = parser.nodes
    problems = []
    language = i18n.text_language(locale).split("_")[0]
    if language != "en":
        problems += [f"English UI text: {t!r}" for t in english_leftovers(nodes, language)]
        for node in nodes:
            if any(v and v in node for v in data_values):
                continue
            words = {w.lower() for w in _WORD.findall(node)} & (ENGLISH_WORDS - SHARED_WORDS.get(language, set()))
            if len(words) >= 2:
                problems.append(f"English words {sorted(words)} in {node!r}")
    for node in nodes:
        if _RAW_NAME.search(node) and not any(v and v in node for v in data_values):
            problems.append(f"raw name {_RAW_NAME.search(node).group(0)!r} in {node!r}")
        if _MISSING.search(node):
            problems.append(f"missing value shown as {_MISSING.search(node).group(0)!r} in {node!r}")
    seen = set()
    for section, note in parser.notes:
        if (section, note) in seen:
            problems.append(f"note repeated in one section: {note!r}")
        seen.add((section, note))
    return problems


# --------------------------------------------------------------------------------------------
# numbers: every tagged value against the exported tables
# --------------------------------------------------------------------------------------------


@dataclass
class AuditResult:
    """``checked``: values compared per page; ``problems``: one row per value that differs or is
    unknown (page, partner_id, measure, window, shown, expected, problem)."""

    checked: dict[str, int] = field(default_factory=dict)
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def summary(self) -> str:
        n = sum(self.checked.values())
        head = f"{n:,} shown values on {len(self.checked):,} pages checked against the exported tables"
        if self.ok:
            return head + ": all equal."
        return head + f": {len(self.problems):,} problems\n" + self.problems.head(50).to_string(index=False)

    def __repr__(self) -> str:
        return self.summary()


def _number(text: str) -> float:
    try:
        return float(text) if text != "" else math.nan
    except ValueError:
        return math.inf  # not a number at all: never equal to anything


def _same(shown: float, expected: float) -> bool:
    if math.isnan(shown) or math.isnan(expected):
        return math.isnan(shown) and math.isnan(expected)
    return math.isclose(shown, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def check_run(run_dir: str | Path) -> AuditResult:
    """Compare every tagged value of every rendered page in ``run_dir`` with the exported tables."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    period = str(manifest["period"])
    kpi = pd.read_parquet(run_dir / "kpis" / "kpis.parquet")
    kpi = kpi[kpi["period"].astype(str) == period].assign(partner_id=lambda k: k["partner_id"].astype(str))
    kpi = kpi.set_index(["partner_id", "window"])
    network = pd.read_parquet(run_dir / "kpis" / "network.parquet")
    network = network[network["period"].astype(str) == period]
    net_row = network.iloc[0] if len(network) else pd.Series(dtype=float)

    pages: list[tuple[str, str | None]] = []  # (relative path, partner id of a partner page)
    for key, entry in manifest.get("reports", {}).items():
        if entry.get("status") == "ok" and entry.get("output"):
            pages.append((entry["output"], str(key)))
    overview = manifest.get("network_overview") or {}
    if overview.get("status") == "ok" and overview.get("output"):
        pages.append((overview["output"], None))
    if (run_dir / "index.html").exists():
        pages.append(("index.html", None))

    others = _other_tables(run_dir, period)
    other_tables: dict[str, pd.DataFrame] = {}
    result, rows = AuditResult(), []
    for rel, owner in pages:
        found = tagged_values((run_dir / rel).read_text(encoding="utf-8"))
        result.checked[rel] = len(found)
        for v in found:
            measure, window = v.get("measure", ""), v.get("window") or "quarter"
            partner = owner if owner is not None else v.get("partner")
            shown = _number(v.get("value", ""))
            row = {"page": rel, "partner_id": partner, "measure": measure, "window": window,
                   "shown": shown, "expected": math.nan}
            if measure not in measures.MEASURES and measures.companion_of(measure) is None:
                rows.append({**row, "problem": "not in the measure catalog"})
                continue
            table = measures.get(measure).table if measure in measures.MEASURES else "kpis"
            if v.get("table") or table not in ("kpis", "network"):
                if v.get("table"):  # a row of another exported table named on the span (data-table, data-row)
                    expected, problem = _table_cell(run_dir, other_tables, v["table"], v.get("row", ""), measure)
                else:  # the measure's own table (Measure.table): the partner's row, or the network's total
                    expected, problem = _other_expected(others.get(table), measure, partner)
                    problem = problem and f"{problem} ({table})"
                if problem:
                    rows.append({**row, "problem": problem})
                elif not _same(shown, expected):
                    rows.append({**row, "expected": expected, "problem": "differs from the table"})
                continue
            if partner is None:
                if measure not in net_row.index:
                    rows.append({**row, "problem": "not a column of the network table"})
                    continue
                expected = float(net_row[measure]) if pd.notna(net_row[measure]) else math.nan
            else:
                if (partner, window) not in kpi.index or measure not in kpi.columns:
                    rows.append({**row, "problem": "no such row or column in the KPI table"})
                    continue
                cell = kpi.at[(partner, window), measure]
                expected = float(cell) if pd.notna(cell) else math.nan
            if not _same(shown, expected):
                rows.append({**row, "expected": expected, "problem": "differs from the table"})
    result.problems = pd.DataFrame(rows, columns=["page", "partner_id", "measure", "window", "shown",
                                                  "expected", "problem"])
    return result


def _other_tables(run_dir: Path, period: str) -> dict[str, pd.DataFrame]:
    """The exported tables other measures live in (``Measure.table`` other than kpis and network),
    rows of ``period`` (when the table has a period), indexed by partner id."""
    out = {}
    for table in {m.table for m in measures.MEASURES.values()} - {"kpis", "network"}:
        path = run_dir / "kpis" / f"{table}.parquet"
        if not path.exists():
            continue
        frame = pd.read_parquet(path)
        if "period" in frame.columns:
            frame = frame[frame["period"].astype(str) == period]
        out[table] = frame.assign(partner_id=frame["partner_id"].astype(str)).set_index("partner_id")
    return out


def _other_expected(frame: pd.DataFrame | None, measure: str, partner: str | None) -> tuple[float, str | None]:
    """(expected value, problem) of a measure of another table: the partner's cell, or the column's
    total (NaN when no row has a value) for a network figure."""
    if frame is None or measure not in frame.columns:
        return math.nan, "no such table or column"
    if partner is None:
        return float(frame[measure].sum(min_count=1)), None
    if partner not in frame.index:  # no row (e.g. no churn estimate): nothing may be shown
        return math.nan, None
    cell = frame.at[partner, measure]
    return (float(cell) if pd.notna(cell) else math.nan), None


def _table_cell(run_dir: Path, cache: dict[str, pd.DataFrame], table: str, row: str,
                column: str) -> tuple[float, str | None]:
    """(the cell, None) of ``kpis/<table>.parquet`` in the one row whose columns equal the JSON
    mapping ``row`` (missing values compare as ""), else (NaN, what is wrong)."""
    path = run_dir / "kpis" / f"{table}.parquet"
    if table not in cache:
        cache[table] = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    frame = cache[table]
    try:
        key = json.loads(row or "{}")
    except ValueError:
        return math.nan, f"data-row of {table} is not JSON: {row!r}"
    if column not in frame.columns or any(k not in frame.columns for k in key):
        return math.nan, f"no such column in kpis/{table}"
    match = pd.Series(True, index=frame.index)
    for k, value in key.items():
        match &= frame[k].astype(object).where(frame[k].notna(), "").astype(str) == str(value)
    if int(match.sum()) != 1:
        return math.nan, f"{int(match.sum())} rows of kpis/{table} match {row}"
    cell = frame.loc[match, column].iloc[0]
    return (float(cell) if pd.notna(cell) else math.nan), None
