# The two commands of the README. Each does its own set-up: a virtual environment in .venv with the
# package installed editable (torch/torchvision come from this machine's disk via pip).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= cpu
SEED ?= 0
COHORT ?= data/synthetic
RUN ?= reports/synthetic-$(PROFILE)

.PHONY: setup test report clean-check export readme notebooks

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

export: setup
	$(BIN)/nbdev-export

# Re-execute every library notebook and keep its outputs, so that a reader sees them on GitHub and in the docs
# (nbdev-clean keeps outputs). Cells flagged `#| slow` keep the outputs of their last full run; rerun them too with
# `make notebooks FLAGS=slow`. Temporary folders in outputs are shown as <tmp> (tools/scrub_outputs.py). The report
# templates in sacroiliitis_dlr/templates/ are not executed here.
FLAGS ?=
notebooks: setup
	$(BIN)/nbdev-test --n-workers 2 --save $(if $(FLAGS),--flags "$(FLAGS)")
	$(BIN)/python tools/scrub_outputs.py nbs/*.ipynb
	$(BIN)/nbdev-clean

# README.md is generated from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed here).
readme: setup
	$(BIN)/python tools/readme.py

# Notebook tests first (nbdev-test runs every notebook's lesson cells), then pytest, whose summary is last.
# No nbdev-export here: the committed modules are what is tested, and tests/test_foundation.py fails when they
# differ from what the notebooks export (run `make export` and commit).
test: setup
	$(BIN)/nbdev-test --n-workers 2 --do-print
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# CI's clean and export check: nbdev-export and nbdev-clean must change nothing in the committed tree.
clean-check: setup
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean
	git diff --exit-code && test -z "$$(git status --porcelain)"

# The main job: the synthetic default cohort (written once) through every stage at the cpu profile.
report: setup
	test -f $(COHORT)/manifest.csv || $(BIN)/sacroiliitis-dlr synth --out $(COHORT) --seed $(SEED)
	$(BIN)/sacroiliitis-dlr run --cohort $(COHORT) --out $(RUN) --profile $(PROFILE) --seed $(SEED)
	@echo "Report: $(RUN)/index.html"
