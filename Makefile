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
	$(VENV)/bin/spex info data/samples/sentinel2_l1c_virginia.tif
	@# Sentinel-2 L1C, Virginia coast (10 m, 13 bands): lagoon, creeks and sea; fields and forest; towns
	$(VENV)/bin/spex extract data/samples/sentinel2_l1c_virginia.tif --prompt "extract the water bodies" \
		-o out/demo_s2_water.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/sentinel2_l1c_virginia.tif --prompt "extract the vegetation" \
		-o out/demo_s2_vegetation.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/sentinel2_l1c_virginia.tif --prompt "extract the built-up areas" \
		-o out/demo_s2_builtup.gpkg --overwrite
	@# Landsat 7 ETM+ 8-bit DN, Olinda/Recife (28.5 m): dense city, coast, forest
	$(VENV)/bin/spex extract data/samples/landsat7_etm_olinda.tif --prompt "提取水体" \
		-o out/demo_l7_water.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/landsat7_etm_olinda.tif --prompt "extract the vegetation" \
		-o out/demo_l7_vegetation.gpkg --overwrite
	$(VENV)/bin/spex extract data/samples/landsat7_etm_olinda.tif --prompt "extract the buildings" \
		-o out/demo_l7_builtup.gpkg --overwrite
	@for name in s2_water s2_vegetation s2_builtup l7_water l7_vegetation l7_builtup; do \
		case $$name in s2_*) raster=data/samples/sentinel2_l1c_virginia.tif;; \
		               *) raster=data/samples/landsat7_etm_olinda.tif;; esac; \
		$(PY) -m model_runtime.vector.quicklook $$raster out/demo_$$name.gpkg out/demo_$$name.png || exit 1; \
	done

test: samples
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: bootstrap
	$(VENV)/bin/ruff check .

bench: samples
	$(PY) bench/spectral_bench.py
	$(PY) bench/spex_bench.py
	$(PY) bench/batch_bench.py

plugin: bootstrap
	$(PY) build_plugin.py

clean:
	rm -rf out dist build .pytest_cache
