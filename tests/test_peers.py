"""Benchmarks: peer groups, peer percentiles (k-anonymous), empirical-Bayes shrinkage."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import peers as bm
from channel_analysis.errors import DataValidationError, ParamsError

GROUPS = [["partner_type", "region"], ["partner_type"], []]


def partners() -> pd.DataFrame:
    # P0-P4 reseller/A (5), P5 reseller/B (1), P6-P7 dealer/B (2)
    return pd.DataFrame(
        {
            "partner_id": [f"P{i}" for i in range(8)],
            "partner_type": ["reseller"] * 6 + ["dealer"] * 2,
            "region": ["A"] * 5 + ["B"] * 3,
        }
    )


def test_assign_peer_groups_hand_computed():
    out = bm.assign_peer_groups(partners(), GROUPS, 3)
    # reseller·A has 5 >= 3; reseller·B has 1 -> falls back to reseller (6);
    # dealer·B has 2 and dealer 2 -> whole network (8)
    assert out["peer_group"].tolist() == ["reseller · A"] * 5 + ["reseller", "all partners", "all partners"]
    assert out["peer_n"].tolist() == [5] * 5 + [6, 8, 8]
    assert out["peer_keys"].tolist() == [("partner_type", "region")] * 5 + [("partner_type",), (), ()]
    assert out["peer_level"].tolist() == [0] * 5 + [1, 2, 2]
    # membership at every grouping, for the peer statistics of the broader groups
    assert out["peer_label_1"].tolist() == ["reseller"] * 6 + ["dealer"] * 2


def test_assign_peer_groups_missing_key_small_network_and_errors():
    p = partners()
    p.loc[0, "region"] = None
    out = bm.assign_peer_groups(p, GROUPS, 4)
    # P0 has no region -> not grouped by type·region; reseller·A now has 4 (P1-P4) -> ok
    assert out["peer_group"].tolist()[:5] == ["reseller"] + ["reseller · A"] * 4
    # no [] grouping and a network smaller than k: the whole network is the implicit fallback
    tiny = bm.assign_peer_groups(p.head(3), [["partner_type"]], 5)
    assert tiny["peer_group"].tolist() == ["all partners"] * 3
    assert tiny["peer_n"].tolist() == [3] * 3 and tiny["peer_level"].tolist() == [1] * 3
    with pytest.raises(ParamsError, match="tier"):
        bm.assign_peer_groups(p, [["tier"]], 5)
    with pytest.raises(ParamsError, match="min_peers"):
        bm.assign_peer_groups(p, GROUPS, 0)


def test_peer_percentiles_hand_computed():
    assignment = bm.assign_peer_groups(partners(), GROUPS, 3)
    kpis = pd.DataFrame(
        {
            "partner_id": [f"P{i}" for i in range(8)],
            "period": "2026Q3",
            "window": "t4q",
            "revenue": [1.0, 2, 3, 4, 5, 6, 7, 8],
            "csat": [1.0, np.nan, np.nan, np.nan, 5, 6, 7, 8],
        }
    )
    before = kpis.copy()
    out = bm.peer_percentiles(kpis, assignment, ["revenue", "csat"], min_peers=3)
    pd.testing.assert_frame_equal(kpis, before)
    row = out.set_index(["partner_id", "metric"])
    # P0 revenue in reseller·A {1,2,3,4,5}: 0 below, 1 equal -> 100*(0+.5)/5 = 10;
    # median 3, p25 = 2, p75 = 4 (linear interpolation at positions 1 and 3)
    assert row.loc[("P0", "revenue"), ["percentile", "peer_median", "peer_p25", "peer_p75"]].tolist() == [10, 3, 2, 4]
    # P0 csat: only P0 and P4 of reseller·A have csat (2 < 3) -> nothing shown
    assert row.loc[("P0", "csat"), ["percentile", "peer_median"]].isna().all()
    assert row.loc[("P0", "csat"), "reason"] == "fewer than 3 peers with a value"
    # P5 is compared with all resellers (P0-P5), also those in reseller·A:
    # revenue {1..6}: 5 below -> 100*5.5/6 = 91.67, median 3.5, p25 2.25, p75 4.75
    assert row.loc[("P5", "revenue"), ["percentile", "peer_median", "peer_p25", "peer_p75"]].tolist() == pytest.approx(
        [550 / 6, 3.5, 2.25, 4.75]
    )
    assert row.loc[("P5", "revenue"), "peer_n"] == 6
    # csat among resellers {1, 5, 6}: P5 = 6 -> 100*2.5/3 = 83.33, median 5, p25 3, p75 5.5
    assert row.loc[("P5", "csat"), ["percentile", "peer_median", "peer_p25", "peer_p75"]].tolist() == pytest.approx(
        [250 / 3, 5, 3, 5.5]
    )
    # P1 has no csat: no percentile, but its group's figures (2 values) stay hidden too
    assert row.loc[("P1", "csat"), "reason"] == "fewer than 3 peers with a value"
    # P6 vs all partners' csat {1,5,6,7,8}: 3 below -> 70, median 6
    assert row.loc[("P6", "csat"), ["percentile", "peer_median"]].tolist() == [70, 6]
    assert pd.isna(row.loc[("P6", "csat"), "reason"])
    # nothing that could single out a partner
    assert not {"peer_min", "peer_max", "min", "max"} & set(out.columns)


def test_peer_percentiles_no_value_and_unknown_metric():
    assignment = bm.assign_peer_groups(partners(), [[]], 5)
    kpis = pd.DataFrame({"partner_id": [f"P{i}" for i in range(8)], "x": [np.nan, 1, 2, 3, 4, 5, 6, 7.0]})
    out = bm.peer_percentiles(kpis, assignment, ["x"], min_peers=5)
    assert np.isnan(out.loc[0, "percentile"]) and out.loc[0, "reason"] == "no value"
    assert out.loc[0, "peer_median"] == 4  # the group's median is still shown to P0
    with pytest.raises(ParamsError, match="y"):
        bm.peer_percentiles(kpis, assignment, ["y"])


def test_shrink_rates_moments_hand_computed():
    out = bm.shrink_rates(pd.Series([2, 4, 6, 8], index=list("abcd")), [10, 10, 10, 10])
    # mu = 20/40 = .5; rates .2 .4 .6 .8: S2 = (.09+.01+.01+.09)/3 = .0667; h = mean(1/n) = .1
    # rho = (S2/(.5*.5) - h)/(1 - h) = (.2667 - .1)/.9 = .18519; alpha+beta = 1/rho - 1 = 4.4
    assert out["prior_alpha"].tolist() == pytest.approx([2.2] * 4)
    assert out["prior_beta"].tolist() == pytest.approx([2.2] * 4)
    # d: (8 + 2.2) / (10 + 4.4) = .70833
    assert out.loc["d", "shrunk_rate"] == pytest.approx(10.2 / 14.4)
    assert out.loc["d", "raw_rate"] == 0.8 and out.loc["d", "n"] == 10


def test_shrink_rates_fallbacks_and_zero_trials():
    # equal rates: no spread beyond binomial noise -> strength = total trials = 20
    same = bm.shrink_rates([5, 5], [10, 10])
    assert (same["prior_alpha"] + same["prior_beta"]).tolist() == pytest.approx([20, 20])
    # a partner without trials gets the prior mean: mu = (2+4+6+8)/40 = .5
    out = bm.shrink_rates([2, 4, 6, 8, 0], [10, 10, 10, 10, 0])
    assert np.isnan(out["raw_rate"].iloc[4]) and out["shrunk_rate"].iloc[4] == pytest.approx(0.5)
    # one partner only: strength = min_strength 2; its shrunk rate is its own rate (mu = 3/4)
    one = bm.shrink_rates([3], [4])
    assert one["shrunk_rate"].iloc[0] == pytest.approx(0.75)
    with pytest.raises(DataValidationError, match="between 0 and trials"):
        bm.shrink_rates([5], [4])


NETWORK = pd.DataFrame(
    {"won": [90, 2, 30, 20, 10, 45], "deals": [100, 2, 60, 50, 40, 100]}, index=[f"P{i}" for i in range(6)]
)


@pytest.mark.parametrize("method", ["moments", "mle"])
def test_two_out_of_two_does_not_top_ninety_out_of_hundred(method):
    ranked = bm.rank_rates(NETWORK["won"], NETWORK["deals"], method=method)
    assert ranked.loc["P1", "raw_rank"] == 1  # 2/2 = 100% tops the raw ranking
    assert ranked.index[0] == "P0"  # 90/100 tops the shrunk ranking
    assert ranked.loc["P1", "shrunk_rate"] < ranked.loc["P0", "shrunk_rate"]
    assert {"raw_rate", "shrunk_rate", "raw_rank", "shrunk_rank"} <= set(ranked.columns)


def test_shrink_rates_per_group():
    groups = pd.Series(["x", "x", "y", "y"], index=list("abcd"))
    out = bm.shrink_rates(pd.Series([1, 3, 9, 7], index=list("abcd")), [4, 4, 10, 10], groups)
    # group priors: x mu = 4/8 = .5, y mu = 16/20 = .8
    assert out["prior_mean"].tolist() == pytest.approx([0.5, 0.5, 0.8, 0.8])
    assert out["group"].tolist() == ["x", "x", "y", "y"]


def test_modules_do_not_import_scipy_or_statsmodels():
    code = (
        "import sys, channel_analysis.segmentation, channel_analysis.tiers, channel_analysis.peers; "
        "print('scipy' in sys.modules, 'statsmodels' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------

rates = st.lists(
    st.integers(0, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))), min_size=1, max_size=30
)


@given(rates, st.sampled_from(["moments", "mle"]))
@settings(max_examples=20, deadline=None)
def test_shrunk_rate_between_raw_and_prior_mean(pairs, method):
    k = pd.Series([p[0] for p in pairs], dtype=float)
    n = pd.Series([p[1] for p in pairs], dtype=float)
    k_before = k.copy()
    out = bm.shrink_rates(k, n, method=method)
    pd.testing.assert_series_equal(k, k_before)
    lo = np.minimum(out["raw_rate"], out["prior_mean"])
    hi = np.maximum(out["raw_rate"], out["prior_mean"])
    has = out["n"] > 0
    assert ((out["shrunk_rate"] >= lo - 1e-12) & (out["shrunk_rate"] <= hi + 1e-12))[has].all()
    if has.any():
        assert (out["prior_alpha"] >= 0).all() and (out["prior_beta"] >= 0).all()
    else:  # nobody has a trial: no prior can be fitted
        assert out["prior_mean"].isna().all() and out["shrunk_rate"].isna().all()


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("xyz"), st.sampled_from([None, "N", "S"])),
             min_size=1, max_size=40),
    st.integers(1, 8),
)
@settings(max_examples=30, deadline=None)
def test_peer_group_has_k_partners_or_is_the_network(rows, k):
    p = pd.DataFrame(rows, columns=["partner_type", "region", "zone"])
    p.insert(0, "partner_id", [f"P{i}" for i in range(len(p))])
    before = p.copy()
    out = bm.assign_peer_groups(p, [["partner_type", "region", "zone"], ["partner_type"]], k)
    pd.testing.assert_frame_equal(p, before)
    whole = out["peer_group"] == bm.ALL_PARTNERS
    assert ((out["peer_n"] >= k) | whole).all()
    assert (out.loc[whole, "peer_n"] == len(p)).all()
    # peer_n is the true size of the group the label names
    for level in out["peer_level"].unique():
        mine = out[out["peer_level"] == level]
        sizes = out[f"peer_label_{level}"].value_counts()
        if level < 2:
            assert (mine["peer_group"].map(sizes) == mine["peer_n"]).all()
