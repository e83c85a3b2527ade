"""Estimator: the public streaming API, frame by frame.

The network is untrained (random weights; the centre heatmap is flat at 0.1), so these tests use
score_threshold=0 to get K people per frame and check geometry, streaming and robustness, not accuracy.
"""
import dataclasses
import math

import numpy as np
import pytest
import torch

from hmr_ros.camera import letterbox
from hmr_ros.geometry.projection import project
from hmr_ros.estimator import Estimator, EstimatorConfig
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.geometry.rotations import axis_angle_to_rotmat

T, K, S = 3, 3, 64


NETWORK_FIELDS = {f.name for f in dataclasses.fields(SIAMConfig)}


def config(**kw) -> EstimatorConfig:
    base = dict(input_size=S, window=T, max_people=K, score_threshold=0.0, backend="torch", device="cpu")
    base.update(kw)
    network = SIAMConfig(**{k: v for k, v in base.items() if k in NETWORK_FIELDS})
    return EstimatorConfig(network, **{k: v for k, v in base.items() if k not in NETWORK_FIELDS})


@pytest.fixture(scope="module")
def est():
    return Estimator(config())


def frames(n: int, seed: int = 0, w: int = 96, h: int = 80) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def as_arrays(bodies):
    return {name: np.stack([getattr(b, name) for b in bodies]) for name in ("translation", "vertices", "betas", "body_pose")}


def test_bodies_have_the_documented_fields(est):
    est.reset()
    bodies = est.step(frames(1)[0], 0.0)
    assert len(bodies) == K
    b = bodies[0]
    V = est.body_model.num_vertices
    assert b.box.shape == (4,) and b.center.shape == (2,) and b.betas.shape == (10,)
    assert b.global_orient.shape == (3,) and b.body_pose.shape == (69,) and b.translation.shape == (3,)
    assert b.joints.shape == (24, 3) and b.vertices.shape == (V, 3) and b.token.shape == (256,)
    assert all(x.dtype == np.float32 for x in (b.box, b.betas, b.joints, b.vertices, b.translation))
    assert est.faces.shape[1] == 3 and est.faces.max() < V
    assert isinstance(b.score, float) and est.output_stamp == 0.0 and est.untrained


def test_geometry_is_consistent_with_the_body_model_and_camera(est):
    """vertices = body_model(betas, pose) + translation; people are in front of the camera; the box holds them."""
    est.reset()
    rgb = frames(1)[0]
    bodies = est.step(rgb, 0.0)
    for b in bodies:
        rot = axis_angle_to_rotmat(torch.from_numpy(np.concatenate([b.global_orient, b.body_pose]).reshape(24, 3)))
        out = est.body_model(torch.from_numpy(b.betas)[None], rot[None].float())
        assert np.allclose(out.vertices[0].numpy() + b.translation, b.vertices, atol=1e-4)
        assert np.allclose(out.joints[0].numpy() + b.translation, b.joints, atol=1e-4)
        assert b.joints[:, 2].min() > 0
        K_default = np.array([[math.hypot(96, 80), 0, 48], [0, math.hypot(96, 80), 40], [0, 0, 1]])
        uv = project(b.joints.astype(np.float64), K_default)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= 96) & (uv[:, 1] >= 0) & (uv[:, 1] <= 80)
        lo, hi = b.box[:2] - 1e-3, b.box[2:] + 1e-3
        assert ((uv[inside] >= lo) & (uv[inside] <= hi)).all()
        assert 0 <= b.center[0] <= 96 and 0 <= b.center[1] <= 80   # centres in padding are dropped


def test_streaming_equals_a_full_window_recompute(est):
    """step() caches each frame's tokens; the result must equal running frame_net on the whole window again."""
    est.reset()
    clip = frames(5, seed=1)
    net = est.network
    for i, rgb in enumerate(clip):
        streamed = est.step(rgb, i / 10)
        window = clip[max(0, i - T + 1): i + 1]
        with torch.inference_mode():
            outs = [net.frame_net(torch.from_numpy(letterbox(f, S)[0])[None]) for f in window]
            tokens = torch.zeros(1, T, K, 256)
            mask = torch.zeros(1, T, K, dtype=torch.bool)
            centers = torch.zeros(1, T, K, 2)
            for j, (tok, c, _, m, _) in enumerate(outs):
                j = T - len(outs) + j
                tokens[0, j], mask[0, j], centers[0, j] = tok[0], m[0], c[0]
            rotmats, betas, cam, _ = net.temporal_net(tokens, mask, centers)
        assert len(streamed) == int(mask[0, -1].sum())
        got = np.stack([b.betas for b in streamed])
        assert np.allclose(got, betas[0][mask[0, -1]].numpy(), atol=1e-5)


def test_backbone_runs_once_per_frame(est):
    est.reset()
    calls = []
    # the backend's frame network: on the CPU a copy with batch norms folded (backends/torch_backend.py)
    handle = est.backend.frame_net.backbone.register_forward_hook(lambda *a: calls.append(1))
    try:
        for i, rgb in enumerate(frames(5)):
            est.step(rgb, i / 10)
    finally:
        handle.remove()
    assert len(calls) == 5


def test_stamp_going_backwards_or_jumping_resets_the_buffer(est):
    clip = frames(4, seed=2)
    fresh = Estimator(config())
    expected = as_arrays(fresh.step(clip[3], 0.0))
    for stamp, reason in ((0.1, "backwards"), (10.0, "jumped")):
        est.reset()
        for i in range(3):
            est.step(clip[i], 1.0 + i / 10)
        got = as_arrays(est.step(clip[3], stamp))
        assert reason in est.last_reset_reason
        for name in expected:
            assert np.allclose(got[name], expected[name], atol=1e-5), name


BAD_IMAGES = [
    (np.zeros((80, 96, 3), np.float32), "uint8"),
    (np.zeros((80, 96, 4), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((80, 96), np.uint8), r"\(H, W, 3\)"),
    (np.zeros((0, 96, 3), np.uint8), "non-empty"),
    (np.zeros((80, 9000, 3), np.uint8), "8192"),
    ([[1, 2, 3]], "numpy array"),
]


@pytest.mark.parametrize("rgb,match", BAD_IMAGES)
def test_bad_images_raise_a_clear_value_error(est, rgb, match):
    with pytest.raises(ValueError, match=match):
        est.step(rgb, 0.0)


@pytest.mark.parametrize("stamp,K,match", [
    (float("nan"), None, "stamp"), (float("inf"), None, "stamp"), ("soon", None, "stamp"),
    (0.0, np.full((3, 3), np.nan), "finite"), (0.0, np.eye(2), r"\(3, 3\)"), (0.0, -np.eye(3), "positive"),
])
def test_bad_stamps_and_intrinsics_raise(est, stamp, K, match):
    with pytest.raises(ValueError, match=match):
        est.step(frames(1)[0], stamp, K)


def test_rejected_frames_leave_no_trace(est):
    """Bad frames between good ones change nothing: the same outputs as a stream without them."""
    clip = frames(3, seed=3)
    reference = Estimator(config())
    for i, rgb in enumerate(clip):
        want = as_arrays(reference.step(rgb, i / 10))
    est.reset()
    for i, rgb in enumerate(clip):
        for bad, _ in BAD_IMAGES:
            with pytest.raises(ValueError):
                est.step(bad, i / 10)
        with pytest.raises(ValueError):
            est.step(rgb, float("nan"))
        got = as_arrays(est.step(rgb, i / 10))
    for name in want:
        assert np.allclose(got[name], want[name], atol=1e-5), name


def test_missing_or_zero_intrinsics_use_the_default_focal_and_real_K_is_used(est):
    rgb = frames(1)[0]
    est.reset()
    none = as_arrays(est.step(rgb, 0.0))
    est.reset()
    zero = as_arrays(est.step(rgb, 0.0, np.zeros((3, 3))))
    assert np.allclose(none["translation"], zero["translation"])
    f = 2 * math.hypot(96, 80)
    est.reset()
    roots_long = np.stack([b.joints[0] for b in est.step(rgb, 0.0, np.array([[f, 0, 48], [0, f, 40], [0, 0, 1]]))])
    est.reset()
    roots_default = np.stack([b.joints[0] for b in est.step(rgb, 0.0)])
    # Twice the focal length: the same pixels at twice the depth, hence the same lateral offsets x = (u - cx) z / f.
    assert np.allclose(roots_long[:, 2], 2 * roots_default[:, 2], rtol=1e-4)
    assert np.allclose(roots_long[:, :2], roots_default[:, :2], rtol=1e-4, atol=1e-6)


def test_centered_mode_reports_the_middle_frame_with_its_stamp():
    est = Estimator(config(mode="centered", window=5))
    clip = frames(4, seed=4)
    stamps = []
    for i, rgb in enumerate(clip):
        est.step(rgb, i / 10)
        stamps.append(est.output_stamp)
    # Output slot 5 // 2 = 2 of the window, i.e. 2 frames behind the newest.
    assert stamps == [None, None, 0.0, 0.1]


def test_default_threshold_hides_an_untrained_network_ghosts():
    est = Estimator(config(score_threshold=0.3))
    assert est.step(frames(1)[0], 0.0) == []


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError, match="max_gap_s"):
        Estimator(config(max_gap_s=0.0))
    with pytest.raises(ValueError, match="window"):
        Estimator(config(window=40))
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        Estimator(config(body_model="/nowhere.npz"))


def test_config_from_a_checkpoint_takes_its_architecture_and_leaves_deployment_choices(tmp_path):
    from hmr_ros.checkpoint import save_checkpoint
    from hmr_ros.model.siam import SIAM

    path = tmp_path / "w18_96.safetensors"
    save_checkpoint(SIAM(SIAMConfig(width="w18", input_size=96, window=2, max_people=2)), path)
    cfg = EstimatorConfig.from_checkpoint(str(path), window=5, device="cpu")
    assert (cfg.network.width, cfg.network.input_size) == ("w18", 96)  # what the weights need
    assert (cfg.network.window, cfg.network.max_people) == (5, SIAMConfig().max_people)  # what the user chose
    assert cfg.checkpoint == str(path) and cfg.device == "cpu"
    with pytest.raises(FileNotFoundError):
        EstimatorConfig.from_checkpoint(str(tmp_path / "missing.safetensors"))


def test_untrained_siam_m_finds_the_footballer_with_movenets_published_backbone():
    from real_data import VTEST, need
    from hmr_ros.pretrained import FETCH_BACKBONE, movenet_dir
    import cv2

    need(movenet_dir() / "movenet-multipose.json", FETCH_BACKBONE)
    rgb = cv2.cvtColor(cv2.imread(str(need(VTEST.with_name("messi5.jpg"), "bash scripts/fetch_media.sh"))),
                       cv2.COLOR_BGR2RGB)
    est = Estimator(config(backbone="movenet", width="lightning", input_size=256, window=1,
                           max_people=6, score_threshold=0.5))
    bodies = est.step(rgb, 0.0)
    assert len(bodies) == 1 and bodies[0].score > 0.9          # MoveNet's centre score for him is 0.96
    cx, cy = (bodies[0].box[:2] + bodies[0].box[2:]) / 2
    assert 66 < cx < 460 and 58 < cy < 337                    # his hand-drawn box (test/data/photo_boxes.json)


def test_the_bundled_movenet_weights_find_both_men_in_a_photo_of_another_scene():
    from real_data import VTEST, need
    import cv2
    import json
    from pathlib import Path

    rgb = cv2.cvtColor(cv2.imread(str(need(VTEST.with_name("basketball2.png"), "bash scripts/fetch_media.sh"))),
                       cv2.COLOR_BGR2RGB)
    drawn = next(p["people"] for p in json.loads((Path(__file__).parent / "data" / "photo_boxes.json").read_text())
                 ["photos"] if p["image"] == "basketball2.png")
    est = Estimator(EstimatorConfig.from_checkpoint("movenet", window=1, backend="torch"))
    assert est.network.config.input_size == 384 and est.network.config.backbone == "movenet"
    bodies = est.step(rgb, 0.0)
    assert len(bodies) == 2
    centres = sorted(((b.box[:2] + b.box[2:]) / 2).tolist() for b in bodies)
    for (cx, cy), (x0, y0, x1, y1) in zip(centres, sorted(drawn)):
        assert x0 < cx < x1 and y0 < cy < y1       # each mesh centred on its man (the boxes are not tight yet)


def _basketball2():
    from real_data import VTEST, need
    import cv2
    import json
    from pathlib import Path

    rgb = cv2.cvtColor(cv2.imread(str(need(VTEST.with_name("basketball2.png"), "bash scripts/fetch_media.sh"))),
                       cv2.COLOR_BGR2RGB)
    drawn = next(p["people"] for p in json.loads((Path(__file__).parent / "data" / "photo_boxes.json").read_text())
                 ["photos"] if p["image"] == "basketball2.png")
    return rgb, np.asarray(drawn, np.float64)


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_the_keypoint_fit_puts_the_mesh_on_the_man_with_the_ball():
    """The network alone draws him ~0.7x too small (its depth is what its training people taught it); fitted to
    MoveNet's keypoints, the mesh covers the box drawn around him."""
    rgb, drawn = _basketball2()
    man = drawn[np.argmin(drawn[:, 0])]
    best = {}
    for fit in ("off", "translation", "limbs"):
        est = Estimator(EstimatorConfig.from_checkpoint("movenet", window=1, backend="torch", keypoint_fit=fit))
        best[fit] = max(_iou(b.box, man) for b in est.step(rgb, 0.0))
    assert best["off"] < 0.5 < 0.7 < best["translation"] < best["limbs"]


def test_only_the_slots_with_people_reach_the_temporal_network_with_the_same_bodies():
    """Two people, 16 slots: the torch backend's temporal network runs on the occupied slots only, and every body
    is what the full, static-shape window gives."""
    rgb, _ = _basketball2()
    est = Estimator(EstimatorConfig.from_checkpoint("movenet", window=3, backend="torch"))
    assert est.backend.dynamic_slots
    shapes = []
    handle = est.network.temporal_net.register_forward_hook(lambda m, args, out: shapes.append(args[0].shape[2]))
    try:
        compact = [est.step(rgb, i / 10) for i in range(3)][-1]
    finally:
        handle.remove()
    est.reset()
    est.backend.dynamic_slots = False
    full = [est.step(rgb, i / 10) for i in range(3)][-1]
    assert shapes == [len(compact)] * 3 and len(compact) == 2 < est.network.config.max_people
    for a, b in zip(compact, full):
        np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-4)
        np.testing.assert_allclose(a.translation, b.translation, atol=1e-5)


def test_a_parked_bicycle_and_a_railing_are_not_people():
    """bikes.mp4 frames 160 and 220 show a railing with a bicycle and a parked bicycle, nobody: MoveNet's centre
    heatmap peaks on them (0.33-0.45), but no body's keypoints surround those peaks, and the person score
    (centre x mean keypoint score, >= 0.2) drops them."""
    from real_data import VTEST, need
    import cv2

    cap = cv2.VideoCapture(str(need(VTEST.with_name("bikes.mp4"), "bash scripts/fetch_media.sh")))
    frames = {}
    for i in range(221):
        ok, bgr = cap.read()
        assert ok
        if i in (160, 220):
            frames[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    found = {}
    for threshold in (0.0, 0.2):
        est = Estimator(EstimatorConfig.from_checkpoint("movenet", window=1, backend="torch",
                                                        person_score_threshold=threshold))
        found[threshold] = sum(len(est.step(rgb, i / 25)) for i, rgb in frames.items())
    assert found[0.0] >= 2 and found[0.2] == 0
