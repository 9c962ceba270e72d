"""channel_analysis: partner scorecards and channel network statistics.

Modules, one job each:
  schema       pandera models of every input table (the data model)
  io.sources   reading tables from CSV/Parquet folders, DuckDB files, SQLAlchemy URLs
  validation   lazy validation of a whole source: every problem at once, as a table
  dataset      the validated, currency-converted tables a run works on
  periods      calendar and fiscal quarters
  params       run parameters: defaults <- run file <- command line, strictly checked
  starter      `init`: inspects an extract and writes the run file fitted to it
  settings     the thresholds pages apply, as one typed, validated object (ReportSettings)
  measures     the measure catalog: every KPI's label, format, direction, sampling, benchmark, target
  sample       the deterministic sample-data generator
  kpis         the per-partner x period KPI table and network-level KPIs
  segmentation Pareto/ABC, Lorenz/Gini, weighted score, performance x potential
  tiers        tier assignment with promotion/relegation, migration, gap to next tier
  accounts     end-customer account coverage: segments by value × potential, anti-flapping moves, hand-over
  peers        peer groups, peer percentiles, empirical-Bayes shrinkage
  pipeline     open pipeline, stage conversion, P(win | stage), coverage, stale deals
  salescycle   Kaplan-Meier sales cycle, time to first deal, retention
  tenure       tenure cohorts for fair benchmarks, time to first deal inside the data, activation curve
  forecast     next-quarter revenue with prediction intervals, backtest
  programme    qualitative ratings, programme treatment per segment, what a partner earned (rebates, MDF, benefits)
  incrementality  did MDF move sales: difference-in-differences against matched partners without MDF
  churn        partner churn risk: Cox model on the KPI panel, backtest, calibration (internal)
  build        computes everything once for the network and cuts it into the report bundles
  exports      the tables a run writes (kpis/, Parquet + CSV), docs/exports.md, the overview's bundle
  bundle       what a report may read: one private bundle per partner, one for the network (JSON + Arrow)
  quarter      the quarterly run, start to end: statistics -> tables -> bundles -> pages -> index
  markup       safe markup shared by pages and emails: escaping, tagged values (data-measure …)
  blocks       HTML building blocks of the reports (sections, tiles, tables, figures, notes)
  scorecard    the partner scorecard's content, block by block
  overview     the network overview's content, block by block
  i18n         translations (gettext catalogs) and locale-aware number/date formats
  plots        figures (tidy data in, Axes out)
  engine       papermill engine running a notebook in a fresh in-process IPython shell
  render       executes the notebooks per partner and writes the HTML reports
  audit        reads rendered pages: words in the wrong language, raw names, nan; values vs the tables
  files        atomic file writes, staged folders swapped into place, safe file names of ids, SHA-256, URL-or-path test
  runlock      the run folder's lock: one render or send of a period at a time, taken before any write
  delivery     emails the reports (outbox or SMTP), exactly once
  datadoc      generates docs/data-model.md from the schemas
  cli          the channel-analysis command
  api          the Python API: each step of a run as one documented function (docs/api.md)
"""

__version__ = "0.1.0"
