"""Checkpoints: safetensors round trip, and mismatches reported by name."""
import pytest
import torch
from safetensors.torch import load_file, save_file

from hmr_ros.checkpoint import load_checkpoint, save_checkpoint, weights_hash
from hmr_ros.model.siam import SIAM, SIAMConfig

CFG = SIAMConfig(input_size=64, max_people=2, window=2, sia_layers=1)


def build(seed: int, cfg: SIAMConfig = CFG) -> SIAM:
    torch.manual_seed(seed)
    return SIAM(cfg).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "siam.safetensors"
    model = build(1)
    save_checkpoint(model, path)
    return model, path


def test_round_trip_restores_identical_outputs(saved):
    model, path = saved
    fresh = build(2)
    stored = load_checkpoint(fresh, path)
    assert stored["variant"] == "w32" and stored["window"] == 2
    image = torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8)
    with torch.inference_mode():
        for a, b in zip(model.frame_net(image), fresh.frame_net(image)):
            assert torch.equal(a, b)
    assert len(weights_hash(path)) == 16


def test_shape_mismatch_lists_the_tensors_and_config(saved):
    _, path = saved
    other = build(0, SIAMConfig(input_size=64, max_people=2, window=2, sia_layers=1, dim=128, sia_heads=8))
    with pytest.raises(ValueError) as err:
        load_checkpoint(other, path)
    msg = str(err.value)
    assert "shape mismatches" in msg and "dim=256/128" in msg and "frame_net.head.fusion.proj.0.0.weight" in msg


def test_missing_and_unexpected_keys_are_listed(saved, tmp_path):
    _, path = saved
    state = load_file(str(path))
    state.pop("temporal_net.smpl_head.mean_cam")
    state["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad))
    with pytest.raises(ValueError, match=r"missing in file \(1\): temporal_net.smpl_head.mean_cam") as err:
        load_checkpoint(build(0), bad)
    assert "unexpected in file (1): extra.weight" in str(err.value)


def test_non_finite_weights_are_refused(saved, tmp_path):
    _, path = saved
    state = load_file(str(path))
    state["temporal_net.fd.shared.weight"][0, 0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(state, str(bad))
    with pytest.raises(ValueError, match="(?s)non-finite.*temporal_net.fd.shared.weight"):
        load_checkpoint(build(0), bad)


def test_missing_pickle_and_corrupt_files(tmp_path):
    model = build(0)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(model, tmp_path / "nope.safetensors")
    pt = tmp_path / "weights.pth"
    pt.write_bytes(b"\x80\x04 not really")
    with pytest.raises(ValueError, match="only .safetensors"):
        load_checkpoint(model, pt)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_checkpoint(model, corrupt)
