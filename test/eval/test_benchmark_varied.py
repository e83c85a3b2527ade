"""``evaluate --split varied``: held-out make_varied_clip clips (bench seeds), real motion labels, tracks by track_id,
rendered in-process or read from a bench shard directory."""
import contextlib
import io
import json

import pytest

from hmr_ros.cli import main
from hmr_ros.estimator import EstimatorConfig
from hmr_ros.eval.benchmark import evaluate_checkpoint
from hmr_ros.eval.splits import SPLITS
from hmr_ros.sim.motions import MOTIONS
from hmr_ros.sim.shards import clip_seeds, write_shards

TINY_NET = ["--width", "w18", "--input-size", "64", "--window", "2", "--max-people", "2", "--backend", "torch"]
TINY = SPLITS["varied-tiny"]


pytestmark = pytest.mark.usefixtures("single_torch_thread")  # 2 shared cores


@pytest.fixture(scope="module")
def report(single_torch_thread, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate") / "varied.json"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["evaluate", "--split", "varied-tiny", *TINY_NET, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_varied_clips_come_from_the_bench_seed_namespace_never_the_train_one():
    specs = SPLITS["varied"]
    assert [s.seed for s in specs] == clip_seeds("bench", len(specs), seed=0)
    assert [s.seed for s in TINY] == clip_seeds("bench", len(TINY), seed=0, start=10_000)
    assert sorted(s.num_people for s in specs) == sorted(list(range(1, 9)) * 2)
    assert all(s.generator == "varied" and s.num_frames == 16 for s in specs)
    train = {seed for run in range(4) for seed in clip_seeds("train", 2000, seed=run)}
    assert not train & {s.seed for s in specs + TINY}
    assert all(s.generator == "make_clip" for s in SPLITS["bench"])  # the shipped weights' benchmark is unchanged


def test_the_report_lists_the_clips_as_rendered_and_scores_every_person_frame(report):
    clips = report["clips"]
    assert [c["name"] for c in clips] == [s.name for s in TINY]
    assert [(c["width"], c["height"], c["num_frames"]) for c in clips] == [(192, 144, 5)] * 2
    assert report["person_frames"] == sum(c["num_people"] * c["num_frames"] for c in clips)
    assert set(report["methods"]["network"]["by_people"]) == {str(c["num_people"]) for c in clips}


def test_the_per_motion_breakdown_uses_the_real_motion_labels(report):
    oracle = report["methods"]["mean_pose_gt_centre"]
    assert set(oracle["by_motion"]) <= set(MOTIONS)
    # every true person-frame is matched by the oracle, so the motion groups partition them
    assert sum(g["matched"] for g in oracle["by_motion"].values()) == report["person_frames"]
    assert sum(g["accel_frames"] for g in oracle["by_motion"].values()) == oracle["all"]["accel_frames"]


def test_accel_tracks_follow_each_person_through_the_clip(report):
    oracle = report["methods"]["mean_pose_gt_centre"]["all"]
    assert oracle["detection"]["fn"] == 0 and oracle["detection"]["fp"] == 0
    # one track per person: F frames give F - 2 accel frames each
    assert oracle["accel_frames"] == sum(c["num_people"] * (c["num_frames"] - 2) for c in report["clips"])


def test_a_bench_shard_directory_gives_the_same_ground_truth_as_rendering(report, tmp_path, tiny_net):
    out = tmp_path / "bench"
    for i, spec in enumerate(TINY):  # render-shards --split bench, clip by clip with the split's settings
        write_shards(out, [spec.seed], start_index=10_000 + i, num_frames=spec.num_frames,
                     size=(spec.width, spec.height), num_people=spec.num_people, fps=spec.fps)
    r = evaluate_checkpoint(EstimatorConfig(network=tiny_net, backend="torch"), "varied-tiny", shards=out)
    assert r["shards"] == str(out) and r["person_frames"] == report["person_frames"]
    a, b = r["methods"]["mean_pose_gt_centre"]["all"], report["methods"]["mean_pose_gt_centre"]["all"]
    for key in ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm_per_frame2"):
        assert a[key] == pytest.approx(b[key], abs=1e-3)
    assert set(r["methods"]["mean_pose_gt_centre"]["by_motion"]) == set(
        report["methods"]["mean_pose_gt_centre"]["by_motion"])


def test_training_shards_are_refused_as_a_benchmark(tmp_path, tiny_net):
    write_shards(tmp_path, clip_seeds("train", 1, seed=0), num_frames=3, size=(96, 72), num_people=1)
    with pytest.raises(ValueError, match="bench split"):
        evaluate_checkpoint(EstimatorConfig(network=tiny_net, backend="torch"), "varied-tiny", shards=tmp_path)
    with pytest.raises(ValueError, match="varied split"):
        evaluate_checkpoint(EstimatorConfig(network=tiny_net, backend="torch"), "tiny", shards=tmp_path)
