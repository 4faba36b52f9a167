# xlt: `make demo` runs the main job on the bundled model, `make test` runs the test suite,
# `make docs` builds the documentation site.
# Both set up the virtual environment first if needed (PyTorch pinned to the CPU wheel).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.xlt-installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: setup demo test test-fast docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Zero-shot UD-POS transfer from English to all 37 languages (probe on frozen features,
# 2,000 English training sentences, first 200 sentences of every evaluation set).
demo: setup
	$(VENV)/bin/xlt transfer --task udpos --source en --targets all --mode probe \
	  --train-limit 2000 --eval-limit 200 --out runs/demo

test: setup
	$(PY) -m pytest -q

# Unit tests only (no bundled model, no ../shared/data).
test-fast: setup
	$(PY) -m pytest -q -m "not integration"

# The documentation site (mkdocs.yml, docs/) into site/; fails on any warning.
docs: setup
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) runs site .pytest_cache
