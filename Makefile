# One-command entry points. `make test` builds everything from a fresh clone, lints and runs the whole suite (CI runs
# it); `make test-fast` runs the suite without the tests marked slow.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch first and pinned: this CPU build lies on the build machines, and asking for it by version keeps pip from
# resolving an unpinned torch to a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# Lint and test-runner tools, pinned: a new release with new rules must not turn CI red on unchanged code.
TOOLS ?= ruff==0.17.6 import-linter==2.17 pytest-xdist==3.8.0

.PHONY: setup system lint test test-fast read clean

setup: $(VENV)/.installed

system:
	@if [ "$$(id -u)" -eq 0 ] || command -v sudo >/dev/null; then bash scripts/setup-system.sh; \
	 else echo "not root: skipping Debian packages (fonts, tesseract); run scripts/setup-system.sh as root"; fi

# The core install (what reading text needs) and the full one (training, export, tests) on top of it.
$(VENV)/.core: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed: $(VENV)/.core
	$(PIP) install -q -e ".[dev]"
	touch $@

$(VENV)/.tools: $(VENV)/.core
	$(PIP) install -q $(TOOLS)
	touch $@

# ruff (pyproject [tool.ruff]) and the import rules (pyproject [tool.importlinter]); `make test` runs them first.
lint: $(VENV)/.tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

# One pytest over every test, no marker filter: its exit status is CI's (5, "no tests collected", would be a real
# failure here, since the suite is never empty).
test: system setup lint
	$(VENV)/bin/pytest -p no:cacheprovider

# The quick loop while editing: everything not marked slow, on two processes (under a minute on two cores); each
# process takes whole modules, so module fixtures are built once.
test-fast: setup $(VENV)/.tools
	$(VENV)/bin/pytest -p no:cacheprovider -m "not slow" -n 2 --dist loadfile

# The main job: read the bundled sample images with the bundled default model.
read: $(VENV)/.core
	$(VENV)/bin/sgtr read samples/

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
