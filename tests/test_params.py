"""Parameters: defaults ← run file ← command line, strictly checked."""

import datetime as dt

import pytest

from channel_analysis.errors import ParamsError
from channel_analysis.params import load_defaults, load_params, parse_assignment


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_run_file_overrides_defaults_and_cli_overrides_run_file(tmp_path):
    run = write(tmp_path, "as_of: 2026-10-05\nkpis:\n  min_sample: 8\n")
    p = load_params(run, {"kpis": {"min_sample": 12}})
    assert p["kpis"]["min_sample"] == 12
    assert p["kpis"]["target_status"] == load_defaults()["kpis"]["target_status"]  # untouched default
    p = load_params(run)
    assert p["kpis"]["min_sample"] == 8


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    run = write(tmp_path, "as_of: 2026-10-05\nkpis:\n  min_sampel: 8\n")
    with pytest.raises(ParamsError) as err:
        load_params(run)
    message = str(err.value)
    assert "kpis.min_sampel" in message and "did you mean 'kpis.min_sample'" in message
    assert str(run) in message


def test_wrong_type_is_an_error(tmp_path):
    run = write(tmp_path, "as_of: 2026-10-05\nkpis:\n  min_sample: many\n")
    with pytest.raises(ParamsError, match="kpis.min_sample"):
        load_params(run)


def test_free_form_mappings_accept_new_keys(tmp_path):
    run = write(tmp_path, "as_of: 2026-10-05\nsegmentation:\n  weights: {revenue: 1.0}\n"
                          "data:\n  tables: {sales: 'SELECT * FROM x'}\n")
    p = load_params(run)
    # a free-form mapping replaces the default one as a whole (criteria can be dropped)
    assert p["segmentation"]["weights"] == {"revenue": 1.0}
    assert p["data"]["tables"] == {"sales": "SELECT * FROM x"}


def test_as_of_is_required_and_period_derived(tmp_path):
    with pytest.raises(ParamsError, match="as_of is required"):
        load_params(write(tmp_path, "period: 2026Q3\n"))
    p = load_params(write(tmp_path, "as_of: 2026-10-05\n"))
    assert p["as_of"] == dt.date(2026, 10, 5)
    assert p["period"] == "2026Q3"  # last quarter that ended on or before as_of


def test_period_after_as_of_is_refused(tmp_path):
    with pytest.raises(ParamsError, match="has not begun"):
        load_params(write(tmp_path, "as_of: 2026-10-05\nperiod: 2027Q1\n"))


def test_bad_period_label(tmp_path):
    with pytest.raises(ParamsError, match="2026Q3"):
        load_params(write(tmp_path, "as_of: 2026-10-05\nperiod: Q3-2026\n"))


def test_relative_source_resolved_against_project_root(tmp_path):
    p = load_params(write(tmp_path, "as_of: 2026-10-05\ndata: {source: exports/x}\n"), root=tmp_path)
    assert p["data"]["source"] == str(tmp_path / "exports" / "x")
    url = load_params(write(tmp_path, "as_of: 2026-10-05\ndata: {source: 'sqlite:///a.db'}\n"))
    assert url["data"]["source"] == "sqlite:///a.db"


def test_parse_assignment():
    assert parse_assignment("kpis.min_sample=10") == {"kpis": {"min_sample": 10}}
    assert parse_assignment("render.partners=[P001, '007']") == {"render": {"partners": ["P001", "007"]}}
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        parse_assignment("kpis.min_sample")


def test_bad_yaml_names_the_file(tmp_path):
    run = write(tmp_path, "as_of: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(run)
