"""The Python API (channel_analysis.api): docs/api.md's worked example runs as written, and each
function gives what the command line gives."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import pytest

from channel_analysis import api, bundle, cli, sample
from channel_analysis.bundle import BundleError
from channel_analysis.errors import ParamsError
from channel_analysis.params import RUN_FILE_NAME, SAMPLE_RUN_FILE

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


@pytest.mark.slow
def test_the_worked_example_of_docs_api_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_api_example"}
    for code in blocks:  # one namespace, in order, as a reader pastes them into one session
        exec(compile(code, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    params = namespace["params"]
    run = tmp_path / "reports" / params["period"]
    # what the example says it does, in the folder it was run in
    assert (tmp_path / "data" / RUN_FILE_NAME).is_file() and f"{RUN_FILE_NAME} {params['period']}" in out
    assert (run / "kpis" / "kpis.parquet").is_file() and (run / "kpis" / "segments.csv").is_file()
    pages = sorted(p.name for p in (run / "partners").glob("*.html"))
    assert pages == [f"{params['period']}_{pid}_scorecard.html" for pid in namespace["first_two"]]
    assert not list((run / "partners").glob("*.pdf"))
    assert params["render"]["partners"] is None  # render(params, partners=…) left the caller's params alone
    assert (run / "network_overview.html").is_file() and (run / "outbox" / "outbox.csv").is_file()
    assert len(list((run / "outbox").glob("*.eml"))) >= 2
    # the scorecard's table is a DataFrame of the numbers the page shows
    deals = namespace["deals"]
    assert isinstance(deals.frame, pd.DataFrame) and deals.styler().data is deals.frame
    page = (run / "partners" / pages[0]).read_text(encoding="utf-8")
    assert deals.markup in page
    assert "ca-lab-style" not in page and "did not exist" not in page  # the Lab-only cells leave no trace


def _args(**kw) -> argparse.Namespace:
    base = {"params": None, "data": None, "as_of": None, "period": None, "assignments": [],
            "partners": None, "workers": None}
    return argparse.Namespace(**{**base, **kw})


def test_load_run_file_gives_what_the_command_line_gives(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "extract").mkdir()
    via_cli = cli._params_from(_args(params=SAMPLE_RUN_FILE, data="extract", period="2026Q2",
                                     assignments=["kpis.min_sample=9"], partners="P0001,007"))
    via_api = api.load_run_file(SAMPLE_RUN_FILE, data="extract", period="2026Q2", kpis={"min_sample": 9},
                                render={"partners": ["P0001", "007"]})
    assert via_api == via_cli
    assert via_api["data"]["source"] == str(tmp_path / "extract")  # relative to where the user is
    assert api.load_run_file()["data"]["source"] == cli._params_from(_args())["data"]["source"]


def test_load_run_file_finds_the_run_file_next_to_the_data_or_says_to_write_it(tmp_path):
    with pytest.raises(ParamsError, match=r"channel-analysis init --data"):
        api.load_run_file(data=tmp_path)
    (tmp_path / RUN_FILE_NAME).write_text("as_of: 2025-01-15\n", encoding="utf-8")
    params = api.load_run_file(data=tmp_path)
    assert str(params["as_of"]) == "2025-01-15" and params["period"] == "2024Q4"


def test_a_misspelled_override_is_an_error_naming_the_close_key():
    with pytest.raises(ParamsError, match=r"did you mean 'kpis.min_sample'"):
        api.load_run_file(kpis={"min_sampel": 3})


@pytest.mark.slow
def test_prepare_bundle_prepares_a_missing_bundle_once_and_says_so(tmp_path, capsys):
    data = tmp_path / "data"
    sample.write(sample.generate(partners=5, quarters=4, seed=2), data)
    run_file = tmp_path / "run.yaml"
    run_file.write_text(f"as_of: 2026-10-05\nperiod: 2026Q3\nhistory_quarters: 4\ndata:\n  source: {data}\n"
                        f"output_dir: {tmp_path / 'out'}\n", encoding="utf-8")
    work = tmp_path / "out" / "2026Q3" / ".work"
    wanted = work / "partners" / "P0002.bundle"
    assert api.prepare_bundle(wanted, "P0002", "2026Q3", run_file=run_file) == wanted
    assert bundle.load(wanted).partner_id == "P0002"
    assert f"{wanted} did not exist: prepared the statistics, tables and bundles of 2026Q3 from {run_file}" \
        in capsys.readouterr().out
    assert (tmp_path / "out" / "2026Q3" / "kpis" / "kpis.parquet").is_file()
    before = wanted.stat().st_mtime_ns
    assert api.prepare_bundle(wanted, "P0002", "2026Q3", run_file=run_file) == wanted  # there: kept as it is
    assert capsys.readouterr().out == "" and wanted.stat().st_mtime_ns == before
    assert api.prepare_network_bundle(work / "network.bundle", "2026Q3", run_file=run_file) == work / "network.bundle"
    with pytest.raises(BundleError, match="partner NOPE is not reported in 2026Q3"):
        api.prepare_bundle(work / "partners" / "NOPE.bundle", "NOPE", "2026Q3", run_file=run_file)
    with pytest.raises(BundleError, match=f"set bundle_path to {wanted}"):
        api.prepare_bundle(tmp_path / "elsewhere" / "P0002.bundle", "P0002", "2026Q3", run_file=run_file)


def test_every_public_name_is_documented_in_docs_api():
    text = DOC.read_text(encoding="utf-8")
    for name in api.__all__:
        assert callable(getattr(api, name)) and getattr(api, name).__doc__
        assert f"`{name}(" in text, name
