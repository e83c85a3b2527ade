"""The network flags of ``python -m hmr_ros`` follow the node's parameters: ``--backbone`` / ``--width`` /
``--input-size`` left out are the checkpoint's (``--checkpoint real``: a 384 px network), without a checkpoint
SIAMConfig's defaults; a flag given wins."""
import argparse

import cv2
import numpy as np
import pytest

from hmr_ros import pipeline
from hmr_ros.cli import COMMANDS, main
from hmr_ros.cli import evaluate as evaluate_cli
from hmr_ros.cli import train as train_cli
from hmr_ros.cli.common import network_config
from hmr_ros.model.siam import SIAMConfig


def parse(*argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser.parse_args([str(a) for a in argv])


def built(args):
    net = network_config(args)
    # the commands print args.width / args.input_size: they must be the network's, not "auto" / 0
    assert (args.backbone, args.width, args.input_size) == (net.backbone, net.width, net.input_size)
    return net.backbone, net.width, net.input_size


@pytest.mark.parametrize("command", [["info"], ["export", "--out", "unused"], ["check-backends"]])
def test_network_commands_build_the_checkpoints_network(command):
    ref = SIAMConfig()
    assert built(parse(*command, "--checkpoint", "real")) == ("hrnet", "w32", 384)
    assert built(parse(*command, "--checkpoint", "synthetic")) == ("hrnet", "w32", 128)
    assert built(parse(*command, "--checkpoint", "real", "--input-size", "256")) == ("hrnet", "w32", 256)
    assert built(parse(*command)) == (ref.backbone, ref.width, ref.input_size)  # untrained: the defaults
    assert built(parse(*command, "--backbone", "movenet")) == ("movenet", "lightning", ref.input_size)


def test_build_engine_defaults_to_the_bundled_weights_at_their_size():
    assert built(parse("build-engine")) == ("hrnet", "w32", 128)


def test_train_starts_from_the_checkpoints_network():
    args = train_cli.resolve_args(parse("train", "--checkpoint", "real", "--out", "unused.safetensors"))
    assert built(args) == ("hrnet", "w32", 384)
    args = train_cli.resolve_args(parse("train", "--input-size", "64", "--width", "w18", "--out", "x.safetensors"))
    assert built(args) == ("hrnet", "w18", 64)


def test_evaluate_takes_the_checkpoints_network_and_auto_counts_as_not_given():
    def resolve(*flags):
        net = evaluate_cli.estimator_config(parse("evaluate", *flags)).network
        return net.backbone, net.width, net.input_size

    assert resolve("--checkpoint", "real") == ("hrnet", "w32", 384)
    assert resolve("--checkpoint", "real", "--width", "auto", "--input-size", "0") == ("hrnet", "w32", 384)
    assert resolve("--checkpoint", "real", "--input-size", "256") == ("hrnet", "w32", 256)
    untrained = evaluate_cli.UNTRAINED_INPUT_SIZE
    assert resolve() == ("hrnet", "w32", untrained)
    assert resolve("--backbone", "movenet") == ("movenet", "lightning", untrained)


def test_run_with_the_real_weights_and_no_input_size_builds_a_384_network(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.full((48, 64, 3), 90, np.uint8))
    seen = []
    real_pipeline = pipeline.Pipeline

    def recording(config, *a, **kw):
        seen.append(config.estimator.network)
        return real_pipeline(config, *a, **kw)

    monkeypatch.setattr(pipeline, "Pipeline", recording)
    code = main(["run", str(folder), "--out", str(tmp_path / "out"), "--checkpoint", "real", "--window", "1",
                 "--backend", "torch", "--device", "cpu", "--no-overlay", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert [(n.backbone, n.width, n.input_size) for n in seen] == [("hrnet", "w32", 384)]
    assert (tmp_path / "out" / "smpl.jsonl").is_file()
