"""The channel-analysis command: help, parameter handling, errors without tracebacks."""

import subprocess
import sys

import pytest

from channel_analysis import cli


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
    args = cli.build_parser().parse_args(["validate", "--data", "exports/2026Q3", "--as-of", "2026-10-05"])
    params = cli._params_from(args)
    assert params["data"]["source"] == str(tmp_path / "exports" / "2026Q3")
    args = cli.build_parser().parse_args(["validate", "--data", "sqlite:///x.db", "--as-of", "2026-10-05"])
    assert cli._params_from(args)["data"]["source"] == "sqlite:///x.db"
