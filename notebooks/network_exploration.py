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

# %% [markdown]
# # Exploring the channel network (internal)
#
# The notebook an analyst starts from: the quarter's statistics for every partner, loaded in one
# call, then the KPI table, segments, tiers, pipeline and sales cycle as DataFrames to sort, filter
# and join, and as the same seaborn figures the reports show. Every table and figure is one call
# into the package (`channel_analysis.api`, `channel_analysis.plots`; see docs/api.md); change a
# cell's slice, not the package. Nothing here is sent to a partner.
#
# Without parameters it reads the sample (`make sample`, `params/sample.yaml`); for your extract set
# `run_file` to its run file (written by `channel-analysis init`). Column meanings:
# docs/exports.md and docs/kpis.md.

# %% tags=["parameters"]
run_file = None  # the run file (a path); None: the sample's, params/sample.yaml
data = None  # a data source overriding the run file's data.source (a folder, a .duckdb file, a URL)

# %%
# %matplotlib inline
import channel_analysis.api
import channel_analysis.plots

# %% [markdown]
# ## The quarter, in one line
#
# Reads and validates the source, converts money to the reporting currency and computes every
# statistic once (`NetworkStats`); a validation error stops here with the full list of problems.

# %%
stats = channel_analysis.api.compute_quarter(run_file, data=data)
stats

# %% [markdown]
# Every exported table as a DataFrame by name (`tables`, columns in docs/exports.md), and the
# overview's tidy tables, each in the shape its figure takes (`overview`).

# %%
tables = channel_analysis.api.tables(stats)
overview = channel_analysis.api.overview_tables(stats)
sorted(tables)

# %% [markdown]
# ## KPI table
#
# One row per partner × quarter × window (`quarter`, `ytd`, `t4q`); every rate `x` comes with
# `x_n` (its observations) and `x_low_sample`. The reported quarter's rows:

# %%
kpis = tables["kpis"]
kpis.query("period == @stats.dataset.period and window == 'quarter'")

# %% [markdown]
# Network totals per quarter, and their trend:

# %%
tables["network"]

# %%
channel_analysis.plots.kpi_trend(
    tables["network"], columns=["revenue", "partners_active_end", "retention_rate", "activation_rate"],
    titles=["Revenue", "Active partners", "Partner retention", "Activation rate"],
    kinds=["currency", "number", "percent", "percent"], currency=stats.dataset.reporting_currency,
)[0].figure

# %% [markdown]
# ## Segments: concentration, ABC, performance × potential

# %%
tables["segments"]

# %%
channel_analysis.plots.pareto_curve(overview["pareto"]).figure

# %%
channel_analysis.plots.lorenz_curve(overview["pareto"], value="value", gini=stats.concentration.gini).figure

# %%
channel_analysis.plots.segment_matrix(overview["segment_cells"]).figure

# %% [markdown]
# ## Tiers: status, gap to the next tier, recommended moves

# %%
tables["tier_status"]

# %%
tables["tier_gap"]

# %%
tables["tier_migration"].pivot(index="from_tier", columns="to_tier", values="partners")

# %%
overview["movements"]

# %% [markdown]
# ## Pipeline: stage conversion, open and weighted value by partner type

# %%
tables["stage_conversion"]

# %%
overview["pipeline_by_segment"]

# %%
channel_analysis.plots.bars(overview["pipeline_by_segment"], label="partner_type", value="pipeline_open",
                            kind="currency", currency=stats.dataset.reporting_currency).figure

# %% [markdown]
# ## Sales cycle: Kaplan–Meier curves by partner type (open deals censored)
#
# `survival` is the share of deals still open after `days`; where a curve crosses 50% is its
# median cycle.

# %%
overview["cycle_curves"]

# %%
channel_analysis.plots.cycle_curves(overview["cycle_curves"]).figure

# %%
tables["time_to_first_deal"]

# %% [markdown]
# ## Partners at risk this quarter

# %%
tables["at_risk"]
