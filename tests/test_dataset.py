"""load_dataset: read, validate, convert money to the reporting currency."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from channel_analysis import validation
from channel_analysis.dataset import Dataset, convert_money, load_dataset
from channel_analysis.errors import DataSourceError, DataValidationError
from channel_analysis.io.sources import write_tables


def load(raw, params, fmt="parquet", **kwargs) -> Dataset:
    write_tables(raw, params["data"]["source"], fmt)
    return load_dataset(params, progress=False, **kwargs)


def test_dataset_carries_the_run_frame(raw, params):
    ds = load(raw, params)
    assert ds.as_of == dt.date(2026, 10, 5)
    assert ds.period == "2026Q3" and ds.fy_start == 1 and ds.reporting_currency == "EUR"
    assert len(ds.partners) == 3 and len(ds.sales) == 4
    assert ds.partners["partner_id"].tolist() == ["P001", "P002", "007"]


def test_sales_converted_by_line_or_partner_currency_and_quarter(raw, params):
    sales = load(raw, params).sales.set_index("line_id")
    # S1: P001 reports in EUR → unchanged. S2: P002 reports in PLN (currency empty), 2026-08-14 is
    # 2026Q3, rate 0.2 → 400 * 0.2 = 80, cost 300 * 0.2 = 60. S3: P002 but the line says EUR → 100.
    assert sales["revenue"].to_dict() == {"S1": 1000.0, "S2": 80.0, "S3": 100.0, "S4": 500.0}
    assert sales.loc["S2", "cost"] == pytest.approx(60.0)
    assert (sales["currency"] == "EUR").all()


def test_opportunities_converted_by_closed_or_created_quarter(raw, params):
    opps = load(raw, params).opportunities.set_index("opportunity_id")
    # O2: P002 (PLN), open, created 2026-05-01 → 2026Q2 rate 0.25: 10000 * 0.25 = 2500
    assert opps["amount"].to_dict() == {"O1": 48000.0, "O2": 2500.0, "O3": 2000.0}
    assert (opps["currency"] == "EUR").all()


def test_mdf_converted_by_its_currency_and_period(raw, params):
    mdf = load(raw, params).mdf.set_index("activity_id")
    # M1: currency empty → already EUR. M2: PLN in 2026Q2, rate 0.25: 4000 → 1000, 3000 → 750, 1000 → 250
    assert mdf.loc["M1", ["allocated", "claimed"]].tolist() == [10000.0, 7600.0]
    assert mdf.loc["M2", ["allocated", "requested", "approved", "claimed"]].tolist() == [1000.0, 1000.0, 750.0, 250.0]
    assert pd.isna(mdf.loc["M2", "attributed_revenue"])
    assert (mdf["currency"] == "EUR").all()


def test_quarter_after_the_last_rate_uses_the_latest_rate(raw, params):
    raw["sales"].loc[1, "date"] = "2026-10-02"  # 2026Q4 has no PLN rate: latest (2026Q3, 0.2)
    sales = load(raw, params).sales.set_index("line_id")
    assert sales.loc["S2", "revenue"] == pytest.approx(80.0)  # 400 * 0.2


def test_quarter_before_the_first_rate_uses_the_earliest(raw, params):
    raw["sales"].loc[1, "date"] = "2026-01-15"  # 2026Q1: before the first PLN rate (2026Q2, 0.25)
    tables = validation.coerce_tables(raw)
    sales = convert_money(tables, params)["sales"].set_index("line_id")
    assert sales.loc["S2", "revenue"] == pytest.approx(100.0)  # 400 * 0.25


def test_convert_money_does_not_modify_its_input(raw, params):
    tables = validation.coerce_tables(raw)
    before = tables["sales"].copy()
    convert_money(tables, params)
    pd.testing.assert_frame_equal(tables["sales"], before)


def test_absent_or_empty_optional_tables_are_none(raw, params):
    del raw["leads"]
    raw["surveys"] = raw["surveys"].iloc[0:0]
    ds = load(raw, params)
    assert ds.leads is None and ds.surveys is None
    assert not ds.has("leads") and ds.has("targets")


def test_warnings_become_notes(raw, params):
    raw["partners"].loc[0, "name"] = "<i>Nordlicht</i>"
    ds = load(raw, params)
    assert ds.notes == ("partners.name: contains markup '<i>Nordlicht</i>'",)


def test_errors_raise_with_the_whole_report(raw, params):
    raw["sales"].loc[0, "revenue"] = "-1"
    raw["sales"].loc[1, "partner_id"] = "P404"
    with pytest.raises(DataValidationError) as info:
        load(raw, params, fmt="csv")
    message = str(info.value)
    assert "failed validation with 2 errors" in message
    assert "negative value '-1.0'" in message and "unknown partner 'P404'" in message
    assert "sales.csv" in message
    assert set(info.value.problems["problem"]) >= {"negative value '-1.0'", "unknown partner 'P404'"}


def test_without_validation_only_types_are_converted(raw, params):
    raw["sales"].loc[1, "partner_id"] = "P404"  # would be an error
    ds = load(raw, params, validate=False)
    assert ds.sales["partner_id"].tolist()[1] == "P404"
    assert ds.sales["date"].dtype.kind == "M"


def test_without_validation_a_required_table_is_still_required(raw, params):
    del raw["partners"]
    with pytest.raises(DataSourceError, match="has no table partners"):
        load(raw, params, validate=False)


def test_without_validation_an_activity_table_is_still_required(raw, params):
    for name in ("sales", "opportunities", "opportunity_stages", "leads"):
        del raw[name]
    with pytest.raises(DataSourceError, match="none of sales, opportunities, leads"):
        load(raw, params, validate=False)


def test_missing_source_setting(params):
    with pytest.raises(DataSourceError, match="data.source is not set"):
        load_dataset({**params, "data": {"source": "", "tables": {}}}, progress=False)


# --- minimal extracts: what a CRM has ------------------------------------------------------------

def test_partners_with_only_id_and_name_load_in_the_reporting_currency(raw, params):
    raw["partners"] = raw["partners"][["partner_id", "name"]]
    raw["sales"] = raw["sales"].drop(columns=["currency"])
    raw["opportunities"] = raw["opportunities"].drop(columns=["currency"])
    ds = load(raw, params)
    assert set(ds.partners.columns) == {"partner_id", "name", "onboarded_date"}
    rates = ds.contract_rates()
    assert rates["currency"].eq("EUR").all() and rates["fx_rate"].eq(1.0).all()
    assert ds.provided("partners.name") and not ds.provided("partners.region")


def test_onboarded_date_absent_is_derived_from_first_activity_and_noted(raw, params):
    # first activity: P001 lead 2026-03-25 (before its first sale and deal); P002 deal 2026-05-01
    # (before its first sale 2026-08-14); 007 sale 2026-09-30 after its deal 2026-07-01
    raw["partners"] = raw["partners"].drop(columns=["onboarded_date"])
    ds = load(raw, params)
    onboarded = ds.partners.set_index("partner_id")["onboarded_date"].dt.strftime("%Y-%m-%d").to_dict()
    assert onboarded == {"P001": "2026-03-25", "P002": "2026-05-01", "007": "2026-07-01"}
    assert ds.onboarded_derived == 3
    assert any("onboarded_date: derived from first activity" in n and "3 partners" in n for n in ds.notes)


def test_an_empty_onboarded_date_is_derived_the_others_kept(raw, params):
    raw["partners"]["onboarded_date"] = ["2023-02-15", None, "2025-06-01"]
    ds = load(raw, params)
    onboarded = ds.partners.set_index("partner_id")["onboarded_date"].dt.strftime("%Y-%m-%d").to_dict()
    assert onboarded == {"P001": "2023-02-15", "P002": "2026-05-01", "007": "2025-06-01"}
    assert ds.onboarded_derived == 1


def test_deriving_onboarded_date_does_not_modify_the_given_frame(raw, params):
    ds = load(raw, params)
    partners = ds.partners.drop(columns=["onboarded_date"])
    before = partners.copy()
    derived = Dataset(partners=partners, sales=ds.sales, as_of=ds.as_of, period=ds.period)
    pd.testing.assert_frame_equal(partners, before)
    assert "onboarded_date" in derived.partners.columns


def test_a_partner_without_date_and_activity_stays_undated_and_is_noted(raw, params):
    raw["partners"] = pd.concat([raw["partners"], pd.DataFrame({"partner_id": ["P404"], "name": ["Idle"]})],
                                ignore_index=True)
    raw["partners"]["onboarded_date"] = ["2023-02-15", "2024-01-10", "2025-06-01", None]
    raw["partner_contacts"] = pd.concat([raw["partner_contacts"], pd.DataFrame({
        "partner_id": ["P404"], "name": ["I. Dle"], "email": ["idle@idle.example"], "receives_scorecard": ["true"]})],
        ignore_index=True)
    ds = load(raw, params)
    assert pd.isna(ds.partners.set_index("partner_id").at["P404", "onboarded_date"])
    assert any("1 partner without onboarded_date and without any activity" in n for n in ds.notes)


def test_sales_is_optional(raw, params):
    del raw["sales"]
    ds = load(raw, params)
    assert ds.sales is None and not ds.provided("sales") and not ds.provided("sales.cost")
