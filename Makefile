# The two commands: `make run` (demo on the embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test soak serve install install-dev lint check-python bench-queues clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' || { \
	  echo "Python 3.12 or newer is needed (Django 6.1); '$(PYTHON)' is $$($(PYTHON) -V 2>&1)."; \
	  echo "Install 3.12+ or run e.g. 'make run PYTHON=python3.12'."; exit 1; }

$(PY): | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --once
	@echo ""
	@echo "Helpdesk: http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/"
	@echo "Live chat demo (livechat): http://$(HOST):$(PORT)/chat/demo/"
	$(PY) manage.py runserver $(HOST):$(PORT)

# ruff, then the import-linter contracts of pyproject.toml ([tool.importlinter]); the import-circle
# check is tests/test_imports.py, in the pytest run.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo

test: install-dev lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) -m pytest $(PYTEST_ARGS)

# The fault test of the production shape (README, "What lives where"): SOAK_TICKETS tickets
# through a killed worker and a Redis restart. Needs PostgreSQL and Redis (DATABASE_URL,
# CELERY_BROKER_URL) and redis-server; `make test` runs it with 40 tickets.
SOAK_TICKETS ?= 400
soak: install-dev
	SOAK_TICKETS=$(SOAK_TICKETS) $(PY) -m pytest tests/soak -q -s -p no:cacheprovider

# The production shape: migrate, collectstatic, then gunicorn + Celery worker + Celery beat
# against DATABASE_URL and CELERY_BROKER_URL (set them, and SECRET_KEY with DEBUG=false,
# first). The commands live in bin/serve, shared with tests/production/test_smoke.py.
# One worker listens to every queue; to scale, one worker per group of queues, e.g.
# `make serve SERVE_WORKERS="routing:2 intake notifications,outbound,celery"` (bin/serve).
SERVE_WORKERS ?=
serve: install
	VENV_PYTHON=$(PY) HOST=$(HOST) PORT=$(PORT) SERVE_WORKERS="$(SERVE_WORKERS)" bin/serve

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 test-artifacts
