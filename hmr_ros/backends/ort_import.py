"""``import onnxruntime`` without writing into the user's home.

ONNX Runtime writes a telemetry device id (``Microsoft/DeveloperTools/.onnxruntime/deviceid`` and ``onnxruntime.db``)
under ``$XDG_CACHE_HOME`` (default ``~/.cache``) the moment it is imported, whatever ``disable_telemetry_events``
says afterwards. Imported through here, those files go to hmr_ros's own cache folder instead
(``$XDG_CACHE_HOME/hmr_ros/onnxruntime``, beside the exports and engines).
"""
from __future__ import annotations

import os
import sys
import types

from hmr_ros.backends.engine_cache import default_cache_dir


def import_onnxruntime() -> types.ModuleType:
    """The onnxruntime module (ImportError when it is not installed)."""
    if "onnxruntime" in sys.modules:
        return sys.modules["onnxruntime"]
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(default_cache_dir() / "onnxruntime")
    try:
        import onnxruntime
    finally:
        if previous is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = previous
    onnxruntime.disable_telemetry_events()
    return onnxruntime
