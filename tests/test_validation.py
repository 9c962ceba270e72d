"""One test per validation rule: a failing input and the message it produces."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_analysis import sample, validation
from channel_analysis.errors import DataSourceError
from channel_analysis.io.sources import read_tables, write_tables
from channel_analysis.schema import TABLES
from conftest import tiny_raw


def check(raw, params):
    return validation.validate_tables(raw, params)


def only(report, table, column=None, severity="error"):
    """The problems of one table (and column) and severity."""
    p = report.problems
    p = p[(p["table"] == table) & (p["severity"] == severity)]
    if column is not None:
        p = p[p["column"] == column]
    return p


# --- the valid fixture and typed output ----------------------------------------------------------

def test_tiny_fixture_has_no_problem_at_all(raw, params):
    report = check(raw, params)
    assert report.ok
    assert report.problems.empty, report.format()
    assert set(report.tables) == set(TABLES)


def test_tables_are_typed_in_schema_order_and_ids_stay_text(raw, params):
    tables = check(raw, params).tables
    sales = tables["sales"]
    assert list(sales.columns) == list(TABLES["sales"][0].to_schema().columns)
    assert pd.api.types.is_datetime64_any_dtype(sales["date"])
    assert sales["quantity"].dtype == "int64"
    assert sales["revenue"].dtype == "float64"
    assert tables["partners"]["partner_id"].tolist() == ["P001", "P002", "007"]  # leading zeros
    assert tables["partners"]["sales_reps"].dtype == "Int64"
    assert tables["partner_contacts"]["receives_scorecard"].dtype == bool
    assert tables["trainings"]["certification"].tolist() == [True, False]


def test_absent_optional_columns_stay_absent(raw, params):
    # a column in a typed frame means the source provided it: the KPIs of an absent one are
    # "not available", never computed from an invented empty column (gross margin $0)
    raw["sales"] = raw["sales"].drop(columns=["cost", "registered_date", "currency"])
    report = check(raw, params)
    assert report.ok, report.format()
    assert not {"cost", "registered_date", "currency"} & set(report.tables["sales"].columns)


def test_a_provided_column_empty_in_some_rows_is_kept(raw, params):
    report = check(raw, params)  # tiny_raw: sales.cost is empty on one line
    assert report.ok, report.format()
    assert report.tables["sales"]["cost"].isna().sum() == 1


def test_validation_does_not_modify_the_input(raw, params):
    before = {name: frame.copy() for name, frame in raw.items()}
    check(raw, params)
    for name, frame in raw.items():
        pd.testing.assert_frame_equal(frame, before[name])


# --- tables and columns --------------------------------------------------------------------------

def test_missing_required_table(raw, params):
    del raw["partners"]
    problems = only(check(raw, params), "partners")
    assert problems["problem"].tolist() == ["required table partners is missing"]
    assert "partners.csv" in problems["fix"].iloc[0]


@pytest.mark.parametrize("kept", ["sales", "opportunities", "leads"])
def test_one_activity_table_is_enough(raw, params, kept):
    # the minimum is what a CRM has: partners and one of sales, opportunities, leads
    activity = {"sales", "opportunities", "leads"}
    for name in activity - {kept}:
        del raw[name]
    if kept != "opportunities":
        del raw["opportunity_stages"]
    if kept == "leads":
        raw["leads"] = raw["leads"].drop(columns=["opportunity_id"])
    report = check(raw, params)
    assert report.ok, report.format()
    assert set(report.tables) & activity == {kept}


def test_no_activity_table_is_an_error_naming_the_three(raw, params):
    for name in ("sales", "opportunities", "opportunity_stages", "leads"):
        del raw[name]
    errors = check(raw, params).errors
    assert len(errors) == 1
    text = errors["problem"].iloc[0] + " " + errors["fix"].iloc[0]
    assert all(name in text for name in ("sales", "opportunities", "leads"))


def test_partners_need_only_id_and_name(raw, params):
    raw["partners"] = raw["partners"][["partner_id", "name"]]
    raw["sales"] = raw["sales"].drop(columns=["currency"])  # (P002's PLN came from partners.currency)
    report = check(raw, params)
    assert report.ok, report.format()
    assert list(report.tables["partners"].columns) == ["partner_id", "name"]


def test_sales_without_customer_registration_channel_category_product(raw, params):
    dropped = ["customer_id", "registered_units", "registered_date", "channel", "category", "product_id"]
    raw["sales"] = raw["sales"].drop(columns=dropped)
    report = check(raw, params)
    assert report.ok, report.format()
    assert not set(dropped) & set(report.tables["sales"].columns)


def test_deal_amount_may_be_empty_for_open_and_lost_deals_not_won_ones(raw, params):
    raw["opportunities"]["amount"] = [None, None, None]  # won, open, lost
    errors = check(raw, params).errors
    assert errors[["table", "column", "key", "problem"]].values.tolist() == [
        ["opportunities", "amount", "O1", "won deal without amount"]]
    raw["opportunities"]["amount"] = ["48000", None, None]
    assert check(raw, params).ok


def test_won_deals_without_an_amount_column_are_an_error(raw, params):
    raw["opportunities"] = raw["opportunities"].drop(columns=["amount"])
    errors = check(raw, params).errors
    assert errors["column"].tolist() == ["amount"]
    assert "1 won deals but no amount column" in errors["problem"].iloc[0]


def test_a_lead_may_have_no_partner(raw, params):
    raw["leads"]["partner_id"] = ["P001", None]
    report = check(raw, params)
    assert report.ok, report.format()
    assert report.tables["leads"]["partner_id"].isna().sum() == 1


def test_missing_optional_table_is_fine(raw, params):
    del raw["surveys"]
    report = check(raw, params)
    assert report.ok and report.problems.empty
    assert "surveys" not in report.tables


def test_empty_required_table_is_an_error(raw, params):
    raw["partners"] = raw["partners"].iloc[0:0]
    problems = only(check(raw, params), "partners")
    assert "required table partners is empty" in problems["problem"].tolist()


def test_empty_optional_table_is_a_warning(raw, params):
    raw["surveys"] = raw["surveys"].iloc[0:0]
    report = check(raw, params)
    assert report.ok
    assert only(report, "surveys", severity="warning")["problem"].tolist() == ["table surveys is empty"]


def test_missing_required_column(raw, params):
    raw["sales"] = raw["sales"].drop(columns=["revenue"])
    problems = only(check(raw, params), "sales", "revenue")
    assert problems["problem"].tolist() == ["required column 'revenue' is missing"]


def test_extra_column_is_a_warning_and_dropped(raw, params):
    raw["sales"]["Revenue_EUR"] = "1"
    report = check(raw, params)
    assert report.ok
    warning = only(report, "sales", "Revenue_EUR", "warning")
    assert warning["problem"].iloc[0] == "column 'Revenue_EUR' is not in the data model; it is ignored"
    assert "Revenue_EUR" not in report.tables["sales"].columns


# --- types ---------------------------------------------------------------------------------------

def test_wrong_type_number(raw, params):
    raw["sales"].loc[1, "revenue"] = "1.250,00"
    problems = only(check(raw, params), "sales", "revenue")
    assert problems["problem"].tolist() == ["not a number: '1.250,00'"]
    assert problems["key"].tolist() == ["S2"]
    assert problems["row"].tolist() == [2]  # index 1 → 2nd row (first_row 1 without a CSV header)
    assert "dot as decimal separator" in problems["fix"].iloc[0]


def test_wrong_type_whole_number(raw, params):
    raw["sales"].loc[0, "quantity"] = "2.5"
    problems = only(check(raw, params), "sales", "quantity")
    assert problems["problem"].tolist() == ["not a whole number: '2.5'"]  # not also "missing value"


def test_wrong_type_boolean(raw, params):
    raw["partner_contacts"].loc[2, "receives_scorecard"] = "maybe"
    problems = only(check(raw, params), "partner_contacts", "receives_scorecard")
    assert problems["problem"].tolist() == ["not true/false: 'maybe'"]
    assert problems["key"].tolist() == ["007 / james@bond.example"]


def test_unparseable_date(raw, params):
    raw["opportunities"].loc[2, "created_date"] = "14/08/2026"
    problems = only(check(raw, params), "opportunities", "created_date")
    assert problems["problem"].tolist() == ["unparseable date '14/08/2026'"]
    assert problems["key"].tolist() == ["O3"]
    assert "YYYY-MM-DD" in problems["fix"].iloc[0]


def test_missing_required_value(raw, params):
    raw["sales"].loc[3, "customer_id"] = None
    problems = only(check(raw, params), "sales", "customer_id")
    assert problems["problem"].tolist() == ["missing value"]
    assert problems["key"].tolist() == ["S4"]


def test_value_not_allowed(raw, params):
    raw["partners"].loc[0, "partner_type"] = "Reseller"
    problems = only(check(raw, params), "partners", "partner_type")
    assert problems["problem"].tolist() == ["'Reseller' is not an allowed value"]
    assert "distributor, reseller" in problems["fix"].iloc[0]


def test_wrong_format_country(raw, params):
    raw["partners"].loc[1, "country"] = "Poland"
    problems = only(check(raw, params), "partners", "country")
    assert problems["problem"].tolist() == ["'Poland' is not an ISO 3166-1 alpha-2 country code"]


def test_wrong_quarter_label(raw, params):
    raw["targets"].loc[0, "period"] = "Q3 2026"
    problems = only(check(raw, params), "targets", "period")
    assert problems["problem"].tolist() == ["'Q3 2026' is not a quarter label"]


# --- amounts and dates that cannot be right ------------------------------------------------------

def test_negative_amount(raw, params):
    raw["sales"].loc[2, "revenue"] = "-100"
    problems = only(check(raw, params), "sales", "revenue")
    assert problems["problem"].tolist() == ["negative value '-100.0'"]
    assert problems["key"].tolist() == ["S3"]


def test_negative_value_after_a_missing_one_names_the_right_row(raw, params):
    raw["sales"].loc[0, "cost"] = None
    raw["sales"].loc[1, "cost"] = "-3"
    problems = only(check(raw, params), "sales", "cost")
    assert problems["key"].tolist() == ["S2"] and problems["row"].tolist() == [2]


def test_out_of_range_score(raw, params):
    raw["surveys"].loc[0, "csat"] = "7"
    problems = only(check(raw, params), "surveys", "csat")
    assert problems["problem"].tolist() == ["value '7.0' is above 5"]


def test_absurd_amount(raw, params):
    raw["opportunities"].loc[0, "amount"] = "5e12"
    problems = only(check(raw, params), "opportunities", "amount")
    assert problems["problem"].tolist() == ["absurd amount 5,000,000,000,000"]


def test_absurd_revenue_per_unit_is_a_warning(raw, params):
    raw["sales"].loc[0, "revenue"] = "60000000"  # 60,000,000 / 3 units = 20,000,000 per unit
    report = check(raw, params)
    assert report.ok
    problems = only(report, "sales", "revenue", "warning")
    assert problems["problem"].tolist() == ["revenue per unit 20,000,000 is implausibly high"]


def test_date_before_1990(raw, params):
    raw["sales"].loc[0, "date"] = "1900-01-01"
    problems = only(check(raw, params), "sales", "date")
    assert problems["problem"].tolist() == ["date 1900-01-01 is before 1990"]


def test_date_far_after_as_of_is_a_warning(raw, params):
    raw["surveys"].loc[1, "date"] = "2062-09-02"
    problems = only(check(raw, params), "surveys", "date", "warning")
    assert problems["problem"].tolist() == ["date 2062-09-02 is more than a year after as_of 2026-10-05"]


# --- ids and references --------------------------------------------------------------------------

def test_duplicate_ids(raw, params):
    raw["sales"].loc[3, "line_id"] = "S1"
    problems = only(check(raw, params), "sales", "line_id")
    assert problems["problem"].tolist() == ["duplicate line_id 'S1'"] * 2
    assert problems["row"].tolist() == [1, 4]


def test_duplicate_key_rows(raw, params):
    raw["targets"].loc[1, "metric"] = "revenue"  # P001 2026Q3 revenue twice
    problems = only(check(raw, params), "targets")
    assert problems["problem"].tolist() == ["duplicate row: one target per partner, period and metric"] * 2
    assert problems["key"].tolist() == ["P001 / 2026Q3 / revenue"] * 2


TABLES_WITH_PARTNER = [name for name, (model, _) in TABLES.items()
                       if name != "partners" and "partner_id" in model.to_schema().columns]


@pytest.mark.parametrize("table", TABLES_WITH_PARTNER)
def test_unknown_partner(raw, params, table):
    raw[table].loc[0, "partner_id"] = "P999"
    problems = only(check(raw, params), table, "partner_id")
    assert problems["problem"].tolist() == ["unknown partner 'P999'"]
    assert problems["row"].tolist() == [1]
    assert "add the partner to partners" in problems["fix"].iloc[0]


def test_partner_ids_are_case_and_zero_sensitive(raw, params):
    raw["sales"].loc[3, "partner_id"] = "7"  # partner "007" exists, "7" does not
    problems = only(check(raw, params), "sales", "partner_id")
    assert problems["problem"].tolist() == ["unknown partner '7'"]


def test_unknown_parent_is_a_warning(raw, params):
    raw["partners"].loc[2, "parent_id"] = "P404"
    report = check(raw, params)
    assert report.ok
    assert only(report, "partners", "parent_id", "warning")["problem"].tolist() == [
        "unknown parent partner 'P404'"]


@pytest.mark.parametrize("table", ["opportunity_stages", "leads"])
def test_unknown_opportunity(raw, params, table):
    raw[table].loc[0, "opportunity_id"] = "O404"
    problems = only(check(raw, params), table, "opportunity_id")
    assert problems["problem"].tolist() == ["unknown opportunity 'O404'"]


# --- consistency within rows ---------------------------------------------------------------------

def test_closed_before_created(raw, params):
    raw["opportunities"].loc[0, "closed_date"] = "2026-03-01"
    problems = only(check(raw, params), "opportunities", "closed_date")
    assert problems["problem"].tolist() == [
        "closed before created: closed_date 2026-03-01 < created_date 2026-04-02"]
    assert problems["key"].tolist() == ["O1"]


def test_won_without_closed_date(raw, params):
    raw["opportunities"].loc[0, "closed_date"] = None
    problems = only(check(raw, params), "opportunities", "closed_date")
    assert problems["problem"].tolist() == ["outcome 'won' but no closed_date"]


def test_open_with_closed_date(raw, params):
    raw["opportunities"].loc[1, "closed_date"] = "2026-09-01"
    problems = only(check(raw, params), "opportunities", "closed_date")
    assert problems["problem"].tolist() == ["outcome 'open' but closed_date 2026-09-01"]
    assert problems["key"].tolist() == ["O2"]


def test_unknown_stage(raw, params):
    raw["opportunities"].loc[1, "stage"] = "Pitch"
    problems = only(check(raw, params), "opportunities", "stage")
    assert problems["problem"].tolist() == ["unknown stage 'Pitch'"]
    assert "Qualify, Develop, Propose, Negotiate" in problems["fix"].iloc[0]


def test_accepted_before_assigned(raw, params):
    raw["leads"].loc[0, "accepted_date"] = "2026-03-01"
    problems = only(check(raw, params), "leads", "accepted_date")
    assert problems["problem"].tolist() == [
        "accepted before assigned: accepted_date 2026-03-01 < assigned_date 2026-03-25"]
    assert problems["key"].tolist() == ["L1"]


def test_registered_units_above_quantity(raw, params):
    raw["sales"].loc[1, "registered_units"] = "3"
    problems = only(check(raw, params), "sales", "registered_units")
    assert problems["problem"].tolist() == ["registered_units 3 > quantity 2"]
    assert problems["key"].tolist() == ["S2"]


def test_registered_before_sold(raw, params):
    raw["sales"].loc[0, "registered_date"] = "2026-05-01"
    problems = only(check(raw, params), "sales", "registered_date")
    assert problems["problem"].tolist() == [
        "registered before it was sold: registered_date 2026-05-01 < date 2026-05-10"]


def test_partner_ends_before_it_started(raw, params):
    raw["partners"].loc[1, "end_date"] = "2023-12-31"
    problems = only(check(raw, params), "partners", "end_date")
    assert problems["problem"].tolist() == [
        "ends before it started: end_date 2023-12-31 < onboarded_date 2024-01-10"]


def test_invalid_email(raw, params):
    raw["partner_contacts"].loc[1, "email"] = "jan at wisla.example"
    problems = only(check(raw, params), "partner_contacts", "email")
    assert problems["problem"].tolist() == ["invalid email address 'jan at wisla.example'"]
    assert problems["key"].tolist() == ["P002 / jan at wisla.example"]


# --- currency ------------------------------------------------------------------------------------

def test_currency_without_fx_rate(raw, params):
    raw["sales"].loc[1, "currency"] = "USD"  # S2 dated 2026-08-14 → 2026Q3
    problems = only(check(raw, params), "sales", "currency")
    assert problems["problem"].tolist() == ["currency USD has no fx_rates row for 2026Q3"]
    assert "fx_rates rows (currency USD" in problems["fix"].iloc[0]


def test_partner_currency_without_fx_rate_names_all_periods(raw, params):
    raw["fx_rates"] = raw["fx_rates"].iloc[0:0]  # P002 reports in PLN: sales in 2026Q3 only
    report = check(raw, params)
    assert only(report, "sales", "currency")["problem"].tolist() == [
        "currency PLN has no fx_rates row for 2026Q3"]
    # O2 (P002, open, created 2026-05-01) and M2 (PLN, 2026Q2)
    assert only(report, "opportunities", "currency")["problem"].tolist() == [
        "currency PLN has no fx_rates row for 2026Q2"]
    assert only(report, "mdf", "currency")["problem"].tolist() == [
        "currency PLN has no fx_rates row for 2026Q2"]


def test_quarters_after_the_reported_period_need_no_rate(raw, params):
    raw["sales"].loc[1, "date"] = "2026-10-02"  # 2026Q4, after the reported 2026Q3: latest rate
    report = check(raw, params)
    assert only(report, "sales", "currency").empty


# --- soft rules ----------------------------------------------------------------------------------

def test_partner_without_recipient(raw, params):
    raw["partner_contacts"].loc[1, "receives_scorecard"] = "false"
    report = check(raw, params)
    assert report.ok
    problems = only(report, "partners", "partner_id", "warning")
    assert problems["problem"].tolist() == ["no contact receives the scorecard"]
    assert problems["key"].tolist() == ["P002"]


def test_ended_partner_needs_no_recipient(raw, params):
    raw["partner_contacts"] = raw["partner_contacts"].iloc[[0, 2]]
    raw["partners"].loc[1, "end_date"] = "2026-06-30"
    report = check(raw, params)
    assert only(report, "partners", severity="warning").empty


def test_quarter_without_sales(raw, params):
    raw["sales"] = raw["sales"].iloc[1:]  # drop the only 2026Q2 line
    report = check(raw, params)
    assert report.ok
    assert only(report, "sales", "date", "warning")["problem"].tolist() == [
        "no sales lines in 2026Q2 (within the 2-quarter history ending 2026Q3): it is before the "
        "first quarter with sales, so it is not measured: sales KPIs whose window reaches back into "
        "it (e.g. the trailing four quarters, growth on the year before) are reported as not available"]


def test_a_gap_quarter_without_sales_says_it_counts_as_no_sale(raw, params):
    params = {**params, "history_quarters": 3}
    raw["sales"].loc[0, "date"] = "2026-01-15"  # the only 2026Q2 line moves to 2026Q1
    report = check(raw, params)
    problem = only(report, "sales", "date", "warning")["problem"].tolist()
    assert problem == [
        "no sales lines in 2026Q2 (within the 3-quarter history ending 2026Q3): it comes after the "
        "first quarter with sales, so it counts as a quarter without any sale for every partner "
        "(revenue 0: partners can look inactive or declining)"]


def test_markup_in_names_is_accepted_as_text(raw, params):
    raw["partners"].loc[0, "name"] = "<script>alert('x')</script> GmbH"
    report = check(raw, params)
    assert report.ok
    warning = only(report, "partners", "name", "warning")
    assert warning["problem"].iloc[0].startswith("contains markup '<script>")
    assert "never interpreted" in warning["fix"].iloc[0]
    assert report.tables["partners"]["name"].iloc[0] == "<script>alert('x')</script> GmbH"


# --- the report ----------------------------------------------------------------------------------

def test_csv_rows_are_file_line_numbers(raw, params):
    raw["sales"].loc[2, "revenue"] = "abc"
    raw["sales"].attrs = {"file": "sales.csv", "first_row": 2}  # header on line 1
    problems = only(check(raw, params), "sales", "revenue")
    assert problems["row"].tolist() == [4]  # index 2 → line 4


def test_format_groups_by_table_errors_first_and_caps_each_rule(raw, params):
    sales = pd.concat([raw["sales"]] * 4, ignore_index=True)
    sales["line_id"] = [f"S{i}" for i in range(len(sales))]
    sales["partner_id"] = "P999"  # 16 unknown partners
    raw["sales"] = sales
    raw["partners"].loc[0, "name"] = "<b>Nordlicht</b>"  # a warning in partners
    report = check(raw, params)
    text = report.format(rows_per_rule=10)
    assert "… and 6 more rows like this" in text
    assert text.index("== partners") < text.index("== sales")
    partners_part = text[text.index("== partners"):text.index("== sales")]
    assert "contains markup" in partners_part
    assert text.count("unknown partner 'P999'") == 10
    assert text.splitlines()[0].startswith("FAILED: 16 errors, 1 warning")


def test_format_puts_errors_before_warnings(raw, params):
    raw["sales"]["extra"] = "x"  # warning
    raw["sales"].loc[0, "revenue"] = "-1"  # error
    text = check(raw, params).format()
    assert text.index("negative value") < text.index("column 'extra'")


def test_summary_counts(raw, params):
    raw["sales"].loc[0, "revenue"] = "-1"
    summary = check(raw, params).summary()
    assert summary.splitlines()[0] == "FAILED: 1 error, 0 warnings"
    assert "sales" in summary


def test_problems_table_columns(raw, params):
    report = check(raw, params)
    assert list(report.problems.columns) == validation.PROBLEM_COLUMNS


# --- reading from a source -----------------------------------------------------------------------

def test_validate_source_reports_an_unreadable_file_and_checks_the_rest(raw, params, tmp_path):
    folder = tmp_path / "data"
    write_tables(raw, folder, "csv")
    (folder / "surveys.csv").write_bytes("response_id,partner_id\nR1,Müller\n".encode("latin-1"))
    report = validation.validate_source({**params, "data": {"source": str(folder), "tables": {}}},
                                        progress=False)
    problems = only(report, "surveys")
    assert len(problems) == 1 and "surveys.csv is not UTF-8 text (line 2)" in problems["problem"].iloc[0]
    assert set(report.problems["table"]) == {"surveys"}
    assert report.files["sales"] == "sales.csv"


def test_validate_source_without_source(params):
    with pytest.raises(DataSourceError, match="not found"):
        validation.validate_source({**params, "data": {"source": "/nonexistent/folder", "tables": {}}},
                                   progress=False)


def test_cli_validate_prints_every_problem_and_exits_2(raw, tmp_path, capsys):
    from channel_analysis import cli

    raw["sales"].loc[0, "revenue"] = "-5"
    raw["partners"].loc[1, "country"] = "pl"
    write_tables(raw, tmp_path / "x", "csv")
    code = cli.main(["validate", "--params", str(cli.SAMPLE_RUN_FILE), "--data", str(tmp_path / "x"), "--as-of", "2026-10-05",
                     "--set", "history_quarters=2"])
    out = capsys.readouterr().out
    assert code == 2
    assert "negative value '-5.0'" in out and "'pl' is not an ISO 3166-1" in out
    assert "sales.csv" in out
    assert "Traceback" not in out


# --- no traceback for any input ------------------------------------------------------------------

text_values = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["", "NaN", "-1", "1e400", "2026-13-45", "true", "<script>", "P001", "0", "9" * 30]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(list(TABLES)), values=st.lists(text_values, min_size=1, max_size=3),
       column_index=st.integers(min_value=0, max_value=20))
def test_any_text_in_any_column_gives_a_report_not_a_traceback(params, table, values, column_index):
    raw = tiny_raw()
    frame = raw[table]
    column = frame.columns[column_index % len(frame.columns)]
    frame = frame.iloc[: len(values)].copy()
    frame[column] = values[: len(frame)] + [None] * (len(frame) - len(values))
    raw[table] = frame
    report = validation.validate_tables(raw, params)
    assert isinstance(report.format(), str)


# --- dates beyond what datetime64[ns] holds ------------------------------------------------------

def test_a_valid_date_in_2999_is_not_called_unparseable(raw, params):
    raw["sales"].loc[0, "date"] = "2999-01-01"
    raw["sales"].loc[1, "date"] = "1066-10-14"
    problems = only(check(raw, params), "sales", "date")
    assert problems["problem"].tolist() == [
        "date 2999-01-01 is beyond 2262-04-11, the latest date supported; check the year",
        "date 1066-10-14 is before 1677-09-22, the earliest date supported; check the year"]
    assert problems["key"].tolist() == ["S1", "S2"]
    assert not problems["problem"].str.contains("unparseable").any()


@pytest.mark.parametrize("table, column, row", [("partners", "end_date", 1), ("trainings", "expires_date", 0),
                                                 ("opportunities", "expected_close_date", 2)])
@pytest.mark.parametrize("placeholder", ["9999-12-31", "2999-12-31", "2999-12-31 00:00:00"])
def test_a_far_future_end_date_means_no_end(raw, params, table, column, row, placeholder):
    if column not in raw[table]:
        raw[table][column] = None
    raw[table][column] = raw[table][column].astype(object)
    raw[table].loc[row, column] = placeholder
    report = check(raw, params)
    assert report.ok, report.format()
    warning = only(report, table, column, "warning")
    assert warning["problem"].tolist() == [
        f"date {placeholder[:10]} read as no end (empty): it is beyond 2262-04-11, the latest date supported"]
    assert "'no end'" in warning["fix"].iloc[0]
    assert pd.isna(report.tables[table].loc[row, column])


def test_a_far_future_date_from_parquet_is_reported_too(raw, params, tmp_path):
    raw["sales"]["date"] = pd.to_datetime(raw["sales"]["date"]).astype("datetime64[us]")
    raw["sales"].loc[2, "date"] = pd.Timestamp("2999-06-30").as_unit("us")
    write_tables(raw, tmp_path, "parquet")
    params["data"]["source"] = str(tmp_path)
    problems = only(validation.validate_source(params, progress=False), "sales", "date")
    assert problems["problem"].tolist() == [
        "date 2999-06-30 is beyond 2262-04-11, the latest date supported; check the year"]


# --- the terminal table and the full report ------------------------------------------------------

def _many_leads_accepted_early(raw, n=14):
    leads = pd.concat([raw["leads"]] * (n // len(raw["leads"]) + 1), ignore_index=True).head(n)
    leads["lead_id"] = [f"LEAD-2018-{i:010d}-EMEA-NORTH" for i in range(n)]
    leads["accepted_date"], leads["assigned_date"] = "2018-03-06", "2018-04-01"
    raw["leads"] = leads
    return raw


def test_the_terminal_table_never_cuts_dates_or_ids(raw, params):
    report = check(_many_leads_accepted_early(raw), params)
    text = report.format(rows_per_rule=10)
    assert "…" not in text.replace("… and 4 more rows like this", "")
    words = text.split()
    for i in range(10):
        assert f"LEAD-2018-{i:010d}-EMEA-NORTH" in words
    assert words.count("2018-03-06") == 10 and words.count("2018-04-01") == 10
    assert "fix: correct accepted_date or assigned_date" in text
    assert text.rstrip().splitlines()[-1].startswith("4 problem rows not shown above: ")
    assert "--report problems.csv" in text.rstrip().splitlines()[-1]


def test_no_hint_when_every_row_is_shown(raw, params):
    text = check(_many_leads_accepted_early(raw, n=3), params).format()
    assert "--report" not in text and "more rows like this" not in text


def test_file_level_errors_are_printed_whole(raw, params):
    message = ("/exports/2026Q3/from-the-erp/monthly/partners_and_resellers/surveys.csv is separated "
               "by semicolons, not commas (header: 'response_id;partner_id;date;score;comment'). Export "
               "it as comma-separated CSV (UTF-8), or save it as Parquet")
    del raw["surveys"]
    report = validation.validate_tables(raw, params, read_errors={"surveys": message})
    text = report.format()
    assert "…" not in text
    assert " ".join(text.split()).count(" ".join(message.split())) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_report_file_holds_every_problem_untruncated(raw, params, tmp_path, suffix):
    report = check(_many_leads_accepted_early(raw, n=40), params)
    path = report.write(tmp_path / f"out/problems{suffix}")
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(back) == len(report.problems) == 40
    assert list(back.columns) == validation.PROBLEM_COLUMNS
    expect = report.problems.astype(object).where(report.problems.notna(), "").astype(str)
    got = back.astype(object).where(back.notna(), "").astype(str)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expect.reset_index(drop=True))


def test_release_validates_the_same_and_frees_the_raw_tables(tmp_path, params):
    """``release`` (what validate_source uses) takes the raw frames out and drops their columns as
    they are converted: same typed tables and problems as without it, raw dict left empty."""
    write_tables(sample.generate(partners=15, quarters=4, seed=3), tmp_path / "data")
    raw = read_tables(tmp_path / "data")
    sales = raw["sales"].copy()
    sales.loc[3, "line_id"] = sales.loc[7, "line_id"]  # a duplicate key (named in later problems)
    sales["quantity"] = sales["quantity"].astype(str).astype(object)
    sales.loc[5, "quantity"] = "lots"  # an unconvertible value
    raw["sales"] = sales
    kept = validation.validate_tables({k: v.copy() for k, v in raw.items()}, params)
    owned = {k: v.copy() for k, v in raw.items()}
    released = validation.validate_tables(owned, params, release=True)
    assert owned == {}
    assert set(released.tables) == set(kept.tables)
    for name, frame in kept.tables.items():
        pd.testing.assert_frame_equal(released.tables[name], frame)
    pd.testing.assert_frame_equal(released.problems, kept.problems)
    dup = only(released, "sales", "line_id")
    assert dup["row"].tolist() == [3 + 1, 7 + 1] and "lots" in only(released, "sales", "quantity")["problem"].iloc[0]


@pytest.mark.parametrize("dtype", ["str", object, "int64"])
def test_duplicated_is_pandas_keep_false_without_missing_values(dtype):
    values = ["a", "b", None, "a", "c", None, "b", "d"] if dtype != "int64" else [1, 2, 3, 1, 4, 5, 2, 6]
    chunked = pd.concat([pd.Series(values[:3], dtype=dtype), pd.Series(values[3:], dtype=dtype)],
                        ignore_index=True)  # an Arrow column of two chunks
    for s in (pd.Series(values, dtype=dtype), chunked):
        got = validation._duplicated(s)
        assert got.tolist() == (s.duplicated(keep=False) & s.notna()).tolist()
        assert got.tolist() == [True, True, False, True, False, False, True, False]
