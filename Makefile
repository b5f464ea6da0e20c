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

.PHONY: install run test model bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

model: install
	$(VENV)/bin/erfa model

run: install
	$(VENV)/bin/erfa serve

test: install
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) .erfa .pytest_cache
