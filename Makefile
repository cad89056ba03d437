# Two entry points for a fresh machine: `make demo` and `make test`. Both call `make setup`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DB := .demo/demo.db
DEMO_PORT ?= 8000
# One cache for demo and CLI: PIXSEEK_CACHE when set, else the default in pixseek.encoders.onnx_runtime.cache_dir
# (~/.cache/pixseek); the Makefile no longer sets its own, so `make demo` and a plain `pixseek` share it.

.PHONY: setup demo test bench clean bench-deps text-tables

setup: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)

$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/pixseek index samples/gallery --db $(DEMO_DB)
	$(VENV)/bin/pixseek search samples/queries/cat-crop.jpg samples/queries/coffee-flipped.jpg --db $(DEMO_DB) -k 5 --sheet .demo/hits.png
	@echo "web page: http://127.0.0.1:$(DEMO_PORT)/  (drop an image on it; Ctrl+C stops the server)"
	$(VENV)/bin/pixseek serve --db $(DEMO_DB) --port $(DEMO_PORT)

test: setup
	$(PY) -m pytest -q

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
