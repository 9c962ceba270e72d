"""The ready mapping files (params/mappings/*.yaml) on small exports in each vendor's own layout.

tests/data/exports/<vendor>/ holds a dozen deals and three accounts written in the column layout
the vendor documents (Salesforce report export labels, HubSpot export property labels, Dataverse
logical names of Dynamics 365). Each test reads them through the vendor's mapping file (plus what
a run file must add for its own org: country names, currency ids, stage list), validates, and
checks the mapped values against the raw file read independently here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from channel_analysis import validation
from channel_analysis.params import load_params

EXPORTS = Path(__file__).resolve().parent / "data" / "exports"
#: Columns a CRM account export does not have and which the data model (before the minimum-data
#: work) still requires; anything else wrong with partners is a failure of the mapping.
CRM_ABSENT = {"onboarded_date", "region", "currency", "partner_type", "country"}


def _run(vendor: str, tables: dict | None = None, **extra) -> validation.ValidationReport:
    params = load_params(None, {
        "as_of": "2026-10-05", "period": "2026Q3", "reporting_currency": "USD",
        "data": {"source": str(EXPORTS / vendor), "mapping": f"params/mappings/{vendor}.yaml",
                 "tables": tables or {}},
        **extra,
    })
    return validation.validate_source(params, progress=False)


def _raw(vendor: str, name: str) -> pd.DataFrame:
    return pd.read_csv(EXPORTS / vendor / name, dtype=str, keep_default_na=False)


def _check(report, raw: pd.DataFrame, *, id_col: str, won: pd.Series, lost: pd.Series, amount: str,
           created: pd.Series):
    probs = report.problems
    opp_errors = probs[(probs["table"] == "opportunities") & (probs["severity"] == "error")]
    assert opp_errors.empty, opp_errors.to_string()
    partner_errors = probs[(probs["table"] == "partners") & (probs["severity"] == "error")]
    assert set(partner_errors["problem"]) <= {f"required column {c!r} is missing" for c in CRM_ABSENT}, \
        partner_errors.to_string()
    opp = report.tables["opportunities"]
    assert list(opp["opportunity_id"]) == list(raw[id_col])
    assert list(opp["outcome"]) == list(pd.Series("open", index=raw.index).mask(won, "won").mask(lost, "lost"))
    closed = won | lost
    assert opp["closed_date"].notna().tolist() == closed.tolist()
    assert opp["expected_close_date"].notna().tolist() == (~closed).tolist()
    assert opp["amount"].sum() == pytest.approx(pd.to_numeric(raw[amount]).sum())
    assert list(opp["created_date"].dt.date) == list(created)
    assert set(opp["partner_id"]) <= set(report.tables["partners"]["partner_id"])


def test_salesforce_opportunity_and_account_reports():
    raw = _raw("salesforce", "salesforce_opportunities.csv")
    report = _run("salesforce")
    _check(report, raw, id_col="Opportunity ID", won=raw["Stage"].eq("Closed Won"),
           lost=raw["Stage"].eq("Closed Lost"), amount="Amount",
           created=raw["Created Date"].map(lambda s: dt.datetime.strptime(s, "%m/%d/%Y").date()))
    opp = report.tables["opportunities"]
    assert set(opp["stage"]) <= {"Qualify", "Develop", "Propose", "Negotiate", "Won", "Lost"}
    first = opp.iloc[0]
    assert (first["closed_date"].date(), first["stage"]) == (dt.date(2026, 3, 20), "Won")
    partners = report.tables["partners"].set_index("partner_id")
    accounts = _raw("salesforce", "salesforce_accounts.csv").set_index("Account ID")
    assert partners["name"].to_dict() == accounts["Account Name"].to_dict()
    assert partners["country"].to_dict() == accounts["Billing Country Code"].to_dict()
    assert partners.loc["0015g00000Pq7BdAAJ", "partner_type"] == "integrator"
    assert partners.loc["0015g00000Pq7BdAAJ", "parent_id"] == "0015g00000Pq7BbAAJ"
    # Opportunity Currency is only in multi-currency orgs: said, not an error
    warnings = report.warnings
    assert warnings["problem"].str.startswith("mapped column 'Opportunity Currency'").any()


def test_hubspot_deals_and_companies_exports():
    raw = _raw("hubspot", "hubspot_deals.csv")
    report = _run("hubspot", {"partners": {"values": {"country": {"Denmark": "DK", "Sweden": "SE",
                                                                   "Lithuania": "LT"}}}})
    _check(report, raw, id_col="Record ID", won=raw["Deal Stage"].eq("Closed Won"),
           lost=raw["Deal Stage"].eq("Closed Lost"), amount="Amount",
           created=raw["Create Date"].map(lambda s: dt.datetime.strptime(s, "%Y-%m-%d %H:%M").date()))
    opp = report.tables["opportunities"]
    assert list(opp["partner_id"][:3]) == ["31415926501"] * 3
    partners = report.tables["partners"].set_index("partner_id")
    assert partners["country"].to_dict() == {"31415926501": "DK", "31415926502": "SE", "31415926503": "LT"}
    assert partners["partner_type"].to_dict() == {"31415926501": "reseller", "31415926502": "other",
                                                  "31415926503": "reseller"}


def test_dynamics365_opportunity_and_account_tables():
    raw = _raw("dynamics365", "opportunity.csv")
    currency_id = "e3c7a9d0-5555-4c4c-8d8d-00000000e000"
    report = _run(
        "dynamics365",
        {"opportunities": {"columns": {"transactioncurrencyid": "currency"},
                           "values": {"currency": {currency_id: "EUR"}}},
         "partners": {"values": {"country": {"Netherlands": "NL", "Belgium": "BE"}}}},
        pipeline={"stages": ["Qualify", "Develop", "Propose", "Close"]},
        reporting_currency="EUR",
    )
    _check(report, raw, id_col="opportunityid", won=raw["statecode"].eq("1"), lost=raw["statecode"].eq("2"),
           amount="estimatedvalue", created=raw["createdon"].str[:10].map(dt.date.fromisoformat))
    opp = report.tables["opportunities"]
    labels = {"0": "Qualify", "1": "Develop", "2": "Propose", "3": "Close"}
    assert list(opp["stage"]) == list(raw["salesstage"].map(labels))
    assert set(opp["currency"]) == {"EUR"}
    # actualclosedate is the closed date; estimatedclosedate only counts while the deal is open
    assert opp["closed_date"].iloc[0].date() == dt.date(2026, 3, 27)
    partners = report.tables["partners"].set_index("partner_id")
    assert partners["partner_type"].to_dict() == {
        "8a1d3c2b-1111-4a4a-b1b1-0000000000a1": "reseller", "8a1d3c2b-1111-4a4a-b1b1-0000000000a2": "other",
        "8a1d3c2b-1111-4a4a-b1b1-0000000000a3": "reseller"}
    assert partners.loc["8a1d3c2b-1111-4a4a-b1b1-0000000000a3", "parent_id"] == "8a1d3c2b-1111-4a4a-b1b1-0000000000a1"
