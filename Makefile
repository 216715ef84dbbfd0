# Cleared to Post: the commands a newcomer needs.  `make run` and `make test` work on a
# fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := lms_plugin.app:create_app

.PHONY: run test lint bench venv dev-install migrate seed serve workbench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall when the project definition changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[postgres]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,postgres,xblock]"
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/cleared db upgrade
	$(BIN)/cleared seed-demo
	@echo "Open http://$(HOST):$(PORT)/ and sign in as learner@demo.test / demo-password"
	$(BIN)/cleared run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

# xblock-sdk's workbench with our block loaded, at http://$(HOST):8000/ (it runs in
# instance/, where the SDK's settings keep var/workbench.log; its database is there too).
WORKBENCH_ENV := DJANGO_SETTINGS_MODULE=workbench.settings \
  WORKBENCH_DATABASES='{"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "$(CURDIR)/instance/workbench.sqlite3"}}'
workbench: $(VENV)/.installed-test
	mkdir -p instance/var
	cd instance && $(WORKBENCH_ENV) $(CURDIR)/$(BIN)/django-admin migrate --run-syncdb --verbosity 0
	cd instance && $(WORKBENCH_ENV) $(CURDIR)/$(BIN)/django-admin runserver $(HOST):8000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Until the first release the schema has one migration, regenerated from the models.
# After a release, add migrations instead: `$(BIN)/cleared db migrate -m "what changed"`.
initial-migration: $(VENV)/.installed-run
	rm -f lms_plugin/migrations/versions/*.py
	rm -f $(CURDIR)/.migration-scratch.sqlite3*
	DATABASE_URL=sqlite:///$(CURDIR)/.migration-scratch.sqlite3 $(BIN)/cleared db revision --autogenerate --rev-id 0001 -m "initial schema"
	rm -f $(CURDIR)/.migration-scratch.sqlite3*
