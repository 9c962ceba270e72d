# channel-analysis — `make` alone lists the targets.
# Every target installs the locked environment on first use: into the active virtualenv
# ($VIRTUAL_ENV) or conda environment ($CONDA_PREFIX, not conda's base), else into .venv here.

PYTHON ?= python3
ifdef VIRTUAL_ENV
  ENV_DIR := $(VIRTUAL_ENV)
else ifneq ($(and $(CONDA_PREFIX),$(filter-out base,$(CONDA_DEFAULT_ENV))),)
  ENV_DIR := $(CONDA_PREFIX)
  CONDA   := 1
else
  ENV_DIR := .venv
endif
BIN    := $(ENV_DIR)/bin
CLI    := $(BIN)/channel-analysis
PARAMS ?= params/sample.yaml
STAMP  := $(ENV_DIR)/.channel-analysis-installed
LOCK   := requirements.lock
# the sample dataset is generated on first use, only when the run file points at it
NEEDS_DATA = $(STAMP) $(if $(filter params/sample.yaml,$(PARAMS)),data/sample/.complete)

# passthrough for `make reports` / `make email`: PERIOD=2026Q3 PARTNERS=P001,P002 WORKERS=2
RUN_ARGS = $(if $(PERIOD),--period $(PERIOD)) $(if $(PARTNERS),--partners $(PARTNERS)) $(if $(WORKERS),--workers $(WORKERS))

.DEFAULT_GOAL := help
.PHONY: help setup sample init validate kpis reports email lab test bench lock clean messages catalog po-check

help: ## show this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml $(LOCK)
ifdef CONDA
	@# a conda environment holds the dependencies from conda-forge (environment.yml): only the package here
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
else
	@test -x $(BIN)/python || $(PYTHON) -m venv $(ENV_DIR)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
endif
	@touch $(STAMP)

setup: $(STAMP) ## install the package and its locked dependencies (active venv / conda env, else .venv)

data/sample/.complete: $(STAMP)
	$(CLI) sample --out data/sample

sample: $(STAMP) ## (re)generate the sample dataset in data/sample/
	$(CLI) sample --out data/sample

init: $(STAMP) ## write a run file fitted to your extract: make init DATA=exports/2026Q3 (then PARAMS=exports/2026Q3/channel-analysis.yaml)
	@test -n "$(DATA)" || { echo "usage: make init DATA=path/to/extract (a folder, a .duckdb file or a database URL)"; exit 2; }
	$(CLI) init --data $(DATA) $(if $(MAPPING),--mapping $(MAPPING))

validate: $(NEEDS_DATA) ## check every input table and list all problems at once (REPORT=problems.csv writes them all)
	$(CLI) validate --params $(PARAMS) $(if $(REPORT),--report $(REPORT))

kpis: $(NEEDS_DATA) ## write the KPI table (CSV + Parquet) under reports/<period>/kpis/
	$(CLI) kpis --params $(PARAMS) $(if $(PERIOD),--period $(PERIOD))

reports: $(NEEDS_DATA) ## the quarterly run: validate, compute, render every partner scorecard + overview
	$(CLI) render --params $(PARAMS) $(RUN_ARGS)

email: $(STAMP) ## write each partner's email to reports/<period>/outbox/ (dry run; see README to send)
	$(CLI) send --params $(PARAMS) $(if $(PERIOD),--period $(PERIOD)) $(if $(PARTNERS),--partners $(PARTNERS))

lab: $(NEEDS_DATA) ## JupyterLab on notebooks/ (works before any run: the report notebooks prepare their bundles from the sample)
	$(BIN)/jupyter lab --LabApp.app_settings_dir=$(CURDIR)/jupyter/lab/settings notebooks/

test: $(STAMP) ## run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(NEEDS_DATA) ## run the performance benchmarks (see benchmarks/README.md)
	$(BIN)/python -m benchmarks

# translations (docs/i18n.md): catalogs are .po files in the package, compiled in memory when loaded
LOCALE_DIR := channel_analysis/locale
POT        := $(LOCALE_DIR)/messages.pot

messages: $(STAMP) ## extract report/email texts into messages.pot and update every catalog
	$(BIN)/pybabel extract -F babel.cfg -k _ -k ngettext:1,2 -k N_ --add-comments=TRANSLATORS: \
	  --add-location=file --project=channel-analysis --version=0.1 --copyright-holder=channel-analysis \
	  --msgid-bugs-address=channel-team@example.com -o $(POT) channel_analysis notebooks
	$(BIN)/pybabel update -i $(POT) -d $(LOCALE_DIR) -D messages --ignore-obsolete

catalog: $(STAMP) ## start a new language's catalog: make catalog LOCALE=de (then translate its .po)
	@test -n "$(LOCALE)" || { echo "usage: make catalog LOCALE=de"; exit 2; }
	$(BIN)/pybabel init -i $(POT) -d $(LOCALE_DIR) -D messages -l $(LOCALE)

po-check: $(STAMP) ## check every catalog: complete, nothing fuzzy, placeholders kept
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_locale.py

UV_VERSION := 0.13.8

lock: ## re-resolve the dependencies into requirements.lock (every platform, with hashes; review the diff!)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet uv==$(UV_VERSION)
	@# the versions in the current lock are kept where they still fit (uv prefers them)
	.lock-venv/bin/uv pip compile pyproject.toml --extra dev --extra postgres --universal \
	  --python-version 3.11 --generate-hashes --quiet -o $(LOCK)
	rm -rf .lock-venv

clean: ## remove rendered reports, generated sample data and caches (keeps the environment)
	rm -rf reports/20* data/sample build .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
