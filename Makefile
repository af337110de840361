# Kundeportal: `make run` serves the demo, `make test` runs the whole suite (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
FLASK := $(BIN)/flask --app run
PORT ?= 8080
export PORT
PYTEST_ARGS ?=
CHROMIUM := /usr/bin/chromium

.PHONY: run test install chromium nginx

# The venv is made once; packages are (re)installed only when requirements.txt changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements.txt
	touch $@

install: $(STAMP)

run: install
	$(FLASK) db upgrade
	$(FLASK) portal init
	$(FLASK) portal demo --if-empty
	@echo "Kundeportal kjører på http://127.0.0.1:$(PORT)/  (Ctrl+C stopper)"
	FAB_UPDATE_PERMS=0 exec $(BIN)/gunicorn --workers 2 --worker-class sync --bind 127.0.0.1:$(PORT) --no-control-socket \
		--access-logfile - run:app

# Browser tests drive Debian's Chromium; without root (or sudo) they skip with a reason.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "Chromium mangler og kan ikke installeres uten root: nettlesertestene hoppes over."; exit 0; fi; \
		echo "Installerer Debian-pakken chromium ..."; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "Kunne ikke installere chromium: nettlesertestene hoppes over."; \
	fi

# The several-app-hosts test (tests/test_multihost.py) runs deploy/'s site file in Debian's nginx; installed
# like chromium (without root: that test skips with a reason).
nginx:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "nginx mangler og kan ikke installeres uten root: flervertstesten hoppes over."; exit 0; fi; \
		echo "Installerer Debian-pakken nginx ..."; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null \
		|| echo "Kunne ikke installere nginx: flervertstesten hoppes over."; \
	fi

# Two xdist workers (this machine has 2 cores), one module or test class per unit; on PostgreSQL each worker gets
# its own database (<name>_gw0, <name>_gw1), see tests/conftest.py.
PYTEST_WORKERS ?= 2
test: install chromium nginx
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=. $(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -rsfE -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS) tests

# The benchmark (scripts/bench.py): PostgreSQL at BENCH_DATABASE_URL, created if missing, loaded once
# with BENCH_ORDERS orders (`portal bench-data`); pages, jobs and wrk throughput in one table.
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/bench
BENCH_ORDERS ?= 1000000
export BENCH_DATABASE_URL
.PHONY: bench wrk

# wrk measures throughput; Debian's package, installed like chromium (without root: not measured).
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "wrk mangler og kan ikke installeres uten root: gjennomstrømningen måles ikke."; exit 0; fi; \
		echo "Installerer Debian-pakken wrk ..."; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
		|| echo "Kunne ikke installere wrk: gjennomstrømningen måles ikke."; \
	fi

bench: install wrk
	$(BIN)/python scripts/bench.py --create-database
	DATABASE_URL=$(BENCH_DATABASE_URL) FAB_UPDATE_PERMS=0 $(FLASK) db upgrade
	DATABASE_URL=$(BENCH_DATABASE_URL) FAB_UPDATE_PERMS=0 $(FLASK) portal init
	DATABASE_URL=$(BENCH_DATABASE_URL) FAB_UPDATE_PERMS=0 $(FLASK) portal bench-data --orders $(BENCH_ORDERS) --if-empty
	$(BIN)/python scripts/bench.py
