# The two commands of README.md. Both set up what they need first.
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install install-test run test lint

# torch first, from the CPU wheel, so that no later step resolves a CUDA build.
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .

install-test:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[all]'

run: install
	$(PYTHON) src/initializer.py

test: install-test
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks
