"""Mapping an export onto the data model in the run file (channel_analysis.io.mapping)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from channel_analysis import validation
from channel_analysis.errors import DataSourceError, ParamsError
from channel_analysis.io import read_tables, write_tables
from channel_analysis.io.mapping import TableMapping, merge_fragments, parse_tables
from channel_analysis.params import load_params

from conftest import tiny_raw


def _crm_export() -> pd.DataFrame:
    """Opportunities as a CRM exports them: its own column names, stage names and date style."""
    return pd.DataFrame({
        "Deal ID": ["D1", "D2", "D3", "D4"],
        "Account": ["P001", "P002", "P002", "007"],
        "Stage": ["Closed Won", "Closed Lost", "Negotiation", "Closed Won"],
        "Created": ["02-04-26", "15-04-26", "01-07-26", "20-05-26"],
        "Closed": ["46141", "46160", None, "46200"],
        "Amount": ["1000", "0", "500", "2500"],
        "Owner": ["Ann", "Bob", "Ann", "Cy"],
    })


MAPPING = {
    "from": "crm_deals",
    "columns": {"Deal ID": "opportunity_id", "Account": "partner_id", "Stage": ["stage", "outcome"],
                "Created": "created_date", "Closed": "closed_date", "Amount": "amount"},
    "values": {"stage": {"Closed Won": "Won", "Closed Lost": "Lost", "Negotiation": "Negotiate"},
               "outcome": {"Closed Won": "won", "Closed Lost": "lost", "Negotiation": "open"}},
    "dates": {"created_date": "%d-%m-%y", "closed_date": "excel"},
    "constants": {"currency": "EUR"},
}


def test_columns_renamed_one_source_column_feeds_two_model_columns_values_dates_constants():
    m = TableMapping.parse("opportunities", MAPPING)
    raw = _crm_export()
    out, notes = m.apply(raw)
    assert notes == []
    assert list(out["opportunity_id"]) == ["D1", "D2", "D3", "D4"]
    assert list(out["partner_id"]) == ["P001", "P002", "P002", "007"]
    assert list(out["stage"]) == ["Won", "Lost", "Negotiate", "Won"]
    assert list(out["outcome"]) == ["won", "lost", "open", "won"]
    assert list(out["created_date"]) == ["2026-04-02", "2026-04-15", "2026-07-01", "2026-05-20"]
    # Excel serials: 45000 is 2023-03-15 (Excel's own anchor), so 46141 is 1141 days later
    assert out["closed_date"].iloc[0] == "2026-04-29" and pd.isna(out["closed_date"].iloc[2])
    assert out["closed_date"].iloc[1] == "2026-05-18"
    assert set(out["currency"]) == {"EUR"}
    assert "Owner" in out.columns  # not mapped: kept, validation reports it as unknown
    assert list(raw.columns)[0] == "Deal ID"  # the input is not modified
    assert list(out.index) == list(raw.index)


def test_unmapped_values_are_kept_and_reported_and_validation_flags_them(tmp_path, params):
    raw = tiny_raw()
    export = _crm_export()
    export.loc[2, "Stage"] = "Stalled"
    export.loc[3, "Stage"] = "Stalled"
    write_tables({**{k: v for k, v in raw.items() if k != "opportunities"}, "crm_deals": export},
                 tmp_path / "data", "csv")
    params["data"]["tables"] = {"opportunities": MAPPING}
    report = validation.validate_source(params, progress=False)
    probs = report.problems
    opp = probs[probs["table"] == "opportunities"]
    note = opp[opp["problem"].str.startswith("unmapped 'Stalled' (2 rows)")]
    assert set(note["severity"]) == {"warning"} and set(note["column"]) == {"stage", "outcome"}
    assert note["fix"].str.contains("add them to data.tables.opportunities.values.").all()
    # the outcome rule names the value and the file's row numbers (CSV lines 4 and 5)
    bad = opp[(opp["severity"] == "error") & (opp["column"] == "outcome")]
    assert sorted(bad["row"].astype(int)) == [4, 5]
    assert bad["problem"].str.contains("Stalled").all()
    assert report.files["opportunities"] == "crm_deals.csv"


def test_a_mapped_export_validates_clean(tmp_path, params):
    raw = tiny_raw()
    export = _crm_export().drop(columns="Owner")
    write_tables({**{k: v for k, v in raw.items() if k not in ("opportunities", "opportunity_stages", "leads")},
                  "crm_deals": export}, tmp_path / "data", "csv")
    params["data"]["tables"] = {"opportunities": MAPPING}
    report = validation.validate_source(params, progress=False)
    opp = report.problems[report.problems["table"] == "opportunities"]
    assert opp.empty, opp.to_string()
    t = report.tables["opportunities"]
    assert list(t["outcome"]) == ["won", "lost", "open", "won"]
    assert t["created_date"].iloc[0] == pd.Timestamp("2026-04-02")
    assert t["currency"].eq("EUR").all()


def test_date_formats_dayfirst_iso_and_one_format_for_every_date_column():
    m = TableMapping.parse("leads", {"dates": "dayfirst"})
    assert set(m.dates) == {"assigned_date", "accepted_date"}
    frame = pd.DataFrame({"assigned_date": ["31/01/2026", "01.02.2026", "nonsense", None],
                          "accepted_date": ["2/3/2026", None, None, ""]})
    out, notes = m.apply(frame)
    assert list(out["assigned_date"][:2]) == ["2026-01-31", "2026-02-01"]
    assert out["assigned_date"].iloc[2] == "nonsense"  # kept: validation names it with its row
    assert out["accepted_date"].iloc[0] == "2026-03-02"
    assert len(notes) == 1 and notes[0].column == "assigned_date"
    assert notes[0].problem == "'nonsense' not in date format 'dayfirst', kept as they are"
    assert notes[0].fix == "fix the values, or the format in data.tables.leads.dates.assigned_date"
    iso = TableMapping.parse("leads", {"dates": {"assigned_date": "iso"}})
    assert iso.dates == {} and not iso.transforms


def test_excel_serials_out_of_range_are_reported_not_crashing():
    m = TableMapping.parse("sales", {"dates": {"date": "excel"}})
    out, notes = m.apply(pd.DataFrame({"date": ["45000", "45000.75", "99999999", "-3"]}))
    assert list(out["date"][:2]) == ["2023-03-15", "2023-03-15"]
    assert list(out["date"][2:]) == ["99999999", "-3"]
    assert notes[0].problem == "'99999999' and 1 more not in date format 'excel', kept as they are"


def test_values_compare_yaml_numbers_and_booleans_as_text():
    # Dynamics 365 exports statecode as 0/1/2; YAML reads the keys as integers
    m = TableMapping.parse("opportunities", yaml.safe_load("values: {outcome: {0: open, 1: won, 2: lost}}"))
    out, notes = m.apply(pd.DataFrame({"outcome": [0, 1, 2, 1.0]}))
    assert list(out["outcome"]) == ["open", "won", "lost", "won"] and notes == []
    m = TableMapping.parse("partner_contacts", yaml.safe_load("values: {receives_scorecard: {Yes: true, No: false}}"))
    out, _ = m.apply(pd.DataFrame({"receives_scorecard": ["Yes", "No"]}))
    assert list(out["receives_scorecard"]) == ["true", "false"]


@pytest.mark.parametrize("entry, message", [
    ({"form": "x"}, r"data.tables.opportunities: unknown key 'form' \(did you mean 'from'\?\)"),
    ({"columns": {"Stage": "stag"}}, r"data.tables.opportunities.columns.Stage: opportunities has no column "
                                     r"'stag' \(did you mean 'stage'\?\)"),
    ({"columns": {"A": "stage", "B": "stage"}}, r"'A' and 'B' both map to 'stage'"),
    ({"values": {"outcome": "won"}}, r"data.tables.opportunities.values.outcome must be a mapping"),
    ({"dates": {"created": "%Y"}}, r"opportunities has no date column 'created' \(did you mean 'created_date'\?\)"),
    ({"dates": {"created_date": "DD-MM-YY"}}, r"data.tables.opportunities.dates.created_date = 'DD-MM-YY' is not a date format"),
    ({"dates": "yymmdd"}, r"data.tables.opportunities.dates = 'yymmdd' is not a date format"),
    ({"constants": {"currency": None}}, r"constants.currency must be one value"),
    ({"columns": {"Cur": "currency"}, "constants": {"currency": "USD"}}, r"'currency' is both mapped"),
    (42, r"data.tables.opportunities must be a table name, a SQL query \(SELECT ...\) or a mapping"),
])
def test_mistakes_in_a_mapping_are_errors_naming_the_key(entry, message):
    with pytest.raises(ParamsError, match=message):
        TableMapping.parse("opportunities", entry)


def test_a_mapping_naming_a_column_the_export_lacks_says_which_columns_it_has(tmp_path, params):
    m = TableMapping.parse("opportunities", {"columns": {"Deal Id": "opportunity_id", "Currency": "currency"}})
    out, notes = m.apply(_crm_export(), file="deals.csv")
    assert "opportunity_id" not in out.columns and "currency" not in out.columns
    assert [n.column for n in notes] == ["opportunity_id", "currency"]
    assert notes[0].problem == ("mapped column 'Deal Id' (did you mean 'Deal ID'?) is not in deals.csv: "
                                "opportunity_id stays absent")
    assert notes[0].fix.startswith("fix data.tables.opportunities.columns (names are case-sensitive; deals.csv "
                                   "has: Deal ID, Account, Stage")
    # validation then says the required column is missing, next to the mapping's warning
    raw = tiny_raw()
    write_tables({"partners": raw["partners"], "sales": raw["sales"], "crm_deals": _crm_export()},
                 tmp_path / "data", "csv")
    params["data"]["tables"] = {"opportunities": {**MAPPING, "columns": {**MAPPING["columns"], "Deal Id": "opportunity_id"}}}
    del params["data"]["tables"]["opportunities"]["columns"]["Deal ID"]
    probs = validation.validate_source(params, progress=False).problems
    opp = probs[(probs["table"] == "opportunities") & (probs["column"] == "opportunity_id")]
    assert set(zip(opp["severity"], opp["problem"].str[:30])) == {
        ("warning", "mapped column 'Deal Id' (did y"), ("error", "required column 'opportunity_i")}
    m = TableMapping.parse("opportunities", {"constants": {"currency": "USD"}})
    with pytest.raises(DataSourceError, match="already has a column 'currency'"):
        m.apply(pd.DataFrame({"currency": ["EUR"]}))


def test_the_run_file_rejects_a_bad_mapping_when_loading(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"as_of": "2026-10-05", "data": {"tables": {"sales": {"colums": {}}}}}))
    with pytest.raises(ParamsError, match=r"data.tables.sales: unknown key 'colums' \(did you mean 'columns'\?\)"):
        load_params(run)


def test_string_form_still_reads_a_renamed_file_and_a_query(tmp_path):
    raw = tiny_raw()
    write_tables({"partners": raw["partners"], "erp_lines": raw["sales"]}, tmp_path, "csv")
    got = read_tables(tmp_path, {"sales": "erp_lines"})
    assert list(got["sales"]["line_id"]) == list(raw["sales"]["line_id"])
    assert "mapping_notes" not in got["sales"].attrs
    got = read_tables(tmp_path, {"sales": "SELECT * FROM erp_lines WHERE partner_id = 'P002'"})
    assert list(got["sales"]["partner_id"]) == ["P002", "P002"]


def test_a_sql_query_with_a_mapping(tmp_path):
    raw = tiny_raw()
    write_tables({"partners": raw["partners"], "crm_deals": _crm_export()}, tmp_path, "csv")
    entry = {**MAPPING, "from": 'SELECT * FROM crm_deals WHERE "Stage" <> \'Negotiation\''}
    got = read_tables(tmp_path, {"opportunities": entry})["opportunities"]
    assert list(got["opportunity_id"]) == ["D1", "D2", "D4"]
    assert list(got["outcome"]) == ["won", "lost", "won"]
    assert got.attrs["file"] == "data.tables.opportunities (query)" and got.attrs["mapping_notes"] == []


def test_a_mapping_without_from_reads_the_table_under_its_own_name(tmp_path):
    raw = tiny_raw()
    sales = raw["sales"].rename(columns={"revenue": "net_amount"})
    write_tables({"partners": raw["partners"], "sales": sales}, tmp_path, "csv")
    got = read_tables(tmp_path, {"sales": {"columns": {"net_amount": "revenue"}}})
    assert list(got["sales"]["revenue"]) == list(raw["sales"]["revenue"])
    assert got["sales"].attrs["file"] == "sales.csv" and got["sales"].attrs["first_row"] == 2


def test_ids_renamed_from_numbers_stay_text(tmp_path):
    raw = tiny_raw()
    partners = raw["partners"].rename(columns={"partner_id": "AccountNumber"})
    write_tables({"partners": partners}, tmp_path, "parquet")
    got = read_tables(tmp_path, {"partners": {"columns": {"AccountNumber": "partner_id"}}})
    assert list(got["partners"]["partner_id"]) == ["P001", "P002", "007"]


def test_mapping_files_merge_under_data_tables_and_the_run_file_wins(tmp_path):
    vendor = tmp_path / "vendor.yaml"
    vendor.write_text(yaml.safe_dump({"tables": {"opportunities": {
        "from": "deals", "columns": {"Stage": ["stage", "outcome"], "Id": "opportunity_id"},
        "values": {"outcome": {"Won": "won"}, "stage": {"Won": "Won"}}}}}))
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"as_of": "2026-10-05", "data": {
        "mapping": str(vendor),
        "tables": {"opportunities": {"values": {"stage": {"Won": "Won", "Demo": "Develop"}},
                                     "constants": {"currency": "USD"}},
                   "sales": "erp_lines"}}}))
    params = load_params(run)
    opp = params["data"]["tables"]["opportunities"]
    assert opp["from"] == "deals" and opp["columns"]["Id"] == "opportunity_id"
    assert opp["values"] == {"outcome": {"Won": "won"}, "stage": {"Won": "Won", "Demo": "Develop"}}
    assert opp["constants"] == {"currency": "USD"}
    assert params["data"]["tables"]["sales"] == "erp_lines"
    assert params["data"]["mapping"] == [str(vendor)]
    assert merge_fragments([{"sales": {"from": "a"}}], {"sales": "b"}) == {"sales": "b"}


def test_a_missing_or_malformed_mapping_file_is_a_clear_error(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"as_of": "2026-10-05", "data": {"mapping": str(tmp_path / "nope.yaml")}}))
    with pytest.raises(ParamsError, match="mapping file .*nope.yaml not found"):
        load_params(run)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"opportunities": {"from": "x"}}))
    run.write_text(yaml.safe_dump({"as_of": "2026-10-05", "data": {"mapping": str(bad)}}))
    with pytest.raises(ParamsError, match="must hold one key, tables:"):
        load_params(run)


def test_parse_tables_checks_every_entry():
    parsed = parse_tables({"sales": "erp_lines", "opportunities": MAPPING})
    assert parsed["sales"].source == "erp_lines" and not parsed["sales"].transforms
    assert parsed["opportunities"].columns["Stage"] == ("stage", "outcome")
    with pytest.raises(ParamsError, match=r"unknown table\(s\) 'opportunity' \(did you mean 'opportunities'\?\)"):
        parse_tables({"opportunity": MAPPING})


def test_only_when_splits_one_close_date_into_expected_and_closed():
    m = TableMapping.parse("opportunities", {
        "columns": {"Stage": ["stage", "outcome"], "Close Date": ["closed_date", "expected_close_date"]},
        "values": {"outcome": {"Closed Won": "won", "Closed Lost": "lost", "Prospecting": "open"}},
        "only_when": {"closed_date": {"outcome": ["won", "lost"]}, "expected_close_date": {"outcome": "open"}},
    })
    out, notes = m.apply(pd.DataFrame({"Stage": ["Closed Won", "Prospecting", "Closed Lost"],
                                       "Close Date": ["2026-01-05", "2026-12-01", "2026-02-01"]}))
    assert notes == []
    assert list(out["closed_date"].fillna("-")) == ["2026-01-05", "-", "2026-02-01"]
    assert list(out["expected_close_date"].fillna("-")) == ["-", "2026-12-01", "-"]
    with pytest.raises(ParamsError, match=r"only_when.closed_date must name one column"):
        TableMapping.parse("opportunities", {"only_when": {"closed_date": {"outcome": ["won"], "stage": ["x"]}}})
    with pytest.raises(ParamsError, match=r"only_when.closed_date: opportunities has no column 'outcom'"):
        TableMapping.parse("opportunities", {"only_when": {"closed_date": {"outcom": ["won"]}}})


def test_data_mapping_must_name_files(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"as_of": "2026-10-05", "data": {"mapping": [42]}}))
    with pytest.raises(ParamsError, match=r"data.mapping must be a mapping file's path or a list of paths, got \[42\]"):
        load_params(run)
    shipped = load_params(None, {"as_of": "2026-10-05", "data": {"mapping": "params/mappings/salesforce.yaml"}})
    assert shipped["data"]["tables"]["opportunities"]["from"] == "salesforce_opportunities"


def test_the_parameters_keep_each_mapping_in_a_plain_sortable_form(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text("as_of: 2026-10-05\ndata:\n  mapping: params/mappings/dynamics365.yaml\n  tables:\n"
                   "    partners: {values: {partner_type: {Yes: reseller, 9: reseller, Other: other}}}\n"
                   "    sales: {}\n")
    params = load_params(run)
    tables = params["data"]["tables"]
    assert tables["opportunities"]["values"]["outcome"] == {"0": "open", "1": "won", "2": "lost"}
    assert tables["partners"]["values"]["partner_type"]["YES"] == "reseller"  # YAML's boolean, spelled out
    assert tables["sales"] == {}
    json.dumps(params, sort_keys=True, default=str)  # the run fingerprint hashes the parameters
    assert {n: m.as_params() for n, m in parse_tables(tables).items()} == tables


def test_a_renamed_column_colliding_with_a_kept_one_is_an_error_naming_both():
    m = TableMapping.parse("opportunities", {"columns": {"Stage": "stage"}})
    with pytest.raises(DataSourceError, match=r"deals.csv would get two columns 'stage' \(from 'stage' and "
                                              r"'Stage'\); map only one of them to 'stage'"):
        m.apply(pd.DataFrame({"stage": ["x"], "Stage": ["y"]}), file="deals.csv")
