"""``backbone``, ``width`` and ``input_size`` default to the checkpoint's (``auto`` / ``0``): the network built is
the one the weights were trained as, without a checkpoint SIAMConfig's defaults; explicit values win, and one that
contradicts the weights is still the loader's clear mismatch error. (No ROS needed.)"""
import json

import pytest
import torch
from safetensors.torch import save_file

from hmr_ros import estimator, parameters
from hmr_ros.checkpoint import CONFIG_KEY
from hmr_ros.estimator import Estimator, resolve_network
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.parameters import ParameterError, defaults, make_config


def network(**values):
    return make_config({**defaults(), **values}).network_config()


def metadata_only(path, **stored):
    """A safetensors file whose metadata says it holds ``stored`` (resolution reads the metadata only)."""
    save_file({"w": torch.zeros(1)}, str(path), metadata={CONFIG_KEY: json.dumps(stored)})
    return str(path)


def test_the_defaults_are_auto_and_say_so():
    assert (defaults()["backbone"], defaults()["width"], defaults()["input_size"]) == ("auto", "auto", 0)
    for name in ("backbone", "width", "input_size"):
        assert "checkpoint's" in parameters.SPECS[name].description, name


def test_auto_takes_the_real_checkpoints_network_and_says_where_it_came_from():
    cfg = make_config({**defaults(), "checkpoint": "real"})
    net = cfg.network_config()
    assert (net.backbone, net.width, net.input_size) == ("hrnet", "w32", 384)
    assert cfg.estimator_config().network == net
    assert (cfg.backbone, cfg.width, cfg.input_size) == ("auto", "auto", 0)  # the values as declared
    assert cfg.network == {"backbone": "hrnet", "width": "w32", "input_size": 384}
    assert set(cfg.network_sources.values()) == {"checkpoint"}
    assert cfg.network_summary() == "backbone hrnet, width w32, input_size 384 (auto: checkpoint 'real')"


def test_auto_takes_the_synthetic_checkpoints_128():
    net = network()  # the node's default checkpoint is 'synthetic'
    assert (net.backbone, net.width, net.input_size) == ("hrnet", "w32", 128)


def test_an_explicit_input_size_wins_over_the_checkpoints():
    cfg = make_config({**defaults(), "checkpoint": "real", "input_size": 256})
    assert cfg.network_config().input_size == 256 and cfg.network_sources["input_size"] == "set"
    assert cfg.network_config().width == "w32"
    assert "input_size 256 (set)" in cfg.network_summary() and "width w32 (auto: checkpoint 'real')" in \
        cfg.network_summary()


def test_without_a_checkpoint_auto_is_siamconfigs_defaults():
    cfg = make_config({**defaults(), "checkpoint": ""})
    net, ref = cfg.network_config(), SIAMConfig()
    assert (net.backbone, net.width, net.input_size) == (ref.backbone, ref.width, ref.input_size)
    assert cfg.network_summary() == "backbone hrnet, width w32, input_size 512 (auto: default, no checkpoint)"
    # a backbone without SIAMConfig's width gets its own first one
    net = network(checkpoint="", backbone="movenet")
    assert (net.backbone, net.width, net.input_size) == ("movenet", "lightning", ref.input_size)


def test_a_movenet_checkpoint_builds_a_movenet(tmp_path):
    path = metadata_only(tmp_path / "movenet.safetensors", backbone="movenet", width="lightning", input_size=384)
    net = network(checkpoint=path)
    assert (net.backbone, net.width, net.input_size) == ("movenet", "lightning", 384)
    # the checkpoint's width goes with its backbone only: another backbone gets its own default width
    net = network(checkpoint=path, backbone="hrnet")
    assert (net.backbone, net.width, net.input_size) == ("hrnet", "w32", 384)


def test_a_checkpoint_without_metadata_or_an_unreadable_one_is_left_to_loading(tmp_path):
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(1)}, str(bare))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    ref = SIAMConfig()
    for path in (bare, junk, tmp_path / "absent.safetensors"):
        cfg = make_config({**defaults(), "checkpoint": str(path), "backend": "torch"})
        assert cfg.network_config().input_size == ref.input_size
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        Estimator(make_config({**defaults(), "checkpoint": str(junk), "backend": "torch"}).estimator_config())
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        Estimator(make_config({**defaults(), "checkpoint": str(tmp_path / "absent.safetensors"),
                               "backend": "torch"}).estimator_config())


def test_stored_values_that_are_no_valid_parameter_are_ignored(tmp_path):
    path = metadata_only(tmp_path / "odd.safetensors", backbone="vit", width="huge", input_size=100)
    net = network(checkpoint=path)
    assert (net.backbone, net.width, net.input_size) == ("hrnet", "w32", 512)


def test_an_explicit_width_that_contradicts_the_checkpoint_is_the_loaders_mismatch_error():
    cfg = make_config({**defaults(), "checkpoint": "real", "width": "w18", "window": 2, "backend": "torch"})
    assert cfg.network_config().width == "w18"  # explicit wins: never silently replaced
    with pytest.raises(ValueError, match=r"is a hrnet w32 network, but backbone 'hrnet' width 'w18' was asked for: "
                                         r"leave backbone and width at 'auto'"):
        Estimator(cfg.estimator_config())


def test_an_invalid_combination_is_a_parameter_error():
    with pytest.raises(ParameterError, match="width='w32'.*for backbone 'movenet'"):
        make_config({**defaults(), "checkpoint": "", "backbone": "movenet", "width": "w32"})


def test_the_checkpoint_metadata_is_read_once(monkeypatch):
    calls = []
    real_read = estimator.read_config
    monkeypatch.setattr(estimator, "read_config", lambda path: calls.append(path) or real_read(path))
    cfg = make_config({**defaults(), "checkpoint": "real"})
    cfg.pipeline_config(), cfg.pipeline_config(), cfg.network_summary()
    assert len(calls) == 1
    # nothing left at auto: nothing to read
    make_config({**defaults(), "checkpoint": "real", "backbone": "hrnet", "width": "w32", "input_size": 384})
    assert len(calls) == 1


def test_resolve_network_is_the_core_of_it(tmp_path):
    path = metadata_only(tmp_path / "m.safetensors", backbone="movenet", width="lightning", input_size=256)
    out, sources = resolve_network(path)
    assert out == {"backbone": "movenet", "width": "lightning", "input_size": 256}
    assert sources == dict.fromkeys(out, "checkpoint")
    out, sources = resolve_network(None, input_size=128, width=None)  # None: not given
    assert out == {"backbone": "hrnet", "width": "w32", "input_size": 128}
    assert sources == {"backbone": "default", "width": "default", "input_size": "set"}
    # metadata from before the backbone contract (``variant``, no backbone) is HRNet's
    legacy = metadata_only(tmp_path / "old.safetensors", variant="w18", input_size=96)
    assert resolve_network(legacy)[0] == {"backbone": "hrnet", "width": "w18", "input_size": 96}
