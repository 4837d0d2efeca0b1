# Two commands do all the set-up on a fresh machine:
#   make app    - create .venv, install requirements.txt, start the page (python app.py)
#   make test   - create .venv, install requirements-dev.txt, Chromium and MNIST, run pytest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: app test install install-dev chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.app: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.app

install: $(VENV)/.app
install-dev: $(VENV)/.dev

app: $(VENV)/.app
	$(BIN)/python app.py

chromium:
	@bash scripts/ensure_chromium.sh

test: $(VENV)/.dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m siamese.bench

clean:
	rm -rf $(VENV) .pytest_cache
