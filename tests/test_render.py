"""Tests of channel_analysis.render: the per-partner run machinery.

The notebooks here are tiny fixtures (tests/notebooks/*.py); the real scorecard/overview notebooks
are tested with the statistics. A fake ``prepare`` writes one JSON bundle per partner.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from channel_analysis import render
from channel_analysis.render import NetworkJob, PartnerJob, PreparedRun, RenderSettings, ReportResult
from channel_analysis.render.execute import render_partner
from channel_analysis.render.export import TEMPLATE_DIR, clean_for_html, external_references
from channel_analysis.render.fingerprint import context_sha256, report_fingerprint
from channel_analysis.render.index_page import render_index
from channel_analysis.render.manifest import Manifest

NOTEBOOKS = Path(__file__).parent / "notebooks"
SCORECARD = NOTEBOOKS / "scorecard.py"
OVERVIEW = NOTEBOOKS / "overview.py"
PERIOD = "2026Q3"
PARTNERS = {"P001": "Alpha & Söhne <GmbH>", "P002": "Beta SARL", "P003": "Gamma Ltd"}

# what the issue forbids in a report: src=/href= to http(s), @import, url(http
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*https?:|@import|url\(\s*["']?https?""", re.I)

def make_prepare(root: Path, *, fail=(), external=(), revenue=None, kill=(), kill_once=None):
    """A fake statistics step: one JSON bundle per partner under <root>/<period>/.work/.

    ``kill``: partners whose report process kills itself (SIGKILL); ``kill_once``: {partner: marker
    file}, the process kills itself only while the marker does not exist (then creates it)."""
    revenue = revenue or {}
    kill_once = kill_once or {}

    def prepare(params):
        run_dir = root / PERIOD
        work = run_dir / ".work"
        work.mkdir(parents=True, exist_ok=True)
        jobs = []
        for pid, name in PARTNERS.items():
            bundle = work / f"{pid}.json"
            data = {"revenue": revenue.get(pid, [1, 2, 3]), "fail": pid in fail, "external": pid in external,
                    "kill": pid in kill, "kill_once": str(kill_once[pid]) if pid in kill_once else None}
            text = json.dumps(data)
            if not bundle.exists() or bundle.read_text() != text:
                bundle.write_text(text)
            jobs.append({"partner_id": pid, "locale": "de_DE" if pid == "P001" else "en",
                         "bundle_path": str(bundle), "title": f"{name} — scorecard {PERIOD}",
                         "name": name})
        network = work / "network.json"
        network.write_text(json.dumps({"totals": {pid: 6 for pid in PARTNERS}}))
        return PreparedRun(period=PERIOD, output_dir=run_dir, partners=jobs,
                           network=NetworkJob(str(network), f"Network overview {PERIOD}"),
                           as_of="2026-10-05")

    return prepare


def run(root: Path, *, workers=2, force=False, scheduler=None, partners=None, **kw):
    params = {"as_of": "2026-10-05", "render": {"workers": workers, "timeout": 120, "partners": partners}}
    return render.run(make_prepare(root, **kw)(params), params["render"], force=force, scheduler=scheduler,
                      scorecard_notebook=SCORECARD, overview_notebook=OVERVIEW, progress=False)


def html_of(root: Path, pid: str) -> str:
    return (root / PERIOD / "partners" / f"{PERIOD}_{pid}_scorecard.html").read_text(encoding="utf-8")


def manifest_of(root: Path) -> dict:
    return json.loads((root / PERIOD / "manifest.json").read_text())


# --- a full run and the checks on its outputs -------------------------------------------------

@pytest.mark.slow
def test_full_run_writes_private_self_contained_reports(tmp_path):
    # workers=1: every partner runs after another in the same worker process, which is what the
    # isolation check needs (a fresh kernel per partner must hide the previous partner's state)
    summary = run(tmp_path, workers=1)
    check_outputs_manifest_and_index(tmp_path, summary)
    check_html_is_self_contained_without_code_or_prompts(tmp_path)
    check_each_report_names_only_its_own_partner(tmp_path)
    check_no_state_carries_from_one_partner_to_the_next(tmp_path)


def check_outputs_manifest_and_index(root, summary):
    assert summary.ok, summary.format()
    assert sorted(summary.rendered) == ["P001", "P002", "P003"] and summary.overview == "ok"
    man = manifest_of(root)
    assert man["period"] == PERIOD and man["as_of"] == "2026-10-05"
    assert sorted(man["reports"]) == ["P001", "P002", "P003"]
    for pid, entry in man["reports"].items():
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["output"] == f"partners/{PERIOD}_{pid}_scorecard.html"
        path = root / PERIOD / entry["output"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["seconds"] > 0 and len(entry["fingerprint"]) == 64
    assert man["reports"]["P001"]["locale"] == "de_DE"
    assert man["network_overview"]["status"] == "ok"
    assert (root / PERIOD / "network_overview.html").is_file()
    assert not (root / PERIOD / ".manifest.journal.jsonl").exists()
    index = (root / PERIOD / "index.html").read_text()
    assert "Alpha &amp; Söhne &lt;GmbH&gt;" in index and "<GmbH>" not in index
    assert f'href="partners/{PERIOD}_P002_scorecard.html"' in index
    assert not EXTERNAL.search(index)
    assert "3 partner scorecards — 3 rendered" in summary.format()


def check_html_is_self_contained_without_code_or_prompts(root):
    for pid, name in PARTNERS.items():
        html = html_of(root, pid)
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert title == f"{name} — scorecard {PERIOD}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert not EXTERNAL.search(html), EXTERNAL.search(html)
        assert "<script" not in html
        # no input code, no prompts, no stderr, no parameters cell
        for code in ("import builtins", "bundle_path =", "plt.subplots", "In&nbsp;[", "Out["):
            assert code not in html
        body = html.split("<body", 1)[1]
        assert "cm-editor" not in body and 'class="jp-InputPrompt' not in body
        assert "error to stderr" not in html
        # one figure, embedded as a data URI; the HTML tile and the scorecard text are there
        assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) == 1
        assert f"<h1>Scorecard {pid}</h1>" in html and 'class="ca-tile ca-green"' in html
        assert "@media print" in html and "max-width" in html
        assert len(html.encode()) < 300_000
    assert '<html lang="de-DE">' in html_of(root, "P001")
    overview = (root / PERIOD / "network_overview.html").read_text()
    assert "<title>Network overview 2026Q3</title>" in overview and not EXTERNAL.search(overview)


def check_each_report_names_only_its_own_partner(root):
    for pid in PARTNERS:
        html = html_of(root, pid)
        assert pid in html
        for other, name in PARTNERS.items():
            if other != pid:
                assert other not in html and name.split()[0] not in html
        # no papermill/jupytext metadata or paths leak into the report
        for leak in ("papermill", "jupytext", "input_path", ".work", str(root)):
            assert leak not in html


def check_no_state_carries_from_one_partner_to_the_next(root):
    # the fixture notebook prints "isolation: clean" unless it finds a marker (env var, module
    # attribute, builtins, global, file in its working folder) set by an earlier partner's run
    for pid in PARTNERS:
        html = html_of(root, pid)
        assert "isolation: clean" in html and "LEAK" not in html


# --- failure, re-runs, Dask -------------------------------------------------------------------

@pytest.mark.slow
def test_failing_partner_is_recorded_and_others_render(tmp_path):
    stale = tmp_path / PERIOD / "partners" / f"{PERIOD}_P002_scorecard.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("<html>last quarter's report</html>")

    summary = run(tmp_path, fail={"P002"})

    assert not summary.ok
    assert sorted(summary.rendered) == ["P001", "P003"]
    assert summary.failed == {"P002": "ValueError: bundle of P002 asks this cell to fail"}
    assert "P002: ValueError" in summary.format()
    entry = manifest_of(tmp_path)["reports"]["P002"]
    assert entry["status"] == "failed" and entry["output"] is None and entry["sha256"] is None
    assert entry["error"] == "ValueError: bundle of P002 asks this cell to fail"
    assert entry["failed_notebook"] == "failed/P002.ipynb"
    nb = nbformat.read(tmp_path / PERIOD / "failed" / "P002.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in nb.cells for o in c.get("outputs", []))
    assert not stale.exists()  # an earlier HTML can never pass for this run's report
    assert (tmp_path / PERIOD / "partners" / f"{PERIOD}_P001_scorecard.html").exists()

    # fixed data: only the failed partner renders again, and its failed notebook goes away
    summary = run(tmp_path)
    assert summary.ok and summary.rendered == ["P002"] and sorted(summary.skipped) == ["P001", "P003"]
    assert not (tmp_path / PERIOD / "failed" / "P002.ipynb").exists()


@pytest.mark.slow
def test_a_killed_report_process_fails_only_its_partner(tmp_path):
    # P002's process SIGKILLs itself every time, P003's only the first time: P003 renders in its
    # retry, P002 is reported failed by id with the signal, everything else renders
    marker = tmp_path / "P003-was-killed"
    summary = run(tmp_path, kill={"P002"}, kill_once={"P003": marker})

    assert sorted(summary.rendered) == ["P001", "P003"] and summary.overview == "ok", summary.format()
    assert summary.failed == {"P002": "ReportProcessDied: the report process killed by SIGKILL "
                                      "(exit code -9), 2 times (retried in a fresh process)"}
    assert marker.read_text() == "P003"  # P003's first process was killed
    assert "P002: ReportProcessDied: the report process killed by SIGKILL" in summary.format()
    entries = manifest_of(tmp_path)["reports"]
    assert entries["P002"]["status"] == "failed" and entries["P002"]["output"] is None
    assert entries["P003"]["status"] == "ok" and "isolation: clean" in html_of(tmp_path, "P003")


@pytest.mark.slow
def test_rerun_renders_only_what_changed(tmp_path):
    first = run(tmp_path)
    assert first.ok and len(first.rendered) == 3
    before = manifest_of(tmp_path)

    again = run(tmp_path)
    assert again.ok and again.rendered == [] and sorted(again.skipped) == ["P001", "P002", "P003"]
    assert again.overview == "skipped" and "3 unchanged (skipped)" in again.format()
    assert manifest_of(tmp_path)["reports"] == before["reports"]

    changed = run(tmp_path, revenue={"P003": [5, 6, 7]})
    assert changed.rendered == ["P003"] and sorted(changed.skipped) == ["P001", "P002"]
    assert changed.overview == "skipped"
    after = manifest_of(tmp_path)["reports"]
    assert after["P001"] == before["reports"]["P001"]
    assert after["P003"]["fingerprint"] != before["reports"]["P003"]["fingerprint"]

    # a tampered HTML no longer matches its sha256: it renders again; a subset run (--partners)
    # renders only within the subset and keeps the other partners' entries
    (tmp_path / PERIOD / after["P001"]["output"]).write_text("edited")
    subset = run(tmp_path, revenue={"P003": [5, 6, 7]}, partners=["P001", "P002"])
    assert subset.rendered == ["P001"] and subset.skipped == ["P002"]
    assert sorted(manifest_of(tmp_path)["reports"]) == ["P001", "P002", "P003"]

    forced = run(tmp_path, force=True, revenue={"P003": [5, 6, 7]})
    assert sorted(forced.rendered) == ["P001", "P002", "P003"] and forced.skipped == []
    assert forced.overview == "ok"


@pytest.mark.slow
def test_dask_local_cluster_runs_the_same_jobs(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    import psutil

    # workers fork one process per report (render.engine "warm"): they must not be daemonic
    with dask.config.set({"distributed.worker.daemon": False}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster:
        summary = run(tmp_path, scheduler=cluster.scheduler_address, fail={"P003"},
                      partners=["P002", "P003"])
        # the cluster's process tree: nanny, worker, the worker's fork server and resource tracker
        started = psutil.Process().children(recursive=True)
        commands = []
        for proc in started:
            with contextlib.suppress(psutil.Error):
                commands.append(" ".join(proc.cmdline()))
    assert any("forkserver" in c for c in commands), commands
    # closing the cluster leaves no process behind (no orphaned fork server or report process)
    # (this test process's own resource tracker and fork server, started by earlier local runs,
    # live as long as this process: not orphans)
    import multiprocessing.forkserver as forkserver
    import multiprocessing.resource_tracker as tracker

    own = {tracker._resource_tracker._pid, forkserver._forkserver._forkserver_pid}
    _, alive = psutil.wait_procs([p for p in started if p.pid not in own], timeout=15)
    assert [" ".join(p.cmdline())[:120] for p in alive] == []
    assert summary.rendered == ["P002"] and summary.overview == "ok", summary.format()
    assert list(summary.failed) == ["P003"] and (tmp_path / PERIOD / "failed" / "P003.ipynb").exists()
    assert "isolation: clean" in html_of(tmp_path, "P002")


@pytest.mark.slow
def test_render_partner_in_one_process_sees_no_earlier_partner(tmp_path):
    # engine "kernel": the worker function called twice in this very process: the second kernel
    # starts clean
    text = SCORECARD.read_text()
    settings = RenderSettings(notebook_text=text, notebook_name="scorecard.py", engine="kernel",
                              template_dir=str(TEMPLATE_DIR), run_dir=str(tmp_path), period=PERIOD)
    results = []
    for pid, extra in (("A1", {}), ("B2", {"external": True})):
        bundle = tmp_path / f"{pid}.json"
        bundle.write_text(json.dumps({"revenue": [1], **extra}))
        results.append(render_partner(PartnerJob(pid, "en", str(bundle), f"{pid} {PERIOD}"), settings))
    ok, refused = results
    assert ok.status == "ok" and "isolation: clean" in (tmp_path / ok.output).read_text()
    # a report that would load a URL is refused: failed, no HTML, notebook kept for debugging
    assert refused.status == "failed" and refused.error.startswith("ExternalResourceError")
    assert not (tmp_path / "partners" / f"{PERIOD}_B2_scorecard.html").exists()
    assert (tmp_path / "failed" / "B2.ipynb").exists()


# --- fast unit tests (no kernel) --------------------------------------------------------------

def test_missing_bundle_fails_without_a_kernel(tmp_path):
    settings = RenderSettings(notebook_text=SCORECARD.read_text(), notebook_name="scorecard.py",
                              template_dir=str(TEMPLATE_DIR), run_dir=str(tmp_path), period=PERIOD)
    result = render_partner(PartnerJob("P9", "en", str(tmp_path / "nope.json"), "t"), settings)
    assert result.status == "failed" and result.error.startswith("FileNotFoundError: bundle not found")
    assert result.failed_notebook is None


def test_unknown_partner_filter_is_an_error(tmp_path):
    with pytest.raises(render.RenderError, match="P404"):
        run(tmp_path, partners=["P404"])


def test_prepared_run_rejects_duplicates_and_bad_ids(tmp_path):
    job = {"partner_id": "P1", "locale": "en", "bundle_path": "b", "title": "t"}
    with pytest.raises(render.RenderError, match="more than once"):
        PreparedRun(period=PERIOD, output_dir=tmp_path, partners=[job, job])
    with pytest.raises(render.RenderError, match="empty partner_id"):
        PartnerJob("", "en", "b", "t")
    assert PartnerJob("../P1", "en", "b", "t").partner_id == "../P1"  # files are named by safe_name
    assert PartnerJob.coerce({**job, "partner_id": 7}).partner_id == "7"
    # exactly the four documented parameters are injected
    assert PartnerJob.coerce(job).parameters(PERIOD) == {
        "partner_id": "P1", "period": PERIOD, "bundle_path": "b", "locale": "en"}


def test_fingerprint_follows_bundle_notebook_template_and_params(tmp_path):
    bundle = tmp_path / "b.json"
    bundle.write_text("{}")
    tpl = tmp_path / "tpl"
    shutil.copytree(TEMPLATE_DIR, tpl)
    ctx = context_sha256(notebook_text="x = 1", template_dir=tpl, kernel_name="python3")
    params = {"partner_id": "P1", "period": PERIOD, "bundle_path": str(bundle), "locale": "en"}

    def fp(context=ctx, **changes):
        return report_fingerprint(context=context, bundle_path=bundle, parameters={**params, **changes}, title="t")

    base = fp()
    assert fp() == base
    assert fp(bundle_path="/elsewhere/b.json") == base  # where the bundle lives does not matter
    assert fp(locale="fr") != base and fp(period="2026Q2") != base
    assert fp(context=context_sha256(notebook_text="x = 2", template_dir=tpl, kernel_name="python3")) != base
    (tpl / "static" / "report.css").write_text("body{}")
    assert fp(context=context_sha256(notebook_text="x = 1", template_dir=tpl, kernel_name="python3")) != base
    bundle.write_text('{"a": 1}')
    assert fp() != base


def test_manifest_journal_survives_a_crash(tmp_path):
    man = Manifest(tmp_path, period=PERIOD, as_of="2026-10-05", flush_seconds=3600)
    man.mark_pending("P1", locale="en", fingerprint="f1")
    man.mark_pending("P2", locale="en", fingerprint="f2")
    man.save()
    (tmp_path / "r.html").write_text("x")
    man.record("P1", ReportResult("P1", "ok", output="r.html", sha256="s", seconds=1.0, fingerprint="f1"))
    # crash: manifest.json still says pending for both, the journal holds P1's result
    assert json.loads((tmp_path / "manifest.json").read_text())["reports"]["P1"]["status"] == "pending"
    man.close()
    again = Manifest(tmp_path, period=PERIOD, as_of="2026-10-05")
    assert again.entry("P1")["status"] == "ok" and again.entry("P2")["status"] == "pending"
    # the recorded sha256 does not match the file: not current
    assert not again.is_current("P1", "f1")


def test_clean_for_html_drops_parameters_stderr_and_metadata():
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"input_path": "/x/P9.ipynb", "parameters": {"partner_id": "P9"}}})
    params = nbformat.v4.new_code_cell("partner_id = 'P1'", metadata={"tags": ["injected-parameters"]})
    cell = nbformat.v4.new_code_cell("print(1)", metadata={"papermill": {"duration": 1}, "tags": ["kpi"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="/home/x/warn.py: Warning"),
                    nbformat.v4.new_output("stream", name="stdout", text="1")]
    nb.cells = [params, cell]
    clean = clean_for_html(nb, title="P1 2026Q3", lang="fr_FR")
    assert clean.metadata == {"title": "P1 2026Q3", "lang": "fr-FR", "language_info": {"name": "python"}}
    assert len(clean.cells) == 1 and clean.cells[0].metadata == {"tags": ["kpi"]}
    assert [o.name for o in clean.cells[0].outputs] == ["stdout"] and clean.cells[0].id == "c0"
    assert nb.metadata["papermill"]  # input not modified


def test_external_reference_guard_and_template_files():
    assert external_references('<img src="https://cdn.example/x.png">')
    assert external_references("<link href='//cdn.example/x.css'>")
    assert external_references("<style>@import 'x.css';</style>")
    assert external_references("div{background:url( http://x/y.png)}")
    assert not external_references('<img src="data:image/png;base64,AAAA"><a href="#s1">s</a>')
    for path in TEMPLATE_DIR.rglob("*"):
        if path.is_file() and path.suffix in {".css", ".j2", ".json"}:
            text = path.read_text()
            assert not EXTERNAL.search(text), path
            assert "require" not in text.lower() or path.suffix == ".j2"


def test_index_escapes_names_and_links_only_ok_reports():
    manifest = {"period": PERIOD, "as_of": "2026-10-05", "network_overview": None, "reports": {
        "P1": {"status": "ok", "output": "partners/2026Q3_P1_scorecard.html", "seconds": 1.25},
        "P2": {"status": "failed", "output": None, "error": "KeyError: '<b>'", "failed_notebook": "failed/P2.ipynb"},
    }}
    html = render_index(manifest, names={"P1": "<script>alert(1)</script>", "P2": "B & B"},
                        rendered={"P2"}, title="Index <2026Q3>")
    assert "<script>" not in html and "&lt;script&gt;" in html and "B &amp; B" in html
    assert "KeyError: &#x27;&lt;b&gt;&#x27;" in html
    assert html.count('href="partners/') == 1 and 'href="failed/P2.ipynb"' in html
    assert "<title>Index &lt;2026Q3&gt;</title>" in html and "1.2" in html


def _twice_in_one_process(run_dir: str, queue) -> None:
    settings = RenderSettings(notebook_text=SCORECARD.read_text(), notebook_name="scorecard.py",
                              engine="warm", template_dir=str(TEMPLATE_DIR), run_dir=run_dir, period=PERIOD)
    results = []
    for pid in ("A1", "B2"):
        bundle = Path(run_dir) / f"{pid}.json"
        bundle.write_text(json.dumps({"revenue": [1]}))
        results.append(render_partner(PartnerJob(pid, "en", str(bundle), f"{pid} {PERIOD}"), settings))
    queue.put([(r.status, r.error) for r in results])


@pytest.mark.slow
def test_warm_engine_refuses_a_second_partner_in_the_same_process(tmp_path):
    """engine "warm" runs the notebook inside its process: a reused process must never run a
    second partner (the pool gives each report a fresh fork; this is the guard behind it)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_twice_in_one_process, args=(str(tmp_path), queue))
    proc.start()
    (first, second) = queue.get(timeout=180)
    proc.join(30)
    assert first == ("ok", None)
    assert second[0] == "failed" and "one notebook per process" in second[1]


def test_index_flags_partners_without_recipients_or_catalog_and_shows_delivery():
    from channel_analysis.render.index_page import render_index

    manifest = {"period": PERIOD, "as_of": "2026-10-05", "reports": {
        "P1": {"status": "ok", "output": "partners/a.html", "pdf": "partners/a.pdf", "locale": "fr_FR"},
        "P2": {"status": "ok", "output": "partners/b.html", "locale": "it_IT"},
        "P3": {"status": "failed", "error": "KeyError: x", "locale": "en_GB"}}}
    page = render_index(manifest, names={"P1": "Un", "P2": "Due", "P3": "Three"}, rendered={"P1"},
                        title="t", recipients={"P1": 2, "P2": 1}, delivery={"P1": "sent 2"})
    assert "1 partners have no scorecard recipient" in page and "Three (P3)" in page
    assert "1 partners have a language without a catalog" in page
    assert page.count("no catalog: English") == 1  # P2 (Italian); French has a catalog
    assert "sent 2" in page and ">PDF<" in page and page.count("not yet") == 2


# --- Dask the way people run it: stock workers, no shared storage ------------------------------

def _start(cmd, env, cwd, namespace_hides=()):
    if namespace_hides:  # a private mount namespace with an empty tmpfs over each of those folders
        mounts = " && ".join(f"mount -t tmpfs tmpfs {shlex.quote(str(f))}" for f in namespace_hides)
        script = f"{mounts} && exec {shlex.join(cmd)}"
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _can_hide_folders() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_stock_dask_workers_without_the_run_folder_render_byte_identical_pages(tmp_path):
    """A real ``dask scheduler`` and two stock ``dask worker`` processes (nanny, daemonic) on
    127.0.0.1; one runs in its own mount namespace where the test's folder (run folders) and the
    project's notebooks, data and reports are empty tmpfs, in a working directory of its own. Bundles travel as bytes, pages come
    back as bytes; they equal a local run's byte for byte; stopping the workers leaves no process."""
    distributed = pytest.importorskip("distributed")
    import psutil

    local = run(tmp_path / "local", fail={"P003"})
    assert sorted(local.rendered) == ["P001", "P002"]

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}  # stock settings
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout's package
    dask_cli = str(Path(sys.executable).with_name("dask"))
    elsewhere = Path(tempfile.mkdtemp(prefix="ca-worker-cwd-"))  # not under tmp_path
    # hidden from the isolated worker: the test's folders (run folders) and the project's notebooks,
    # data and reports (it keeps the installed package only)
    root = Path(__file__).resolve().parents[1]
    hide = [tmp_path] + [root / d for d in ("notebooks", "data", "reports") if (root / d).is_dir()]
    hide = hide if _can_hide_folders() else []
    procs = [_start([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                    env, elsewhere)]
    worker_cmd = [dask_cli, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    procs.append(_start(worker_cmd + ["--name", "isolated"], env, elsewhere, namespace_hides=hide))
    procs.append(_start(worker_cmd + ["--name", "plain"], env, elsewhere))
    try:
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            probe = str(tmp_path / "local" / PERIOD / "manifest.json")  # the test's files, run folders
            sees = client.run(os.path.exists, probe)
            isolated = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "isolated")
            assert sees[isolated] is (not hide)
            remote = run(tmp_path / "remote", scheduler=address, fail={"P003"})
            done = client.run(lambda dask_worker: dask_worker.state.transition_counter)
            tree = [p for proc in procs[1:] for p in psutil.Process(proc.pid).children(recursive=True)]
        assert done[isolated] > 0  # the worker that cannot see the run folder rendered reports
        assert sorted(remote.rendered) == ["P001", "P002"] and remote.overview == "ok", remote.format()
        assert list(remote.failed) == ["P003"] and (tmp_path / "remote" / PERIOD / "failed" / "P003.ipynb").exists()
        for name in [f"partners/{PERIOD}_P001_scorecard.html", f"partners/{PERIOD}_P002_scorecard.html",
                     "network_overview.html"]:
            remote_page, local_page = (tmp_path / where / PERIOD / name for where in ("remote", "local"))
            assert remote_page.read_bytes() == local_page.read_bytes(), name
        assert manifest_of(tmp_path / "remote")["reports"]["P001"]["sha256"] == \
            manifest_of(tmp_path / "local")["reports"]["P001"]["sha256"]
    finally:
        for proc in reversed(procs):  # SIGTERM: the way a worker is stopped
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        shutil.rmtree(elsewhere, ignore_errors=True)
    _, alive = psutil.wait_procs(tree, timeout=20)
    assert alive == []  # no report process, fork server or resource tracker outlives its worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_run_never_executes_the_notebooks_jupyterlab_only_cells():
    from channel_analysis.render.execute import LAB_ONLY_TAG, read_notebook_text
    from channel_analysis.render.runner import OVERVIEW_NOTEBOOK, SCORECARD_NOTEBOOK

    text = '# %% tags=["parameters"]\nx = 1\n\n# %% tags=["lab"]\nraise SystemExit\n\n# %%\ny = x + 1\n'
    assert [c.source for c in read_notebook_text(text).cells] == ["x = 1", "y = x + 1"]
    for path in (SCORECARD_NOTEBOOK, OVERVIEW_NOTEBOOK):
        source = path.read_text(encoding="utf-8")
        assert f'tags=["{LAB_ONLY_TAG}"]' in source  # each has one: it prepares its bundle in Lab
        run = "\n".join(c.source for c in read_notebook_text(source).cells)
        # what a run executes: no statistics imported, no styles shown (the template has them)
        assert "channel_analysis.api" not in run and "lab_stylesheet" not in run
