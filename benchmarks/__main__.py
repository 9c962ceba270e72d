"""``make bench``: the performance benchmarks of the quarterly run (see benchmarks/README.md).

1. throughput  — reports per minute of ``channel-analysis render`` against the plain loop
                 (papermill CLI then ``jupyter nbconvert --to html`` per partner, sequential), on the
                 same notebook and the same bundles, measured side by side in this run;
2. partners    — time per report as the network grows (default 500 → 2,000 partners);
3. data        — 5,000 partners / 10 million sales lines: the statistics step's time and peak
                 memory, and the per-report cost against a small network's.

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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results"
NOTEBOOK = ROOT / "notebooks" / "partner_scorecard.py"


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


def render_all(params: dict, prepared, partner_ids: list[str] | None = None) -> dict:
    """``render.run`` over the prepared partners (forced: every report rendered)."""
    from channel_analysis import render

    run_params = {**params, "render": {**params["render"], "partners": partner_ids}}
    started = time.perf_counter()
    summary = render.run(prepared, run_params["render"], force=True, progress=False)
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


def _markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}", ""]
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
            f"peak memory of the statistics step: {s['peak_rss_mb']:,.0f} MB", "",
            f"per report ({d['per_report']['big']['reports']} reports each): wall ÷ n "
            f"{d['per_report']['big']['s_per_report']:.3f} s on the big network vs "
            f"{d['per_report']['small']['s_per_report']:.3f} s on a 200-partner one (ratio "
            f"{d['per_report_ratio']:.2f}); workers' median {d['per_report']['big']['worker_median_s']:.3f} s vs "
            f"{d['per_report']['small']['worker_median_s']:.3f} s (ratio {d['worker_ratio']:.2f})", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["throughput", "partners", "data"], action="append",
                        help="run only these benchmarks (repeatable) [all]")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness works")
    args = parser.parse_args()
    which = args.only or ["throughput", "partners", "data"]
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (RESULTS / "latest.md").write_text(_markdown(results), encoding="utf-8")
    print(f"\nwritten: {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
