# The two commands of the README: `make run` (system with demo data) and `make test` (the whole check).
VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: run test venv lint format bench clean

$(VENV)/.installed: pyproject.toml scripts/bootstrap-venv.sh
	scripts/bootstrap-venv.sh $(VENV)
	touch $@

venv: $(VENV)/.installed

run: venv
	VENV=$(VENV) scripts/run.sh

test: venv
	VENV=$(VENV) scripts/with-services.sh scripts/run-tests.sh $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf .tmp data
