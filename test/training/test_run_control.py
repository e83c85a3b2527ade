"""Running a training job: an interrupted run resumes exactly where it stopped, every step lands in the CSV log,
and a config file sets the command's flags while flags typed on the command line win."""
import csv
import itertools
import json

import pytest
import torch
from safetensors import safe_open

from hmr_ros.checkpoint import load_checkpoint, read_config
from hmr_ros.cli import main
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import SyntheticClipDataset, collate
from hmr_ros.training.loop import CSV_COLUMNS, LOSS_NAMES, TrainConfig, train
from hmr_ros.training.train_state import train_state_path

S, T, K = 64, 2, 2
CFG = SIAMConfig(width="w18", input_size=S, window=T, max_people=K)
SMALL = [(96, 72), (72, 96)]


@pytest.fixture(scope="module")
def batch(body):
    ds = SyntheticClipDataset(CFG, seed=0, image_sizes=SMALL, body_model=body)
    return collate([ds.sample(0)])


def run(steps, out, data, clip_stream=None, **run_settings):
    return train(CFG, TrainConfig(steps=steps, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=out,
                 log_every=0, amp=False, warmup_steps=2, **run_settings), data=data, clip_stream=clip_stream,
                 log=lambda _: None)


def test_a_run_setting_passed_as_a_dataset_keyword_is_refused(batch):
    with pytest.raises(TypeError, match=r"\['save_every'\] belong in the TrainConfig"):
        train(CFG, TrainConfig(steps=1, device="cpu"), data=[batch], log=lambda _: None, save_every=1)


def test_a_resumed_run_repeats_the_uninterrupted_one_exactly(batch, tmp_path):
    straight = run(3, None, itertools.repeat(batch))
    out = tmp_path / "cut.safetensors"
    with pytest.raises(ValueError, match="ran out after 1 of 3"):  # the job dies during step 2
        run(3, out, [batch], save_every=1, log_csv=tmp_path / "log.csv")
    with safe_open(str(train_state_path(out)), framework="pt") as f:
        meta = f.metadata()
        assert meta["step"] == "1" and json.loads(meta["extra"])["config"]["width"] == "w18"
        assert any(k.startswith("optim.") for k in f.keys()) and "rng.cpu" in f.keys()
    resumed = run(3, out, itertools.repeat(batch), resume=True, log_csv=tmp_path / "log.csv")
    assert len(resumed.history) == 2
    assert resumed.history == straight.history[1:]  # bit-identical losses (fp32) for both remaining steps

    with open(tmp_path / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS == ("step",) + LOSS_NAMES + ("lr", "ms_per_step", "data_ms")
    assert [int(r["step"]) for r in rows] == [1, 2, 3]  # one header, each step once across the two runs
    assert [float(r["total"]) for r in rows] == pytest.approx([h["total"] for h in straight.history], rel=1e-5)
    assert float(rows[0]["lr"]) == pytest.approx(0.5e-3) and float(rows[1]["lr"]) == pytest.approx(1e-3)
    assert all(float(r["ms_per_step"]) > 0 for r in rows)


def test_a_run_with_a_weight_average_writes_it_and_resumes_it_exactly(batch, tmp_path):
    straight = run(3, tmp_path / "straight.safetensors", itertools.repeat(batch), ema=0.9)
    out = tmp_path / "cut.safetensors"
    with pytest.raises(ValueError, match="ran out after 2 of 3"):
        run(3, out, [batch, batch], save_every=1, ema=0.9)
    with pytest.raises(ValueError, match="same --ema"):  # the average is part of the run
        run(3, out, itertools.repeat(batch), resume=True)
    run(3, out, itertools.repeat(batch), resume=True, ema=0.9)
    written, again = SIAM(CFG), SIAM(CFG)
    load_checkpoint(written, tmp_path / "straight.safetensors")
    load_checkpoint(again, out)
    last_step = train_state_weights(tmp_path / "straight.safetensors")
    for name, value in written.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], value, rtol=0, atol=0)
        assert torch.equal(straight.model.state_dict()[name].cpu(), value)  # the result is what was written
    assert not all(torch.equal(last_step[n], v) for n, v in written.state_dict().items())  # the average, not step 3


def train_state_weights(checkpoint) -> dict:
    with safe_open(str(train_state_path(checkpoint)), framework="pt") as f:
        return {k[len("model."):]: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}


def test_resume_needs_a_saved_state(tmp_path):
    with pytest.raises(FileNotFoundError, match="state"):
        run(2, tmp_path / "never.safetensors", [], resume=True)
    with pytest.raises(ValueError, match="resume"):
        run(2, None, [], resume=True)


def test_progress_bar_shows_the_step_and_an_eta(batch, capsys):
    run(2, None, itertools.repeat(batch), progress=True, loss_weights={"accel": 0.0})
    err = capsys.readouterr().err
    assert "2/2 100%" in err and "ETA 0:00:00" in err and err.endswith("\n")


def test_config_file_sets_flags_and_the_command_line_wins(tmp_path, capsys):
    log = tmp_path / "steps.csv"
    config = tmp_path / "run.yaml"
    config.write_text(f"width: w18\ninput-size: {S}\nwindow: {T}\nmax_people: {K}\nsteps: 3\nbatch-clips: 1\n"
                      f"lr: 0.002\ndevice: cpu\nimage-sizes: [96x72, 72x96]\nlog-csv: {log}\n"
                      f"loss-weights: {{accel: 0, verts: 1}}\nout: {tmp_path / 'from_config.safetensors'}\n")
    rc = main(["train", "--config", str(config), "--steps", "1", "--lr", "3e-4"])  # 3e-4 is also the default
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"SIAM-w18 S={S} T={T} K={K} on cpu: 1 steps x 1 clips, lr 0.0003" in printed
    assert (tmp_path / "from_config.safetensors").is_file()
    with open(log, newline="") as fh:
        assert [r["step"] for r in csv.DictReader(fh)] == ["1"]


def test_toml_config_and_bad_keys(tmp_path, capsys):
    config = tmp_path / "run.toml"
    # written for an older release: ``variant`` is now ``width``
    config.write_text('variant = "w18"\ninput_size = 64\nwindow = 2\nmax-people = 2\nsteps = 1\nbatch-clips = 1\n'
                      f'device = "cpu"\nimage-sizes = ["96x72"]\nout = "{tmp_path / "t.safetensors"}"\n')
    assert main(["train", "--config", str(config)]) == 0 and read_config(tmp_path / "t.safetensors")["width"] == "w18"
    config.write_text("stepz = 3\n")
    assert main(["train", "--config", str(config), "--out", "x.safetensors"]) == 2
    assert "unknown key(s) ['stepz']" in capsys.readouterr().err


def test_a_resumed_real_data_stream_does_not_replay_its_first_batches(batch, tmp_path):
    from hmr_ros.training.loop import RESUME_SEED_STRIDE

    seeds = []

    def stream(clips, seed):
        seeds.append((clips, seed))
        return itertools.repeat(batch)

    out = tmp_path / "real.safetensors"
    run(1, out, None, clip_stream=stream)
    run(3, out, None, clip_stream=stream, resume=True)
    assert seeds == [(1, 0), (1, RESUME_SEED_STRIDE)]
