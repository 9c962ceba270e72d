"""The quarterly run as an operator meets it (issue 13): real processes, odd partner ids.

- Two ``channel-analysis render`` processes of the same period on different data, started
  together: one wins the run lock, the other stops at once with the lock message, and every
  number on the finished pages is the winner's. A run refused by the lock changes nothing.
- Partner ids that are not file names (``../..``, ``a/b``, ``CON``, ``名前``, 300 characters, a
  trailing dot): nothing is written outside the run folder, every report renders, delivery finds
  them.
- A run that fails in its statistics step leaves the previous tables and bundles as they were;
  the tables alone (``channel-analysis kpis``) are written under the same lock, staged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from channel_analysis import audit, build, delivery, quarter, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import RunLockedError
from channel_analysis.params import load_params

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2026Q3"
AS_OF = "2026-10-05"
N_PARTNERS = 6


def _params(data: Path, out: Path, **render) -> dict:
    return load_params(None, {"as_of": AS_OF, "period": PERIOD, "history_quarters": 4,
                              "data": {"source": str(data)}, "output_dir": str(out),
                              "render": {"workers": 2, "pdf": False, **render}})


def _dataset(folder: Path, seed: int, rename=None) -> Path:
    tables = sample.generate(partners=N_PARTNERS, quarters=4, seed=seed, as_of=AS_OF)
    if rename:
        for name, frame in tables.items():
            if "partner_id" in frame.columns:
                tables[name] = frame.assign(partner_id=frame["partner_id"].map(lambda p: rename.get(p, p)))
    sample.write(tables, folder)
    return folder


def _tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (relative path → sha256 of a file, "dir" for a folder)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _render_process(data: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "channel_analysis", "render", "--params", str(ROOT / "params" / "sample.yaml"),
           "--data", str(data), "--as-of", AS_OF, "--period", PERIOD, "--set", f"output_dir={out}",
           "--set", "history_quarters=4", "--set", "render.pdf=false", "--workers", "2"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _shown_revenue(run_dir: Path) -> dict[str, float]:
    """partner id → the quarter revenue its scorecard shows (the tagged data-value)."""
    manifest = pd.read_json(run_dir / "manifest.json", typ="series")
    shown = {}
    for pid, entry in manifest["reports"].items():
        page = (run_dir / entry["output"]).read_text(encoding="utf-8")
        values = {float(v["value"]) for v in audit.tagged_values(page)
                  if v.get("measure") == "revenue" and (v.get("window") or "quarter") == "quarter"}
        assert len(values) == 1, (pid, values)
        shown[pid] = values.pop()
    return shown


def test_two_concurrent_runs_one_wins_and_its_numbers_alone_reach_the_pages(tmp_path):
    data = {"A": _dataset(tmp_path / "data-a", seed=5), "B": _dataset(tmp_path / "data-b", seed=11)}
    out = tmp_path / "out"
    run_dir = out / PERIOD

    procs = {name: _render_process(folder, out) for name, folder in data.items()}  # started together
    results = {name: (p.wait(timeout=900), *p.communicate()) for name, p in procs.items()}
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 2], {n: (c, e[-2000:]) for n, (c, _, e) in results.items()}
    winner = next(n for n, (c, _, _) in results.items() if c == 0)
    loser = next(n for n in results if n != winner)
    assert f"cannot render {PERIOD}: another render or send of {PERIOD} is running" in results[loser][2]
    assert "Traceback" not in results[loser][2]

    # the tables are the winner's statistics, and every page shows them (none shows the loser's)
    expected = {}
    for name in data:
        p = _params(data[name], out)
        stats = build.compute(load_dataset(p), p)
        q = stats.kpis[(stats.kpis["period"] == PERIOD) & (stats.kpis["window"] == "quarter")]
        expected[name] = dict(zip(q["partner_id"].astype(str), q["revenue"].astype(float)))
    assert expected["A"] != expected["B"]
    table = pd.read_parquet(run_dir / "kpis" / "kpis.parquet")
    table = table[(table["period"].astype(str) == PERIOD) & (table["window"] == "quarter")]
    assert dict(zip(table["partner_id"].astype(str), table["revenue"].astype(float))) == pytest.approx(expected[winner])
    shown = _shown_revenue(run_dir)
    assert set(shown) and shown == pytest.approx({p: expected[winner][p] for p in shown})
    result = audit.check_run(run_dir)
    assert result.ok, result.summary()
    assert not list(run_dir.glob(".staging-*"))

    # a run refused by the lock changes nothing: not the tables, not the bundles, not a byte
    before = _tree(out)
    with FileLock(str(run_dir / ".render.lock")):  # e.g. a render or a send in another process
        refused = _render_process(data[loser], out)
        code, _, err = refused.wait(timeout=300), *refused.communicate()
    assert code == 2 and f"cannot render {PERIOD}: another render or send" in err, err
    assert _tree(out) == before


def test_a_failed_statistics_step_leaves_the_previous_tables_and_bundles(tmp_path, monkeypatch):
    params = _params(_dataset(tmp_path / "data", seed=5), tmp_path / "out")
    run_dir = tmp_path / "out" / PERIOD
    quarter.prepare(params)
    before = _tree(run_dir)
    assert any(p.startswith("kpis/") for p in before) and any(p.startswith(".work/partners/") for p in before)

    def broken(*args, **kwargs):
        yield from ()
        raise RuntimeError("disk full while writing the bundles")

    monkeypatch.setattr(build, "partner_bundles", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        quarter.prepare(params)
    assert _tree(run_dir) == before  # no half-new kpis/, no staging folder left


def test_the_tables_alone_are_written_under_the_lock_and_staged(tmp_path):
    params = _params(_dataset(tmp_path / "data", seed=5), tmp_path / "out")
    run_dir = tmp_path / "out" / PERIOD
    run_dir.mkdir(parents=True)
    with FileLock(str(run_dir / ".render.lock")):  # a render or send of the period is running
        with pytest.raises(RunLockedError, match=f"cannot write the tables of {PERIOD}: another render or send"):
            quarter.write_tables(params)
    assert sorted(p.name for p in run_dir.iterdir()) == [".render.lock"]  # nothing written

    stats, paths = quarter.write_tables(params)
    assert paths and all(p.parent == run_dir / "kpis" and p.is_file() for p in paths)
    table = pd.read_parquet(run_dir / "kpis" / "kpis.parquet")
    assert len(table) == len(stats.kpis)
    assert not list(run_dir.glob(".staging-*"))


ODD_IDS = ["../..", "a/b", "CON", "名前", "x" * 300, "P1."]


def test_partner_ids_that_are_not_file_names_never_write_outside_the_run_folder(tmp_path):
    tables = sample.generate(partners=N_PARTNERS, quarters=4, seed=5, as_of=AS_OF)
    rename = dict(zip(sorted(tables["partners"]["partner_id"]), ODD_IDS))
    root = tmp_path / "root"  # everything this test writes lives here
    data = _dataset(root / "data", seed=5, rename=rename)
    out = root / "deep" / "out"
    params = _params(data, out, pdf=True)
    run_dir = out / PERIOD
    before = _tree(tmp_path)

    summary = quarter.run(params, progress=False)
    outbox = delivery.run(params)  # the dry run writes one .eml per message

    after = _tree(tmp_path)
    new = sorted(set(after) - set(before))
    changed = [p for p in before if after.get(p) != before[p]]
    assert changed == []
    inside = str(run_dir.relative_to(tmp_path))
    outside = [p for p in new if not (p + "/").startswith(inside + "/") and not inside.startswith(p + "/")]
    assert outside == []
    assert not list(run_dir.glob(".staging-*"))

    reported = set(pd.read_parquet(run_dir / "kpis" / "partners.parquet").query("reported")["partner_id"])
    assert reported & set(ODD_IDS) and summary.ok, summary.format()
    assert sorted(summary.rendered) == sorted(reported)
    manifest = pd.read_json(run_dir / "manifest.json", typ="series")["reports"]
    assert set(manifest) == reported  # the manifest keeps the real ids
    for pid in reported:
        entry = manifest[pid]
        html, pdf = run_dir / entry["output"], run_dir / entry["pdf"]
        assert html.parent == run_dir / "partners" and pdf.parent == run_dir / "partners"
        assert html.is_file() and pdf.is_file()
        assert len(html.name) < 100 and "/" not in html.name[len(PERIOD):]
    for path in run_dir.rglob("*"):
        name = path.name
        assert not name.endswith(".") and name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}, path
    assert audit.check_run(run_dir).ok
    # delivery finds every report by its real id and writes safe outbox names
    written = set(outbox.results.loc[outbox.results["status"] == "written", "partner_id"])
    with_contacts = set(pd.read_parquet(run_dir / "kpis" / "recipients.parquet")["partner_id"]) & reported
    assert written == with_contacts and written & set(ODD_IDS)
    assert all(p.parent == run_dir / "outbox" for p in (run_dir / "outbox").rglob("*"))
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert "名前" in index and "../.." in index
