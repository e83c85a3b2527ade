"""The TF.js side of the MoveNet parity test: Google's MoveNet MultiPose graph model, run by TF.js itself.

``tfjs_reference/run_graph.mjs`` runs a TF.js graph model (model.json + weights, local files only) on the
pure-JavaScript ``cpu`` backend and writes out the raw tensors of any graph nodes, so that the PyTorch port can be
compared with the original graph layer by layer. It needs Node.js and npm, nothing native: the exact versions of
``@tensorflow/tfjs-core``, ``-converter`` and ``-backend-cpu`` (and of every package they pull in, with integrity
hashes) are pinned by ``tfjs_reference/package-lock.json``. ``ensure_installed`` installs them with ``npm ci`` into
``$XDG_CACHE_HOME/hmr_ros/tfjs-reference/<lock hash>`` (never into the source tree); the first install needs the
npm registry, later ones find the cache. Test code only: nothing in hmr_ros runs TF.js.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("tfjs_reference")
PACKAGE_FILES = ("package.json", "package-lock.json")
SCRIPT = "run_graph.mjs"
INSTALLED = ".installed"  # written after a successful `npm ci`: node_modules is complete
TIMEOUT_S = 300


def install_dir() -> Path:
    """``$XDG_CACHE_HOME/hmr_ros/tfjs-reference/<first 16 hex of the sha256 of package-lock.json>``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()[:16]
    return cache / "hmr_ros" / "tfjs-reference" / digest


def _npm_error(stderr: str) -> str:
    """npm's error in one line: its first lines (code, message) and its last (where the full log is), without the
    stack trace."""
    lines = [line.removeprefix("npm error").strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("at ")]
    return " | ".join(lines[:4] + lines[-1:] if len(lines) > 5 else lines)


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise RuntimeError(f"the TF.js reference needs Node.js and npm, and there is no '{tool}' on PATH")


def _install(target: Path) -> None:
    """``npm ci`` into a staging folder beside ``target``, then rename it into place (atomic: a concurrent install
    or an interrupted one never leaves a half-filled ``target``)."""
    _require("npm")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name in PACKAGE_FILES:
            shutil.copyfile(SOURCE / name, staging / name)
        cmd = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(staging)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci of the TF.js reference failed (exit {done.returncode}): "
                               f"{_npm_error(done.stderr)}")
        (staging / INSTALLED).write_text("npm ci done\n")
        if target.exists() and not (target / INSTALLED).is_file():
            shutil.rmtree(target)  # an incomplete install from elsewhere
        try:
            staging.rename(target)
        except OSError:
            if not (target / INSTALLED).is_file():  # else another process installed it first: use theirs
                raise
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"npm ci of the TF.js reference took over {TIMEOUT_S} s") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_installed() -> Path:
    """The install folder, with node_modules and an up-to-date ``run_graph.mjs``; runs ``npm ci`` only the first
    time for a given package-lock.json. Raises RuntimeError (one line) when node/npm is missing or npm fails."""
    _require("node")
    target = install_dir()
    if not (target / INSTALLED).is_file():
        _install(target)
    script = SOURCE / SCRIPT
    if not (target / SCRIPT).is_file() or (target / SCRIPT).read_bytes() != script.read_bytes():
        fd, tmp = tempfile.mkstemp(prefix=f".{SCRIPT}-", dir=target)  # replaced atomically: runs may be under way
        with os.fdopen(fd, "wb") as f:
            f.write(script.read_bytes())
        os.replace(tmp, target / SCRIPT)
    return target


def run_graph(model_json: str | os.PathLike, rgb: np.ndarray, nodes: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run the TF.js graph model ``model_json`` on one image and return the tensors of ``nodes``.

    ``rgb``: (H, W, 3) uint8 RGB (MoveNet wants H and W multiples of 32), fed as the int32 input (1, H, W, 3).
    ``nodes``: graph node names ('StatefulPartitionedCall/center_0/conv2d_4/BiasAdd') or tensor names
    ('Identity:0'); default the model's outputs (MoveNet MultiPose: 'Identity:0', (1, 6, 56)).
    Returns {name as given: float32 array in the graph's shape}; feature maps are NHWC, e.g. (1, H/4, W/4, C).
    Raises RuntimeError with node's message when the run fails (unknown node, unreadable model, ...).
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    script = ensure_installed() / SCRIPT
    with tempfile.TemporaryDirectory(prefix="tfjs-reference-") as tmp:
        work = Path(tmp)
        (work / "rgb.bin").write_bytes(np.ascontiguousarray(rgb).tobytes())
        height, width = rgb.shape[:2]
        cmd = ["node", str(script), str(Path(model_json).resolve()), str(work / "rgb.bin"), str(height), str(width),
               str(work / "out"), *(nodes or [])]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"TF.js reference run took over {TIMEOUT_S} s") from e
        if done.returncode != 0:
            raise RuntimeError(f"TF.js reference run failed (exit {done.returncode}): {done.stderr.strip()}")
        listing = json.loads((work / "out" / "outputs.json").read_text())
        return {entry["name"]: np.fromfile(work / "out" / entry["file"], dtype="<f4").reshape(entry["shape"])
                for entry in listing}
