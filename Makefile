# sipclient: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is what those two build on.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: all venv lab-deps demo smoke test test-fast fuzz bench lint-imports lab-up lab-down clean

all: test

# --- set-up -----------------------------------------------------------------------------

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv"; $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

# Asterisk 16 (bullseye), sipp, tshark and codec libraries; skipped when all are present.
lab-deps:
	@if command -v asterisk >/dev/null && command -v sipp >/dev/null && command -v tshark >/dev/null && command -v chromium >/dev/null; then \
	  echo "lab packages present: $$(asterisk -V)"; \
	else \
	  $(SUDO) bash scripts/install-lab-deps.sh; \
	fi

# --- the two commands -------------------------------------------------------------------

demo: venv lab-deps  ## the scenario suite on the built-in lab (started and stopped for the run)
	$(BIN)/sipclient run scenarios/ --junit reports/junit.xml --json reports/results.json

test: venv lab-deps
	$(BIN)/python -m pytest tests scenarios $(PYTEST_ARGS)

# --- the rest ---------------------------------------------------------------------------

smoke: venv lab-deps  ## six quick checks against the lab (register UDP/TCP/WSS, 600, 602, 603)
	$(BIN)/sipclient demo

test-fast: venv  ## the pure core only: no lab, no sockets
	$(BIN)/python -m pytest tests/proto tests/cli $(PYTEST_ARGS)

fuzz: venv  ## mutate real messages; FUZZ_EXAMPLES inputs (default 1,000,000)
	$(BIN)/python bench/fuzz_parser.py --examples $${FUZZ_EXAMPLES:-1000000}

bench: venv
	$(BIN)/python bench/parse_serialize.py

lint-imports: venv
	$(BIN)/lint-imports

lab-up: venv lab-deps
	$(BIN)/sipclient lab up

lab-down: venv
	$(BIN)/sipclient lab down

clean:
	rm -rf $(VENV) run reports .pytest_cache .hypothesis
