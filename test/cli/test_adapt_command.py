"""``python -m hmr_ros adapt``: label + fine-tune + before/after in one command, on real frames, resumable."""
import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from hmr_ros.cli import main
from hmr_ros.sim.shards import clip_seeds, write_shards

from real_data import teacher_dir, vtest_clip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    shards = write_shards(root / "shards", clip_seeds("train", 2), num_frames=4, size=(160, 120), num_people=1)
    return vtest_clip(root / "walk.avi", 100, 6), shards[0].parent


def adapt(recording, out, shards, *extra):
    return main(["adapt", str(recording), "--out", str(out), "--shards", str(shards), "--teacher", "lite",
                 "--teacher-dir", str(teacher_dir()), "--holdout-from", "4", "--input-size", "64", "--window", "2",
                 "--eval-window", "2", "--batch-clips", "2", "--save-every", "1", "--quiet", *map(str, extra)])


def test_adapt_labels_trains_and_reports_before_and_after(inputs, tmp_path, capsys):
    walk, shards = inputs
    out = tmp_path / "mine.safetensors"
    assert adapt(walk, out, shards, "--steps", "2") == 0
    work = tmp_path / "mine.adapt"
    assert (work / "labels" / "manifest.json").is_file()
    weights = load_file(str(out))
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())
    before, after = (json.loads((work / f"{n}.json").read_text()) for n in ("before", "after"))
    assert before["frames"] == after["frames"] == 2 and before["labelled"] == after["labelled"] > 0
    table = (work / "report.md").read_text()
    assert "| recall |" in table and "before (synthetic)" in table and table in capsys.readouterr().out
    # run again with more steps: the labels and the first evaluation are reused, the training continues
    assert adapt(walk, out, shards, "--steps", "3") == 0
    err = capsys.readouterr().err
    assert "resuming after step 2" in err and "0 frames labelled" in err


def test_adapt_on_a_recording_with_nobody_stops_with_one_line(inputs, tmp_path, capsys):
    import cv2
    import numpy as np

    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(6):
        writer.write(np.full((240, 320, 3), 120, np.uint8))
    writer.release()
    assert adapt(empty, tmp_path / "x.safetensors", inputs[1], "--steps", "1") == 2
    assert "nobody" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_an_interrupted_adapt_resumes_where_the_training_stopped(inputs, tmp_path, monkeypatch, capsys):
    import hmr_ros.training.loop as loop

    walk, shards = inputs
    real_train = loop.train

    def interrupted(*args, **kwargs):   # one step is saved, then Ctrl-C arrives
        network, run = args
        real_train(network, dataclasses.replace(run, steps=1), **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train", interrupted)
    out = tmp_path / "mine.safetensors"
    assert adapt(walk, out, shards, "--steps", "2") == 130
    assert "run the same command again" in capsys.readouterr().err and not out.exists()
    monkeypatch.setattr(loop, "train", real_train)
    assert adapt(walk, out, shards, "--steps", "2") == 0
    assert "resuming after step 1" in capsys.readouterr().err and out.is_file()
