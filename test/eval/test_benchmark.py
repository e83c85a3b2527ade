"""``python -m hmr_ros evaluate`` end to end: real renderer, real (untrained, tiny) network, real metrics."""
import argparse
import dataclasses
import contextlib
import io
import json

import pytest

from hmr_ros.checkpoint import save_checkpoint
from hmr_ros.cli import evaluate as evaluate_cli
from hmr_ros.cli import main
from hmr_ros.estimator import EstimatorConfig
from hmr_ros.eval.benchmark import METHODS, evaluate_checkpoint
from hmr_ros.eval.splits import BENCH_SEED_BASE, SPLITS
from hmr_ros.model.siam import SIAM, SIAMConfig

TINY_NET = ["--width", "w18", "--input-size", "64", "--window", "2", "--max-people", "2"]
METRICS = ("matched", "mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "root_depth_m", "root_lateral_m", "root_depth_pct",
           "accel_frames", "accel_mm_per_frame2", "accel_mm_per_s2", "accel_cam_mm_per_frame2")
DETECTION = ("tp", "fp", "fn", "precision", "recall", "f1")


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate") / "tiny.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["evaluate", "--split", "tiny", *TINY_NET, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    report["_printed"] = (stdout.getvalue(), stderr.getvalue())
    return report


def test_benchmark_seeds_can_never_be_training_seeds():
    # Training hands make_clip seeds drawn from [0, 2**31).
    specs = [s for split in SPLITS.values() for s in split]
    assert all(s.seed >= BENCH_SEED_BASE >= 2 ** 31 for s in specs)
    assert len({s.seed for s in specs}) == len(specs)
    assert {s.num_people for s in SPLITS["bench"]} == {1, 2, 3, 4}


def test_the_report_holds_every_metric_for_every_method_and_group(tiny_report):
    r = tiny_report
    assert r["split"] == "tiny" and r["untrained"] is True
    assert r["person_frames"] == sum(s.num_people * s.num_frames for s in SPLITS["tiny"])
    assert set(r["methods"]) == set(METHODS)
    for method in METHODS:
        groups = r["methods"][method]
        assert set(groups["by_people"]) == {str(s.num_people) for s in SPLITS["tiny"]}
        assert set(groups["by_motion"]) == {"walk"}  # the current make_clip only walks
        for summary in [groups["all"], *groups["by_people"].values(), *groups["by_motion"].values()]:
            assert set(METRICS) <= set(summary)
            assert set(DETECTION) <= set(summary["detection"])


def test_the_ground_truth_centre_oracle_is_consistent_with_the_truth(tiny_report):
    oracle = tiny_report["methods"]["mean_pose_gt_centre"]["all"]
    n = tiny_report["person_frames"]
    # One mean body on every true pelvis: every person found, nothing extra, and no root error.
    assert oracle["detection"] == dict(tp=n, fp=0, fn=0, precision=1.0, recall=1.0, f1=1.0)
    assert oracle["matched"] == n
    assert oracle["root_depth_m"] < 1e-5 and oracle["root_lateral_m"] < 1e-5
    # A constant pose is wrong, but bounded: a walking body is not a T-pose facing the camera.
    assert 50 < oracle["pa_mpjpe_mm"] <= oracle["mpjpe_mm"] < 600
    assert 50 < oracle["pve_mm"] < 600
    # Every person stays matched in all frames: each of F frames gives F - 2 accel frames per person.
    assert oracle["accel_frames"] == sum(s.num_people * (s.num_frames - 2) for s in SPLITS["tiny"])
    fps = SPLITS["tiny"][0].fps
    assert oracle["accel_mm_per_s2"] == pytest.approx(oracle["accel_mm_per_frame2"] * fps ** 2)


def test_the_network_and_the_predicted_centre_baseline_count_the_same_detections(tiny_report):
    net = tiny_report["methods"]["network"]["all"]
    base = tiny_report["methods"]["mean_pose_pred_centre"]["all"]
    assert net["detection"] == base["detection"]
    assert net["detection"]["tp"] + net["detection"]["fn"] == tiny_report["person_frames"]


def test_the_table_is_printed_and_an_untrained_network_is_warned_about(tiny_report):
    out, err = tiny_report["_printed"]
    assert "UNTRAINED" in out and "mean@GT" in out and "PA-MPJPE" in out
    assert "warning" in err and "UNTRAINED" in err


def test_predicted_bodies_flow_through_matching_and_the_baseline_shares_their_pelvis(tiny_net):
    # A zero score threshold makes the untrained network return every slot, so predictions reach the matching.
    net = dataclasses.replace(tiny_net, score_threshold=0.0)
    r = evaluate_checkpoint(EstimatorConfig(network=net), "tiny")
    a, b = r["methods"]["network"]["all"], r["methods"]["mean_pose_pred_centre"]["all"]
    assert a["detection"]["tp"] + a["detection"]["fp"] > 0
    assert a["detection"] == b["detection"]
    if a["matched"]:
        assert a["root_depth_m"] == pytest.approx(b["root_depth_m"], abs=1e-6)
        assert a["root_lateral_m"] == pytest.approx(b["root_lateral_m"], abs=1e-6)


def test_architecture_comes_from_the_checkpoint_and_deployment_choices_from_flags_or_the_defaults(tmp_path, tiny_net):
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(SIAM(dataclasses.replace(tiny_net, dim=128)), path)
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())

    def resolve(*flags):
        return evaluate_cli.estimator_config(parser.parse_args(["evaluate", *flags]))

    config = resolve("--checkpoint", str(path))
    net = config.network
    # dim has no flag: it must come from the file or the weights would not fit; the training run's window and
    # slots are not how the node runs the weights
    assert (net.backbone, net.width, net.input_size, net.dim) == ("hrnet", "w18", 64, 128)
    assert (net.window, net.max_people, net.mode) == (SIAMConfig.window, SIAMConfig.max_people, SIAMConfig.mode)
    assert config.checkpoint == str(path)
    assert resolve("--checkpoint", str(path), "--window", "5").network.window == 5
    untrained = resolve()
    assert untrained.checkpoint is None
    assert untrained.network == SIAMConfig(input_size=evaluate_cli.UNTRAINED_INPUT_SIZE)


def test_a_missing_or_unreadable_checkpoint_and_a_bad_size_are_one_clear_error(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        evaluate_cli.estimator_config(parser.parse_args(["evaluate", "--checkpoint", str(tmp_path / "no.safetensors")]))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        evaluate_cli.estimator_config(parser.parse_args(["evaluate", "--checkpoint", str(junk)]))
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--image-size", "1280by720"])
    assert "expected WxH such as 640x480, got '1280by720'" in capsys.readouterr().err
