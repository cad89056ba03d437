# Two entry points for a fresh machine: `make demo` (core + [server] only) and `make test` (the full lock).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB := .demo/demo.db
DEMO_PORT ?= 8000
# One cache for demo and CLI: PIXSEEK_CACHE when set, else the default in pixseek.encoders.onnx_runtime.cache_dir
# (~/.cache/pixseek); the Makefile no longer sets its own, so `make demo` and a plain `pixseek` share it.

.PHONY: setup demo test test-fast browser bench clean bench-deps text-tables

# The full lock (every extra + test tools) for tests and benchmarks; no system packages.
setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP) $(DEMO_STAMP)

# What the demo uses: the core + [server], at the lock's exact versions (no browser, no Ray/Milvus/training).
DEMO_STAMP := $(VENV)/.demo-installed
$(DEMO_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements.txt -e '.[server]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/pixseek index samples/gallery --db $(DEMO_DB)
	$(VENV)/bin/pixseek search samples/queries/cat-crop.jpg samples/queries/coffee-flipped.jpg --db $(DEMO_DB) -k 5 --sheet .demo/hits.png
	@echo "web page: http://127.0.0.1:$(DEMO_PORT)/  (drop an image on it; Ctrl+C stops the server)"
	$(VENV)/bin/pixseek serve --db $(DEMO_DB) --port $(DEMO_PORT)

# Headless Chromium for the browser tests (Debian's package, driven by Playwright; never `playwright install`).
# As root (CI) it installs or fails; as a user without it, the browser tests skip.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "note: chromium is not installed (needs root: apt-get install chromium); the browser tests will skip"; fi

# Everything: unit + integration + system (servers, browser, Milvus, Ray, kill tests, wheel install).
test: setup browser
	$(PY) -m pytest -q --durations=10

# Unit + integration only (no servers, browser, Milvus, Ray or subprocess kills): under 3 minutes on 2 cores,
# in TEST_JOBS pytest-xdist workers, a whole file per worker (its module fixtures are built once);
# TEST_JOBS=0 runs it in one process.
TEST_JOBS ?= 2
test-fast: setup
	$(PY) -m pytest -q -m "not system" -n $(TEST_JOBS) --dist loadfile --durations=10

# Font packages for the glyph dev set (bench/datasets/glyphs.py) and wallpaper packages for the
# copy-detection dev set (bench/datasets/photos.py); installs only what is missing.
GLYPH_FONTS := $(shell grep -v "^#" bench/datasets/glyph_fonts.txt)
WALLPAPERS := desktop-base mate-backgrounds ukui-wallpapers plasma-workspace-wallpapers gnome-backgrounds
bench-deps:
	@missing=$$(for p in $(GLYPH_FONTS) $(WALLPAPERS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; fi

# Rebuild the shipped text-search tables (src/pixseek/text/data/) from WordNet 3.0: build time only.
text-tables: setup
	@dpkg -s wordnet-base >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -q wordnet-base)
	$(PY) tools/build_text_tables.py

clean:
	rm -rf .demo .cache
