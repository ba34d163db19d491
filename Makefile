# sipclient: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else here is what those two build on.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# `make test` runs the native suite on this many pytest-xdist workers, each with its own lab
# (tests/conftest.py); 1 runs it in one process.
TEST_WORKERS ?= 2

.PHONY: all venv lab-deps demo smoke test test-fast fuzz bench lint-imports lab-up lab-down clean
.PHONY: container-deps lab-image test-container

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
	@if command -v asterisk >/dev/null && command -v sipp >/dev/null && command -v tshark >/dev/null && command -v chromium >/dev/null \
	   && command -v kamailio >/dev/null && command -v baresip >/dev/null && command -v npm >/dev/null; then \
	  echo "lab packages present: $$(asterisk -V)"; \
	else \
	  $(SUDO) bash scripts/install-lab-deps.sh; \
	fi

# --- the two commands -------------------------------------------------------------------

demo: venv lab-deps  ## the scenario suite on the built-in lab (started and stopped for the run)
	$(BIN)/sipclient run scenarios/ --junit reports/junit.xml --json reports/results.json

# The whole suite on the native lab, then the scenario suite and a sample of lab tests on the
# lab in a container (test-container); both run, either failing fails. The lab image is built
# (niced, log in reports/lab-image.log) while the native suite runs: a cold build is 2-5 min.
test: venv lab-deps container-deps
	@status=0; mkdir -p reports; \
	nice -n 10 $(MAKE) --no-print-directory lab-image >reports/lab-image.log 2>&1 & image=$$!; \
	$(BIN)/python -m pytest tests scenarios -n $(TEST_WORKERS) --dist worksteal --durations=25 $(PYTEST_ARGS) || status=$$?; \
	wait $$image; cat reports/lab-image.log; \
	$(MAKE) --no-print-directory test-container PYTEST_ARGS='$(PYTEST_ARGS)' || { [ $$status != 0 ] || status=$$?; }; \
	exit $$status

# --- the rest ---------------------------------------------------------------------------

# podman (+ runc, debootstrap, podman-compose), configured only where its defaults fail here
container-deps:
	$(SUDO) bash scripts/install-container-deps.sh

lab-image: venv container-deps  ## build the lab image (when missing or stale) and say its size
	$(BIN)/python -m sipclient.lab.container build

# The lab in a container (podman): the image is built when missing or stale, each run starts
# its own container and removes it at the end. CONTAINER_TESTS: the lab tests run on it too.
CONTAINER_TESTS ?= tests/lab/test_lab_up.py tests/lab/test_lab_sipp.py tests/lab/test_lab_cli.py
test-container: venv lab-deps container-deps lab-image
	@status=0; start=$$(date +%s); \
	SIPCLIENT_LAB_CONTAINER=1 $(BIN)/sipclient run scenarios/ --report-dir reports/container \
	  --junit reports/container-junit.xml --json reports/container-results.json || status=$$?; \
	SIPCLIENT_LAB_CONTAINER=1 $(BIN)/python -m pytest -m lab $(CONTAINER_TESTS) $(PYTEST_ARGS) \
	  || { [ $$status != 0 ] || status=$$?; }; \
	echo "test-container: exited $$status after $$(( $$(date +%s) - start )) s"; exit $$status

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
