# Two entry points, each sets itself up on a fresh machine:
#   make test   -- create .venv, install the package with its test extra, run the tests
#   make run    -- the main job: fit random labels on the embedded CIFAR-10 sample

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test test-fast run sample docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Two workers: most tests are single-threaded compilations, so two cores run two of them at once.
# The 25 slowest tests are listed at the end: the suite must stay under 15 minutes on 2 cores.
test: $(STAMP)
	$(PY) -m pytest -q -ra -n 2 --dist loadgroup --durations=25

run: $(STAMP)
	$(PY) experiments/random_labels.py $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not slow"

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

sample: $(STAMP)
	$(PY) scripts/make_sample.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache site
