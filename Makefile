# funnel_models — the two commands that matter on a fresh clone:
#   make demo    environment + sample data + every dashboard on http://127.0.0.1:8866
#   make test    environment + browser dependencies + the test suite
# Everything runs non-interactively (CI=true, no standard input).

VENV ?= .venv
PYTHON ?= python3
PORT ?= 8866
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.installed-bench-stamp
SAMPLE := data/sample/leads.parquet

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help env demo test browser-deps lint format bench clean distclean

help:
	@echo "make demo          serve every dashboard on http://127.0.0.1:$(PORT)"
	@echo "make test          run the test suite (installs Chromium via apt when missing)"
	@echo "make lint          ruff check + ruff format --check"
	@echo "make bench         run the benchmarks in benchmarks/"
	@echo "make clean         remove generated data, caches and test artifacts"
	@echo "make distclean     clean + remove $(VENV)"

# The environment: re-installed only when pyproject.toml changes.
env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -e ".[dev]"
	@touch $@

# The checkout's sample (data/sample/ is gitignored), as the README's examples read it.
$(SAMPLE): | $(STAMP)
	$(BIN)/funnel-models generate --out data/sample --leads 10000 --seed 7

# One server for the executive, hand-off and workshop pages; Ctrl-C stops it and its kernels.
demo: $(STAMP) $(SAMPLE)
	$(BIN)/funnel-models dashboard data/sample --port $(PORT)

# Debian's Chromium for the browser tests (Playwright's own browser download is not used).
browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "browser-deps: $(CHROMIUM) is present"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
		else echo "browser-deps: $(CHROMIUM) missing and no root/sudo for apt-get;" \
			"browser tests will be skipped (and fail under CI=true)."; exit 0; fi; \
		echo "browser-deps: installing Debian's chromium with apt-get"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			-o DPkg::Lock::Timeout=300 --no-install-recommends chromium fonts-liberation \
		|| echo "browser-deps: apt-get could not install chromium;" \
			"browser tests will be skipped (and fail under CI=true)."; \
	else \
		echo "browser-deps: $(CHROMIUM) missing and apt-get unavailable; install Chromium" \
			"yourself. Browser tests will be skipped (and fail under CI=true)."; \
	fi

# pytest exit code 5 means "no tests collected": say so instead of failing.
test: $(STAMP) browser-deps
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --progress-bar off -e ".[dev,bench]"
	@touch $@

bench: $(BENCH_STAMP)
	@set -e; found=0; for f in benchmarks/bench_*.py; do \
		[ -e "$$f" ] || continue; found=1; echo "== $$f"; $(BIN)/python "$$f"; done; \
	[ $$found = 1 ] || echo "make bench: no benchmarks/bench_*.py yet"

clean:
	rm -rf data/sample test-artifacts benchmarks/_work build dist *.egg-info \
		.pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
