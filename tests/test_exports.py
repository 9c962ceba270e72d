"""exports: the tables the channel team acts on, declared column by column, written in open formats."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from channel_analysis import build, exports, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.params import load_params

PERIOD = "2026Q3"


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    data = tmp_path_factory.mktemp("data") / "sample"
    sample.write(sample.generate(partners=24, quarters=6, seed=5), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": PERIOD, "history_quarters": 6,
                                "data": {"source": str(data)},
                                "output_dir": str(tmp_path_factory.mktemp("reports"))})
    return build.compute(load_dataset(params, progress=False), params)


@pytest.fixture(scope="module")
def tables(stats):
    return exports.network_tables(stats)


def _type(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "true/false"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "text"


# --------------------------------------------------------------------------------------------
# declarations and the generated document
# --------------------------------------------------------------------------------------------

def test_every_table_is_exported_and_declared(tables):
    assert set(tables) == set(exports.EXPORTS)  # backtest included: the sample history is long enough
    assert set(exports.PURPOSE) == set(exports.EXPORTS)


def test_every_exported_column_is_declared_with_its_type(tables):
    for name, frame in tables.items():
        declared = exports.EXPORTS[name]
        undeclared = [c for c in frame.columns if c not in declared]
        assert not undeclared, f"{name}: columns not declared in exports.EXPORTS: {undeclared}"
        required = [c for c, col in declared.items() if not col.optional]
        assert not [c for c in required if c not in frame.columns], name
        for column in frame.columns:
            s = frame[column]
            if s.dtype == object and s.isna().all():
                continue  # an all-empty text column has no type to compare
            assert _type(s) == declared[column].type, (name, column, s.dtype)


def test_committed_exports_doc_is_up_to_date():
    committed = exports.DEFAULT_DOC_PATH.read_text(encoding="utf-8")
    assert committed == exports.render_doc(), "docs/exports.md is stale: run `channel-analysis docs`"


def test_doc_has_one_section_per_table_and_a_row_per_column():
    text = exports.render_doc()
    for name, columns in exports.EXPORTS.items():
        section = text[text.index(f"## `{name}`"):]
        section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else None]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [r.split("`")[1] for r in rows] == list(columns), name
        for row in rows:
            column = row.split("`")[1]
            assert f"| {columns[column].type} |" in row


def test_write_doc(tmp_path):
    path = exports.write_doc(tmp_path / "docs" / "exports.md")
    assert path.read_text(encoding="utf-8") == exports.render_doc()


# --------------------------------------------------------------------------------------------
# content
# --------------------------------------------------------------------------------------------

def test_existing_tables_are_the_statistics_unchanged(stats, tables):
    assert tables["kpis"] is stats.kpis and tables["targets"] is stats.targets
    pd.testing.assert_frame_equal(tables["backtest"], stats.backtest.per_quarter)
    net = tables["network"].set_index("period")
    pd.testing.assert_frame_equal(net[stats.network.columns.drop("period")],
                                  stats.network.set_index("period")[stats.network.columns.drop("period")])
    assert net.loc[PERIOD, "revenue_gini_t4q"] == pytest.approx(stats.concentration.gini)
    assert net["revenue_gini_t4q"].drop(PERIOD).isna().all()
    quarters = sorted(net.index)
    for before, after in zip(quarters, quarters[1:]):
        expected = net.loc[after, "revenue"] / net.loc[before, "revenue"] - 1
        assert net.loc[after, "revenue_growth_prev"] == pytest.approx(expected)


def test_segments_join_abc_score_and_matrix(stats, tables):
    seg = tables["segments"].set_index("partner_id")
    m = stats.matrix.set_index("partner_id")
    assert set(seg.index) == set(stats.scores["partner_id"]) | set(m.index)
    for pid, row in m.iterrows():
        assert (seg.loc[pid, "performance"], seg.loc[pid, "potential"], seg.loc[pid, "action"]) == \
            (row["performance"], row["potential"], row["action"])
    abc = stats.concentration.table.set_index("partner_id")["abc_class"]
    assert (seg.loc[abc.index, "abc_class"] == abc).all()


def test_tier_status_and_migration_in_long_form(stats, tables):
    ts = tables["tier_status"]
    assert sorted(ts["partner_id"]) == sorted(stats.tier_status["partner_id"]) and (ts["period"] == PERIOD).all()
    mig = tables["tier_migration"]
    levels = [lvl["name"] for lvl in stats.params["tiers"]["levels"]]
    assert len(mig) == len(levels) ** 2 and list(dict.fromkeys(mig["from_tier"])) == levels
    # official tier (from) × recommended tier (to): every partner once, the diagonal holds
    assert mig["partners"].sum() == len(ts)
    stay = mig[mig["from_tier"] == mig["to_tier"]]["partners"].sum()
    assert stay == int((ts["tier"].astype(str) == ts["recommended_tier"].astype(str)).sum())
    assert stay == int((ts["recommendation"] == "hold").sum())


def test_at_risk_lists_exactly_the_partners_at_risk_with_their_kpis(stats, tables):
    k = stats.kpis[(stats.kpis["period"] == PERIOD) & (stats.kpis["window"] == "quarter")].set_index("partner_id")
    risk = tables["at_risk"]
    assert len(risk) >= 1  # seed 5 has one
    assert set(risk["partner_id"]) == set(k.index[k["status"] == "at_risk"])
    for row in risk.itertuples():
        assert row.revenue == k.loc[row.partner_id, "revenue"]
    assert risk["revenue"].is_monotonic_decreasing


def test_partners_snapshot_marks_the_reported_partners(stats, tables):
    p = tables["partners"]
    assert sorted(p["partner_id"]) == sorted(stats.dataset.partners["partner_id"])
    reported = set(build.reported_partners(stats)["partner_id"])
    assert set(p.loc[p["reported"], "partner_id"]) == reported
    assert p["reported"].dtype == bool
    k = stats.kpis[(stats.kpis["period"] == PERIOD) & (stats.kpis["window"] == "quarter")]
    status = p.set_index("partner_id")["status"]
    assert (status[k["partner_id"]].to_numpy() == k["status"].to_numpy()).all()


def test_recipients_are_the_contacts_of_reported_partners(stats, tables):
    r = tables["recipients"]
    reported = set(build.reported_partners(stats)["partner_id"])
    contacts = stats.dataset.partner_contacts
    assert list(r.columns) == ["partner_id", "email", "name", "receives_scorecard"]
    assert set(r["partner_id"]) <= reported
    assert len(r) == int(contacts["partner_id"].isin(reported).sum())
    assert r["receives_scorecard"].dtype == bool


def test_recipients_empty_with_columns_without_contacts(stats):
    s = dataclasses.replace(stats, dataset=dataclasses.replace(stats.dataset, partner_contacts=None))
    r = exports.recipients(s)
    assert r.empty and list(r.columns) == list(exports.EXPORTS["recipients"])


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

def test_write_exports_writes_parquet_and_csv_of_every_table(tables, tmp_path):
    written = exports.write_exports(tables, tmp_path / "kpis")
    assert len(written) == 2 * len(tables) and all(p.exists() for p in written)
    for name, frame in tables.items():
        back = pd.read_parquet(tmp_path / "kpis" / f"{name}.parquet")
        assert list(back.columns) == list(frame.columns) and len(back) == len(frame), name
        csv = pd.read_csv(tmp_path / "kpis" / f"{name}.csv", dtype={"partner_id": str})
        assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame), name
    kp = pd.read_parquet(tmp_path / "kpis" / "kpis.parquet")
    np.testing.assert_allclose(kp["revenue"], tables["kpis"]["revenue"])


def test_write_exports_writes_every_declared_table(stats, tmp_path):
    written = exports.write_exports(exports.network_tables(stats), tmp_path / "out")
    names = {p.name for p in written}
    assert names == {f"{t}.{fmt}" for t in exports.EXPORTS for fmt in ("parquet", "csv")}
