"""MoveNet in PyTorch is MoveNet: the published TF.js graph (run by TF.js itself, pinned in tfjs_reference/) and the
port agree on a real photo, map by map and person by person; SIAM-M detects the people MoveNet detects before any
training; the published files are checked before they are used.

The TF.js side needs Node.js + npm (``tfjs_reference.ensure_installed`` runs ``npm ci`` once into the cache, the
versions pinned by tfjs_reference/package-lock.json); the model comes from ``scripts/fetch_backbone.sh`` and the photo
from ``scripts/fetch_media.sh`` (``make test`` runs both).
"""
import shutil

import cv2
import numpy as np
import pytest
import torch

from hmr_ros.model.backbones.movenet import INPUT_SCALE, MoveNet
from hmr_ros.model.backbones.movenet_decode import decode
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.pretrained import FETCH_BACKBONE, PretrainedMissing, movenet_dir, movenet_model
from test.real_data import need, VTEST

S = 256
ROOT = "StatefulPartitionedCall/"
NODES = {
    "output": "Identity:0",
    "fpn": ROOT + "center_net_mobile_net_v2fpn_feature_extractor/model_1/re_lu_2/Relu",
    "center": ROOT + "center_0/conv2d_4/BiasAdd",
    "kpt_heatmap": ROOT + "kpt_heatmap_0/conv2d_7/BiasAdd",
    "kpt_regress": ROOT + "kpt_regress_0/conv2d_8/BiasAdd",
    "peaks": ROOT + "TopKV2:1",
}


def model_json():
    need(movenet_dir() / "movenet-multipose.json", FETCH_BACKBONE)
    return movenet_model()


def letterboxed(path, size=S) -> np.ndarray:
    """A photo fitted into a size x size black square (top-left), uint8 RGB."""
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.uint8)
    out[:small.shape[0], :small.shape[1]] = small
    return out


@pytest.fixture(scope="module")
def movenet():
    net = MoveNet().eval()
    net.load_pretrained(model_json())
    return net


@pytest.fixture(scope="module")
def photo():
    return letterboxed(need(VTEST.with_name("messi5.jpg"), "bash scripts/fetch_media.sh"))


@pytest.fixture(scope="module")
def reference(photo):
    if shutil.which("node") is None and not _required():
        pytest.skip("Node.js is not installed: the TF.js reference cannot run")
    from test.model.backbones.tfjs_reference import ensure_installed, run_graph

    ensure_installed()
    return {k: v for k, v in zip(NODES, run_graph(model_json(), photo, list(NODES.values())).values())}


def _required():
    import os

    return os.environ.get("HMR_ROS_REAL_DATA") == "required"


def ours(net, rgb):
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() * INPUT_SCALE - 1.0
    with torch.no_grad():
        fpn, heads = net(x)
    return fpn, heads


def test_feature_and_head_maps_match_the_tfjs_graph(movenet, photo, reference):
    fpn, heads = ours(movenet, photo)
    nhwc = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731 - TF.js maps are NHWC
    diffs = {
        "fpn": np.abs(nhwc(fpn) - reference["fpn"][0]).max(),
        "center": np.abs(nhwc(heads[:, :1]) - reference["center"][0]).max(),
        "kpt_heatmap": np.abs(nhwc(heads[:, 1:18]) - reference["kpt_heatmap"][0]).max(),
        "kpt_regress": np.abs(nhwc(heads[:, 18:52]) - reference["kpt_regress"][0]).max(),
    }
    # Measured here (torch 2.13 CPU vs TF.js 4.22 cpu backend, messi5.jpg at 256 px): all below 2e-4; the maps span
    # 0..~2 (FPN), -19..2 (centre logits), -36..24 (regressions, grid cells). Float32 summation order is the rest.
    print("max |PyTorch - TF.js|:", diffs)
    assert max(diffs.values()) < 2e-3, diffs


def test_people_keypoints_and_boxes_match_the_tfjs_graph_within_a_pixel(movenet, photo, reference):
    _, heads = ours(movenet, photo)
    people = decode(heads, k=6)
    out = reference["output"][0]                                 # (6, 56): 17 x (y, x, score), box, score; 0..1
    np.testing.assert_array_equal(people.centers[0, :, 1] * (S // 4) + people.centers[0, :, 0],
                                  reference["peaks"][0].astype(np.int64))
    np.testing.assert_allclose(people.scores[0].numpy(), out[:, 55], atol=1e-4)
    found = out[:, 55] > 0.2
    assert found.sum() >= 1, "MoveNet finds the footballer in messi5.jpg"
    kp = out[found, :51].reshape(-1, 17, 3)
    np.testing.assert_allclose(people.keypoints[0, found].numpy(), kp[..., [1, 0]] * S, atol=1.0)
    np.testing.assert_allclose(people.keypoint_scores[0, found].numpy(), kp[..., 2], atol=1e-4)
    box = out[found, 51:55] * S                                  # y0 x0 y1 x1
    np.testing.assert_allclose(people.boxes[0, found].numpy(), box[:, [1, 0, 3, 2]], atol=1.0)


def test_more_people_than_the_published_six(movenet, photo):
    _, heads = ours(movenet, photo)
    six, many = decode(heads, k=6), decode(heads, k=16)
    assert many.scores.shape == (1, 16)
    torch.testing.assert_close(many.centers[:, :6], six.centers)
    torch.testing.assert_close(many.boxes[:, :6], six.boxes)
    torch.testing.assert_close(many.keypoints[:, :6], six.keypoints)
    # a keypoint's score is the best weighted heat of *any* person at its cell (as in the graph): more people, more
    # candidates, never a lower score
    assert (many.keypoint_scores[:, :6] >= six.keypoint_scores - 1e-6).all()


def test_untrained_siam_m_detects_the_people_movenet_detects_with_their_keypoints(movenet, photo):
    cfg = SIAMConfig(backbone="movenet", width="lightning", input_size=S, window=2,
                     max_people=6)
    torch.manual_seed(0)
    siam = SIAM(cfg).eval()
    siam.frame_net.backbone.load_pretrained(model_json())
    with torch.no_grad():
        _, centers, scores, mask, keypoints = siam.frame_net(torch.from_numpy(photo)[None])
    _, heads = ours(movenet, photo)
    people = decode(heads, k=6)
    torch.testing.assert_close(scores, people.center_scores)
    # SIAM's centres are cell centres (+ half a cell), MoveNet reports the cell's corner
    torch.testing.assert_close(centers, (people.centers + 0.5) * 4)
    assert mask[0, 0] and scores[0, 0] > 0.9
    # each slot carries MoveNet's own keypoints of that person (what the body is fitted to)
    # (to float noise: the frame graph normalises the image as (x - mean) / std, MoveNet as x * scale - 1)
    torch.testing.assert_close(keypoints[..., :2], people.keypoints, atol=1e-3, rtol=0)   # pixels
    torch.testing.assert_close(keypoints[..., 2], people.keypoint_scores, atol=1e-4, rtol=0)


def test_strict_loading_covers_every_parameter(movenet):
    fresh = MoveNet()
    path, untouched = fresh.load_pretrained(model_json())
    assert untouched == [] and path == model_json()
    for (name, a), b in zip(fresh.state_dict().items(), movenet.state_dict().values()):
        assert torch.equal(a, b), name


def test_missing_and_corrupt_backbone_files_are_one_clear_line(tmp_path):
    with pytest.raises(PretrainedMissing, match=r"movenet-multipose.json is missing: run bash scripts/fetch_backbone"):
        movenet_model(tmp_path)
    src = model_json().parent
    for name in ("movenet-multipose.json", "movenet-multipose.bin"):
        shutil.copyfile(src / name, tmp_path / name)
    assert movenet_model(tmp_path) == tmp_path / "movenet-multipose.json"
    data = bytearray((tmp_path / "movenet-multipose.bin").read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / "movenet-multipose.bin").write_bytes(bytes(data))
    with pytest.raises(PretrainedMissing, match=r"movenet-multipose.bin is corrupt .*sha256.*fetch_backbone"):
        movenet_model(tmp_path)


def test_the_fp16_graph_keeps_movenets_heads_in_float32():
    from hmr_ros.backends.graph_precision import fp16_frame_net

    siam = SIAM(SIAMConfig(backbone="movenet", width="lightning", input_size=64, window=1, max_people=2))
    net = fp16_frame_net(siam.frame_net)
    assert net.backbone.module.conv1[1].weight.dtype == torch.float16           # the MobileNet in FP16
    for name in MoveNet.FP32_MODULES:
        region = net.backbone.module.get_submodule(name)
        assert region.dtype == region.out == torch.float32
        assert all(p.dtype == torch.float32 for p in region.parameters())


def test_person_score_is_the_centre_times_the_mean_of_the_confident_keypoints():
    from hmr_ros.model.backbones.movenet_decode import KEYPOINT_THRESHOLD, person_scores

    centre = torch.tensor([0.8, 0.8, 0.5])
    kp = torch.zeros(3, 17)
    kp[0, :4] = torch.tensor([0.9, 0.7, 0.5, KEYPOINT_THRESHOLD])  # the last is not above the threshold
    kp[1, :] = 0.1                                                   # nothing confident: no person
    kp[2, :] = 0.6
    torch.testing.assert_close(person_scores(centre, kp), torch.tensor([0.8 * 0.7, 0.0, 0.5 * 0.6]))
