# Two commands do all set-up on a fresh machine:
#   make run    venv, CPU torch, erfa, model, demo index -> http://127.0.0.1:8000
#   make test   the same set-up, then the test suite
PYTHON ?= python3
VENV ?= .venv
ERFA_HOME ?= $(CURDIR)/.erfa
# torch goes in first, pinned, so that nothing later pulls a multi-GB CUDA build.
# Outside this environment, pass TORCH_INDEX=<PyTorch's CPU wheel index URL> to get the CPU wheel.
TORCH_INDEX ?=
PIP = $(VENV)/bin/python -m pip
export ERFA_HOME

.PHONY: install run test lint model bench clean chromium apertium

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

model: install
	$(VENV)/bin/erfa model

run: install apertium
	$(VENV)/bin/erfa serve

# Debian's Apertium pairs that let a Swedish, Danish or Nynorsk need also be searched as Bokmål
# (index/search/translate.py). Installed when we may (root, as on CI); without them erfa searches needs
# as written, with lower quality across languages (models.md).
APERTIUM_PACKAGES = apertium apertium-swe-nor apertium-dan-nor apertium-nno-nob
apertium:
	@[ -f /usr/share/apertium/modes/swe-nob.mode ] && [ -f /usr/share/apertium/modes/dan-nob.mode ] && [ -f /usr/share/apertium/modes/nno-nob.mode ] \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APERTIUM_PACKAGES) >/dev/null; } \
	  || echo "apertium not installed: needs are searched untranslated (as root: apt-get install $(APERTIUM_PACKAGES))"

# Debian's Chromium for tests/browser (Playwright drives it by path; it never downloads a browser).
# Installed when we may (root, as on CI); otherwise the browser tests say they were skipped and why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped (as root: apt-get install chromium)"

# Lint, format and types (issue 20), before the suite so a finding fails in seconds, not after it.
# mypy reads erfa.* from a link tree (build/mypy/erfa/<folder> -> <folder>): see [tool.mypy] in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@mkdir -p build/mypy/erfa && for p in ingest index service; do ln -sfn ../../../$$p build/mypy/erfa/$$p; done
	@# erfa is a namespace package at run time; given one, mypy would also take the data folder service/demo/
	@# for the module service/demo.py
	@touch build/mypy/erfa/__init__.py
	$(VENV)/bin/mypy

test: install lint chromium apertium
	$(VENV)/bin/python -m pytest -q

# The performance bench (issue 5): ~15 minutes on 2 cores; writes bench/RESULTS.md and bench/results.json.
# txtai is the peer it is compared with, so it is installed here only, not for serving.
bench: install
	$(PIP) install --quiet -e ".[bench]"
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) .erfa .pytest_cache .mypy_cache .ruff_cache build/mypy
