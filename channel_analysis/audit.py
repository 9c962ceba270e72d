"""Does every page show what the tables hold? A check of a rendered run against its exported tables.

Every KPI value a page shows is a ``<span class="ca-value" data-measure=… data-window=…
data-value=…>`` (:func:`channel_analysis.blocks.tagged`). :func:`check_run` reads every rendered page
of a run folder (the manifest says which page belongs to which partner), finds each tagged value
and compares its exact number with the exported table cell it names:

- on a partner's scorecard: ``kpis/kpis.parquet`` at (that partner, the run's period, window);
- on a network page, with ``data-partner``: the same, for that partner;
- on a network page without it: ``kpis/network.parquet`` at the run's period.

It also refuses a ``data-measure`` that the measure catalog does not declare. ``channel-analysis
audit`` runs it; the test suite runs it on every rendered page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from . import measures

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
            if measure not in measures.MEASURES:
                rows.append({**row, "problem": "not in the measure catalog"})
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
