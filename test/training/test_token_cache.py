"""The temporal stage: cached windows hold exactly the tokens and targets the full stage would use, the cache is
resumable and refuses other weights, and training it moves only the temporal network and lowers its loss."""
import dataclasses

import pytest
import torch

from hmr_ros.checkpoint import read_config, save_checkpoint
from hmr_ros.cli import main
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.sim.clips import make_clip
from hmr_ros.training.dataset import clip_sample
from hmr_ros.training.losses import temporal_losses
from hmr_ros.training.token_cache import (CLIP_FRAMES, build_cache, clip_windows, frame_net_digest, load_cache,
                                          train_temporal)

S, T, K = 64, 3, 2
CFG = SIAMConfig(input_size=S, window=T, max_people=K)
SMALL = [(96, 72)]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SIAM(CFG).eval()


@pytest.fixture(scope="module")
def clip(body):
    return make_clip(num_frames=5, width=96, height=72, num_people=2, fps=15.0, seed=3, body_model=body)


def test_every_window_holds_the_full_stage_tokens_and_targets(model, clip):
    windows = clip_windows(model, clip, CFG, amp=False)
    assert len(windows) == 5 - T + 1 and windows.tokens.shape == (3, T, K, CFG.dim)
    for s in range(len(windows)):
        sample = clip_sample(dataclasses.replace(clip, frames=clip.frames[s:s + T]), CFG)
        with torch.no_grad():
            fused, _ = model.frame_net.features(sample.images)
            tokens, _ = model.frame_net.head.tokens_at(fused, sample.index)
        torch.testing.assert_close(windows.tokens[s].float(), tokens, atol=2e-2, rtol=1e-2)  # stored as float16
        assert torch.equal(windows.mask[s], sample.mask)
        torch.testing.assert_close(windows.rotmats[s], sample.rotmats)
        torch.testing.assert_close(windows.cam[s], sample.cam)
        torch.testing.assert_close(windows.joints[s], torch.nan_to_num(sample.joints.float()))


def test_cache_round_trips_continues_and_refuses_other_weights(model, tmp_path):
    paths = build_cache(model, CFG, tmp_path, clips=2, seed=0, workers=0, image_sizes=SMALL, log=lambda s: None)
    windows = load_cache(tmp_path, model)
    assert len(windows) == 2 * (CLIP_FRAMES - T + 1)
    stamp = paths[0].stat().st_mtime_ns
    lines = []
    build_cache(model, CFG, tmp_path, clips=2, seed=0, workers=0, image_sizes=SMALL, log=lines.append)
    assert lines == [] and paths[0].stat().st_mtime_ns == stamp  # an existing part is kept, not rebuilt
    with pytest.raises(ValueError, match="other settings.*seed='0'"):  # never mixed with another stream
        build_cache(model, CFG, tmp_path, clips=2, seed=1, workers=0, image_sizes=SMALL, log=lambda s: None)
    torch.manual_seed(1)
    other = SIAM(CFG)
    assert frame_net_digest(other) != frame_net_digest(model)
    with pytest.raises(ValueError, match="another frame network"):
        load_cache(tmp_path, other)
    with pytest.raises(FileNotFoundError):
        load_cache(tmp_path / "missing")


def test_training_moves_only_the_temporal_network_and_lowers_its_loss(clip):
    torch.manual_seed(0)
    model = SIAM(CFG)
    windows = clip_windows(model.eval(), clip, CFG, amp=False)
    frame_before = {k: v.clone() for k, v in model.frame_net.state_dict().items()}
    temporal_before = {k: v.clone() for k, v in model.temporal_net.state_dict().items()}

    def loss() -> float:
        tokens, batch = windows.batch(torch.arange(len(windows)), S)
        with torch.no_grad():
            return float(sum(temporal_losses(model, tokens, batch.centers, batch, {"accel": 0}).values()))

    first = loss()
    history = train_temporal(model, windows, steps=30, batch_size=3, lr=1e-3, lead_drop=0.0, amp=False,
                             weights={"accel": 0}, log_every=0)
    assert len(history) == 30 and all(torch.isfinite(torch.tensor(h["total"])) for h in history)
    assert loss() < 0.7 * first
    assert all(torch.equal(v, frame_before[k]) for k, v in model.frame_net.state_dict().items())
    assert any(not torch.equal(v, temporal_before[k]) for k, v in model.temporal_net.state_dict().items())


def test_command_builds_the_cache_trains_and_writes_a_loadable_checkpoint(model, tmp_path, capsys):
    start = tmp_path / "start.safetensors"
    save_checkpoint(model, start)
    out = tmp_path / "temporal.safetensors"
    code = main(["train-temporal", "--checkpoint", str(start), "--cache", str(tmp_path / "cache"), "--out", str(out),
                 "--window", "4", "--clips", "1", "--steps", "2", "--batch", "2", "--workers", "0",
                 "--image-sizes", "96x72"])
    assert code == 0 and out.is_file()
    assert read_config(out)["window"] == 4  # the window it was trained for travels with the weights
    assert "wrote" in capsys.readouterr().out
    assert main(["train-temporal", "--checkpoint", str(start), "--cache", str(tmp_path / "cache")]) == 2
    assert "--out is required" in capsys.readouterr().err
