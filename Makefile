# Accord: developer and CI entry points (GNU make).
#   make help                      list the targets
#   make test PYTEST_ARGS='-x -k import'
#   make demo                      local server with demo data on http://127.0.0.1:8000

PYTHON ?= python3
VENV = .venv
PYTEST_ARGS ?=

VENV_PY := $(VENV)/bin/python
INSTALL_STAMP := $(VENV)/.installed

# Browser tests drive Debian's Chromium through Playwright (its own download fails here).
export ACCORD_CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help
# Steps of 'test' run in the order given, even under make -j.
.NOTPARALLEL:
.PHONY: help install system-deps bytecode demo lint check-migrations test test-sqlite test-postgres clean \
	bench bench-compare bench-install

help: ## List the targets
	@echo 'Targets:'
	@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-18s %s\n", $$1, $$2}'
	@echo 'Variables: PYTHON=$(PYTHON)  PYTEST_ARGS=$(PYTEST_ARGS)  ACCORD_CHROMIUM=$(ACCORD_CHROMIUM)'

install: $(INSTALL_STAMP) system-deps ## Create .venv, install Python and system dependencies

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed.
$(INSTALL_STAMP): requirements.txt requirements-test.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --disable-pip-version-check -q -r requirements-test.txt
	touch $@

system-deps: ## Install missing Debian packages (Chromium, PostgreSQL, fonts)
	bash scripts/install-system-deps.sh

# Accord's own sources compiled once: where PYTHONDONTWRITEBYTECODE is set (container images,
# this CI), every process would compile them again as it starts (~60 ms per command).
bytecode: install
	$(VENV_PY) -m compileall -q config annotation judging bench

demo: install bytecode ## Migrate, load demo data and users, run the server on 127.0.0.1:8000
	$(VENV_PY) manage.py migrate --noinput
	$(VENV_PY) manage.py demo_setup
	$(VENV_PY) manage.py runserver 127.0.0.1:8000 --noreload

lint: install ## ruff check (formatting is not enforced)
	$(VENV)/bin/ruff check .

# DATABASE_URL is unset so these use the default SQLite database whatever the shell has.
check-migrations: install ## Fail if models changed without a migration
	env -u DATABASE_URL $(VENV_PY) manage.py makemigrations --check --dry-run

test: install lint check-migrations test-sqlite test-postgres ## Lint, migrations check, full suite on SQLite then PostgreSQL

test-sqlite: install ## Test suite on SQLite
	env -u DATABASE_URL $(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgres: install ## Test suite on a throw-away PostgreSQL server
	bash scripts/with-postgres.sh $(VENV)/bin/pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS ?=

# The bench's own packages (profilers), on top of the test requirements.
$(BENCH_STAMP): requirements-bench.txt $(INSTALL_STAMP)
	$(VENV_PY) -m pip install --disable-pip-version-check -q -r requirements-bench.txt
	touch $@

bench-install: install bytecode $(BENCH_STAMP)

# A throw-away PostgreSQL server for the run: with-postgres.sh exports its DATABASE_URL.
bench: bench-install ## Accord's import, queue, report and export timings -> BENCHMARKS.md (BENCH_ARGS='--scale 0.1 --quick')
	bash scripts/with-postgres.sh $(VENV_PY) -m bench run $(BENCH_ARGS)

bench-compare: bench-install ## make bench, plus Label Studio on the same work, with Accord/Label Studio ratios
	bash scripts/with-postgres.sh $(VENV_PY) -m bench compare $(BENCH_ARGS)

clean: ## Remove the install stamp, var/, test artefacts and caches
	rm -f $(INSTALL_STAMP)
	rm -rf var test-artifacts .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
