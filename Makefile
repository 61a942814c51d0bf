# Every target makes its own .venv: a fresh machine needs only Python 3.11+ (and Node for CDK synth, later).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,crosscheck,infra,collector]'
	rm -f $(VENV)/.installed-*; touch $@

# The tariff tour, then the whole platform on moto (`meterbill demo`: files in ./demo-out); the total time.
demo: $(STAMP)
	@start=$$(date +%s); $(BIN)/python -m meterbill.demo && $(BIN)/python -m meterbill.cli demo --out demo-out \
		&& echo "make demo: $$(( $$(date +%s) - start )) s in all"

test: $(STAMP)
	PYTHONPATH=layers/common/python:collector $(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n auto --dist loadfile  # a worker a core; a test file stays on one worker

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/rating.py
	$(BIN)/python bench/bill_run.py --customers 20
	$(BIN)/python bench/alerts.py
	$(BIN)/python bench/collector.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis

# The CDK cloud assembly of both stages into infra/cdk/cdk.out (offline: no AWS account, no Docker; Node runs
# jsii). Deploying goes through the CDK CLI and infra/cdk/cdk.json: README, "Deploy to AWS".
.PHONY: synth
synth: $(STAMP)
	PYTHONPATH=. $(BIN)/python -P -m infra.cdk.app
