#!/usr/bin/env bash
# Drive the real QGIS desktop under Xvfb through load, remove a layer, draw an area, run, preview, cancel,
# fail and export (scripts/desktop_walkthrough.py), in English and in Chinese (QGIS --lang zh-Hans).
# Screenshots: out/walkthrough/<lang>/NN_step.png (or $1/<lang>/). Exit status 1 when a check failed.
# Needs xvfb-run (apt: xvfb xauth), a CJK font (fonts-wqy-microhei) and the samples (`make samples`).
# Throwaway QGIS profiles keep the user's own profile untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-out/walkthrough}")"
.venv/bin/python build_plugin.py --qm >/dev/null  # the plugin loads i18n/*.qm
status=0
for lang in en zh-Hans; do
  profile="$(mktemp -d -t spex-qgis-profile.XXXXXX)"
  rm -rf "$out/$lang" && mkdir -p "$out/$lang"
  echo "walkthrough: $lang"
  SPEX_REPO="$PWD" SPEX_WALK_OUT="$out/$lang" SPEX_WALK_LANG="$lang" QT_QPA_PLATFORM=xcb XDG_RUNTIME_DIR="$profile" \
    timeout 360 xvfb-run -a -s "-screen 0 1600x1000x24" \
    qgis --nologo --noversioncheck --noplugins --lang "$lang" --profiles-path "$profile" \
    --code scripts/desktop_walkthrough.py || status=1
  rm -rf "$profile"
done
ls "$out"/*/*.png
exit $status
