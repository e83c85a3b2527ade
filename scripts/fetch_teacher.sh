#!/usr/bin/env bash
# Fetch the BlazePose GHUM teacher (Apache-2.0, Google) into the hmr_ros cache, without installing mediapipe:
#   pose_detection.tflite + pose_landmark_full.tflite   from the PyPI wheel mediapipe==0.10.21 (pip download --no-deps)
#   pose_landmark_{lite,heavy}.tflite                    from the npm package @mediapipe/pose 0.5.1675469404 (npm pack)
# Usage: scripts/fetch_teacher.sh [DIR]   (default: $XDG_CACHE_HOME/hmr_ros/teacher, else ~/.cache/hmr_ros/teacher)
# Needs pip and unzip; npm for lite/heavy (skipped with a message when npm is missing). Idempotent.
set -euo pipefail
DIR="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hmr_ros/teacher}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$DIR"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

if [[ ! -s "$DIR/pose_detection.tflite" || ! -s "$DIR/pose_landmark_full.tflite" ]]; then
  "$PYTHON" -m pip download --disable-pip-version-check -q --no-deps "mediapipe==0.10.21" -d "$TMP/wheel"
  unzip -q -o -j "$TMP"/wheel/mediapipe-*.whl \
    mediapipe/modules/pose_detection/pose_detection.tflite \
    mediapipe/modules/pose_landmark/pose_landmark_full.tflite -d "$TMP/x"
  mv "$TMP/x/pose_detection.tflite" "$TMP/x/pose_landmark_full.tflite" "$DIR/"
fi
if [[ ! -s "$DIR/pose_landmark_heavy.tflite" || ! -s "$DIR/pose_landmark_lite.tflite" ]]; then
  if command -v npm >/dev/null; then
    (cd "$TMP" && npm pack --silent "@mediapipe/pose@0.5.1675469404" >/dev/null)
    tar -xzf "$TMP"/mediapipe-pose-*.tgz -C "$TMP" package/pose_landmark_heavy.tflite package/pose_landmark_lite.tflite
    mv "$TMP/package/pose_landmark_heavy.tflite" "$TMP/package/pose_landmark_lite.tflite" "$DIR/"
  else
    echo "fetch_teacher: npm not found: pose_landmark_lite/heavy skipped (full and the detector are there)" >&2
  fi
fi
echo "BlazePose GHUM 0.10.21 (Apache-2.0)" > "$DIR/VERSION"
ls -l "$DIR"
