"""Account coverage: value per account, segments with anti-flapping, moves, migration, the sample's
planted movements, settings and the skipped feature."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bundle_factory import partner_bundle
from channel_analysis import accounts, blocks, build, exports, sample
from channel_analysis.dataset import load_dataset
from channel_analysis.errors import ParamsError
from channel_analysis.overview import Overview
from channel_analysis.params import load_defaults, load_params
from channel_analysis.scorecard import Scorecard
from channel_analysis.settings import AccountSegment, AccountSettings

QUARTERS = ["2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"]
AS_OF = "2026-06-30"
SETTINGS = AccountSettings(
    segments=(AccountSegment("digital", "inside_sales"),
              AccountSegment("core", "partner_managed", min_value=100),
              AccountSegment("key", "key_account_rep", min_value=1000, min_potential=5000)),
    coverage_models={"inside_sales": "manufacturer", "partner_managed": "partner", "key_account_rep": "partner"},
    promote_after=2, relegate_after=2, overview_moves=30)


def sales(rows: list[tuple]) -> pd.DataFrame:
    """rows: (date, partner_id, customer_id, revenue)."""
    f = pd.DataFrame(rows, columns=["date", "partner_id", "customer_id", "revenue"])
    return f.assign(date=pd.to_datetime(f["date"]), revenue=f["revenue"].astype(float))


def quarterly(customer: str, partner: str, revenue: list[float]) -> list[tuple]:
    """One line per quarter of QUARTERS (mid-quarter), skipping zeros."""
    days = ["2025-02-15", "2025-05-15", "2025-08-15", "2025-11-15", "2026-02-15", "2026-05-15"]
    return [(d, partner, customer, r) for d, r in zip(days, revenue) if r]


# --------------------------------------------------------------------------------------------
# value and serving partner (hand-computed)
# --------------------------------------------------------------------------------------------

def test_value_is_trailing_four_quarter_revenue_and_serving_partner_the_largest():
    s = sales(quarterly("A", "P2", [10, 20, 30, 40, 50, 0]) + quarterly("A", "P1", [0, 0, 0, 0, 100, 0])
              + [("2024-12-01", "P1", "A", 1000.0),  # 2024Q4: inside 2025Q1..Q3's trailing year
                 ("2026-07-01", "P1", "A", 5000.0)])  # after as_of: ignored
    v = accounts.account_values(s, QUARTERS, AS_OF)
    assert v["period"].tolist() == QUARTERS
    assert v["value"].tolist() == [1010.0, 1030.0, 1060.0, 100.0, 240.0, 220.0]
    assert v["partner_id"].tolist() == ["P1", "P1", "P1", "P2", "P2", "P2"]


def test_serving_partner_ties_take_the_smallest_id_and_a_quarter_without_revenue_keeps_the_last():
    s = sales([("2025-02-15", "P9", "A", 50.0), ("2025-02-20", "P3", "A", 50.0)])
    v = accounts.account_values(s, QUARTERS, AS_OF)
    assert v["partner_id"].tolist() == ["P3"] * 6  # tie → P3; from 2026Q1 on no revenue: P3 kept
    assert v["value"].tolist() == [100.0] * 4 + [0.0, 0.0]


def test_an_account_has_rows_from_its_first_quarter_with_revenue():
    v = accounts.account_values(sales(quarterly("B", "P1", [0, 0, 5, 0, 0, 0])), QUARTERS, AS_OF)
    assert v["period"].tolist() == QUARTERS[2:]


# --------------------------------------------------------------------------------------------
# segments, anti-flapping, moves and migration (hand-computed)
# --------------------------------------------------------------------------------------------

def _run(rows, potential=None, names=None):
    acc = None
    if potential is not None:
        acc = pd.DataFrame({"customer_id": list(potential), "potential": list(potential.values())})
        if names:
            acc["name"] = acc["customer_id"].map(names)
    return accounts.compute(sales(rows), acc, SETTINGS, QUARTERS, QUARTERS[-1], AS_OF)


def test_promotion_needs_two_quarters_and_a_single_quarter_above_is_ignored():
    rows = (quarterly("UP", "P1", [50, 0, 0, 0, 600, 500])  # t4q 50,50,50,50,600,1100
            + quarterly("FLAP", "P1", [150, 0, 0, 0, 0, 200]))  # t4q 150 ×4 (core), 0 (digital), 200 (core)
    cov = _run(rows, potential={"UP": 10_000.0, "FLAP": 0.0})
    up = cov.history[cov.history["customer_id"] == "UP"]
    assert up["qualifying_segment"].astype(str).tolist() == ["digital"] * 4 + ["core", "key"]
    assert up["segment"].astype(str).tolist() == ["digital"] * 5 + ["core"]  # the lowest of the run
    assert up["change"].tolist() == ["new"] + ["unchanged"] * 4 + ["promoted"]
    flap = cov.history[cov.history["customer_id"] == "FLAP"]
    assert flap["segment"].astype(str).tolist() == ["core"] * 6
    assert set(flap["change"]) == {"new", "unchanged"}
    m = cov.moves
    assert m[["customer_id", "change", "from_segment", "to_segment", "from_coverage", "to_coverage", "action",
              "partner_id", "value"]].values.tolist() == [
        ["UP", "promoted", "digital", "core", "inside_sales", "partner_managed", "receive", "P1", 1100.0]]


def test_relegation_hands_the_account_over_and_migration_counts_previous_to_current():
    rows = (quarterly("DOWN", "P2", [150, 0, 0, 0, 0, 0])  # t4q 150 ×4, then 0, 0 → digital after 2 quarters
            + quarterly("STAY", "P1", [150, 150, 150, 150, 150, 150])
            + quarterly("NEW", "P1", [0, 0, 0, 0, 0, 5]))
    cov = _run(rows, potential={"DOWN": 1.0, "STAY": 1.0, "NEW": 1.0}, names={"DOWN": "Down Ltd"})
    m = cov.moves
    assert m[["customer_id", "name", "change", "from_segment", "to_segment", "action", "partner_id"]].values.tolist() \
        == [["DOWN", "Down Ltd", "relegated", "core", "digital", "hand_over", "P2"]]
    mig = cov.migration.set_index(["from_segment", "to_segment"])["accounts"]
    assert len(mig) == 9 and mig.sum() == 2  # NEW is new this quarter: not counted
    assert mig[("core", "digital")] == 1 and mig[("core", "core")] == 1
    assert cov.migration["period"].unique().tolist() == ["2026Q2"]


def test_partner_actions():
    owners = dict(SETTINGS.coverage_models)
    assert accounts.partner_action("partner_managed", "inside_sales", owners) == "hand_over"
    assert accounts.partner_action("inside_sales", "key_account_rep", owners) == "receive"
    assert accounts.partner_action("partner_managed", "key_account_rep", owners) == "change_coverage"
    assert accounts.partner_action("partner_managed", "partner_managed", owners) == "no_change"


def test_unknown_potential_does_not_meet_a_potential_minimum():
    cov = _run(quarterly("A", "P1", [2000] * 6), potential={"A": np.nan})
    assert set(cov.history["segment"].astype(str)) == {"core"}


def test_without_potential_segments_on_value_only_and_says_so():
    both = AccountSettings(
        segments=(*SETTINGS.segments[:2], AccountSegment("growth", "partner_managed", min_value=100,
                                                         min_potential=1000), SETTINGS.segments[2]),
        coverage_models=SETTINGS.coverage_models, promote_after=1, relegate_after=1, overview_moves=30)
    cov = accounts.compute(sales(quarterly("A", "P1", [2000] * 6)), None, both, QUARTERS, "2026Q2", AS_OF)
    assert cov.settings.names == ("digital", "core", "key")  # growth has nothing above core without potential
    assert [item for item, _ in cov.skipped] == ["accounts.potential", "accounts.segments.growth"]
    assert set(cov.history["segment"].astype(str)) == {"key"}  # value 2000 ≥ 1000, potential ignored


def test_no_customer_ids_skips_the_feature():
    s = sales(quarterly("A", "P1", [1] * 6)).drop(columns="customer_id")
    assert accounts.compute(s, None, SETTINGS, QUARTERS, "2026Q2", AS_OF) is None
    assert accounts.compute(None, None, SETTINGS, QUARTERS, "2026Q2", AS_OF) is None


def test_inputs_are_not_modified():
    s = sales(quarterly("A", "P1", [500, 600, 0, 700, 800, 900]))
    acc = pd.DataFrame({"customer_id": ["A"], "potential": [9000.0]})
    s0, a0 = s.copy(), acc.copy()
    accounts.compute(s, acc, SETTINGS, QUARTERS, "2026Q2", AS_OF)
    pd.testing.assert_frame_equal(s, s0)
    pd.testing.assert_frame_equal(acc, a0)


# --------------------------------------------------------------------------------------------
# property: the official segment only moves after enough consecutive quarters of evidence
# --------------------------------------------------------------------------------------------

@given(st.lists(st.sampled_from([0.0, 50.0, 150.0, 400.0, 1500.0]), min_size=6, max_size=6),
       st.integers(1, 3), st.integers(1, 3))
def test_property_moves_are_backed_by_consecutive_qualifying_quarters(revenue, up, down):
    settings = AccountSettings(SETTINGS.segments, SETTINGS.coverage_models, up, down, 30)
    s = sales(quarterly("A", "P1", revenue))
    if s.empty:
        return
    cov = accounts.compute(s, pd.DataFrame({"customer_id": ["A"], "potential": [1e6]}), settings, QUARTERS,
                           "2026Q2", AS_OF)
    h = cov.history.reset_index(drop=True)
    # the value is the sum of the four quarterly revenues ending with each quarter
    padded = [0.0] * 3 + list(revenue)
    expected = [sum(padded[i:i + 4]) for i in range(6)]
    start = QUARTERS.index(h["period"].iloc[0])
    assert np.allclose(h["value"], expected[start:])
    q = h["qualifying_segment"].cat.codes.to_numpy()
    seg = h["segment"].cat.codes.to_numpy()
    prev = h["previous_segment"].cat.codes.to_numpy()
    for i in range(len(h)):
        if h.loc[i, "change"] == "promoted":
            assert i + 1 >= up and (q[i - up + 1:i + 1] > prev[i]).all() and seg[i] > prev[i]
            assert seg[i] == q[i - up + 1:i + 1].min()
        elif h.loc[i, "change"] == "relegated":
            assert i + 1 >= down and (q[i - down + 1:i + 1] < prev[i]).all() and seg[i] < prev[i]
        elif h.loc[i, "change"] == "unchanged":
            assert seg[i] == prev[i]
    moves = cov.moves
    assert len(moves) == int(h["change"].iloc[-1] in ("promoted", "relegated"))


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------

def test_settings_from_defaults_and_errors():
    st_ = AccountSettings.from_params(load_defaults())
    assert st_.names[0] == "digital" and st_.promote_after >= 1
    with pytest.raises(ParamsError, match="lowest segment must have none"):
        AccountSettings((AccountSegment("a", "x", min_value=1),), {"x": "partner"}, 1, 1, 30)
    with pytest.raises(ParamsError, match="not a model of accounts.coverage_models"):
        AccountSettings((AccountSegment("a", "y"),), {"x": "partner"}, 1, 1, 30)
    with pytest.raises(ParamsError, match="worked by partner or manufacturer"):
        AccountSettings((AccountSegment("a", "x"),), {"x": "somebody"}, 1, 1, 30)
    with pytest.raises(ParamsError, match="promote_after"):
        AccountSettings((AccountSegment("a", "x"),), {"x": "partner"}, 0, 1, 30)
    bad = load_defaults()
    bad["accounts"]["segments"] = [{"name": "a", "coverage": "inside_sales", "minimum": 3}]
    with pytest.raises(ParamsError, match="unknown key"):
        AccountSettings.from_params(bad)


# --------------------------------------------------------------------------------------------
# the sample: planted movements recovered exactly, exports
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_stats(tmp_path_factory):
    data = tmp_path_factory.mktemp("acc") / "data"
    sample.write(sample.generate(partners=30, quarters=8, seed=11), data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 8,
                                "data": {"source": str(data)}})
    return build.compute(load_dataset(params, progress=False), params)


def test_sample_recovers_the_planted_account_moves(sample_stats):
    cov = sample_stats.account_coverage
    planted = cov.moves[cov.moves["customer_id"].isin(list(sample.PLANTED_ACCOUNTS))]
    found = {r.customer_id: (r.change, r.from_segment, r.to_segment, r.action) for r in planted.itertuples()}
    assert found == sample.PLANTED_MOVES
    h = cov.history[cov.history["customer_id"].isin(["KA-04", "KA-06"])]
    assert set(h["change"]) == {"new", "unchanged"}  # the flapping accounts never move
    assert len(set(h.loc[h["customer_id"] == "KA-04", "qualifying_segment"].astype(str))) == 2  # but flap
    # the serving partners are the largest steady partners, in the planted order
    serving = cov.moves.set_index("customer_id")["partner_id"]
    assert serving["KA-01"] == serving["KA-02"] == serving["KA-03"] != serving["KA-05"]
    names = cov.moves.set_index("customer_id")["name"]
    assert names["KA-01"] == sample.PLANTED_ACCOUNTS["KA-01"][0]
    assert not len(sample_stats.skipped[sample_stats.skipped["item"].str.startswith("accounts")])


def test_sample_exports_the_account_tables(sample_stats):
    tables = exports.network_tables(sample_stats)
    for name in ("account_segments", "account_moves", "account_migration"):
        assert list(tables[name].columns) == list(exports.EXPORTS[name])
    seg = tables["account_segments"]
    now = seg[seg["period"] == "2026Q3"]
    mig = tables["account_migration"]
    assert mig["accounts"].sum() == int(now["previous_segment"].notna().sum())
    moved = mig[mig["from_segment"] != mig["to_segment"]]["accounts"].sum()
    assert moved == len(tables["account_moves"])
    assert set(tables["account_moves"]["action"]) <= set(accounts.ACTIONS)


def test_without_customer_ids_the_run_lists_account_coverage_as_skipped(tmp_path):
    tables = sample.generate(partners=8, quarters=4, seed=2)
    tables["sales"] = tables["sales"].drop(columns="customer_id")
    data = tmp_path / "data"
    sample.write(tables, data)
    params = load_params(None, {"as_of": "2026-10-05", "period": "2026Q3", "history_quarters": 4,
                                "data": {"source": str(data)}})
    stats = build.compute(load_dataset(params, progress=False), params)
    assert stats.account_coverage is None
    assert stats.skipped.set_index("item").loc["accounts", "reason"] == accounts.NO_CUSTOMERS
    assert "account_moves" not in exports.network_tables(stats)


# --------------------------------------------------------------------------------------------
# pages: the overview section and each scorecard show the exported tables' values
# --------------------------------------------------------------------------------------------

def _rows(markup: str) -> list[list[str]]:
    """Cells of every body row of every table in ``markup`` (text unescaped)."""
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", markup, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        if cells:
            out.append([html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells])
    return out


def test_overview_account_section_shows_the_exported_tables(sample_stats):
    tables = exports.network_tables(sample_stats)
    b = exports.network_bundle(sample_stats, tables)
    markup = Overview(b, locale="en").account_coverage().markup
    assert "ca-note-unavailable" not in markup
    rows = _rows(markup)
    seg = tables["account_segments"]
    now = seg[seg["period"] == "2026Q3"]
    order = list(sample_stats.account_coverage.settings.names)
    # 1. accounts per segment (with coverage model), then 2. the migration matrix, then 3. the moves
    counts = rows[:len(order)]
    assert [r[0] for r in counts] == order
    assert [int(r[2].replace(",", "")) for r in counts] == [int((now["segment"] == s).sum()) for s in order]
    mig = tables["account_migration"].set_index(["from_segment", "to_segment"])["accounts"]
    matrix = rows[len(order):2 * len(order)]
    for r in matrix:
        assert [int(c) for c in r[1:]] == [int(mig[(r[0], to)]) for to in order]
    moves = rows[2 * len(order):]
    # the largest moves by revenue (accounts.overview_moves), then a note on how many there are
    limit = sample_stats.account_coverage.settings.overview_moves
    exported = tables["account_moves"].sort_values("value", ascending=False, kind="stable").head(limit)
    assert len(moves) == limit < len(tables["account_moves"])
    assert f"The {limit} largest of {len(tables['account_moves']):,} moves" in markup
    assert [(r[1], r[3], r[4], r[5]) for r in moves] == list(zip(
        exported["customer_id"], exported["from_segment"], exported["to_segment"], exported["partner_id"]))
    words = {"hand_over": "Hand the account over to our team", "receive": "Take over the account"}
    for r, action in zip(moves, exported["action"]):
        if action in words:
            assert r[6] == words[action]
    # the quarter's counts are tagged network measures equal to the exported network row
    net = tables["network"].set_index("period").loc["2026Q3"]
    tags = dict(re.findall(r'data-measure="(accounts_\w+)"[^>]*data-value="([^"]*)"', markup))
    every = tables["account_moves"]
    assert float(tags["accounts_promoted"]) == net["accounts_promoted"] == (every["change"] == "promoted").sum()
    assert float(tags["accounts_relegated"]) == net["accounts_relegated"] == (every["change"] == "relegated").sum()


def test_each_scorecard_lists_only_its_own_accounts_that_move(sample_stats):
    moves = exports.network_tables(sample_stats)["account_moves"]
    host = moves.set_index("customer_id").loc["KA-01", "partner_id"]
    seen = 0
    for b in build.partner_bundles(sample_stats):
        pid = b.partner["partner_id"]
        own = moves[moves["partner_id"] == pid]
        assert sorted(b.account_moves["customer_id"]) == sorted(own["customer_id"])
        assert "partner_id" not in b.account_moves.columns  # never another partner's id
        markup = Scorecard(b, locale="fr").account_moves().markup
        if own.empty:
            assert "Aucun compte ne change de segment ce trimestre." in html.unescape(markup)
            continue
        seen += 1
        rows = _rows(markup)
        label = lambda s: b.settings.label("segment", s, "fr")  # noqa: E731
        assert [(r[2], r[3]) for r in rows] == [(label(a), label(z)) for a, z in zip(own["from_segment"],
                                                                                     own["to_segment"])]
        if pid == host:  # KA-01..03: a change of coverage, a hand-over and a take-over, in French
            text = html.unescape(markup)
            assert "Brauerei Kessler AG (KA-01)" in text and "Compte clé" in text  # segment key, in French
            assert "Transmettre le compte à notre équipe" in text and "Reprendre le compte" in text
        others = set(moves["partner_id"]) - {pid}
        assert not any(o in markup for o in others if len(o) > 3)
    assert seen >= 2


def test_scorecard_says_when_account_coverage_is_not_available():
    b = partner_bundle()
    b.facts = {**b.facts, "account_coverage": False}
    assert "ca-note-unavailable" in Scorecard(b, locale="en").account_moves().markup
    b.facts = {**b.facts, "account_coverage": True}
    b.account_moves = b.account_moves.iloc[:0]
    assert "No account changes segment this quarter." in Scorecard(b, locale="en").account_moves().markup


def test_every_action_and_change_has_words():
    assert set(blocks.ACCOUNT_ACTIONS) == set(accounts.ACTIONS)
    assert set(blocks.ACCOUNT_CHANGE) == {"promoted", "relegated"}
