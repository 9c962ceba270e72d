"""The channel-analysis command: help, parameter handling, errors without tracebacks."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from channel_analysis import cli, validation
from channel_analysis.io.sources import write_tables
from channel_analysis.params import RUN_FILE_NAME, SAMPLE_RUN_FILE, run_file_for
from conftest import tiny_raw


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("sample", "validate", "kpis", "render", "send", "docs"):
        assert command in out


def test_unknown_parameter_is_a_clean_error(tmp_path, capsys):
    run = tmp_path / "run.yaml"
    run.write_text("as_of: 2026-10-05\nrender: {wokers: 2}\n", encoding="utf-8")
    code = cli.main(["validate", "--params", str(run)])
    err = capsys.readouterr().err
    assert code == 2
    assert "render.wokers" in err and "did you mean 'render.workers'" in err
    assert "Traceback" not in err


def test_partner_ids_stay_strings():
    assert cli._split_ids("007, P01,,") == ["007", "P01"]


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "channel_analysis", "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "channel-analysis" in proc.stdout


def test_data_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = ["--params", str(SAMPLE_RUN_FILE)]
    args = cli.build_parser().parse_args(["validate", *run, "--data", "exports/2026Q3", "--as-of", "2026-10-05"])
    params = cli._params_from(args)
    assert params["data"]["source"] == str(tmp_path / "exports" / "2026Q3")
    args = cli.build_parser().parse_args(["validate", *run, "--data", "sqlite:///x.db", "--as-of", "2026-10-05"])
    assert cli._params_from(args)["data"]["source"] == "sqlite:///x.db"


# --- which run file: never the sample's dates for the user's data --------------------------------

def _folder_with_data(tmp_path):
    folder = tmp_path / "export"
    write_tables(tiny_raw(), folder, "csv")
    return folder


def test_data_without_params_and_no_run_file_asks_for_init(tmp_path, capsys):
    folder = _folder_with_data(tmp_path)
    code = cli.main(["validate", "--data", str(folder)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{folder / RUN_FILE_NAME} does not exist" in captured.err
    assert f"channel-analysis init --data {folder}" in captured.err and "--params" in captured.err
    assert "2026-10-05" not in captured.out + captured.err  # the sample's as_of is never used
    assert "Traceback" not in captured.err


def test_data_without_params_uses_the_run_file_next_to_the_data(tmp_path, capsys):
    folder = _folder_with_data(tmp_path)
    (folder / RUN_FILE_NAME).write_text("as_of: 2026-10-01\nhistory_quarters: 2\n", encoding="utf-8")
    code = cli.main(["validate", "--data", str(folder)])
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first == (f"run file {folder / RUN_FILE_NAME} · data {folder} · as_of 2026-10-01 (from the "
                     "run file) · period 2026Q3 (from the last quarter ended by as_of)")
    assert code == 0, out


def test_without_data_or_params_the_sample_run_file_is_used_and_said(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = cli.build_parser().parse_args(["validate", "--as-of", "2026-10-07"])
    params = cli._params_from(args)
    line = capsys.readouterr().out.strip()
    assert params["as_of"].isoformat() == "2026-10-07"
    assert line.startswith(f"run file {SAMPLE_RUN_FILE} · data ")
    assert line.endswith("as_of 2026-10-07 (from --as-of) · period 2026Q3 (from the run file)")


def test_the_origin_of_as_of_given_with_set_is_named(tmp_path, capsys):
    args = cli.build_parser().parse_args(["kpis", "--set", "as_of=2026-10-09", "--period", "2026Q2"])
    cli._params_from(args)
    line = capsys.readouterr().out.strip()
    assert "as_of 2026-10-09 (from --set as_of) · period 2026Q2 (from --period)" in line


def test_the_run_file_for_an_extract():
    assert run_file_for("/x/export") == Path("/x/export") / RUN_FILE_NAME
    assert run_file_for("/x/db/channel.duckdb") == Path("/x/db") / RUN_FILE_NAME
    assert run_file_for("sqlite:///x.db") == Path.cwd() / RUN_FILE_NAME


# --- validate --report -------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_validate_report_writes_every_problem(tmp_path, capsys, suffix):
    raw = tiny_raw()
    sales = pd.concat([raw["sales"]] * 5, ignore_index=True)
    sales["line_id"] = [f"LINE-{i:012d}-2026-EMEA" for i in range(len(sales))]
    sales["partner_id"] = "P999-UNKNOWN-PARTNER-WITH-A-LONG-ID"
    raw["sales"] = sales
    folder = tmp_path / "export"
    write_tables(raw, folder, "csv")
    (folder / RUN_FILE_NAME).write_text("as_of: 2026-10-05\nhistory_quarters: 2\n", encoding="utf-8")
    out_file = tmp_path / f"problems{suffix}"
    code = cli.main(["validate", "--data", str(folder), "--report", str(out_file)])
    out = capsys.readouterr().out
    assert code == 2
    assert "… and 10 more rows like this" in out and "P999-UNKNOWN-PARTNER-WITH-A-LONG-ID" in out
    assert f"10 problem rows not shown above: every problem is in {out_file}" in out
    assert f"wrote every problem (20 rows) to {out_file}" in out
    args = cli.build_parser().parse_args(["validate", "--data", str(folder)])
    report = validation.validate_source(cli._params_from(args), progress=False)
    back = (pd.read_parquet(out_file) if suffix == ".parquet"
            else pd.read_csv(out_file, dtype=str, keep_default_na=False))
    as_text = lambda f: f.astype(object).where(f.notna(), "").astype(str).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(as_text(back), as_text(report.problems))
    assert (back["key"] == "").sum() < len(back)
    assert "LINE-000000000019-2026-EMEA" in set(back["key"])
