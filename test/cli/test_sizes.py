"""Every ``WxH`` flag is read by one parser (cli/common.py): the same answer and the same one-line error for
render-shards, convert-agora, evaluate, train and train-temporal, before any work starts."""
import argparse

import pytest

from hmr_ros.cli import main
from hmr_ros.cli.common import image_size, image_sizes


def test_sizes_read_as_width_then_height():
    assert image_size("640x480") == (640, 480)
    assert image_size("1280X720") == (1280, 720)
    assert image_sizes("640x480,480x640") == [(640, 480), (480, 640)]


@pytest.mark.parametrize("text", ["640x", "640", "x480", "640x480x3", "axb", "0x480", "640x-1", ""])
def test_malformed_or_empty_sizes_are_refused_with_an_example(text):
    with pytest.raises(argparse.ArgumentTypeError, match="WxH|positive"):
        image_size(text)
    with pytest.raises(argparse.ArgumentTypeError):
        image_sizes(f"320x240,{text}")


@pytest.mark.parametrize("argv", [
    ["render-shards", "--out", "unused", "--size", "640x"],
    ["convert-agora", "table.pkl", "--out", "unused", "--table-size", "640x"],
    ["evaluate", "--image-size", "640x"],
    ["train", "--steps", "1", "--out", "x.safetensors", "--image-sizes", "640x480,640x"],
    ["train-temporal", "--image-sizes", "640x"],
])
def test_every_size_flag_stops_the_command_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "expected WxH such as 640x480, got '640x'" in err and "Traceback" not in err
