#!/usr/bin/env bash
# Fetch OpenCV's sample street video vtest.avi (768x576, 795 frames at 10 fps; Debian's opencv-doc package,
# Apache-2.0 AND BSD-3-Clause) into the hmr_ros cache. It is never committed: the demo, the benchmarks and CI fetch it.
# Usage: scripts/fetch_vtest.sh [DIR]   (default: $XDG_CACHE_HOME/hmr_ros/media, else ~/.cache/hmr_ros/media)
# Prints the path of vtest.avi. Needs apt-get and dpkg (Debian/Ubuntu). Idempotent.
set -euo pipefail
DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hmr_ros/media}"
if [[ ! -s "$DIR/vtest.avi" ]]; then
  mkdir -p "$DIR"
  TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && apt-get download opencv-doc >/dev/null 2>&1) || {
    echo "fetch_vtest: 'apt-get download opencv-doc' failed (run 'apt-get update' first?)" >&2; exit 1; }
  dpkg -x "$TMP"/opencv-doc_*.deb "$TMP/x"
  mv "$TMP/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$DIR/vtest.avi.part"
  mv "$DIR/vtest.avi.part" "$DIR/vtest.avi"
fi
echo "$DIR/vtest.avi"
