#!/usr/bin/env bash
# Screenshot of the real QGIS desktop with the SPEX panel after "extract the vegetation" on the 4-band
# aerial sample (SPEX_SCREENSHOT_PROMPT / SPEX_SCREENSHOT_RASTER change them): writes docs/screenshot.png
# (or $1). Needs xvfb-run (apt: xvfb xauth) and the samples (`make samples`). A throwaway QGIS profile
# keeps the user's own profile untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-docs/screenshot.png}")"
profile="$(mktemp -d -t spex-qgis-profile.XXXXXX)"
trap 'rm -rf "$profile"' EXIT
rm -f "$out.tmp.png"
export SPEX_REPO="$PWD" SPEX_SCREENSHOT_OUT="$out"
export QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR="$profile"
before="$(stat -c %Y "$out" 2>/dev/null || echo 0)"
status=0
timeout 300 xvfb-run -a -s "-screen 0 1600x1000x24" \
  qgis --nologo --noversioncheck --noplugins --profiles-path "$profile" \
  --code scripts/screenshot_desktop.py || status=$?
after="$(stat -c %Y "$out" 2>/dev/null || echo 0)"
if [ "$status" -ne 0 ] || [ ! -s "$out" ] || [ "$after" = "$before" ]; then
  echo "screenshot: failed (status $status); see the [screenshot] lines above" >&2
  exit 1
fi
echo "screenshot: $out"
