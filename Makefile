# Two commands on a fresh machine (Python 3.11+, make, Terraform):
#   make up    — install everything into .venv, synthesize the default environment
#   make test  — install everything into .venv, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= dev

.PHONY: up test synth validate bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

up: $(BIN)/.installed
	$(BIN)/payments-platform synth --env $(ENV)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

validate: $(BIN)/.installed
	$(BIN)/payments-platform validate --env $(ENV)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/synth_speed.py

clean:
	rm -rf cdktf.out .pytest_cache
