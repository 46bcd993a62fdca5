# Huddle: `make dev` runs the site with demo data on the embedded default; `make test` runs the tests
# (against DATABASE_URL / REDIS_URL when set, else the embedded default).
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never
# uv from PATH, or bootstrapped into .tools/ with pip (all a fresh machine needs is Python 3.11).
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen --no-sync

.PHONY: dev test install lint format migrate seed serve worker prod-local clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"

install: | $(UV)
	$(UV) sync --frozen

dev: install
	DEBUG=1 $(RUN) python manage.py migrate --no-input
	DEBUG=1 $(RUN) python manage.py seed_demo
	@echo
	@echo "  Huddle is at http://127.0.0.1:$(PORT)/   (API docs: http://127.0.0.1:$(PORT)/api/docs/)"
	@echo "  Demo logins (password huddle-demo-2026): alice, bob, carol, dave, erin"
	@echo "  Operator: admin / huddle-demo-2026 at http://127.0.0.1:$(PORT)/admin/"
	@echo
	DEBUG=1 $(RUN) daphne -b 127.0.0.1 -p $(PORT) config.asgi:application

# schemathesis' per-operation tests do not survive pytest-xdist (a worker reports one test for the
# 54 operations and runs only part of them), so they run in a plain pytest after the rest.
SERIAL_TESTS = tests/api/test_schema_fuzz.py

test: install
	$(RUN) pytest $(PYTEST_ARGS) --ignore=$(SERIAL_TESTS)
	$(RUN) pytest -p no:xdist $(SERIAL_TESTS)

lint: install
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) lint-imports

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

worker: install
	$(RUN) celery -A config.celery:app worker --beat --loglevel INFO

# Production-like, on PostgreSQL and Redis: two bin/serve processes behind nginx, a Celery worker and
# beat (Procfile, honcho); Ctrl-C stops all of it. See bin/prod-local for its environment.
prod-local: install
	bin/prod-local

clean:
	rm -rf .venv .tools .run db.sqlite3 media staticfiles
