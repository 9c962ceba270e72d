"""The analyst's notebooks in a real Jupyter kernel, from a fresh clone's state (issue 14): the
scorecard before any quarterly run, the exploration notebook on a small generated network."""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_analysis import sample
from test_scorecard import _execute, _html_outputs, _no_code_logic

pytestmark = pytest.mark.slow


@pytest.fixture
def run_file(tmp_path) -> Path:
    """A small sample network and its run file; its run folder (output_dir) does not exist."""
    tmp = tmp_path / "lab"
    data = tmp / "data"
    sample.write(sample.generate(partners=6, quarters=6, seed=4), data)
    path = tmp / "run.yaml"
    path.write_text(f"as_of: 2026-10-05\nperiod: 2026Q3\nhistory_quarters: 6\ndata:\n  source: {data}\n"
                    f"output_dir: {tmp / 'out'}\n", encoding="utf-8")
    return path


def _outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == kind]


def _text(nb) -> str:
    return "".join("".join(o["text"]) for o in _outputs(nb, "stream") if o.get("name") == "stdout")


def test_the_scorecard_notebook_runs_before_any_quarterly_run_and_looks_like_the_page(run_file, tmp_path):
    out = run_file.parent / "out"
    assert not out.exists()
    bundle_path = out / "2026Q3" / ".work" / "partners" / "P0001.bundle"
    nb = _execute("partner_scorecard.py", tmp_path, {"partner_id": "P0001", "period": "2026Q3",
                                                     "bundle_path": str(bundle_path), "locale": "en",
                                                     "run_file": str(run_file)})
    assert not _outputs(nb, "error")
    # it prepared what it needs, and said so
    assert bundle_path.is_file()
    assert f"{bundle_path} did not exist: prepared the statistics, tables and bundles of 2026Q3 from {run_file}" in _text(nb)
    html = _html_outputs(nb)
    # the page's styles travel with the output, once, before the blocks they style
    assert html.count('<style class="ca-lab-style">') == 1
    assert html.index('<style class="ca-lab-style">') < html.index('class="ca-tiles"')
    assert ".ca-tile.ca-green{" in html and "table.ca-table th{" in html
    assert '<h2 class="ca-section-title">At a glance</h2>' in html and 'class="ca-table"' in html
    assert html.count('<img class="ca-img" src="data:image/png;base64,') == 7
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            _no_code_logic(cell.source)


def test_the_overview_notebook_runs_before_any_quarterly_run(run_file, tmp_path):
    bundle_path = run_file.parent / "out" / "2026Q3" / ".work" / "network.bundle"
    nb = _execute("network_overview.py", tmp_path, {"period": "2026Q3", "bundle_path": str(bundle_path),
                                                           "locale": "en", "run_file": str(run_file)})
    assert not _outputs(nb, "error") and bundle_path.is_file()
    assert f"{bundle_path} did not exist: prepared" in _text(nb)
    html = _html_outputs(nb)
    assert html.count('<style class="ca-lab-style">') == 1 and '<h2 class="ca-section-title">Partners at risk</h2>' in html


def test_the_exploration_notebook_shows_frames_and_figures_in_a_kernel(run_file, tmp_path):
    nb = _execute("network_exploration.py", tmp_path, {"run_file": str(run_file)})
    assert not _outputs(nb, "error")
    results = [o for o in _outputs(nb, "execute_result") + _outputs(nb, "display_data")]
    frames = [o for o in results if "text/html" in o["data"] and "dataframe" in "".join(o["data"]["text/html"])]
    figures = [o for o in results if "image/png" in o["data"]]
    assert len(figures) == 6  # network trend, Pareto, Lorenz, matrix, pipeline by type, sales cycle
    assert len(frames) >= 12  # KPI rows, network, segments, tiers (3), movements, pipeline (2), cycle, …
    html = _html_outputs(nb)
    for column in ("win_rate", "abc_class", "recommended_tier", "survival", "weighted_to_revenue"):
        assert f">{column}</th>" in html, column
    assert "Network statistics for 2026Q3" in "".join(  # the one-line load's summary
        "".join(o["data"].get("text/plain", "")) for o in _outputs(nb, "execute_result"))
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            _no_code_logic(cell.source)
