# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.run-installed $@

## make run: create the venv, install, migrate, load the demo into an empty database, serve on :5000
## together with one job consumer (receipt batches, the outbox every minute, reminders) on instance/jobs.db.
# Debug mode for every step (migrate and demo too): outside debug/tests the built-in SECRET_KEY is refused.
# The consumer is a separate process, as in production (the reloader restarts only the web server; restart
# `make run` after changing a job). It stops with the web server (Ctrl-C reaches both; the trap covers the rest).
run: export FLASK_DEBUG ?= 1
run: $(VENV)/.run-installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask jobs work --workers 2 & consumer=$$!; \
	trap 'kill $$consumer 2>/dev/null; wait $$consumer 2>/dev/null' EXIT INT TERM; \
	FLASK_DEBUG=$${FLASK_DEBUG:-1} $(BIN)/flask run --host 127.0.0.1 --port 5000

## make test: lint and the whole test suite (SQLite; PostgreSQL when TEST_DATABASE_URL is set)
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.pages

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
