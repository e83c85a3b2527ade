"""The training loop: it lowers the loss, writes a checkpoint the Estimator loads, resumes from one, and its command
line runs end to end on synthetic clips."""
import itertools

import pytest
import torch
from safetensors.torch import load_file

from hmr_ros.cli import main
from hmr_ros.checkpoint import load_checkpoint
from hmr_ros.estimator import Estimator, EstimatorConfig
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import SyntheticClipDataset, collate
from hmr_ros.training.loop import LOSS_NAMES, TrainConfig, lr_factor, train
from hmr_ros.training.losses import center_focal_loss, siam_losses

S, T, K = 64, 2, 2
CFG = SIAMConfig(input_size=S, window=T, max_people=K)
SMALL = [(96, 72), (72, 96)]


@pytest.fixture(scope="module")
def batch(body):
    ds = SyntheticClipDataset(CFG, seed=0, image_sizes=SMALL, body_model=body)
    samples = (ds.sample(i) for i in range(10))
    return collate([next(s for s in samples if int(s.mask[CFG.output_index].sum()) == 2)])


@pytest.fixture(scope="module")
def run(batch, tmp_path_factory):
    """15 steps on one fixed two-person clip."""
    path = tmp_path_factory.mktemp("train") / "siam.safetensors"
    lines = []
    result = train(CFG, TrainConfig(steps=15, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=path,
                   log_every=5), data=itertools.repeat(batch), log=lines.append)
    return result, path, lines


def test_training_lowers_the_loss(run):
    result, _, _ = run
    totals = [h["total"] for h in result.history]
    assert len(totals) == 15 and len(result.step_seconds) == 15
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in result.history)
    assert sum(totals[-3:]) / 3 < 0.5 * totals[0], f"total loss {totals[0]:.3f} -> {totals[-3:]}"
    for name in ("heatmap", "pose"):
        assert result.history[-1][name] < result.history[0][name], name


def test_progress_lines_name_every_loss_and_the_step_time(run):
    _, path, lines = run
    steps = [ln for ln in lines if ln.startswith("step ")]
    assert len(steps) == 3  # steps 5, 10, 15
    assert all(all(f"{n} " in ln for n in LOSS_NAMES) and "ms/step" in ln for ln in steps)
    assert lines[-1] == f"wrote {path}"


def test_checkpoint_loads_into_the_estimator(run, batch):
    _, path, _ = run
    est = Estimator(EstimatorConfig(SIAMConfig(input_size=S, window=T, max_people=K), checkpoint=str(path),
                                    backend="torch"))
    assert est.untrained is False
    saved = load_file(str(path))
    state = est.network.state_dict()
    assert set(saved) == set(state)
    assert all(torch.equal(saved[k], state[k].cpu()) for k in saved)
    bodies = est.step(batch.images[0, 0].numpy(), 0.0, K=None)  # runs end to end on a letterboxed frame
    assert isinstance(bodies, list)


def test_resuming_starts_from_the_checkpoint(run, batch):
    """The first loss of a run initialised from the checkpoint is the loss of the checkpointed network."""
    _, path, _ = run
    torch.manual_seed(123)
    reference = SIAM(CFG)
    load_checkpoint(reference, path)
    with torch.no_grad():
        expected = float(siam_losses(reference.train(), batch)["total"])
    resumed = train(CFG, TrainConfig(steps=1, batch_clips=1, lr=1e-3, device="cpu", seed=5, out_path=None,
                    log_every=0, init_checkpoint=path, amp=False),  # fp32, as the reference
                    data=[batch], log=lambda _: None)
    assert resumed.history[0]["total"] == pytest.approx(expected, rel=1e-5)


def test_trains_on_the_synthetic_stream(body):
    result = train(CFG, TrainConfig(steps=2, batch_clips=1, lr=1e-3, device="cpu", seed=1, out_path=None,
                   log_every=0), image_sizes=SMALL, body_model=body, log=lambda _: None)
    assert len(result.history) == 2 and result.out_path is None


def test_command_line_writes_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    rc = main(["train", "--input-size", str(S), "--window", str(T), "--max-people", str(K), "--steps", "1",
               "--batch-clips", "1", "--device", "cpu", "--log-every", "1", "--out", str(out)])
    assert rc == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "step      1/1" in printed and "ms/step" in printed


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(99, 100, 10) == pytest.approx(0.1, abs=1e-3)
    factors = [lr_factor(i, 100, 10) for i in range(10, 100)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))


def test_bad_arguments_and_short_data_are_rejected(batch, tmp_path):
    with pytest.raises(ValueError, match="steps"):
        train(CFG, TrainConfig(steps=0, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=None, log_every=0))
    with pytest.raises(ValueError, match="safetensors"):
        train(CFG, TrainConfig(steps=1, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=tmp_path / "x.pt",
              log_every=0))
    with pytest.raises(ValueError, match="ran out after 1 of 2"):
        train(CFG, TrainConfig(steps=2, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=None, log_every=0),
              data=[batch], log=lambda _: None)


def test_focal_loss_stays_finite_for_saturated_bfloat16_logits():
    """What the CUDA bfloat16 autocast path relies on: a confident centre must not turn the loss into nan."""
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 1] = 1.0
    logits = torch.full((1, 1, 4, 4), -5.0)
    logits[0, 0, 1, 1] = 20.0
    low = center_focal_loss(logits.bfloat16(), target)
    assert torch.isfinite(low) and float(low) == pytest.approx(float(center_focal_loss(logits, target)), abs=1e-3)


def test_a_frozen_backbone_keeps_its_weights_while_the_heads_learn(batch):
    cfg = SIAMConfig(backbone="movenet", width="lightning", input_size=S, window=T, max_people=K)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in SIAM(cfg).state_dict().items()}
    result = train(cfg, TrainConfig(steps=2, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=None, amp=False,
                   freeze_backbone=True), data=itertools.repeat(batch), log=lambda _: None)
    after = result.model.state_dict()
    backbone = [k for k in before if k.startswith("frame_net.backbone.")]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)
    assert not torch.equal(before["frame_net.head.center.out.weight"], after["frame_net.head.center.out.weight"])


def test_the_temporal_network_can_start_from_a_checkpoint_of_another_backbone(run, batch):
    _, hrnet_path, _ = run
    cfg = SIAMConfig(backbone="movenet", width="lightning", input_size=S, window=T, max_people=K)
    lines = []
    result = train(cfg, TrainConfig(steps=1, batch_clips=1, lr=1e-12, device="cpu", seed=0, out_path=None, amp=False,
                   temporal_checkpoint=hrnet_path), data=itertools.repeat(batch), log=lines.append)
    stored = load_file(str(hrnet_path))
    temporal = {k: v for k, v in result.model.state_dict().items() if k.startswith("temporal_net.")}
    assert temporal and all(torch.allclose(v, stored[k], atol=1e-6) for k, v in temporal.items())
    assert any("temporal network initialised from" in line for line in lines)


def test_training_on_movenet_without_its_published_files_stops_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    out = tmp_path / "m.safetensors"
    rc = main(["train", "--backbone", "movenet", "--input-size", str(S), "--window", str(T), "--steps", "1",
               "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and not out.exists() and "\n" not in err
    assert "movenet-multipose.json is missing: run bash scripts/fetch_backbone.sh" in err
