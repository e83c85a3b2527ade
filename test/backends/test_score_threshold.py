"""The score threshold is a run-time choice: the frame graph outputs every top-K peak with its score, every
backend masks ``scores >= backend.score_threshold`` outside the graph exactly as ``FrameNet.forward`` does, and
networks that differ only in the threshold share one cache key and one exported ONNX pair."""
import json

import pytest
import torch

from hmr_ros.backends.engine_cache import OnnxKey, entry_dir, key_digest, state_dict_hash
from hmr_ros.backends.export import FRAME_OUTPUTS, example_inputs
from hmr_ros.backends.onnx_backend import OnnxRuntimeBackend
from hmr_ros.backends.torch_backend import TorchBackend
from hmr_ros.model.siam import SIAM, SIAMConfig

SMALL = dict(width="w18", window=2, max_people=2)


pytestmark = pytest.mark.usefixtures("single_torch_thread")  # 2 shared cores


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Shared by the tests below: their networks differ at most in the threshold, so one export serves them all."""
    return tmp_path_factory.mktemp("hmr_cache")


def network(score_threshold: float, input_size: int = 64) -> SIAM:
    """Seed-0 network whose centre heatmap is not flat, so the K peak scores differ and a threshold can split them
    (an untrained head scores every cell 0.1). The random output weights are scaled to unit logit spread on the
    test image: the untrained backbone's features are so large that unscaled ones saturate every score to 1."""
    torch.manual_seed(0)
    net = SIAM(SIAMConfig(**SMALL, input_size=input_size, score_threshold=score_threshold)).eval()
    (image,), _ = example_inputs(net, seed=5)
    out = net.frame_net.head.center.out
    with torch.no_grad():
        out.weight.normal_(0.0, 1.0)
        out.weight /= net.frame_net.features(image)[1].std()
    return net


def test_the_threshold_is_not_a_weight_and_not_part_of_the_key(tmp_path):
    low, high = network(0.1), network(0.9)
    assert not any("score_threshold" in name for name in low.state_dict())
    assert state_dict_hash(low) == state_dict_hash(high)
    key = OnnxKey.for_network(low)
    assert OnnxKey.for_network(high) == key
    assert entry_dir(tmp_path, "onnx", OnnxKey.for_network(high)) == entry_dir(tmp_path, "onnx", key)
    assert "score_threshold" not in json.loads(key.config)
    assert key_digest(OnnxKey.for_network(network(0.1, input_size=96))) != key_digest(key)


def test_one_export_serves_every_threshold(tmp_path):
    first, second = OnnxRuntimeBackend(network(0.0), "cpu", tmp_path), OnnxRuntimeBackend(network(0.5), "cpu", tmp_path)
    assert any("exporting" in line for line in first.selection)
    assert not any("exporting" in line for line in second.selection), second.selection
    assert second.paths == first.paths
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [first.paths.frame_net.parent.name]


def test_the_frame_graph_has_no_mask_output(cache):
    import onnx

    backend = OnnxRuntimeBackend(network(0.3), "cpu", cache)
    assert FRAME_OUTPUTS == ["tokens", "centers", "scores", "keypoints"]
    assert [o.name for o in onnx.load(str(backend.paths.frame_net)).graph.output] == FRAME_OUTPUTS


def test_every_backend_masks_like_frame_net_and_follows_a_threshold_changed_at_run_time(cache):
    net = network(0.0)
    (image,), _ = example_inputs(net, seed=5)
    with torch.inference_mode():
        scores = net.frame_net.detect(image)[2]
    assert scores[0, 0] > scores[0, 1]  # two distinct peaks: a threshold between them keeps only the first
    between = float(scores[0, 0] + scores[0, 1]) / 2
    backends = [TorchBackend(net, "cpu"), OnnxRuntimeBackend(net, "cpu", cache)]
    for threshold, want in ((0.0, [True, True]), (between, [True, False]), (1.0, [False, False])):
        net.frame_net.score_threshold = threshold
        with torch.inference_mode():
            assert net.frame_net(image)[3].tolist() == [want]
        for backend in backends:
            backend.score_threshold = threshold
            out = backend.frame(image)
            assert out.mask.tolist() == [want], (backend.describe(), threshold)
            assert torch.allclose(out.scores, scores, atol=1e-6)


def test_backends_start_with_the_configured_threshold(cache):
    net = network(0.42)
    assert TorchBackend(net, "cpu").score_threshold == pytest.approx(0.42)
    assert OnnxRuntimeBackend(net, "cpu", cache).score_threshold == pytest.approx(0.42)
