# Semáforo — the two commands a newcomer needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EMBEDDED := env -u DATABASE_URL -u REDIS_URL DJANGO_SETTINGS_MODULE=config.settings.local
# The suite runs in two processes (pytest-xdist; one per core), each on its own test
# database and Redis databases (config/settings/test.py). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(PYTEST_WORKERS)

.PHONY: demo test test-embedded lint format bench venv messages clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## demo: embedded SQLite database, a generated portfolio, the night's work, server on :8000
demo: $(STAMP)
	$(EMBEDDED) $(BIN)/python manage.py migrate --noinput
	$(EMBEDDED) $(BIN)/python manage.py seed_demo
	$(EMBEDDED) $(BIN)/python manage.py runserver 127.0.0.1:8000

## test: lint, then the whole suite on DATABASE_URL (PostgreSQL) or the embedded SQLite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Models and migrations agree (checked on a throwaway database, whatever DATABASE_URL holds)
	env -u DATABASE_URL SEMAFORO_VAR_DIR=$$(mktemp -d) $(BIN)/python manage.py makemigrations --check --dry-run
	$(PYTEST)

## test-embedded: the suite on SQLite with eager Celery, whatever the environment says
test-embedded: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: speed goals live here, never in timed tests (PostgreSQL; its own *_bench database)
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/semaforo_bench
BENCH_CREDITS ?= 1000000
BENCH_ARGS ?=
bench: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python scripts/fresh_database.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench --credits $(BENCH_CREDITS) $(BENCH_ARGS)

## messages: refresh and compile the translations (needs gettext)
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l es_PE -l en --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/semaforo.sqlite3* var/demo .pytest_cache
