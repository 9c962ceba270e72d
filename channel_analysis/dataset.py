"""The validated tables one run works on.

A :class:`Dataset` holds one typed frame per input table of :mod:`channel_analysis.schema`
(``None`` for an optional table the source does not have), with every money column already in the
reporting currency. Statistics take a Dataset (or single frames from it) and never modify it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

import pandas as pd

from .schema import TABLES


@dataclass(frozen=True)
class Dataset:
    """Validated input tables plus the run's time frame.

    ``as_of`` is the date the run describes; ``period`` the quarter reported (``"2026Q3"``);
    ``fy_start`` the first month of the fiscal year.
    """

    partners: pd.DataFrame
    sales: pd.DataFrame
    as_of: dt.date
    period: str
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
    notes: tuple[str, ...] = field(default=())

    def has(self, table: str) -> bool:
        """True if the optional ``table`` was provided (KPIs that need it are otherwise unavailable)."""
        return getattr(self, table) is not None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The provided tables by name."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def summary(self) -> str:
        lines = [f"Dataset as of {self.as_of}, period {self.period}, money in {self.reporting_currency}"]
        for f in fields(self):
            if f.name in TABLES:
                frame = getattr(self, f.name)
                lines.append(f"  {f.name:<20} {'—' if frame is None else f'{len(frame):>10,} rows'}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # a readable repr in notebooks
        return self.summary()
