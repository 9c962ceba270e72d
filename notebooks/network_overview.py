# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["remove-cell"]
# # Network overview (notebook source) — internal, never sent to partners
#
# `make reports` executes this notebook once per run with papermill and renders it to HTML without
# the code, in the channel team's language (`locale.network`). Each cell below is one call to
# `channel_analysis.overview`, which reads the precomputed network bundle and formats every table
# and figure; this cell (tagged `remove-cell`) is for readers of the notebook only. In JupyterLab the
# cell tagged `lab` (a quarterly run never executes it) prepares the bundle from `run_file` when no
# run wrote it yet, and shows the page's styles.

# %% tags=["parameters"]
period: str = "2026Q3"
bundle_path: str = "../reports/2026Q3/.work/network.bundle"
locale: str = "en"
run_file = None  # JupyterLab: the run file to prepare the bundle from when bundle_path does not exist (None: the sample's)

# %% tags=["lab"]
# JupyterLab only (a quarterly run skips this cell): the bundle, prepared if no run wrote it yet; the page's styles
import channel_analysis.api
import channel_analysis.blocks

channel_analysis.api.prepare_network_bundle(bundle_path, period, run_file=run_file)
channel_analysis.blocks.lab_stylesheet()

# %%
import channel_analysis.bundle
import channel_analysis.overview

bundle = channel_analysis.bundle.load(bundle_path)

# %%
overview = channel_analysis.overview.Overview(bundle, locale=locale)

# %%
overview.header()

# %%
overview.section("about")

# %% [markdown] tags=["remove-cell"]
# ## Totals and trends

# %%
overview.section("totals")

# %%
overview.totals()

# %%
overview.trends()

# %% [markdown] tags=["remove-cell"]
# ## Pareto / ABC and Lorenz with Gini

# %%
overview.section("concentration")

# %%
overview.pareto()

# %%
overview.lorenz()

# %% [markdown] tags=["remove-cell"]
# ## Performance × potential matrix

# %%
overview.section("segments")

# %%
overview.segment_matrix()

# %% [markdown] tags=["remove-cell"]
# ## Tier migration with promote / relegate lists

# %%
overview.section("tiers")

# %%
overview.tier_migration()

# %%
overview.tier_moves()

# %% [markdown] tags=["remove-cell"]
# ## Account coverage: segments × coverage, migration, the quarter's moves

# %%
overview.section("accounts")

# %%
overview.account_coverage()

# %% [markdown] tags=["remove-cell"]
# ## Pipeline health and sales-cycle curves by segment

# %%
overview.section("pipeline")

# %%
overview.pipeline_health()

# %%
overview.section("sales_cycle")

# %%
overview.cycle_curves()

# %% [markdown] tags=["remove-cell"]
# ## Onboarding cohorts, activation and retention

# %%
overview.section("cohorts")

# %%
overview.cohorts()

# %%
overview.activation_curve()

# %% [markdown] tags=["remove-cell"]
# ## MDF return by tier

# %%
overview.section("mdf")

# %%
overview.mdf_by_tier()

# %% [markdown] tags=["remove-cell"]
# ## Programme treatments (programme.py): partners per treatment, what partners earned

# %%
overview.section("treatments")

# %%
overview.treatments()
# ## Did MDF move sales? (difference-in-differences against matched partners without MDF)

# %%
overview.section("mdf_incrementality")

# %%
overview.mdf_incrementality()

# %% [markdown] tags=["remove-cell"]
# ## At-risk partners and the table of every partner

# %%
overview.section("at_risk")

# %%
overview.at_risk()

# %% [markdown] tags=["remove-cell"]
# ## Churn risk: the model's backtest (concordance, calibration)

# %%
overview.section("churn")

# %%
overview.churn_risk()

# %%
overview.section("partners")

# %%
overview.partner_table()
