# Two entry points: `make lab` (install and open the demo) and `make test` (install and run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JupyterLab installed from the built wheel, as a researcher gets it: the browser test and `make lab` use it.
WHEEL_VENV ?= .venv-wheel
WHEEL_STAMP := $(WHEEL_VENV)/.installed
WHEEL_BUILT := dist/.built
CHROMIUM ?= /usr/bin/chromium
DEMO_HOME ?= binder/demo-home
# jlpm (from the jupyter-builder pip package) must be on PATH for the labextension build hook.
export PATH := $(abspath $(BIN)):$(PATH)

SOURCES := pyproject.toml $(wildcard cbs_export_lab/*.py cbs_export_lab/*.toml cbs_export_lab/*.json) \
	$(wildcard labextension/src/*.ts labextension/style/*) labextension/package.json labextension/yarn.lock \
	jupyter-config/server-config/cbs_export_lab.json

.PHONY: lab test install wheel chromium demo clean lint-py lint-ts

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# One wheel build (sdist, then the wheel from it): the labextension is built fresh, never a leftover dev build.
$(WHEEL_BUILT): $(STAMP) $(SOURCES)
	rm -rf cbs_export_lab/labextension dist
	$(BIN)/python -m build --outdir dist .
	touch $(WHEEL_BUILT)

$(WHEEL_STAMP): $(WHEEL_BUILT)
	test -x $(WHEEL_VENV)/bin/python || $(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps dist/cbs_export_lab-*.whl
	$(WHEEL_VENV)/bin/python -m pip install --quiet "$$(ls dist/cbs_export_lab-*.whl)[lab]"
	touch $(WHEEL_STAMP)

wheel: $(WHEEL_STAMP)

# Debian's Chromium drives the browser test (Playwright's own browser download is not used).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if command -v apt-get >/dev/null 2>&1; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "No $(CHROMIUM) and no apt-get: the browser test will be skipped outside CI."; fi; \
	fi

# eslint + prettier on the TypeScript; the node modules come from the wheel build's `jlpm install`.
lint-ts: $(WHEEL_BUILT)
	cd labextension && { test -d node_modules || jlpm install; } && jlpm run lint:check

# ruff: lint and format of the Python (config in pyproject.toml).
lint-py: $(STAMP)
	$(BIN)/ruff check cbs_export_lab tests benchmarks
	$(BIN)/ruff format --check cbs_export_lab tests benchmarks

test: install lint-py wheel chromium lint-ts
	CBS_LAB_VENV=$(WHEEL_VENV) CBS_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The demo project: binder/cbs-export.toml points the kernel and the server at binder/demo-exportmap (achteraf) and
# binder/demo-basket; CBS_EXPORT_HOME keeps what the sidebar saves away from the user's own settings.
demo: $(WHEEL_STAMP)
	cd binder && $(abspath $(WHEEL_VENV))/bin/python -c "from cbs_export_lab import demo; demo.make_exportmap('demo-exportmap', 'achteraf')"

lab: demo
	cd binder && CBS_EXPORT_HOME=$(abspath $(DEMO_HOME)) $(abspath $(WHEEL_VENV))/bin/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) demo.ipynb

clean:
	rm -rf $(VENV) $(WHEEL_VENV) build dist cbs_export_lab/labextension $(DEMO_HOME)
