"""``python -m hmr_ros`` as a new user meets it: one help line per command with examples, and commands that write
nothing outside hmr_ros's own cache folder in the user's home (ONNX Runtime's telemetry device id included)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.backends.tensorrt_flavour import installed
from hmr_ros.cli import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_each_command_once_with_examples(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    names = [c.__name__.rsplit(".", 1)[1].replace("_", "-") for c in COMMANDS]
    listed = re.findall(r"^    (\S+)", out, flags=re.M)  # command names sit at indent 4, their help further in
    assert sorted(listed) == sorted(names)
    assert "``" not in out and "{run," not in out  # no raw docstring markup, no bare list of names
    assert "examples:" in out and "python -m hmr_ros run walk.mp4 --out results/" in out


def test_commands_write_nothing_outside_the_cache_folder_of_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "HOME")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    small = ["--input-size", "64", "--window", "2", "--max-people", "2"]
    commands = [["check-backends", *small, "--frames", "2"],
                ["run", str(frames), "--out", str(tmp_path / "out"), "--checkpoint", "", *small, "--quiet"],
                ["export", *small, "--out", str(tmp_path / "onnx")]]
    if "tensorrt_rtx" in installed():
        commands.append(["build-engine", *small, "--checkpoint", "", "--target", "sm86", "--precision", "fp32"])
    for argv in commands:
        done = subprocess.run([sys.executable, "-m", "hmr_ros", *argv], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    written = [p.relative_to(home) for p in home.rglob("*") if p.is_file()]
    assert written, "the ONNX export cache is expected under ~/.cache/hmr_ros"
    outside = [p for p in written if p.parts[:2] != (".cache", "hmr_ros")]
    assert outside == [], f"written outside ~/.cache/hmr_ros: {outside}"
