"""Pipeline: the one per-frame path of the node, the demo, check-backends and evaluate. It hands back the output
frame's own stamp and meta (centered mode is delayed), counts resets as integers, resets the tracker with the
temporal window, orders people by score, and a rejected frame leaves no trace."""
import numpy as np
import pytest

from hmr_ros.estimator import EstimatorConfig
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.pipeline import Pipeline, PipelineConfig
from hmr_ros.tracking.tracker import TrackerConfig

pytestmark = pytest.mark.usefixtures("single_torch_thread")

T, K, S = 3, 3, 64


def pipeline(mode="causal", tracking=True) -> Pipeline:
    # threshold 0: an untrained network then returns all K slots, which is what these checks need
    est = EstimatorConfig(SIAMConfig(input_size=S, window=T, max_people=K, mode=mode, score_threshold=0.0),
                          backend="torch", max_gap_s=0.5)
    return Pipeline(PipelineConfig(est, TrackerConfig(min_hits=1, smoothing=False) if tracking else None))


def frame(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def test_causal_output_is_the_newest_frame_with_its_meta_ordered_by_score():
    pipe = pipeline()
    for i in range(4):
        r = pipe.process(frame(i), stamp=0.1 * i, meta=f"header {i}")
        assert r.ready and r.stamp == pytest.approx(0.1 * i) and r.meta == f"header {i}" and r.frame_index == i
        assert r.image_size == (64, 48) and r.default_intrinsics
        scores = [b.score for b in r.bodies]
        assert len(scores) == K and scores == sorted(scores, reverse=True)
        assert all(len(b.id) == 5 for b in r.bodies)  # tracked (min_hits=1: confirmed at once)


def test_centered_output_is_window_half_back_and_not_ready_before():
    pipe = pipeline(mode="centered")
    results = [pipe.process(frame(i), stamp=0.1 * i, meta=i) for i in range(5)]
    delay = T // 2
    assert [r.ready for r in results[:delay]] == [False] * delay
    assert all(r.bodies == [] and r.meta is None for r in results[:delay])
    for i, r in enumerate(results[delay:], start=delay):
        assert r.ready and r.meta == i - delay and r.frame_index == i - delay
        assert r.stamp == pytest.approx(0.1 * (i - delay))


def test_stamp_jumps_are_counted_and_reset_the_tracker_too():
    pipe = pipeline()
    first = pipe.process(frame(0), stamp=10.0)
    ids_before = {b.id for b in first.bodies}
    assert first.resets == 0 and first.reset_reason is None
    r = pipe.process(frame(1), stamp=9.0)  # backwards: a bag loop
    assert r.resets == 1 and "backwards" in r.reset_reason
    assert not ids_before & {b.id for b in r.bodies}  # new tracks, new ids
    r = pipe.process(frame(2), stamp=9.1)
    assert r.resets == 1 and r.reset_reason is None
    r = pipe.process(frame(3), stamp=20.0)  # gap > max_gap_s
    assert r.resets == 2 and "jumped" in r.reset_reason
    assert pipe.resets == 2


def test_a_rejected_frame_changes_nothing():
    pipe = pipeline()
    pipe.process(frame(0), stamp=1.0, meta="a")
    with pytest.raises(ValueError, match="uint8"):
        pipe.process(frame(1).astype(np.float32), stamp=0.5, meta="bad")
    with pytest.raises(ValueError, match="finite"):
        pipe.process(frame(1), stamp=2.0, K=np.full((3, 3), np.nan))
    r = pipe.process(frame(1), stamp=1.1, meta="b")
    assert r.resets == 0 and r.frame_index == 1 and r.meta == "b"


def test_all_zero_K_is_an_uncalibrated_camera_not_bad_input():
    pipe = pipeline(tracking=False)
    r = pipe.process(frame(0), stamp=0.0, K=np.zeros((3, 3)))
    assert r.ready and r.default_intrinsics
    K = np.array([[80.0, 0, 32], [0, 80.0, 24], [0, 0, 1]])
    r = pipe.process(frame(1), stamp=0.1, K=K)
    assert not r.default_intrinsics
    assert all(b.id == "" for b in r.bodies)  # no tracking: no ids


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_cameras_sharing_one_network_match_separate_pipelines(backend, tmp_path):
    """process_many: two cameras, one network, the frame stage as one batch (a real batch in torch, one engine
    call per image in onnxruntime), each its own window and tracker: the same people as two separate pipelines."""
    from hmr_ros.estimator import Estimator
    from hmr_ros.pipeline import process_many

    def config():
        est = EstimatorConfig(SIAMConfig(input_size=S, window=T, max_people=K, score_threshold=0.0),
                              backend=backend, engine_cache_dir=str(tmp_path))
        return PipelineConfig(est, TrackerConfig(min_hits=1, smoothing=False, seed=0))

    front = Pipeline(config())
    rear = Pipeline(config(), estimator=Estimator.sharing(front.estimator))
    assert rear.estimator.network is front.estimator.network and rear.estimator.buffer is not front.estimator.buffer
    alone = [Pipeline(config()), Pipeline(config())]
    for i in range(4):
        frames = [(frame(i), 0.1 * i, None, "front"), (frame(100 + i), 0.1 * i, None, "rear")]
        if i == 2:  # a bad image on the rear camera: rejected there, the front camera goes on
            frames[1] = (frame(100 + i)[:, :, :2], 0.1 * i, None, "rear")
        together = process_many([front, rear], frames)
        for j, (result, pipe) in enumerate(zip(together, alone)):
            rgb, stamp, K_, meta = frames[j]
            if i == 2 and j == 1:
                assert isinstance(result, ValueError) and "3 RGB channels" in str(result)
                continue
            want = pipe.process(rgb, stamp, K_, meta)
            assert result.meta == meta and len(result.bodies) == len(want.bodies) == K
            for a, b in zip(result.bodies, want.bodies):
                assert np.allclose(a.joints, b.joints, atol=1e-4) and a.id == b.id
    assert front.estimator.resets == rear.estimator.resets == 0


def test_one_cameras_failure_does_not_drop_the_other_cameras_frames(monkeypatch):
    """A fault inside one camera's own stage (here its tracker) comes back in that camera's slot; the other
    camera's frame, already taken into its window, is still tracked and returned, so its window and its output
    frames stay in step with a camera that runs alone."""
    from hmr_ros.estimator import Estimator
    from hmr_ros.pipeline import process_many

    def config():
        est = EstimatorConfig(SIAMConfig(input_size=S, window=T, max_people=K, score_threshold=0.0), backend="torch")
        return PipelineConfig(est, TrackerConfig(min_hits=1, smoothing=False, seed=0))

    front = Pipeline(config())
    rear = Pipeline(config(), estimator=Estimator.sharing(front.estimator))
    alone = Pipeline(config())

    def broken(*args, **kwargs):
        raise RuntimeError("tracker fault")

    for i in range(3):
        if i == 1:
            monkeypatch.setattr(rear.tracker, "update", broken)
        elif i == 2:
            monkeypatch.undo()
        got = process_many([front, rear], [(frame(i), 0.1 * i, None, "front"), (frame(50 + i), 0.1 * i, None, "r")])
        want = alone.process(frame(i), 0.1 * i, None, "front")
        assert got[0].meta == "front" and [b.id for b in got[0].bodies] == [b.id for b in want.bodies]
        for a, b in zip(got[0].bodies, want.bodies):
            assert np.allclose(a.joints, b.joints, atol=1e-4)
        if i == 1:
            assert isinstance(got[1], RuntimeError) and "tracker fault" in str(got[1])
        else:
            assert got[1].meta == "r"
