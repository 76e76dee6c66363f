# Two commands on a fresh Debian bookworm machine:  make demo   and   make test
# Both bootstrap what they need (apt packages, .venv, pip, sample rasters) idempotently.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: bootstrap samples demo test lint bench plugin clean

bootstrap:
	@bash scripts/bootstrap.sh dev

samples: bootstrap
	@$(PY) scripts/fetch_samples.py

demo: samples
	@mkdir -p out
	$(VENV)/bin/spex info data/samples/sentinel2_l2a_subset.tif
	$(VENV)/bin/spex extract data/samples/sentinel2_l2a_subset.tif --prompt "extract the water bodies" \
		-o out/demo_water.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/sentinel2_l2a_subset.tif --prompt "extract the vegetation" \
		-o out/demo_vegetation.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/aerial_rgbn.tif --prompt "提取水体" -o out/demo_aerial_water.shp --overwrite

test: samples
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: bootstrap
	$(VENV)/bin/ruff check .

bench: samples
	$(PY) bench/spectral_bench.py
	$(PY) bench/spex_bench.py

plugin: bootstrap
	$(PY) build_plugin.py

clean:
	rm -rf out dist build .pytest_cache
