# Two commands do all the set-up on a fresh machine:
#   make app    - create .venv, install requirements.txt, start the page (python app.py)
#   make test   - create .venv, install requirements-dev.txt, Chromium and MNIST, run pytest
# and while working:
#   make test-fast - the in-process tests (no served page, no browser, no child process), 2 workers
# and to put the page on Hugging Face Spaces (scripts/space.py):
#   make space-files              - list what a Space gets and check the ZeroGPU pins (no network)
#   make space SPACE=user/name    - create the Space if needed and upload those files
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: app test test-fast install install-dev chromium bench space space-files clean

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

# Two pytest-xdist workers: the served page's and the browser's tests on one (one page, one
# Chromium: their xdist_group, tests/conftest.py), the rest shared out. WORKERS= runs serially.
WORKERS ?= -n 2 --dist loadgroup
test: $(VENV)/.dev chromium
	$(BIN)/python -m pytest $(WORKERS) $(PYTEST_ARGS)

# Markers from tests/conftest.py; a test that starts a child process without `process` fails.
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not app and not e2e and not process" -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python -m siamese.bench

# The listing needs no venv (the pin check uses `packaging`, which the venv has).
space-files:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) scripts/space.py --dry-run $(SPACE)

space: $(VENV)/.app
	@test -n "$(SPACE)" || { echo "usage: make space SPACE=user/name  (make space-files lists what goes)"; exit 2; }
	$(BIN)/python scripts/space.py $(SPACE)

clean:
	rm -rf $(VENV) .pytest_cache
