"""The parameter declaration is the single source of truth: config/hmr.yaml lists every parameter at its
default with a comment, values are validated with one-line errors, and the node maps them onto the
Estimator configuration. (No ROS needed.)"""
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (comes with the ROS 2 wheels) is not installed")

from hmr_ros.estimator import EstimatorConfig  # noqa: E402
from hmr_ros.ros.params import PARAMS, SPECS, ParameterError, make_config  # noqa: E402

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


def test_defaults_make_a_config_that_matches_the_estimator_defaults():
    est = make_config(defaults()).estimator_config()
    ref = EstimatorConfig()
    for field in ("variant", "input_size", "window", "max_people", "mode", "body_model", "device",
                  "score_threshold", "max_gap_s", "allow_pickle"):
        assert getattr(est, field) == getattr(ref, field), field
    assert est.checkpoint is None  # "" means untrained


@pytest.mark.parametrize("name,value,expected", [
    ("input_size", 100, "in [128, 1024]"),
    ("input_size", 200, "multiple of 32"),
    ("window", 0, "in [1, 64]"),
    ("mode", "sideways", "one of 'causal', 'centered'"),
    ("image_transport", "theora", "one of 'raw', 'compressed'"),
    ("marker_alpha", 1.5, "in [0, 1]"),
    ("marker_alpha", 1, "expected float, got int"),
    ("publish_markers", "yes", "expected bool"),
    ("score_threshold", float("nan"), "in [0, 1]"),
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
    values = defaults()
    del values["window"]
    with pytest.raises(ParameterError, match="'window' is missing"):
        make_config(values)


def test_checkpoint_path_reaches_the_estimator_config():
    cfg = make_config({**defaults(), "checkpoint": "/models/siam_w32.safetensors", "mode": "centered"})
    est = cfg.estimator_config()
    assert est.checkpoint == "/models/siam_w32.safetensors" and est.mode == "centered"


def test_readme_documents_every_parameter():
    readme = (REPO / "README.md").read_text()
    for p in PARAMS:
        assert f"| `{p.name}` |" in readme, f"README parameter table lacks {p.name}"
