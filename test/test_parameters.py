"""The parameter declaration is the single source of truth: config/hmr.yaml and the README table are generated
from it, CLI flags are derived from it, values are validated with one-line errors, and they map onto the
SIAM / Estimator / Tracker / Pipeline configurations. (No ROS needed.)"""
import argparse
import dataclasses
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (comes with the ROS 2 wheels) is not installed")

from hmr_ros.estimator import EstimatorConfig  # noqa: E402
from hmr_ros.model.siam import SIAMConfig  # noqa: E402
from hmr_ros.parameters import (PARAMS, SPECS, ParameterError, add_cli_flags, config_from_args,  # noqa: E402
                                make_config, render_markdown_table, render_yaml)
from hmr_ros.tracking.tracker import TrackerConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "hmr.yaml"


def defaults() -> dict:
    return {p.name: p.default for p in PARAMS}


def test_config_lists_every_parameter_at_its_default():
    doc = yaml.safe_load(CONFIG.read_text())
    values = doc["/**"]["ros__parameters"]
    assert values == defaults()


def test_every_key_in_the_config_has_a_comment_right_above_it():
    lines = CONFIG.read_text().splitlines()
    for name in SPECS:
        i = next(i for i, line in enumerate(lines) if re.match(rf"\s+{name}:", line))
        assert lines[i - 1].strip().startswith("#"), f"{name} has no comment line above it"


def test_every_parameter_has_a_description_and_a_valid_default():
    for p in PARAMS:
        assert len(p.description) > 10, p.name
        assert p.check(p.default) is None, p.name


def test_config_file_is_generated_from_the_declaration():
    assert CONFIG.read_text() == render_yaml(), "regenerate: python -m hmr_ros params --yaml > config/hmr.yaml"


def test_readme_parameter_table_is_generated_from_the_declaration():
    readme = (REPO / "README.md").read_text()
    assert render_markdown_table() in readme, "regenerate the table: python -m hmr_ros params --markdown"


def test_defaults_come_from_the_configs_they_set():
    """A default is written once, on the dataclass field the parameter sets."""
    # the node runs the bundled weights, as the network they were trained as (backbone, width, input size: auto)
    deployment = {"checkpoint", "engine_cache_dir", "backbone", "width", "input_size"}
    for spec in PARAMS:
        if spec.target == "node" or spec.name in deployment:
            continue
        owner, field = spec.target.split(".")
        ref = {"network": SIAMConfig(), "estimator": EstimatorConfig(), "tracker": TrackerConfig()}[owner]
        assert spec.default == getattr(ref, field), spec.name


def test_defaults_make_a_config_that_matches_the_estimator_defaults():
    est = make_config(defaults()).estimator_config()
    ref = EstimatorConfig()
    assert est.network == dataclasses.replace(ref.network, input_size=128)
    assert est.checkpoint == "synthetic"  # the bundled weights, trained at 128 px
    for field in ("body_model", "device", "max_gap_s", "allow_pickle", "backend", "precision"):
        assert getattr(est, field) == getattr(ref, field), field
    assert make_config({**defaults(), "checkpoint": ""}).estimator_config().checkpoint is None  # "": untrained
    assert est.engine_cache_dir is None  # "" means the default cache


def test_defaults_make_the_tracker_defaults_and_tracking_is_on():
    cfg = make_config(defaults())
    assert cfg.tracking is True
    assert cfg.tracker_config() == TrackerConfig()


def test_backend_parameters_reach_the_estimator_config():
    est = make_config({**defaults(), "backend": "onnxruntime", "precision": "fp32",
                       "engine_cache_dir": "~/engines"}).estimator_config()
    assert (est.backend, est.precision) == ("onnxruntime", "fp32")
    assert est.engine_cache_dir == str(Path.home() / "engines")  # '~' expanded


def test_tracker_parameters_reach_the_tracker_config_and_max_gap_is_the_estimators():
    values = {**defaults(), "max_gap_s": 0.25, "tracking_smoothing": False, "tracking_min_hits": 1,
              "tracking_max_lost_frames": 30, "tracking_output_tentative": True,
              "tracking_max_root_distance_m": 1.5, "tracking_max_cost": 0.4,
              "tracking_one_euro_min_cutoff_hz": 0.5, "tracking_one_euro_beta": 0.1,
              "tracking_rotation_min_cutoff_hz": 2.0, "tracking_rotation_beta": 0.3}
    t = make_config(values).tracker_config()
    assert (t.smoothing, t.min_hits, t.max_lost_frames, t.output_tentative) == (False, 1, 30, True)
    assert (t.max_root_distance_m, t.max_cost) == (1.5, 0.4)
    assert (t.one_euro_min_cutoff_hz, t.one_euro_beta) == (0.5, 0.1)
    assert (t.rotation_min_cutoff_hz, t.rotation_beta) == (2.0, 0.3)
    assert t.max_gap_s == 0.25 == make_config(values).estimator_config().max_gap_s
    # what the node does not expose keeps the tracker's own defaults
    ref = TrackerConfig()
    assert (t.iou_weight, t.root_weight, t.velocity_window, t.betas_max_count) == \
        (ref.iou_weight, ref.root_weight, ref.velocity_window, ref.betas_max_count)


def test_every_range_of_a_tracker_parameter_makes_a_valid_tracker_config():
    """The declared ranges are within what TrackerConfig accepts: no value the node lets through can make
    the tracker raise at start."""
    for spec in PARAMS:
        if not spec.name.startswith("tracking_") or spec.range is None:
            continue
        for bound in spec.range[:2]:
            value = spec.type(bound)
            assert spec.check(value) is None, (spec.name, value)
            make_config({**defaults(), spec.name: value}).tracker_config()


@pytest.mark.parametrize("name,value,expected", [
    ("input_size", 32, "in [64, 1024]"),
    ("input_size", 200, "multiple of 32"),
    ("input_size", -32, "expected 0 (auto) or a value in [64, 1024]"),
    ("width", "w64", "one of 'auto', 'w18', 'w32', 'w48', 'lightning'"),
    ("backbone", "vit", "one of 'auto', 'hrnet', 'movenet'"),
    ("window", 0, "in [1, 16]"),
    ("window", 17, "in [1, 16]"),
    ("mode", "sideways", "one of 'causal', 'centered'"),
    ("image_transport", "theora", "one of 'raw', 'compressed'"),
    ("marker_alpha", 1.5, "in [0, 1]"),
    ("marker_alpha", 1, "expected float, got int"),
    ("publish_markers", "yes", "expected bool"),
    ("score_threshold", float("nan"), "in [0, 1]"),
    ("backend", "tensorflow", "one of 'auto', 'tensorrt', 'torch', 'onnxruntime'"),
    ("precision", "int8", "one of 'auto', 'fp16', 'fp32'"),
    ("tracking", 1, "expected bool"),
    ("tracking_min_hits", 0, "in [1, 100]"),
    ("tracking_max_cost", 0.0, "in [0.01, 1]"),
    ("tracking_one_euro_beta", -1.0, "in [0, 1000]"),
])
def test_invalid_values_give_one_line_naming_the_parameter(name, value, expected):
    values = defaults()
    values[name] = value
    with pytest.raises(ParameterError) as err:
        make_config(values)
    message = str(err.value)
    assert f"'{name}'" in message and expected in message and "\n" not in message


def test_unknown_and_missing_parameters_are_rejected():
    with pytest.raises(ParameterError, match="unknown parameter.*input_sise"):
        make_config({**defaults(), "input_sise": 256})
    # a params file from before the backbone contract says the new name
    with pytest.raises(ParameterError, match="unknown parameter.*variant; 'variant' is now 'width'"):
        make_config({**defaults(), "variant": "w32"})
    values = defaults()
    del values["window"]
    with pytest.raises(ParameterError, match="'window' is missing"):
        make_config(values)


def test_a_renamed_parameter_keeps_its_old_flag():
    parser = argparse.ArgumentParser()
    add_cli_flags(parser, ("width",))
    assert parser.parse_args(["--variant", "w18"]).width == "w18" == parser.parse_args(["--width", "w18"]).width


def test_checkpoint_path_reaches_the_estimator_config():
    cfg = make_config({**defaults(), "checkpoint": "/models/siam_w32.safetensors", "mode": "centered"})
    est = cfg.estimator_config()
    assert est.checkpoint == "/models/siam_w32.safetensors" and est.network.mode == "centered"


def test_tracking_off_makes_a_pipeline_without_tracker():
    assert make_config(defaults()).pipeline_config().tracking == TrackerConfig()
    assert make_config({**defaults(), "tracking": False}).pipeline_config().tracking is None


def test_cli_flags_are_derived_from_the_declaration():
    parser = argparse.ArgumentParser()
    add_cli_flags(parser, ("input_size", "mode", "tracking", "checkpoint"), input_size=128)
    args = parser.parse_args(["--mode", "centered", "--no-tracking"])
    cfg = config_from_args(args)
    assert (cfg.input_size, cfg.mode, cfg.tracking, cfg.checkpoint) == (128, "centered", False, "synthetic")
    assert cfg.window == SPECS["window"].default  # no flag: the declared default
    with pytest.raises(SystemExit):  # choices come from the declaration
        parser.parse_args(["--mode", "sideways"])
    with pytest.raises(ParameterError, match="'input_size'"):  # ranges too, in the node's words
        config_from_args(parser.parse_args(["--input-size", "100"]))


def test_readme_documents_every_parameter():
    readme = (REPO / "README.md").read_text()
    for p in PARAMS:
        assert f"| `{p.name}` |" in readme, f"README parameter table lacks {p.name}"
