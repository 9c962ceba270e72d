"""``make bench``: the performance benchmarks of the quarterly run (see benchmarks/README.md).

1. throughput  — reports per minute of ``channel-analysis render`` against the plain loop
                 (papermill CLI then ``jupyter nbconvert --to html`` per partner, sequential), on the
                 same notebook and the same bundles, measured side by side in this run;
2. partners    — time per report as the network grows (default 500 → 2,000 partners);
3. data        — 5,000 partners / 10 million sales lines: the statistics step's time and peak
                 memory (target under 3 GB), and the per-report cost against a small network's;
4. dask        — reports per minute on a local Dask cluster of 1 and 2 worker processes (target
                 2 workers ≥ 1.8× one), and the Dask path against the local pool at equal cores;
5. scale       — 5,000 partners end to end as an operator runs it (statistics, every scorecard,
                 the overview, the outbox of a dry-run send) in a child process: time and peak
                 memory of all its processes (targets under 20 minutes, under 3 GB).

After all of them, no process started by the run may still be alive (:mod:`benchmarks.processes`).

Every step that needs a clean measurement of memory runs in its own child process. Results are
printed and written to ``benchmarks/results/latest.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.processes import PeakSampler, left_behind, mark_run

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results"
NOTEBOOK = ROOT / "notebooks" / "partner_scorecard.py"
BENCHMARKS = ["throughput", "partners", "data", "dask", "scale"]


def _params(data: Path, out: Path, **extra) -> dict:
    from channel_analysis.params import load_params

    # HTML only, like the plain papermill loop it is compared with; the PDF is timed on its own
    overrides = {"data": {"source": str(data)}, "output_dir": str(out), "render": {"pdf": False}, **extra}
    return load_params(ROOT / "params" / "sample.yaml", overrides)


def _sample(out: Path, partners: int, lines: int | None = None) -> float:
    """Generate a sample dataset in a child process; return its seconds."""
    cmd = [str(BIN / "channel-analysis"), "sample", "--partners", str(partners), "--out", str(out)]
    if lines:
        cmd += ["--lines", str(lines)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _child_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def statistics_step(data: Path, out: Path) -> dict:
    """Load + validate, compute, write KPI tables and bundles — in a fresh child process, with its
    peak resident memory (the largest child so far, so run this before bigger children)."""
    code = f"""
import json, time
from pathlib import Path
from channel_analysis.params import load_params
from channel_analysis import build, bundle, exports
from channel_analysis.dataset import load_dataset
params = load_params({str(ROOT / 'params' / 'sample.yaml')!r},
                     {{"data": {{"source": {str(data)!r}}}, "output_dir": {str(out)!r}}})
t = {{}}
s = time.perf_counter(); ds = load_dataset(params, progress=False); t["load_validate"] = time.perf_counter() - s
s = time.perf_counter(); stats = build.compute(ds, params); t["compute"] = time.perf_counter() - s
s = time.perf_counter(); exports.write_exports(exports.network_tables(stats), Path({str(out)!r}) / "kpis"); t["write_kpis"] = time.perf_counter() - s
s = time.perf_counter(); n = 0
for b in build.partner_bundles(stats):
    bundle.save(b, Path({str(out)!r}) / "bundles" / (b.partner_id + ".bundle")); n += 1
t["bundles"] = time.perf_counter() - s
t["partners"] = n; t["sales_lines"] = len(ds.sales)
print(json.dumps(t))
"""
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = _child_peak_rss_mb()
    return result


def _prepared(params: dict):
    """Bundles and jobs for a run (the statistics step), without the overview."""
    from channel_analysis import quarter

    prepared = quarter.prepare(params)
    prepared.network = None
    return prepared


def render_all(params: dict, prepared, partner_ids: list[str] | None = None, scheduler: str | None = None) -> dict:
    """``render.run`` over the prepared partners (forced: every report rendered), on the local
    pool or on the Dask cluster at ``scheduler``."""
    from channel_analysis import render

    run_params = {**params, "render": {**params["render"], "partners": partner_ids}}
    started = time.perf_counter()
    summary = render.run(prepared, run_params["render"], force=True, progress=False, scheduler=scheduler)
    wall = time.perf_counter() - started
    n = len(summary.rendered)
    if summary.failed:
        raise SystemExit(f"benchmark render failed for {len(summary.failed)} partner(s): {list(summary.failed)[:3]}")
    worker = sorted(summary.render_seconds[pid] for pid in summary.rendered)
    # wall / n includes starting the fork server; the workers' own median does not
    return {"reports": n, "wall_s": wall, "s_per_report": wall / n, "reports_per_min": 60 * n / wall,
            "worker_median_s": worker[len(worker) // 2]}


def plain_loop(prepared, n: int, workdir: Path) -> dict:
    """The anchor: papermill CLI, then jupyter nbconvert CLI, per partner, one after the other."""
    import jupytext

    from channel_analysis.render.execute import read_notebook_text

    workdir.mkdir(parents=True, exist_ok=True)
    nb_path = workdir / "partner_scorecard.ipynb"
    nb = read_notebook_text(NOTEBOOK.read_text(encoding="utf-8"))  # the cells a run executes (no Lab-only cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, nb_path)
    jobs = prepared.partners[:n]
    started = time.perf_counter()
    for job in jobs:
        out = workdir / f"{job.partner_id}.ipynb"
        subprocess.run([str(BIN / "papermill"), str(nb_path), str(out), "-k", "python3", "--no-progress-bar",
                        "-p", "partner_id", job.partner_id, "-p", "period", prepared.period,
                        "-p", "bundle_path", job.bundle_path, "-p", "locale", job.locale],
                       check=True, cwd=workdir, capture_output=True)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(out)],
                       check=True, cwd=workdir, capture_output=True)
    wall = time.perf_counter() - started
    return {"reports": len(jobs), "wall_s": wall, "s_per_report": wall / len(jobs),
            "reports_per_min": 60 * len(jobs) / wall}


def bench_throughput(tmp: Path, partners: int, plain_n: int) -> dict:
    data = tmp / "throughput-data"
    _sample(data, partners)
    params = _params(data, tmp / "throughput-out")
    prepared = _prepared(params)
    ours = render_all(params, prepared)
    plain = plain_loop(prepared, plain_n, tmp / "plain")
    return {"partners": partners, "ours": ours, "plain_loop": plain,
            "ratio": ours["reports_per_min"] / plain["reports_per_min"],
            "pdf": bench_pdf(prepared.output_dir, plain_n)}


def bench_pdf(run_dir: Path, n: int) -> dict:
    """Seconds of one core to make the PDF of a rendered scorecard (render.pdf), over n reports."""
    from channel_analysis.render.pdf import html_to_pdf

    pages = sorted((run_dir / "partners").glob("*.html"))[:n]
    started = time.perf_counter()
    for page in pages:
        html_to_pdf(page.read_text(encoding="utf-8"))
    wall = time.perf_counter() - started
    return {"reports": len(pages), "s_per_pdf": wall / max(len(pages), 1)}


def bench_partners(tmp: Path, sizes: list[int]) -> dict:
    rows = []
    for n in sizes:
        data = tmp / f"partners-{n}"
        _sample(data, n)
        params = _params(data, tmp / f"partners-{n}-out")
        started = time.perf_counter()
        prepared = _prepared(params)
        prep = time.perf_counter() - started
        rows.append({"partners": n, "prepare_s": prep, **render_all(params, prepared)})
        shutil.rmtree(data, ignore_errors=True)
    first, last = rows[0]["s_per_report"], rows[-1]["s_per_report"]
    return {"rows": rows, "growth": last / first - 1}


def bench_data(tmp: Path, partners: int, lines: int, sample_reports: int) -> dict:
    big = tmp / "big-data"
    gen = _sample(big, partners, lines)
    stats = statistics_step(big, tmp / "big-stats")
    # per-report cost on the big network vs a small one, same number of reports rendered
    small = tmp / "small-data"
    _sample(small, 200)
    per = {}
    for name, data in (("small", small), ("big", big)):
        params = _params(data, tmp / f"{name}-render")
        prepared = _prepared(params)
        ids = [job.partner_id for job in prepared.partners[:sample_reports]]
        per[name] = render_all(params, prepared, ids)
    return {"generate_s": gen, "statistics": stats, "per_report": per,
            "per_report_ratio": per["big"]["s_per_report"] / per["small"]["s_per_report"],
            "worker_ratio": per["big"]["worker_median_s"] / per["small"]["worker_median_s"]}


def bench_dask(tmp: Path, partners: int) -> dict:
    """The same prepared partners rendered by the local pool and by a local Dask cluster (worker
    processes started the stock way: daemonic, with a nanny), with 1 and then 2 workers."""
    import distributed

    data = tmp / "dask-data"
    _sample(data, partners)
    params = _params(data, tmp / "dask-out")
    prepared = _prepared(params)
    rows = {}
    for workers in (1, 2):
        local_params = {**params, "render": {**params["render"], "workers": workers}}
        rows[f"local_{workers}"] = render_all(local_params, prepared)
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:
            rows[f"dask_{workers}"] = render_all(params, prepared, scheduler=cluster.scheduler_address)
    return {"partners": partners, **rows,
            "dask_speedup": rows["dask_2"]["reports_per_min"] / rows["dask_1"]["reports_per_min"],
            "local_speedup": rows["local_2"]["reports_per_min"] / rows["local_1"]["reports_per_min"],
            "dask_overhead_1": rows["dask_1"]["wall_s"] / rows["local_1"]["wall_s"] - 1,
            "dask_overhead_2": rows["dask_2"]["wall_s"] / rows["local_2"]["wall_s"] - 1}


def end_to_end(data: Path, out: Path) -> dict:
    """The quarterly run as an operator runs it (render with the run file's settings, PDF included,
    then ``send`` without ``--send``: the outbox), in a fresh child process; its wall time per
    step and the peak memory of the child and every process it starts (PSS sampled each second)."""
    code = f"""
import json, resource, time
from channel_analysis.params import load_params
from channel_analysis import delivery, quarter
params = load_params({str(ROOT / 'params' / 'sample.yaml')!r},
                     {{"data": {{"source": {str(data)!r}}}, "output_dir": {str(out)!r}}})
t = {{}}
s = time.perf_counter(); summary = quarter.run(params, progress=False); t["render_s"] = time.perf_counter() - s
t["reports"] = len(summary.rendered); t["failed"] = len(summary.failed)
s = time.perf_counter(); sent = delivery.run(params); t["outbox_s"] = time.perf_counter() - s
t["outbox_ok"] = bool(sent.ok); t["messages"] = len(list((Path({str(out)!r}) / params["period"]).rglob("*.eml")))
t["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(t))
""".replace("import json,", "from pathlib import Path\nimport json,")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakSampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"end-to-end run failed ({proc.returncode}):\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall, "peak_pss_mb": sampler.peak_mb}


def bench_scale(tmp: Path, partners: int) -> dict:
    data = tmp / "scale-data"
    gen = _sample(data, partners)
    return {"partners": partners, "generate_s": gen, **end_to_end(data, tmp / "scale-out")}


def _markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}", ""] if results.get("machine") else []
    t = results.get("throughput")
    if t:
        lines += [
            f"**Throughput** ({t['partners']} partners): render {t['ours']['reports_per_min']:.1f} reports/min "
            f"({t['ours']['s_per_report']:.2f} s/report) vs plain loop {t['plain_loop']['reports_per_min']:.1f} "
            f"reports/min ({t['plain_loop']['s_per_report']:.2f} s/report, {t['plain_loop']['reports']} partners): "
            f"**{t['ratio']:.1f}×**; the PDF of a scorecard (render.pdf) adds {t['pdf']['s_per_pdf']:.2f} s of one "
            f"core ({t['pdf']['reports']} reports)", ""]
    p = results.get("partners")
    if p:
        lines += ["**Scaling with partners**", "",
                  "| partners | prepare s | render s | s/report (wall ÷ n) | worker median s |", "|---|---|---|---|---|"]
        lines += [f"| {r['partners']:,} | {r['prepare_s']:.1f} | {r['wall_s']:.1f} | {r['s_per_report']:.3f} "
                  f"| {r['worker_median_s']:.3f} |" for r in p["rows"]]
        lines += ["", f"time per report grew {100 * p['growth']:+.1f}% from the smallest to the largest network", ""]
    d = results.get("data")
    if d:
        s = d["statistics"]
        total = s["load_validate"] + s["compute"] + s["write_kpis"] + s["bundles"]
        lines += [
            f"**Scaling with data** ({s['partners']:,} partners reported, {s['sales_lines']:,} sales lines; "
            f"sample generated in {d['generate_s']:.0f} s)", "",
            "| step | seconds |", "|---|---|",
            f"| load + validate | {s['load_validate']:.1f} |", f"| compute statistics | {s['compute']:.1f} |",
            f"| write KPI tables | {s['write_kpis']:.1f} |", f"| write partner bundles | {s['bundles']:.1f} |",
            f"| **total** | **{total:.1f}** |", "",
            f"peak resident memory of the statistics step: {s['peak_rss_mb']:,.0f} MiB "
            f"({s['peak_rss_mb'] * 2**20 / 1e9:.2f} GB; target under 3 GB)", "",
            f"per report ({d['per_report']['big']['reports']} reports each): wall ÷ n "
            f"{d['per_report']['big']['s_per_report']:.3f} s on the big network vs "
            f"{d['per_report']['small']['s_per_report']:.3f} s on a 200-partner one (ratio "
            f"{d['per_report_ratio']:.2f}); workers' median {d['per_report']['big']['worker_median_s']:.3f} s vs "
            f"{d['per_report']['small']['worker_median_s']:.3f} s (ratio {d['worker_ratio']:.2f})", ""]
    k = results.get("dask")
    if k:
        lines += [f"**Dask** ({k['partners']} partners, every report rendered; local Dask cluster of stock worker "
                  "processes vs the local pool)", "",
                  "| path | workers | render s | reports/min |", "|---|---|---|---|"]
        for name in ("local_1", "dask_1", "local_2", "dask_2"):
            r = k[name]
            lines.append(f"| {'local pool' if name.startswith('local') else 'Dask'} | {name[-1]} | "
                         f"{r['wall_s']:.1f} | {r['reports_per_min']:.1f} |")
        lines += ["", f"Dask 2 workers ÷ 1: **{k['dask_speedup']:.2f}×** (target ≥ 1.8×; local pool "
                  f"{k['local_speedup']:.2f}×); the Dask path against the local pool: "
                  f"{100 * k['dask_overhead_1']:+.1f}% time with 1 worker, {100 * k['dask_overhead_2']:+.1f}% with 2", ""]
    e = results.get("scale")
    if e:
        lines += [f"**End to end** ({e['partners']:,} partners generated in {e['generate_s']:.0f} s; "
                  f"{e['reports']:,} scorecards + the overview, {e['failed']} failed; outbox of "
                  f"{e['messages']:,} messages)", "",
                  "| step | seconds |", "|---|---|",
                  f"| statistics + every scorecard + overview (`quarter.run`) | {e['render_s']:.1f} |",
                  f"| outbox (dry-run send) | {e['outbox_s']:.1f} |",
                  f"| **total** (child process) | **{e['wall_s']:.1f}** ({e['wall_s'] / 60:.1f} min; target under 20) |",
                  "", f"peak memory: {e['peak_pss_mb']:,.0f} MiB for all the run's processes together "
                  f"(PSS, sampled each second), {e['driver_peak_rss_mb']:,.0f} MiB for the driver process alone "
                  "(peak RSS); target under 3 GB", ""]
    leak = results.get("processes_left")
    if leak is not None:
        lines += [f"**Processes left behind** after the run: {len(leak)}"
                  + "".join(f"\n- pid {p['pid']} (parent {p['ppid']}): `{p['cmdline']}`" for p in leak), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=BENCHMARKS, action="append",
                        help="run only these benchmarks (repeatable) [all]")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness works")
    parser.add_argument("--scale-partners", type=int, default=None,
                        help="partners of the end-to-end benchmark [5000; --quick 40]")
    parser.add_argument("--dask-partners", type=int, default=None,
                        help="partners of the Dask benchmark [100; --quick 16]")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inner:
        # the benchmarks run in a child process; once it has exited, no process it started may be alive
        token = mark_run()  # every process started from here on carries it
        subprocess.run([sys.executable, "-m", "benchmarks", *sys.argv[1:], "--inner"], check=True, cwd=ROOT)
        left = left_behind(token, wait=10)
        results = json.loads((RESULTS / "latest.json").read_text(encoding="utf-8"))
        results["processes_left"] = left
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        (RESULTS / "latest.md").write_text(_markdown(results), encoding="utf-8")
        print(_markdown({"machine": "", "processes_left": left}), flush=True)
        print(f"\nwritten: {RESULTS / 'latest.md'}")
        if left:
            raise SystemExit(f"{len(left)} process(es) outlived the benchmark run")
        return
    which = args.only or BENCHMARKS
    quick = args.quick
    results: dict = {"machine": f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"}
    tmp = Path(tempfile.mkdtemp(prefix="ca-bench-"))
    try:
        if "throughput" in which:
            results["throughput"] = bench_throughput(tmp, 40 if quick else 200, 4 if quick else 20)
            print(_markdown({"machine": results["machine"], "throughput": results["throughput"]}), flush=True)
        if "partners" in which:
            results["partners"] = bench_partners(tmp, [60, 120] if quick else [500, 2000])
            print(_markdown({"machine": "", "partners": results["partners"]}), flush=True)
        if "data" in which:
            results["data"] = bench_data(tmp, 300 if quick else 5000, 300_000 if quick else 10_000_000,
                                         10 if quick else 100)
            print(_markdown({"machine": "", "data": results["data"]}), flush=True)
        if "dask" in which:
            results["dask"] = bench_dask(tmp, args.dask_partners or (16 if quick else 100))
            print(_markdown({"machine": "", "dask": results["dask"]}), flush=True)
        if "scale" in which:
            results["scale"] = bench_scale(tmp, args.scale_partners or (40 if quick else 5000))
            print(_markdown({"machine": "", "scale": results["scale"]}), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (RESULTS / "latest.md").write_text(_markdown(results), encoding="utf-8")


if __name__ == "__main__":
    main()
