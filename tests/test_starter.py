"""`channel-analysis init`: the run file written for an extract loads, validates and fits the data."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from channel_analysis import cli, periods, sample, segmentation, starter, tiers, validation
from channel_analysis.errors import ParamsError
from channel_analysis.io.sources import write_tables
from channel_analysis.params import RUN_FILE_NAME, load_defaults, load_params, read_run_file, run_file_for
from channel_analysis.settings import ReportSettings


def _checked(path):
    """The run file's parameters, checked as a run checks them (params, settings, tiers, weights)."""
    params = load_params(path)
    ReportSettings.from_params(params)
    tiers.parse_levels(params["tiers"]["levels"])
    segmentation._parse_weights(params["segmentation"]["weights"])
    return params


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    tables = sample.generate(partners=10, quarters=3, lines=700, as_of="2026-10-05")
    write_tables(tables, folder, "csv")
    return folder, tables


def _crm_folder(folder):
    """A CRM opportunity export and an accounts list: USD, CRM stage names, no other table."""
    partners = pd.DataFrame({
        "partner_id": ["A1", "A2", "A3"], "name": ["Acme", "Betatech", "Cogworks"],
        "partner_type": "reseller", "region": "East", "country": "US", "currency": "USD",
        "onboarded_date": "2016-10-01",
    })
    opportunities = pd.DataFrame({
        "opportunity_id": [f"O{i}" for i in range(8)],
        "partner_id": ["A1", "A2", "A3", "A1", "A2", "A3", "A1", "A2"],
        "created_date": ["2016-11-01", "2017-01-10", "2017-02-01", "2017-03-01",
                         "2017-05-02", "2017-06-10", "2017-06-20", "2017-04-01"],
        "stage": ["Won", "Lost", "Won", "Engaging", "Engaging", "Prospecting", "Prospecting", "Engaging"],
        "outcome": ["won", "lost", "won", "open", "open", "open", "open", "open"],
        "closed_date": ["2017-01-15", "2017-03-01", "2017-06-30", None, None, None, None, None],
        "amount": ["1200", None, "5400", None, None, None, None, None],
    })
    write_tables({"partners": partners, "opportunities": opportunities}, folder, "csv")
    return folder


# --- the sample folder ---------------------------------------------------------------------------

def test_init_on_the_sample_writes_a_run_file_that_loads_and_validates(sample_folder):
    folder, tables = sample_folder
    path, found = starter.write(folder, force=True)
    assert path == folder / RUN_FILE_NAME
    params = _checked(path)
    latest = tables["sales"]["date"].max()
    assert params["as_of"] == pd.Timestamp(latest).date() == found.as_of.date()
    # the sample's sales end 2026-10-05, early in 2026Q4: 2026Q4 is partial, 2026Q3 is reported
    assert params["period"] == periods.last_complete_quarter(params["as_of"]) == "2026Q3"
    assert params["history_quarters"] == 3  # 2026Q1..2026Q3: the sample's three quarters
    # the currency fx_rates converts into: the one found that has no rate
    found_currencies = set(tables["partners"]["currency"]) | set(tables["sales"]["currency"].dropna())
    assert {params["reporting_currency"]} == found_currencies - set(tables["fx_rates"]["currency"])
    assert params["pipeline"]["stages"] == ["Qualify", "Develop", "Propose", "Negotiate"]
    assert params["data"]["source"] == str(folder)
    report = validation.validate_source(params, progress=False)
    assert report.ok, report.format()


def test_the_sample_run_file_lists_every_table_and_restricts_growth_to_the_span(sample_folder):
    folder, _ = sample_folder
    path, _ = starter.write(folder, force=True)
    text = path.read_text(encoding="utf-8")
    for name in ("partners", "sales", "opportunities", "leads", "fx_rates"):
        assert f"#   {name} ({name}.csv): " in text
    written = read_run_file(path)
    # three quarters cannot compare four quarters with the four before
    assert "revenue_growth_yoy" not in written["segmentation"]["weights"]
    assert "revenue_growth_yoy (over four quarters it compares with the four before: needs 8 quarters, " \
           "the extract has 3)" in " ".join(line.strip("# ") for line in text.splitlines())
    assert set(written["segmentation"]["weights"]) == set(load_defaults()["segmentation"]["weights"]) - {
        "revenue_growth_yoy"}
    assert written["tiers"]["levels"] == load_defaults()["tiers"]["levels"]  # every input is there


def test_init_refuses_to_overwrite_without_force(sample_folder):
    folder, _ = sample_folder
    starter.write(folder, force=True)
    with pytest.raises(ParamsError, match="already exists: pass --force"):
        starter.write(folder)


# --- a CRM export ------------------------------------------------------------------------------

def test_init_on_a_crm_export_fits_the_run_file_to_it(tmp_path):
    folder = _crm_folder(tmp_path / "crm")
    path, found = starter.write(folder)
    params = _checked(path)
    written = read_run_file(path)
    assert params["as_of"].isoformat() == "2017-06-30"  # the latest closed_date
    assert params["period"] == "2017Q2"  # complete: the data reach its last day
    assert params["reporting_currency"] == "USD"  # never silently EUR
    assert params["history_quarters"] == 3  # 2016Q4 .. 2017Q2
    # open stages only, youngest first: Prospecting deals are younger than Engaging ones
    assert params["pipeline"]["stages"] == ["Prospecting", "Engaging"]
    assert "median age of the open deals" in path.read_text(encoding="utf-8")
    # no sales, no trainings, no surveys: only the base tier is left, no revenue criterion
    assert written["tiers"]["levels"] == [{"name": "Registered", "criteria": {}}]
    weights = written["segmentation"]["weights"]
    assert weights and "revenue" not in weights and "certified_reps" not in weights
    # the measures the catalog benchmarks whose declared inputs (Measure.needs) the export has
    assert set(weights) <= {"win_rate_shrunk", "-sales_cycle_median_days", "deal_size_median"}
    assert "deal_size_median" in weights  # opportunities.amount is there (won deals)
    text = path.read_text(encoding="utf-8")
    assert "#   sales: absent (not available: revenue," in text  # one activity table is enough
    assert "#   trainings: absent (not available: certified_reps, trainings_completed)" in text


def test_a_quarter_the_data_end_inside_is_not_the_period(tmp_path):
    folder = _crm_folder(tmp_path / "crm")
    o = pd.read_csv(folder / "opportunities.csv", dtype=str)
    o.loc[2, "closed_date"] = "2017-08-10"
    o.to_csv(folder / "opportunities.csv", index=False)
    path, _ = starter.write(folder)
    params = _checked(path)
    assert params["as_of"].isoformat() == "2017-08-10" and params["period"] == "2017Q2"
    text = " ".join(line.strip("# ") for line in path.read_text(encoding="utf-8").splitlines())
    assert "the data end 41 days into 2017Q3 (it ends 2017-09-30), a partial quarter that is not reported" in text


def test_currencies_found_are_all_listed(tmp_path):
    folder = _crm_folder(tmp_path / "crm")
    p = pd.read_csv(folder / "partners.csv", dtype=str)
    p.loc[0, "currency"] = "CAD"
    p.to_csv(folder / "partners.csv", index=False)
    path, _ = starter.write(folder)
    text = " ".join(line.strip("# ") for line in path.read_text(encoding="utf-8").splitlines())
    assert "Currencies found: USD (2 rows), CAD (1 rows)" in text
    assert "no fx_rates table" in text
    assert read_run_file(path)["reporting_currency"] == "USD"


def test_stages_are_ordered_by_the_stage_history_when_there_is_one(tmp_path):
    folder = _crm_folder(tmp_path / "crm")
    history = pd.DataFrame({
        "opportunity_id": ["O3", "O3", "O4", "O4", "O5"],
        "stage": ["Engaging", "Prospecting", "Engaging", "Prospecting", "Engaging"],
        "entered_date": ["2017-03-01", "2017-03-05", "2017-05-02", "2017-05-09", "2017-06-10"],
    })  # here deals enter "Engaging" first
    write_tables({"opportunity_stages": history}, folder, "csv")
    _, found = starter.write(folder)
    assert found.stages == ["Engaging", "Prospecting"]
    assert "opportunity_stages" in found.stage_order


def test_a_duckdb_extract_gets_its_run_file_next_to_it(tmp_path, sample_folder):
    _, tables = sample_folder
    db = write_tables(tables, tmp_path / "x" / "channel.duckdb", "duckdb")
    path, found = starter.write(db)
    assert path == tmp_path / "x" / RUN_FILE_NAME == run_file_for(db)
    assert load_params(path)["data"]["source"] == str(db)
    assert found.as_of == tables["sales"]["date"].max()


def test_an_extract_without_dates_is_a_clear_error(tmp_path):
    write_tables({"partners": pd.DataFrame({"partner_id": ["A"], "name": ["x"]})}, tmp_path, "csv")
    with pytest.raises(ParamsError, match="no dated activity found"):
        starter.write(tmp_path)
    assert not (tmp_path / RUN_FILE_NAME).exists()


def test_an_unreadable_table_is_named_in_the_run_file(tmp_path):
    folder = _crm_folder(tmp_path / "crm")
    (folder / "surveys.csv").mkdir()
    path, found = starter.write(folder)
    assert "surveys" in found.failures
    assert "#   surveys: CANNOT BE READ" in path.read_text(encoding="utf-8")


def test_the_written_file_is_yaml_with_comments(tmp_path):
    path, _ = starter.write(_crm_folder(tmp_path / "crm"))
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == read_run_file(path)
    assert text.count("\n# ") > 5


# --- the command ---------------------------------------------------------------------------------

def test_cli_init_writes_then_refuses_a_second_time(tmp_path, capsys):
    folder = _crm_folder(tmp_path / "crm")
    assert cli.main(["init", "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {folder / RUN_FILE_NAME}" in out and "as_of 2017-06-30" in out
    assert cli.main(["init", "--data", str(folder)]) == 2
    assert "already exists: pass --force" in capsys.readouterr().err
    assert cli.main(["init", "--data", str(folder), "--force", "--out", str(tmp_path / "run.yaml")]) == 0
    assert load_params(tmp_path / "run.yaml")["reporting_currency"] == "USD"


def test_init_then_validate_with_data_only(tmp_path, sample_folder, capsys):
    _, tables = sample_folder
    folder = tmp_path / "export"
    write_tables(tables, folder, "parquet")
    assert cli.main(["validate", "--data", str(folder)]) == 2  # no run file yet: asks for init
    assert f"channel-analysis init --data {folder}" in capsys.readouterr().err
    assert cli.main(["init", "--data", str(folder)]) == 0
    capsys.readouterr()
    assert cli.main(["validate", "--data", str(folder)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"run file {folder / RUN_FILE_NAME} · data {folder} · as_of ")


# --- through a mapping file ------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent


def test_init_reads_a_vendor_export_through_its_mapping_file(tmp_path):
    folder = tmp_path / "salesforce"
    shutil.copytree(TESTS / "data" / "exports" / "salesforce", folder)
    mapping = PROJECT / "params" / "mappings" / "salesforce.yaml"
    path, found = starter.write(folder, mapping=[mapping])
    params = _checked(path)
    assert params["data"]["mapping"] == [str(mapping)]
    assert found.has("opportunities") and found.has("partners")
    deals = pd.read_csv(folder / "salesforce_opportunities.csv", dtype=str)
    created = pd.to_datetime(deals["Created Date"], format="%m/%d/%Y")
    assert params["as_of"] >= created.max().date()
    # open stages after the mapping: names of pipeline.stages, never a closed one
    assert found.stages and set(found.stages) <= set(load_defaults()["pipeline"]["stages"])
    assert "NO CURRENCY FOUND" in path.read_text(encoding="utf-8")  # said, not silently EUR


def test_init_on_the_shipped_real_world_extract(tmp_path):
    """The Maven CRM subset, read through its run file's mapping saved as a mapping file."""
    run = yaml.safe_load((TESTS / "data" / "real" / "maven_crm" / "run.yaml").read_text(encoding="utf-8"))
    mapping = tmp_path / "maven.yaml"
    mapping.write_text(yaml.safe_dump({"tables": run["data"]["tables"]}), encoding="utf-8")
    folder = tmp_path / "maven"
    shutil.copytree(TESTS / "data" / "real" / "maven_crm", folder)
    (folder / "run.yaml").unlink()
    path, found = starter.write(folder, mapping=[mapping])
    params = _checked(path)
    deals = pd.read_csv(folder / "sales_pipeline.csv", dtype=str)
    last = max(pd.to_datetime(deals["close_date"]).max(), pd.to_datetime(deals["engage_date"]).max())
    assert params["as_of"] == last.date()
    assert params["reporting_currency"] == "USD"  # the mapping's constant
    # the open stages of the deals the mapping keeps (those with an engage date)
    kept = deals[deals["engage_date"].notna() & ~deals["deal_stage"].isin(["Won", "Lost"])]
    assert params["pipeline"]["stages"] == ["Engaging"] == sorted(set(kept["deal_stage"]))
    # the data end 2017-12-30, one day before 2017Q4 ends: within kpis.partial_quarter_days (7),
    # so 2017Q4 counts as complete and is the period, as the run's partial-quarter rule says
    assert params["as_of"].isoformat() == "2017-12-30" and params["period"] == "2017Q4"


def test_a_quarter_the_data_end_in_counts_as_complete_within_the_tolerance():
    found = starter.Inspection(source="x", tables={}, failures={}, filled=set(),
                               as_of=pd.Timestamp("2017-12-26"), as_of_from="sales.date", first=None,
                               span_from="", currencies=Counter(), stages=[], stage_order="",
                               complete_within=7)
    assert found.period == "2017Q4"  # 5 days before the end
    early = dataclasses.replace(found, as_of=pd.Timestamp("2017-12-20"))
    assert early.period == "2017Q3"  # 11 days before the end: partial, not reported
    strict = dataclasses.replace(found, complete_within=0)
    assert strict.period == "2017Q3"
