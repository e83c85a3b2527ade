"""The demo (``python -m hmr_ros.ros.demo``, what ``make demo`` runs): the installed hmr_node on a make_clip clip,
its output recorded, drawn and scored against the clip's ground truth.

The end-to-end runs use a tiny network (w18 at 64 px, torch backend, a few 128 px frames) so each stays within
~20 s on a 2-core machine: once untrained, once from a checkpoint saved here (random weights, so the path from
``--checkpoint`` to the node's ``checkpoint`` parameter and the checkpoint's own input size is what is checked,
not accuracy). The scoring is checked on its own with the ground truth itself as the prediction.
"""
import json
import re

import cv2
import numpy as np
import pytest
import torch

import ros_harness

ros_harness.require_ros()

from hmr_ros.checkpoint import save_checkpoint  # noqa: E402
from hmr_ros.model.siam import SIAM, SIAMConfig  # noqa: E402
from hmr_ros.palette import PALETTE_U8  # noqa: E402
from hmr_ros.ros import demo  # noqa: E402
from hmr_ros.recordings import overlay as demo_overlay  # noqa: E402

FRAMES, SIZE, PEOPLE = 4, 128, 2
TINY = ["--param", "width=w18", "--param", "input_size=64", "--param", "backend=torch",
        "--param", "torch_threads=1"]
VERDICT = re.compile(r"^\[demo\] (\d+)/(\d+) frames: every visible person has a fitted mesh; (\d+) misses, "
                     r"(\d+) false; MPJPE (\d+ mm|n/a \(nobody matched\))$")


def run_demo(tmp_path, monkeypatch, capsys, *args):
    ros_harness.isolate_ros_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)  # nothing the node or the demo writes lands in the checkout
    out = tmp_path / "demo_out"
    code = demo.main(["--out", str(out), "--frames", str(FRAMES), "--size", str(SIZE), "--people", str(PEOPLE),
                      "--param", f"engine_cache_dir={tmp_path / 'cache'}", *args,
                      *(() if "--real-frames" in args else ("--real-frames", "0"))])
    console = capsys.readouterr().out
    assert code == 0, console + (out / "hmr_node.log").read_text(errors="replace")[-3000:]
    return out, json.loads((out / "summary.json").read_text()), console


def raw_frames():
    return [f.rgb for f in demo.make_demo_clip(FRAMES, SIZE, PEOPLE).frames]


def assert_recorded_and_drawn(out, summary):
    """Files per frame; counts that add up; every published mesh drawn in its RViz colour with its label."""
    raw = raw_frames()
    assert len(summary["frames"]) == FRAMES
    for f, rgb in zip(summary["frames"], raw):
        i = f["index"]
        smpl = json.loads((out / "smpl" / f"frame_{i:04d}.json").read_text())
        assert len(smpl["humans"]) == f["published"] == len(f["people"])
        assert f["found"] + f["false"] == f["published"]
        assert f["found"] + f["missed"] == f["visible"] == f["ground_truth_people"] == PEOPLE  # make_clip: all in view
        overlay = cv2.cvtColor(cv2.imread(str(out / "overlay" / f"frame_{i:04d}.png")), cv2.COLOR_BGR2RGB)
        assert overlay.shape == rgb.shape
        assert (overlay[:8] != rgb[:8]).any(), "no header line"
        for person in f["people"]:
            assert person["mesh"], "every published person comes with a mesh marker"
            colour = np.all(overlay == person["color"], axis=-1)
            assert colour.sum() > 20, f"frame {i}: person {person['index']} is not drawn in its marker colour"
            assert not np.all(rgb == person["color"], axis=-1).any(), "a rendered person wears a marker colour"
            # the label: a box in the marker colour with the id and score written on it, at the ROI or just
            # below the labels drawn before it
            x0, y0, x1, y1 = person["label_box"]
            assert person["label"].startswith(person["id"] or f"#{person['index']}")
            x, y, w, h = person["roi"]
            assert x0 <= max(x, 0) + w and y0 <= max(y, 0) + h, "the label is not near the ROI"
            box = overlay[y0:y1, x0:x1]
            assert np.all(box == person["color"], axis=-1).mean() > 0.4, f"frame {i}: no label background"
            # anti-aliased text: count pixels at least half-way from the background to the ink colour
            bg, ink = np.array(person["color"], float), np.array(demo_overlay.ink(person["color"]), float)
            inked = np.linalg.norm(box - bg, axis=-1) > 0.5 * np.linalg.norm(ink - bg)
            assert inked.sum() >= 10, f"frame {i}: no label text"
    t = summary["totals"]
    assert t["frames"] == FRAMES
    assert t["found"] + t["missed"] == FRAMES * PEOPLE
    assert t["published"] == sum(f["published"] for f in summary["frames"]) == t["found"] + t["false"]
    assert t["fitted_frames"] == sum(f["missed"] == 0 for f in summary["frames"])


def test_the_clip_people_wear_colours_far_from_every_mesh_colour():
    distance = np.linalg.norm(np.array(demo.CLOTHES_U8)[:, None] - np.array(PALETTE_U8)[None], axis=-1)
    assert distance.min() > 60


def test_the_clip_people_are_rendered_in_the_given_clothes_and_by_default_in_the_palette():
    from hmr_ros.sim.clips import make_clip

    def shade_of(pixel, colour):  # flat Lambert shading scales the base colour by 0.35..1
        p, c = np.asarray(pixel, float), np.asarray(colour, float)
        k = p @ c / (c @ c)
        return 0.3 < k < 1.01 and np.linalg.norm(p - k * c) < 4.0

    dressed, default = demo.make_demo_clip(1, SIZE, 2), make_clip(num_frames=1, width=SIZE, height=SIZE, num_people=2)
    nearest = dressed.frames[0].people[0]  # nothing covers its pelvis
    u, v = np.floor(nearest.joints_2d[0]).astype(int)
    assert shade_of(dressed.frames[0].rgb[v, u], demo.CLOTHES_U8[0])
    assert shade_of(default.frames[0].rgb[v, u], PALETTE_U8[0])
    # only the clothes differ: same people, same motion
    for a, b in zip(dressed.frames[0].people, default.frames[0].people):
        np.testing.assert_array_equal(a.joints, b.joints)


def test_the_ground_truth_as_prediction_is_found_with_zero_error():
    clip = demo.make_demo_clip(2, SIZE, 3)
    people = clip.frames[1].people
    score = demo.score_frame([p.joints for p in people], people, clip.K)
    assert (score["found"], score["missed"], score["false"], score["visible"]) == (3, 0, 0, 3)
    assert [m["track_id"] for m in score["matches"]] == [p.track_id for p in people]
    assert all(m["mpjpe_mm"] == 0.0 and m["root_error_m"] == 0.0 for m in score["matches"])


def test_a_person_published_a_metre_off_is_a_miss_and_a_false_detection():
    clip = demo.make_demo_clip(1, SIZE, 2)
    people = clip.frames[0].people
    off = [people[0].joints, people[1].joints + np.array([0.0, -1.0, 0.0], np.float32)]  # a metre up
    score = demo.score_frame(off, people, clip.K)
    assert (score["found"], score["missed"], score["false"]) == (1, 1, 1)
    assert score["missed_track_ids"] == [people[1].track_id]


def test_a_pose_error_shows_in_mpjpe_and_a_depth_error_in_the_root_error_only():
    clip = demo.make_demo_clip(1, SIZE, 1)
    (person,) = clip.frames[0].people
    joints = person.joints.copy()
    joints[1:] += np.array([0.05, 0.0, 0.0], np.float32)  # every joint but the pelvis 5 cm sideways
    further = person.joints + 0.1 * person.joints[0]  # the same pose 10% further along the pelvis ray
    posed, deep = (demo.score_frame([j], [person], clip.K)["matches"][0] for j in (joints, further))
    assert posed["mpjpe_mm"] == pytest.approx(50.0 * 23 / 24, abs=0.2) and posed["root_error_m"] == 0.0
    assert deep["mpjpe_mm"] == 0.0
    assert deep["root_error_m"] == pytest.approx(0.1 * np.linalg.norm(person.joints[0]), abs=1e-3)
    assert deep["depth_error_m"] == pytest.approx(0.1 * person.joints[0][2], abs=1e-3)


def test_untrained_run_records_draws_and_scores_every_frame(tmp_path, monkeypatch, capsys):
    out, summary, console = run_demo(tmp_path, monkeypatch, capsys, "--checkpoint", "none", *TINY)
    assert summary["untrained"] and summary["weights"] == "UNTRAINED" and summary["checkpoint"] == "none"
    # a random network's heatmap is flat at ~0.1: only the lowered threshold lets anyone through
    # untrained must be said to the node: its own default is the bundled weights
    assert summary["overrides"]["score_threshold"] == 0.05 and summary["overrides"]["checkpoint"] == ""
    assert any(f["published"] for f in summary["frames"]), "the mesh path was never exercised"
    assert_recorded_and_drawn(out, summary)
    assert "UNTRAINED" in console
    last = console.strip().splitlines()[-1]
    m = VERDICT.match(last)
    assert m, last
    t = summary["totals"]
    assert [int(v) for v in m.groups()[:4]] == [t["fitted_frames"], FRAMES, t["missed"], t["false"]]


def test_a_checkpoint_reaches_the_node_with_its_own_input_size(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_checkpoint(SIAM(SIAMConfig(width="w18", input_size=96)), weights)
    # no size or width given: both come from the file's metadata
    out, summary, console = run_demo(tmp_path, monkeypatch, capsys, "--checkpoint", str(weights),
                                     "--param", "backend=torch", "--param", "torch_threads=1")
    assert not summary["untrained"] and summary["weights"] == "trained weights: tiny.safetensors"
    o = summary["overrides"]
    assert (o["checkpoint"], o["input_size"], o["width"]) == (str(weights), 96, "w18")
    assert "score_threshold" not in o, "trained weights keep the configured threshold"
    assert "SIAM hrnet w18 96px" in (out / "hmr_node.log").read_text(), "the node did not build the checkpoint's network"
    assert "UNTRAINED" not in console
    assert_recorded_and_drawn(out, summary)


def test_a_missing_checkpoint_stops_before_starting_the_node(tmp_path, capsys):
    code = demo.main(["--out", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "absent.safetensors")])
    assert code == 2
    assert "absent.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_without_metadata_runs_at_the_bundled_size(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    o = demo.node_overrides(str(path))
    assert o["input_size"] == demo.DEFAULT_INPUT_SIZE == 128 and "width" not in o
    assert (o["max_people"], o["window"]) == (16, 9)   # the street video has up to 10 people in view
    assert demo.node_overrides("none")["max_people"] == 4


def test_the_bundled_weights_go_to_the_node_by_name_or_stop_the_demo_with_a_hint():
    from hmr_ros.checkpoint import read_config, resolve_checkpoint

    path = resolve_checkpoint("synthetic")
    if path.is_file():  # the node resolves the name itself; the size is the one the weights were trained at
        o = demo.node_overrides("synthetic")
        assert o["checkpoint"] == "synthetic"
        assert o["input_size"] == read_config(path).get("input_size", demo.DEFAULT_INPUT_SIZE)
    else:
        with pytest.raises(FileNotFoundError, match="--checkpoint none"):
            demo.node_overrides("synthetic")


def test_a_run_first_removes_what_an_earlier_run_wrote_and_nothing_else(tmp_path):
    (tmp_path / "overlay").mkdir()
    (tmp_path / "smpl").mkdir()
    stale = [tmp_path / "overlay" / "frame_0099.png", tmp_path / "smpl" / "frame_0099.json", tmp_path / "summary.json",
             tmp_path / "hmr_node.log"]
    mine = [tmp_path / "notes.txt", tmp_path / "overlay" / "my_drawing.png"]
    for path in stale + mine:
        path.write_text("x")
    assert demo.clear_outputs(tmp_path) == len(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in mine)


def test_the_demo_then_shows_real_people_scored_against_the_teacher(tmp_path, monkeypatch, capsys):
    from real_data import VTEST, need, teacher_dir

    teacher_dir()
    need(VTEST, "bash scripts/fetch_media.sh")
    out, summary, console = run_demo(tmp_path, monkeypatch, capsys, "--checkpoint", "none", *TINY,
                                     "--real-frames", "3", "--real-first", "100", "--real-checkpoint", "none")
    real = summary["real"]
    assert real["first"] == 100 and real["frames"] == 3 and real["teacher_people"] >= 6
    assert real["weights"] == "UNTRAINED" and (out / "hmr_node_real.log").is_file()
    assert 0 <= real["matched"] <= min(real["published"], real["teacher_people"])
    images = sorted((out / "real" / "overlay").glob("frame_*.png"))
    assert [p.name for p in images] == ["frame_0100.png", "frame_0101.png", "frame_0102.png"]
    assert cv2.imread(str(images[0])).shape == (576, 768, 3)
    assert re.search(r"^\[demo\] real video: \d+ of the \d+ people the teacher labels were found", console, re.M)
    photos = summary["photos"]                          # then the opencv-doc photos, against hand-drawn boxes
    assert photos["photos"] == 3 and photos["people"] == 5 and 0 <= photos["found"] <= 5
    assert sorted(p.name for p in (out / "real" / "photos").glob("*.png")) == [
        "basketball1.png", "basketball2.png", "messi5.png"]
    assert re.search(r"^\[demo\] photos of other scenes: \d+ of the 5 people drawn by hand found", console, re.M)
