"""Minimal extracts, as a CRM or an ERP exports them, run end to end: validate → compute → render.

Each shape is cut from the shipped sample by DROPPING tables and columns (never adding one): the
partners' id and name only, plus one activity table (pipeline-only, lead-only, sales-only with
the sales columns a CRM lacks removed, and sales with deals of which none is won). Each must
validate, compute and render three scorecards and the overview without a traceback; KPIs whose
inputs are absent are "not available" on the page (never 0, never "nan") and the run summary
lists them with their reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from channel_analysis import audit, build, quarter, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.params import load_params
from channel_analysis.validation import validate_source

ROOT = Path(__file__).resolve().parents[1]
PARTNERS = ["partner_id", "name"]
SALES_A_CRM_LACKS = ["customer_id", "registered_units", "registered_date", "channel", "cost", "category",
                     "product_id", "currency"]


def _shape(name: str) -> dict:
    full = sample.generate(partners=12, quarters=4)
    partners = full["partners"][PARTNERS]
    if name == "pipeline_only":
        return {"partners": partners, "opportunities": full["opportunities"].drop(columns=["currency"])}
    if name == "lead_only":
        return {"partners": partners, "leads": full["leads"].drop(columns=["opportunity_id"])}
    if name == "sales_only":
        return {"partners": partners, "sales": full["sales"].drop(columns=SALES_A_CRM_LACKS)}
    if name == "no_won_deal":
        o = full["opportunities"]
        return {"partners": partners, "sales": full["sales"].drop(columns=["currency"]),
                "opportunities": o[o["outcome"] != "won"].drop(columns=["currency"])}
    raise ValueError(name)


SHAPES = ["pipeline_only", "lead_only", "sales_only", "no_won_deal"]


@pytest.fixture(scope="module", params=SHAPES)
def minimal_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    data = tmp / "data"
    sample.write(_shape(request.param), data)
    params = load_params(ROOT / "params" / "sample.yaml",
                         {"data": {"source": str(data)}, "output_dir": str(tmp / "out"), "history_quarters": 4,
                          "render": {"pdf": False}})
    report = validate_source(params, progress=False)
    stats = build.compute(load_dataset(params, progress=False), params)
    pids = sorted(build.reported_partners(stats)["partner_id"])[:3]
    params["render"]["partners"] = pids
    summary = quarter.run(params, progress=False)
    run_dir = Path(params["output_dir"]) / params["period"]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return {"shape": request.param, "report": report, "stats": stats, "summary": summary, "dir": run_dir,
            "manifest": manifest, "pids": pids}


def test_the_minimal_extract_validates_and_renders_three_partners(minimal_run):
    assert minimal_run["report"].ok, minimal_run["report"].format()
    summary = minimal_run["summary"]
    assert summary.ok, summary.format()
    assert sorted(summary.rendered) == minimal_run["pids"] and len(minimal_run["pids"]) == 3
    assert summary.overview == "ok"


def test_pages_read_clean_and_say_not_available(minimal_run):
    problems = []
    pages = [minimal_run["dir"] / e["output"] for e in minimal_run["manifest"]["reports"].values()
             if e.get("status") == "ok"]
    pages.append(minimal_run["dir"] / "network_overview.html")
    for path in pages:
        page = path.read_text(encoding="utf-8")
        problems += [f"{path.name}: {p}" for p in audit.page_problems(page, "en_GB")]
    assert problems == [], "\n".join(problems[:30])
    overview = (minimal_run["dir"] / "network_overview.html").read_text(encoding="utf-8")
    assert "Not available with this data:" in overview
    if minimal_run["shape"] == "sales_only":  # no cost: no gross margin row (it printed "$0")
        for path in pages[:-1]:
            page = path.read_text(encoding="utf-8")
            assert ">Revenue<" in page and ">Gross margin<" not in page and ">Active customers<" not in page


def test_every_shown_number_is_the_exported_value(minimal_run):
    result = audit.check_run(minimal_run["dir"])
    assert result.ok, result.summary()


def test_unavailable_kpis_are_nan_and_listed_with_their_reason(minimal_run):
    stats, shape = minimal_run["stats"], minimal_run["shape"]
    skipped = dict(zip(stats.skipped["item"], stats.skipped["reason"]))
    expected = {
        "pipeline_only": {"revenue": "sales not provided", "leads_received": "leads not provided"},
        "lead_only": {"revenue": "sales not provided", "win_rate": "opportunities not provided"},
        "sales_only": {"gross_margin": "sales.cost not provided",
                       "customers_active": "sales.customer_id not provided",
                       "registration_rate": "sales.registered_units not provided",
                       "win_rate": "opportunities not provided"},
        "no_won_deal": {"leads_received": "leads not provided", "certified_reps": "trainings not provided"},
    }[shape]
    for key, reason in expected.items():
        assert skipped.get(key) == reason
        assert stats.kpis[key].isna().all() if key in stats.kpis else stats.network[key].isna().all()
    # the same list in the exported table and the render summary
    exported = (minimal_run["dir"] / "kpis" / "skipped.csv").read_text(encoding="utf-8")
    assert all(key in exported for key in expected)
    assert any(line.startswith(f"{key}: ") for key in expected for line in minimal_run["summary"].data_gaps)
    assert "not available with this data" in minimal_run["summary"].format()


def test_without_a_won_deal_nobody_has_a_first_won_deal(minimal_run):
    if minimal_run["shape"] != "no_won_deal":
        pytest.skip("the no-won-deal extract")
    first = minimal_run["stats"].time_to_first_deal  # (crashed: Cannot cast DatetimeArray to float64)
    assert len(first) and not first["first_deal"].any()


def test_onboarded_date_is_derived_from_first_activity_and_said(minimal_run):
    ds = minimal_run["stats"].dataset
    assert ds.onboarded_derived > 0
    assert any("onboarded_date: derived from first activity" in n for n in ds.notes)
    assert "partners.onboarded_date" in set(minimal_run["stats"].skipped["item"])
    first = ds.first_activity()
    derived = ds.partners.set_index("partner_id")["onboarded_date"].dropna()
    assert (derived == first.reindex(derived.index)).all()


def test_default_tiers_and_weights_skip_what_the_data_lacks_and_say_so(minimal_run):
    items = set(minimal_run["stats"].skipped["item"])
    # the default tiers need certified_reps (trainings): skipped, not silently failing everyone
    assert "tiers.Silver.certified_reps" in items
    assert "segmentation.weights.certified_reps" in items
    levels = minimal_run["stats"].params["tiers"]["levels"]
    assert all("certified_reps" not in lv["criteria"] for lv in levels)


def test_the_summary_prints_no_nan(minimal_run):
    text = minimal_run["stats"].summary()
    assert not re.search(r"\bnan\b", text, flags=re.I), text
    if minimal_run["shape"] in ("pipeline_only", "lead_only"):
        assert "Gini" not in text and "revenue this quarter" not in text
        assert np.isnan(minimal_run["stats"].concentration.gini)

