"""Generates ``docs/data-model.md`` from the pandera models in :mod:`channel_analysis.schema`.

Everything table- and column-specific (purpose, type, required or optional, meaning, example, the
KPIs using a column, allowed values and ranges) comes from the models and their ``Field``
metadata, so the document cannot drift from the code: a test compares the committed file with
:func:`render`. Regenerate it with ``channel-analysis docs``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from . import validation
from .params import PROJECT_ROOT
from .schema import ACTIVITY_TABLES, TABLES

DEFAULT_PATH = PROJECT_ROOT / "docs" / "data-model.md"

_INTRO = """\
# Data model

<!-- Generated from channel_analysis/schema.py by `channel-analysis docs`; do not edit by hand. -->

The input a quarterly run reads: {n_tables} tables. Required: {required} (its `partner_id` and
`name`: what any CRM account list has) and at least one activity table among {activity}.
Everything else is optional: a KPI whose input is absent is reported as *not available* (empty,
never 0) and the run summary lists each skipped KPI with the missing input (the `needs` column
of the measure catalog in `docs/kpis.md`). Each table below lists its columns with their type, whether they are required, what
they mean, an example value and the KPIs that use them (KPIs are defined in `docs/kpis.md`).

## Sources

`data.source` in the run file (or `--data` on the command line) is one of

- a **folder** with one file per table, named after the table: `partners.csv` or
  `partners.parquet`. CSV files are UTF-8, comma-separated, with a header row of column names;
  dates are written `YYYY-MM-DD`, numbers with a dot as decimal separator and no thousands
  separator, true/false as `true`/`false`. An empty cell is a missing value;
- a **DuckDB** database file (`*.duckdb`) with one table per input table;
- a **SQLAlchemy URL** (`sqlite:///exports.db`, `postgresql+psycopg://user@host/db`) with one table
  per input table. The PostgreSQL driver is an extra: `pip install -e '.[postgres]'`; tables in
  another schema than the default one are named `schema.table` in `data.tables`, e.g.
  `{{partners: crm.partners, sales: erp.sales}}` (or `from: crm.partners` in a mapping).

`data.history_only: true` reads only the `sales` lines the statistics look at: from the first day
of the quarter 7 quarters before the `history_quarters` window ending at `period` (plus lines
without a date). In a database table whose `date` column has a date type the condition is the SQL
query's `WHERE`, so older lines never leave the server; files, queries, text dates and mapped
tables are filtered as read. A partner's first sale and the customers counted as new are then
found within that span only.

`data.tables` maps a table to another table (or file) name in the source, or to a SQL query, e.g.
`{{sales: "SELECT * FROM erp.invoice_lines WHERE invoice_date >= '2024-01-01'"}}`. In a folder, a
query runs in DuckDB over the folder's files, each available under its file name without extension.
It can also map an export's own column names, values, date formats and constants onto this model
without rewriting the files, and include ready mapping files for Salesforce, HubSpot and Dynamics
365: see [mappings.md](mappings.md).

Identifiers (every `*_id` column) are text: `007` stays `007`. Column names are case-sensitive;
columns that are not listed here are reported as warnings and ignored.

## Periods

Statistics are by quarter. A quarter is labelled by the fiscal year in which it ends and its number,
e.g. `2026Q3`; `fiscal_year_start_month` in the parameters sets the fiscal year (1 = calendar
quarters; with 10, October–December 2025 is `2026Q1`). Every run states its `as_of` date; nothing
reads the clock. Rows dated after `as_of` are ignored by the statistics.

## Currency

All money is reported in `reporting_currency` (parameters). Money columns of `sales`,
`opportunities` and `mdf` are in the row's `currency`; when that is empty, in the partner's
`currency` (sales, opportunities) or the reporting currency (mdf). `targets`, `potential` and
`program_costs` are in the reporting currency. Amounts in another currency are converted with
`fx_rates`: `rate` is the number of reporting-currency units per unit of `currency`, one row per
currency and quarter, applied by the quarter of the sale date (sales), the closed date or else the
created date (opportunities) and the `period` (mdf). Validation reports every currency and
quarter up to the reported `period` that has no rate; a later quarter without a rate (the quarter
in progress) uses the currency's latest rate.

## Optional tables

Only {required} and one of {activity} are required. When an optional table (or column) is
absent (or the table empty), the KPIs that need it are reported as not available; nothing else
changes. Derived instead of required: a partner without `onboarded_date` (column or value) is
taken as onboarded on its first activity (first sale, deal created or lead assigned), and the run
summary says for how many partners; without `partners.currency` every partner is in the reporting
currency; a peer grouping by a `partners` column the source lacks is skipped (the next grouping,
finally the whole network, is used). Tier criteria and segmentation weights on a KPI that is not
available are skipped, and the run summary lists each one.

{optional}

## Validation

`channel-analysis validate` (or `make validate`) checks every table at once and prints all
problems as a table (table, column, row, key, problem, how to fix; dates, ids and file names are
never cut, the first 10 rows of each kind of problem are shown), and `--report problems.csv` (or
`.parquet`) writes every problem; errors stop a run, warnings do not. A table file that cannot be
read (not UTF-8, not comma-separated, empty, a broken link, a folder named like a table's file, no
read permission) is an error naming the file, required table or not. Besides the column rules
below it checks across rows and tables:

{rules}
"""

_RULES = [
    "a required table or column is missing, or a required table is empty (error); an optional "
    "table is empty or a column is unknown (warning)",
    "values that are not of the column's type: numbers, whole numbers, dates (`YYYY-MM-DD`), "
    "true/false (error)",
    "duplicate identifiers, and duplicate rows where one row per key is expected (error)",
    "every `partner_id` must be in `partners`; `opportunity_stages.opportunity_id` and "
    "`leads.opportunity_id` must be in `opportunities` (error); `partners.parent_id` should be a "
    "partner (warning)",
    "dates in order: `closed_date` not before `created_date`, `accepted_date` not before "
    "`assigned_date`, `registered_date` not before the sale `date`, `end_date` not before "
    "`onboarded_date`, `expires_date` not before `completed_date` (error)",
    "`outcome` won or lost needs a `closed_date`; an open deal has none; `stage` is one of "
    "`pipeline.stages` or Won/Lost (error)",
    "`registered_units` at most `quantity` (error)",
    "negative amounts or counts (error); amounts above {max_amount:,.0f} (error); revenue per unit "
    "above {max_unit:,.0f} (warning)",
    "dates before {min_year} (error; partners' `onboarded_date`: before {min_onboarded}); dates "
    "more than a year after `as_of` (warning; not for `expected_close_date` and `expires_date`)",
    "valid dates outside what the project's dates hold ({first_date} to {last_date}) are an error "
    "asking to check the year, except a far-future `partners.end_date`, `trainings.expires_date` "
    "or `opportunities.expected_close_date` (2999-12-31, 9999-12-31: the usual \"no end\" "
    "placeholder), read as empty with a warning",
    "a currency other than the reporting currency without an `fx_rates` row for a quarter it is "
    "used in (error, naming the currency and quarters)",
    "an active partner without a contact receiving the scorecard (warning)",
    "a quarter of the history window without any sales line (warning, saying what the KPI table "
    "does: before the first quarter with sales the quarter is not measured and the KPIs reaching "
    "into it are not available; after it, it counts as a quarter without sales)",
    "markup such as `<script>` in names (warning: accepted as data and always shown as plain "
    "text, never interpreted)",
]

_TYPES = {
    "str": "text",
    "string": "text",
    "string[pyarrow]": "text",
    "float64": "number",
    "int64": "integer",
    "Int64": "integer",
    "bool": "true/false",
    "boolean": "true/false",
    "datetime64[ns]": "date",
}


def _type(dtype) -> str:
    return _TYPES.get(str(dtype), str(dtype))


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _rules(column) -> str:
    """Allowed values and ranges of a column, in words (from its pandera checks)."""
    out = []
    if column.unique:
        out.append("unique")
    for check in column.checks:
        stats = check.statistics or {}
        name = check.name
        if name == "isin":
            out.append("one of " + ", ".join(f"`{v}`" for v in stats.get("allowed_values", [])))
        elif name == "greater_than_or_equal_to":
            out.append(f"≥ {stats.get('min_value')}")
        elif name == "greater_than":
            out.append(f"> {stats.get('min_value')}")
        elif name == "less_than_or_equal_to":
            out.append(f"≤ {stats.get('max_value')}")
        elif name == "str_matches":
            out.append(f"matches `{stats.get('pattern')}`")
        elif name == "str_length":
            out.append("not empty" if stats.get("min_value") == 1 else f"length {stats}")
        else:
            out.append(name)
    return "; ".join(out)


#: What an optional table without KPI columns is for.
_NO_KPI_USE = {
    "partner_contacts": "report recipients (without it reports are rendered but not emailed)",
    "fx_rates": "currency conversion (needed only when some money is not in the reporting currency)",
}


def _table_kpis(model) -> list[str]:
    kpis: list[str] = []
    for column in model.to_schema().columns.values():
        for kpi in (column.metadata or {}).get("kpis", []):
            if kpi not in kpis:
                kpis.append(kpi)
    return kpis


def _table_section(name: str, model, required: bool) -> str:
    schema = model.to_schema()
    purpose = inspect.getdoc(model) or ""
    lines = [
        f"## `{name}`",
        "",
        f"**{'Required' if required else 'Optional'} table.** {purpose}",
        "",
        f"Row key in messages: {', '.join(f'`{c}`' for c in validation.KEYS.get(name, ()))}.",
        "",
        "| column | type | required | meaning | example | used by | rules |",
        "|---|---|---|---|---|---|---|",
    ]
    for col_name, column in schema.columns.items():
        meta = column.metadata or {}
        if column.required and not column.nullable:
            need = "required"
        elif column.required:
            need = "required, may be empty"
        elif column.nullable:
            need = "optional"
        else:
            need = "optional; not empty when given"
        kpis = ", ".join(meta.get("kpis", []))
        lines.append(
            f"| `{col_name}` | {_type(column.dtype)} | {need} | {_cell(column.description)} | "
            f"`{_cell(meta.get('example', ''))}` | {_cell(kpis)} | {_cell(_rules(column))} |"
        )
    for check in schema.checks:
        lines += ["", f"Table rule: {check.description or check.name}."]
    return "\n".join(lines)


def render() -> str:
    """The Markdown text of ``docs/data-model.md``: an introduction (sources, periods, currency,
    optional tables, validation) and one section per table with a row per column."""
    required = [name for name, (_, req) in TABLES.items() if req]
    optional_lines = []
    for name, (model, req) in TABLES.items():
        if not req:
            kpis = ", ".join(_table_kpis(model)) or _NO_KPI_USE.get(name, "none")
            optional_lines.append(f"- `{name}`: {kpis}")
    rules = [
        rule.format(max_amount=validation.MAX_AMOUNT, max_unit=validation.MAX_UNIT_REVENUE,
                    min_year=validation.MIN_DATE.year, min_onboarded=validation.MIN_ONBOARDED_DATE.year,
                    first_date=f"{validation.FIRST_DATE:%Y-%m-%d}", last_date=f"{validation.LAST_DATE:%Y-%m-%d}")
        for rule in _RULES
    ]
    intro = _INTRO.format(
        n_tables=len(TABLES),
        n_required=len(required),
        required=" and ".join(f"`{n}`" for n in required),
        activity=", ".join(f"`{n}`" for n in ACTIVITY_TABLES),
        optional="\n".join(optional_lines),
        rules="\n".join(f"- {r}" for r in rules),
    )
    sections = [_table_section(name, model, req) for name, (model, req) in TABLES.items()]
    return intro + "\n" + "\n\n".join(sections) + "\n"


def write(path: str | Path = DEFAULT_PATH) -> Path:
    """Write :func:`render` to ``path`` (default ``docs/data-model.md``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8", newline="\n")
    return path
