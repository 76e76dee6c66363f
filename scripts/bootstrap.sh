#!/usr/bin/env bash
# Bootstrap everything `make demo` / `make test` need on a fresh Debian bookworm machine.
# Idempotent: each step is skipped when its result is already there.
#   apt: QGIS 3.22 + GDAL Python bindings + Xvfb (desktop screenshot test) + a CJK font (legible zh screenshots)
#   venv: .venv made from Debian's /usr/bin/python3 with --system-site-packages so that
#         qgis, osgeo (GDAL) and Debian's numpy are importable.
#   pip: the project in editable mode with the [dev] extra, numpy<2 and torch==2.13.0 pinned.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-pip: the plugin's installer runs QGIS's own pip. python3-matplotlib and python3-sympy: what a stock
# QGIS install brings (recommends), among them Debian's sympy 1.11 that must not shadow torch's newer one.
APT_PACKAGES=(qgis python3-qgis python3-gdal gdal-bin python3-venv python3-pip python3-matplotlib python3-sympy
  xvfb xauth qttools5-dev-tools fonts-wqy-microhei)
WANT_EXTRA="${1:-dev}"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

# Re-run pip only when the dependency declaration changed.
stamp=".venv/.bootstrap-${WANT_EXTRA}-$(sha256sum pyproject.toml scripts/constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: pip install -e .[${WANT_EXTRA}]"
  .venv/bin/python -m pip install -q --upgrade "pip>=24" >/dev/null
  .venv/bin/python -m pip install -q -c scripts/constraints.txt -e ".[${WANT_EXTRA}]"
  .venv/bin/python -c "import numpy, osgeo.gdal_array; assert numpy.__version__ < '2', numpy.__version__"
  rm -f .venv/.bootstrap-"${WANT_EXTRA}"-*
  touch "$stamp"
fi
