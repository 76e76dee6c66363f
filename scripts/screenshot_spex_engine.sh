#!/usr/bin/env bash
# Screenshot of the real QGIS desktop with the SPEX panel running the `spex` engine: the plugin ZIP installed
# into a throwaway profile, the engine's packages installed there by the plugin's own installer (real pip,
# about 2 min), a tiny test checkpoint. Writes docs/screenshot_spex_engine.png (or $1).
# Needs xvfb-run (apt: xvfb xauth), the samples (`make samples`) and the .venv (for the ZIP and checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-docs/screenshot_spex_engine.png}")"
work="$(mktemp -d -t spex-engine-shot.XXXXXX)"
trap 'rm -rf "$work"' EXIT
profile_root="$work/profiles"
python_dir="$profile_root/default/python"
mkdir -p "$python_dir/plugins"
zip="$(.venv/bin/python build_plugin.py 2>/dev/null | tail -n 1)"
[ -f "$zip" ] || zip="$(ls -t dist/spex_qgis-*.zip | head -n 1)"
/usr/bin/python3 -m zipfile -e "$zip" "$python_dir/plugins"
.venv/bin/python -c "
from tests.spex.tools.make_test_checkpoint import write_checkpoint
write_checkpoint('$work/tiny_spex', tiny=True, seed=2)"
echo "screenshot: installing the SPEX engine with the plugin's installer into $python_dir/spex_deps"
env -u PYTHONPATH -u VIRTUAL_ENV PYTHONPATH="$python_dir/plugins" /usr/bin/python3 -c "
from spex_qgis import deps
check = deps.run_install(target='$python_dir/spex_deps', log=lambda line: None)
print('screenshot: check', check.get('ok'), check.get('error'))
assert check.get('ok')"
export SPEX_SCREENSHOT_OUT="$out" SPEX_SCREENSHOT_MODEL="$work/tiny_spex" SPEX_CACHE_DIR="$work/cache"
export SPEX_SCREENSHOT_RASTER="$PWD/data/samples/aerial_rgbn.tif"
export QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR="$work"
unset PYTHONPATH VIRTUAL_ENV
rm -f "$out"
status=0
timeout 600 xvfb-run -a -s "-screen 0 1600x1000x24" \
  qgis --nologo --noversioncheck --profiles-path "$work" --code scripts/screenshot_spex_engine.py || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$out" ]; then
  echo "screenshot: failed (status $status); see the [screenshot] lines above" >&2
  exit 1
fi
echo "screenshot: $out"
