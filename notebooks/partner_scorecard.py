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
# # Partner scorecard (notebook source)
#
# One partner, one quarter. `make reports` executes this notebook once per partner with papermill,
# injecting the parameters below, and renders it to HTML without the code. Every visible word comes
# from `channel_analysis.scorecard` through gettext, so the report shows in the partner's language;
# this cell (tagged `remove-cell`) is for readers of the notebook only. Each cell below is one call:
# the package computes, formats and escapes; the notebook only lays the report out.
#
# In JupyterLab (`make lab`) the notebook runs as it is, before any quarterly run: the cell tagged
# `lab` (JupyterLab only: a quarterly run never executes it) prepares the bundle from `run_file`
# (the sample's by default) when the run has not written it yet, and says so; it also shows the
# page's styles, so the blocks below look as on the partner's page. Every table block holds its
# content: `report.deals().frame` is a DataFrame, `.styler()` a pandas Styler of it (docs/api.md).

# %% tags=["parameters"]
partner_id: str = "P0001"
period: str = "2026Q3"
bundle_path: str = "../reports/2026Q3/.work/partners/P0001.bundle"
locale: str = "en"
run_file = None  # JupyterLab: the run file to prepare the bundle from when bundle_path does not exist (None: the sample's)

# %% tags=["lab"]
# JupyterLab only (a quarterly run skips this cell): the bundle, prepared if no run wrote it yet; the page's styles
import channel_analysis.api
import channel_analysis.blocks

channel_analysis.api.prepare_bundle(bundle_path, partner_id, period, run_file=run_file)
channel_analysis.blocks.lab_stylesheet()

# %%
import channel_analysis.bundle
import channel_analysis.scorecard

bundle = channel_analysis.bundle.load(bundle_path)

# %%
# the report object: this partner's bundle, in the report's language
report = channel_analysis.scorecard.Scorecard(bundle, locale=locale)

# %%
report.header()

# %%
report.section("about")

# %%
report.how_to_read()

# %% [markdown] tags=["remove-cell"]
# ## At a glance: KPI tiles against the agreed targets

# %%
report.section("glance")

# %%
report.kpi_tiles()

# %% [markdown] tags=["remove-cell"]
# ## Revenue: trend with forecast band, windows table, product/category mix

# %%
report.section("revenue")

# %%
report.revenue_trend()

# %%
report.revenue_table()

# %%
report.category_mix()

# %% [markdown] tags=["remove-cell"]
# ## End customers: active / new / lost, cross-sell, upsell

# %%
report.section("customers")

# %%
report.customers()

# %% [markdown] tags=["remove-cell"]
# ## Pipeline: by stage, weighted, coverage, aging, stale deals

# %%
report.section("pipeline")

# %%
report.pipeline_summary()

# %%
report.deals()

# %%
report.pipeline_by_stage()

# %%
report.pipeline_aging()

# %%
report.stale_deals()

# %% [markdown] tags=["remove-cell"]
# ## Sales cycle: Kaplan–Meier curve vs the peer group (open deals censored)

# %%
report.section("sales_cycle")

# %%
report.sales_cycle()

# %% [markdown] tags=["remove-cell"]
# ## Leads, registration compliance, MDF, certifications, satisfaction

# %%
report.section("leads")

# %%
report.leads()

# %%
report.section("registration")

# %%
report.registration()

# %%
report.section("mdf")

# %%
report.mdf()

# %%
report.section("certifications")

# %%
report.certifications()

# %%
report.section("satisfaction")

# %%
report.satisfaction()

# %% [markdown] tags=["remove-cell"]
# ## Tier status and gap to the next tier

# %%
report.section("tier")

# %%
report.tier_status()

# %%
report.tier_gap()

# %% [markdown] tags=["remove-cell"]
# ## End-customer accounts of this partner that change segment (hand over / take over)

# %%
report.section("accounts")

# %%
report.account_moves()
# ## Partner programme: the treatment of the partner's segment, its ratings, what it earned this quarter

# %%
report.section("programme")

# %%
report.programme_treatment()

# %%
report.programme_value()

# %% [markdown] tags=["remove-cell"]
# ## Anonymized peer benchmark (percentile bars; aggregates of ≥ min_peers partners only)

# %%
report.section("benchmark")

# %%
report.peer_benchmark()

# %%
report.benchmark_table()

# %%
report.tenure_benchmark()

# %% [markdown] tags=["remove-cell"]
# ## Focus for next quarter (rules ranked by the size of the gap)

# %%
report.section("focus")

# %%
report.focus()

# %%
report.section("glossary")

# %%
report.glossary()
