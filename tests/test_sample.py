"""The sample-data generator: deterministic, schema-valid, and realistic where the statistics need it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channel_analysis import cli, sample, schema
from channel_analysis.errors import DataSourceError, ParamsError
from channel_analysis.params import load_params

AS_OF = pd.Timestamp("2026-10-05")
# 4 complete quarters before 2026-10-05 end with 2026Q3: 2025Q4 .. 2026Q3 (+ 2026-10-01..05)
WINDOW_START = pd.Timestamp("2025-10-01")


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return sample.generate(partners=30, quarters=4, seed=11)


@pytest.fixture(scope="module")
def medium() -> dict[str, pd.DataFrame]:
    """Default-ish network (200 partners, 8 quarters) with fewer lines to stay fast."""
    return sample.generate(partners=200, quarters=8, seed=7, lines=40_000)


def _revenue_eur(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Sales revenue per partner in EUR (rate of the sale's quarter; EUR rows have no rate)."""
    s = tables["sales"]
    fx = tables["fx_rates"].set_index(["currency", "period"])["rate"]
    key = pd.MultiIndex.from_arrays([s["currency"], s["date"].dt.to_period("Q").astype(str)])
    rate = pd.Series(fx.reindex(key).to_numpy(), index=s.index).fillna(1.0)
    return (s["revenue"] * rate).groupby(s["partner_id"]).sum()


# --- determinism and shape -----------------------------------------------------------------------

def test_same_seed_gives_identical_frames(small):
    again = sample.generate(partners=30, quarters=4, seed=11)
    assert list(again) == list(small)
    for name in small:
        tm.assert_frame_equal(again[name], small[name], check_exact=True)


def test_different_seed_gives_different_data(small):
    other = sample.generate(partners=30, quarters=4, seed=12)
    assert not other["partners"]["name"].equals(small["partners"]["name"])
    assert not other["sales"]["revenue"].head(100).equals(small["sales"]["revenue"].head(100))


def test_one_frame_per_table_with_exactly_the_model_columns(small):
    assert list(small) == list(schema.TABLES)
    for name, (model, _) in schema.TABLES.items():
        assert list(small[name].columns) == list(model.to_schema().columns), name
        assert len(small[name]) > 0, name


def test_every_table_passes_its_pandera_model(small):
    for name, (model, _) in schema.TABLES.items():
        model.validate(small[name], lazy=True)  # raises SchemaErrors listing every failure


def test_ids_are_unique_strings(small):
    for table, col in [("partners", "partner_id"), ("sales", "line_id"),
                       ("opportunities", "opportunity_id"), ("leads", "lead_id"),
                       ("mdf", "activity_id"), ("surveys", "response_id")]:
        ids = small[table][col]
        assert pd.api.types.is_string_dtype(ids.dtype), (table, col)
        assert ids.is_unique, (table, col)
    assert small["partners"]["partner_id"].iloc[0] == "P0001"  # zero-padded, prefix kept


def test_cross_table_rules_hold_without_errors(small):
    from channel_analysis import validation

    params = load_params(None, {"as_of": "2026-10-05"})
    report = validation.validate_tables(small, params)
    errors = report.errors
    assert errors.empty, errors.to_string()


def test_no_date_after_as_of_except_planned_ones(small):
    future_ok = {("opportunities", "expected_close_date"), ("trainings", "expires_date")}
    for name, frame in small.items():
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]) and (name, col) not in future_ok:
                assert not (frame[col] > AS_OF).any(), (name, col)


# --- partners ------------------------------------------------------------------------------------

def test_names_and_ids_are_never_substrings_of_one_another(medium):
    names = medium["partners"]["name"].tolist()
    ids = medium["partners"]["partner_id"].tolist()
    assert len(set(names)) == len(names)
    tokens = names + ids
    joined = "\x00".join(tokens)
    for token in tokens:
        assert joined.count(token) == 1, token  # appears only as itself


def test_markup_name_is_present_as_plain_data(small):
    assert sample.MARKUP_NAME in set(small["partners"]["name"])


def test_locales_include_french_polish_and_english(small):
    locales = set(small["partners"]["locale"].dropna())
    assert {"fr_FR", "pl_PL", "en_GB"} <= locales


def test_currencies_have_an_fx_rate_for_every_quarter(small):
    fx = small["fx_rates"]
    used = set(small["partners"]["currency"]) - {"EUR"}
    quarters = ["2025Q4", "2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    have = set(zip(fx["currency"], fx["period"]))
    assert {(c, q) for c in used for q in quarters} <= have
    assert "EUR" not in set(fx["currency"])


def test_churned_partners_sell_nothing_after_their_end_date(small):
    p = small["partners"]
    churned = p[p["end_date"].notna()]
    assert len(churned) >= 2
    assert (churned["end_date"] <= AS_OF).all()
    s = small["sales"].merge(churned[["partner_id", "end_date"]], on="partner_id")
    assert not s.empty and (s["date"] <= s["end_date"]).all()


def test_partners_onboard_during_the_window_some_without_a_deal(small):
    p = small["partners"]
    joined = p[p["onboarded_date"] >= WINDOW_START]
    assert len(joined) >= 1
    with_deals = set(small["opportunities"]["partner_id"])
    assert (~joined["partner_id"].isin(with_deals)).any()
    # nobody sells before onboarding
    s = small["sales"].merge(p[["partner_id", "onboarded_date"]], on="partner_id")
    assert (s["date"] >= s["onboarded_date"]).all()


def test_a_few_partners_have_tiny_samples(small):
    deals = small["opportunities"].groupby("partner_id").size()
    assert deals.between(1, 3).sum() >= 1


def test_contacts_have_example_emails_and_some_partner_has_no_recipient(medium):
    c = medium["partner_contacts"]
    assert c["email"].str.endswith(".example").all()
    per_partner = c.groupby("partner_id").size()
    assert per_partner.between(1, 3).all() and per_partner.index.size == len(medium["partners"])
    receivers = set(c.loc[c["receives_scorecard"], "partner_id"])
    assert len(receivers) < len(medium["partners"])


# --- sales ---------------------------------------------------------------------------------------

def test_pareto_80_20_emerges(medium):
    revenue = _revenue_eur(medium).sort_values(ascending=False)
    top = int(np.ceil(0.2 * len(medium["partners"])))  # 20 % of all partners (some sell nothing)
    assert revenue.iloc[:top].sum() / revenue.sum() >= 0.6


def test_default_line_count_scales_with_partners_and_quarters(small):
    # 30 partners x 4 quarters x 150 lines ≈ 18,000 (tiny partners add or remove a handful)
    assert abs(len(small["sales"]) - 30 * 4 * sample.LINES_PER_PARTNER_QUARTER) <= 100


def test_q4_is_the_strongest_quarter(medium):
    s = medium["sales"]
    q = s.groupby(s["date"].dt.quarter)["quantity"].sum()
    assert q.idxmax() == 4


def test_margins_differ_by_category(medium):
    s = medium["sales"]
    margin = 1 - s.groupby("category")["cost"].sum() / s.groupby("category")["revenue"].sum()
    assert margin["Software"] > 0.6 and margin["Drives"] < 0.35


def test_registration_compliance_is_uneven_and_consistent(medium):
    s = medium["sales"]
    assert (s["registered_units"] <= s["quantity"]).all()
    assert (s["registered_date"].notna() == (s["registered_units"] > 0)).all()
    assert (s["registered_date"].dropna() >= s.loc[s["registered_date"].notna(), "date"]).all()
    rate = s.groupby("partner_id")["registered_units"].sum() / s.groupby("partner_id")["quantity"].sum()
    big = s.groupby("partner_id").size() >= 50
    assert rate[big].max() >= 0.85 and rate[big].min() <= 0.45


def test_customers_repeat_and_new_ones_arrive(medium):
    s = medium["sales"]
    lines_per_customer = s.groupby("customer_id").size()
    assert (lines_per_customer > 1).mean() > 0.3  # repeat buyers
    first = s.groupby("customer_id")["date"].min().dt.to_period("Q").value_counts()
    assert (first.drop(pd.Period("2024Q4"), errors="ignore") > 0).sum() >= 7  # new customers every quarter


# --- pipeline ------------------------------------------------------------------------------------

def test_open_deals_at_as_of_some_overdue(medium):
    o = medium["opportunities"]
    is_open = o["outcome"] == "open"
    assert is_open.sum() > 0
    assert o.loc[is_open, "stage"].isin(sample.STAGES).all()
    assert o.loc[is_open, "closed_date"].isna().all()
    assert (o.loc[is_open, "expected_close_date"] < AS_OF).any()
    assert (o.loc[is_open, "expected_close_date"] >= AS_OF).any()
    closed = ~is_open
    assert (o.loc[closed, "stage"].str.lower() == o.loc[closed, "outcome"]).all()
    assert (o.loc[closed, "closed_date"] >= o.loc[closed, "created_date"]).all()


def test_stage_history_matches_the_deals(small):
    o = small["opportunities"].set_index("opportunity_id")
    h = small["opportunity_stages"]
    last = h.groupby("opportunity_id").tail(1).set_index("opportunity_id")
    assert set(last.index) == set(o.index)
    assert (last["stage"] == o.loc[last.index, "stage"]).all()
    first = h.groupby("opportunity_id").head(1).set_index("opportunity_id")
    assert (first["stage"] == "Qualify").all()
    assert (first["entered_date"] == o.loc[first.index, "created_date"]).all()
    assert h.groupby("opportunity_id")["entered_date"].apply(lambda d: d.is_monotonic_increasing).all()
    closed = o["closed_date"].notna()
    assert (last.loc[closed[closed].index, "entered_date"] == o.loc[closed, "closed_date"]).all()


def test_leads_vary_and_converted_leads_point_to_the_partners_deals(medium):
    leads = medium["leads"]
    assert {"assigned", "accepted", "rejected", "converted", "expired"} <= set(leads["status"])
    conv = leads[leads["status"] == "converted"].merge(
        medium["opportunities"][["opportunity_id", "partner_id", "created_date"]],
        on="opportunity_id", suffixes=("", "_deal"))
    assert len(conv) == (leads["status"] == "converted").sum()
    assert (conv["partner_id"] == conv["partner_id_deal"]).all()
    assert (conv["accepted_date"] <= conv["created_date"]).all()
    assert (leads["opportunity_id"].notna() == (leads["status"] == "converted")).all()
    acc = leads["accepted_date"].notna()
    assert (leads.loc[acc, "accepted_date"] >= leads.loc[acc, "assigned_date"]).all()
    rate = leads.assign(a=acc).groupby("partner_id")["a"].mean()
    assert rate.max() - rate.min() > 0.3


# --- programme tables ----------------------------------------------------------------------------

def test_revenue_targets_some_met_some_missed(medium):
    t = medium["targets"]
    assert set(t["metric"]) == {"revenue", "new_customers", "registration_rate", "certified_reps"}
    s = medium["sales"]
    fx = medium["fx_rates"].set_index(["currency", "period"])["rate"]
    period = s["date"].dt.to_period("Q").astype(str)
    rate = pd.Series(fx.reindex(pd.MultiIndex.from_arrays([s["currency"], period])).to_numpy(),
                     index=s.index).fillna(1.0)
    actual = (s["revenue"] * rate).groupby([s["partner_id"], period]).sum()
    rev = t[(t["metric"] == "revenue") & (t["period"] <= "2026Q3")].set_index(["partner_id", "period"])
    attained = actual.reindex(rev.index).fillna(0) / rev["target"]
    assert (attained >= 1).mean() > 0.15 and (attained < 1).mean() > 0.15


def test_mdf_over_and_under_used(medium):
    m = medium["mdf"]
    assert (m["claimed"] > m["allocated"]).any()
    assert (m["claimed"] < 0.6 * m["allocated"]).any()
    assert m["attributed_revenue"].notna().any() and m["attributed_revenue"].isna().any()


def test_certifications_expire_and_surveys_vary(small):
    tr = small["trainings"]
    certs = tr[tr["certification"]]
    assert (certs["expires_date"] < AS_OF).any() and (certs["expires_date"] >= AS_OF).any()
    assert tr.loc[~tr["certification"], "expires_date"].isna().all()
    n = small["surveys"].groupby("partner_id").size()
    assert n.min() < 5 and n.max() >= 20


def test_share_of_wallet_spans_small_to_large(medium):
    revenue = _revenue_eur(medium)
    pot = medium["potential"]
    pot = pot[pot["period"] <= "2026Q3"].groupby("partner_id")["potential"].sum()
    share = (revenue / pot).dropna()
    assert share.min() < 0.15 and share.max() > 0.5


def test_program_costs_cluster_around_onboarding(small):
    c = small["program_costs"].merge(small["partners"][["partner_id", "onboarded_date"]], on="partner_id")
    near = (c["date"] - c["onboarded_date"]).abs() <= pd.Timedelta(days=180)
    assert near.mean() > 0.6
    assert set(c["cost_type"]) >= {"recruiting", "onboarding", "training"}


# --- arguments, writing, command line ------------------------------------------------------------

def test_as_of_may_be_a_date_and_sets_the_window():
    tables = sample.generate(partners=8, quarters=2, seed=1, as_of=dt.date(2026, 6, 30), lines=500)
    s = tables["sales"]
    # as_of is the last day of 2026Q2, so no partial quarter: 2026Q1 and 2026Q2 only
    assert s["date"].min() >= pd.Timestamp("2026-01-01") and s["date"].max() <= pd.Timestamp("2026-06-30")
    assert set(tables["fx_rates"]["period"]) == {"2026Q1", "2026Q2"}


@pytest.mark.parametrize("kwargs", [{"partners": 0}, {"quarters": 0}, {"lines": -1}, {"as_of": "soon"}])
def test_bad_arguments_are_clear_errors(kwargs):
    with pytest.raises(ParamsError):
        sample.generate(**kwargs)


def test_write_replaces_a_previous_sample_atomically(tmp_path, small):
    out = tmp_path / "sample"
    assert sample.write(small, out) == out.resolve()
    assert (out / ".complete").exists() and (out / "sales.parquet").exists()
    sample.write(small, out, fmt="csv")  # a previous sample is replaced as a whole
    assert (out / "sales.csv").exists() and not (out / "sales.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["sample"]  # no temporary folders left
    back = pd.read_csv(out / "partners.csv", dtype=str)
    assert back["name"].tolist() == small["partners"]["name"].tolist()


def test_write_refuses_to_replace_a_folder_that_is_not_a_sample(tmp_path, small):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataSourceError, match="refusing"):
        sample.write(small, tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_cli_sample_writes_and_reports_counts(tmp_path, capsys):
    out = tmp_path / "cli-sample"
    code = cli.main(["sample", "--partners", "10", "--quarters", "2", "--lines", "800", "--out", str(out)])
    assert code == 0
    assert "10 partners" in capsys.readouterr().out
    assert (out / ".complete").exists()


@settings(max_examples=4, deadline=None)
@given(partners=st.integers(1, 25), quarters=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_any_size_and_seed_gives_valid_distinct_data(partners, quarters, seed):
    tables = sample.generate(partners=partners, quarters=quarters, seed=seed, lines=partners * 40)
    for name, (model, _) in schema.TABLES.items():
        model.validate(tables[name], lazy=True)
    p = tables["partners"]
    tokens = p["name"].tolist() + p["partner_id"].tolist()
    joined = "\x00".join(tokens)
    assert all(joined.count(tok) == 1 for tok in tokens)
    s = tables["sales"]
    assert (s["date"] <= AS_OF).all() and (s["registered_units"] <= s["quantity"]).all()
