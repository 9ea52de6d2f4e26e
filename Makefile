# One-command entry points. `make test` builds everything from a fresh clone and runs the whole suite (CI runs it).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch first and pinned: this CPU build lies on the build machines, and asking for it by version keeps pip from
# resolving an unpinned torch to a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup system test read clean

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

test: system setup
	$(VENV)/bin/pytest -p no:cacheprovider

# The main job: read the bundled sample images with the bundled default model.
read: $(VENV)/.core
	$(VENV)/bin/sgtr read samples/

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
