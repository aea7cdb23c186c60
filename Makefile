# The project's front door. `make demo` and `make test` work on a fresh clone:
# they create the virtual environment in .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SYSTEM := .cache/system-deps-stamp
PYTEST_ARGS ?=

.PHONY: help venv system-deps demo test test-long test-fast lint bench reliability clean

help:
	@echo "make demo   run the reference experiment against the bundled shop, print the report path"
	@echo "make test   unit and integration tests (sets up everything it needs)"
	@echo "make lint   ruff, import layers (lint-imports), terraform/packer fmt+validate, shellcheck"
	@echo "make bench  benchmarks; writes benchmarks/RESULTS.md"
	@echo "make reliability  abort/stop/hard-end runs repeated (RELIABILITY_RUNS=10): nothing lost"
	@echo "make test-long    the repeats make test leaves out (knee search, two more seeds)"

# Runtime dependencies come from the AMI's hashed lock (exactly what an instance runs),
# then surge and its dev tools; the check fails if a dev tool moved a locked version.
LOCK := packer/requirements.lock
$(STAMP): setup.cfg pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python packer/lock_requirements.py --check
	touch $@

$(SYSTEM): scripts/system-deps.sh
	scripts/system-deps.sh
	mkdir -p $(dir $@) && touch $@

venv: $(STAMP)

system-deps: $(SYSTEM)

# The demo's staircase deliberately climbs past the shop's write capacity to find the
# knee, so "thresholds failed" (exit 1) is its expected verdict; anything else fails.
demo: $(STAMP)
	$(BIN)/surge demo || [ $$? -eq 1 ]

# CI runs `make test`, so the lint gate (layers included) runs first. The suite mostly
# waits (real Locust runs, agents, terraform, chromium), so 3 pytest-xdist workers share
# the 2 cores; tests marked xdist_group(NAME) run in one worker, one after another (see
# tests/conftest.py). PYTEST_ARGS comes last: PYTEST_ARGS="-n 0" runs it serially.
PYTEST_WORKERS ?= -n 3 --dist loadgroup
test: $(STAMP) $(SYSTEM)
	$(MAKE) lint
	$(BIN)/python -m pytest -m "not long" $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The repeats `make test` leaves out to stay under 20 minutes (other seeds of the knee search)
test-long: $(STAMP) $(SYSTEM)
	$(BIN)/python -m pytest -m long $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

lint: $(STAMP) $(SYSTEM)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	@for check in scripts/lint-*.sh; do [ -e "$$check" ] || continue; echo "== $$check"; PATH="$(CURDIR)/$(BIN):$$PATH" "$$check" || exit 1; done

# The ending cases of tests/runs/test_endings.py (abort, stop, hard end), each repeated
# RELIABILITY_RUNS times: rows in S3 must equal the target's count every time. The
# figures (one line per run) go to results/reliability.txt.
RELIABILITY_RUNS ?= 10
reliability: $(STAMP) $(SYSTEM)
	mkdir -p results && rm -f results/reliability.txt
	SURGE_RELIABILITY_RUNS=$(RELIABILITY_RUNS) SURGE_RELIABILITY_LOG=$(CURDIR)/results/reliability.txt \
		$(BIN)/python -m pytest -p no:cacheprovider tests/runs/test_endings.py \
		-k "abort or stop or hard_end" $(PYTEST_ARGS); \
		status=$$?; cat results/reliability.txt; exit $$status

bench: $(STAMP) $(SYSTEM)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
