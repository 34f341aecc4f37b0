# Two commands on a fresh machine (Python 3.11+, make, Terraform):
#   make up    — install everything into .venv, then run the payment API on this machine
#                (`payments-platform local up`: emulator, deploy, HTTP API; Ctrl-C destroys and stops)
#   make test  — install everything into .venv, run the whole test suite
# and, beyond those two: make down, make smoke, make synth, make validate, make bench
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= dev

.PHONY: up down smoke synth test validate bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

up: $(BIN)/.installed
	$(BIN)/payments-platform local up

# Whatever a `local up` left running (another terminal, --keep, a crash).
down: $(BIN)/.installed
	$(BIN)/payments-platform local down

# Non-interactive: up, a payment end to end, every check, down (exit 0/1).
smoke: $(BIN)/.installed
	$(BIN)/payments-platform local smoke

synth: $(BIN)/.installed
	$(BIN)/payments-platform synth --env $(ENV)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

validate: $(BIN)/.installed
	$(BIN)/payments-platform validate --env $(ENV)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/synth_speed.py
	$(BIN)/python benchmarks/local_bench.py

clean:
	rm -rf cdktf.out .pytest_cache .payments-local
