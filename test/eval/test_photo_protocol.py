"""The photo protocol: matching, IoU and ignore regions on hand-made boxes with counts worked out by hand; the
photo-boxes reader's errors; the committed boxes against the real photos; and ``evaluate --dataset photos`` end to
end on a rendered image with the bundled weights."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hmr_ros.eval.photo_protocol import (FORMAT, clip_boxes, default_media_dir, format_photos, read_photo_boxes,
                                         result_json, score_photo, total)

from real_data import need

PHOTO_BOXES = Path(__file__).resolve().parents[1] / "data" / "photo_boxes.json"
NONE = np.zeros((0, 4))


def test_a_prediction_with_iou_one_half_is_found_and_one_just_below_is_a_miss_and_a_false_person():
    person = [[0, 0, 100, 200]]
    s = score_photo([[0, 0, 100, 100]], person, NONE)             # 10000 / 20000
    assert (s.found, s.missed, s.false, s.ious, s.matched) == (1, 0, 0, [0.5], [True])
    s = score_photo([[0, 0, 100, 90]], person, NONE)              # 9000 / 20000
    assert (s.found, s.missed, s.false, s.ious, s.matched) == (0, 1, 1, [0.45], [False])


def test_matching_is_one_to_one_and_finds_the_most_people():
    # A = [0, 100], B = [50, 150] (x; every box spans y 0-100). p1 = [20, 120]: IoU 80/120 with A, 70/130 with B;
    # p2 = [-30, 70]: IoU 70/130 with A, 20/180 with B. Best-first would pair p1-A and leave B; one-to-one on the
    # most pairs gives p2-A and p1-B: both found.
    people = [[0, 0, 100, 100], [50, 0, 150, 100]]
    s = score_photo([[20, 0, 120, 100], [-30, 0, 70, 100]], people, NONE)
    assert (s.found, s.missed, s.false) == (2, 0, 0) and s.ious == [round(70 / 130, 3)] * 2
    # two predictions on one person: one is found, the other is a false person
    s = score_photo([[0, 0, 100, 100], [5, 0, 100, 100]], people[:1], NONE)
    assert (s.found, s.false, s.ious) == (1, 1, [1.0])


def test_an_unmatched_prediction_mostly_inside_an_ignore_box_is_neither_right_nor_wrong():
    pred = [[0, 0, 100, 100]]
    assert score_photo(pred, NONE, [[0, 50, 200, 300]]).ignored == 1          # 50 % inside
    s = score_photo(pred, NONE, [[0, 51, 200, 300]])                          # 49 % inside
    assert (s.ignored, s.false) == (0, 1)
    # the share counts inside one box: two boxes of 30 % each do not add up
    assert score_photo(pred, NONE, [[0, 0, 30, 100], [70, 0, 100, 100]]).false == 1
    # a prediction matched to a person inside an ignore box is still found
    s = score_photo(pred, [[0, 0, 100, 100]], [[0, 0, 500, 500]])
    assert (s.found, s.ignored, s.false) == (1, 0, 0)


def test_predicted_boxes_are_clipped_to_the_image_like_the_drawn_ones():
    # a person cut by the right border: the mesh extends past it, the drawn box stops at it
    assert clip_boxes([[600, -20, 700, 500]], 640, 480).tolist() == [[600, 0, 640, 480]]
    assert score_photo(clip_boxes([[430, 20, 700, 520]], 640, 480), [[430, 20, 640, 480]], NONE).found == 1
    assert clip_boxes([[np.nan, 0, 10, 10]], 640, 480).tolist() == [[0, 0, 0, 0]]


def test_totals_add_the_photos_and_precision_leaves_ignored_predictions_out():
    a = score_photo([[0, 0, 100, 100], [300, 0, 400, 100]], [[0, 0, 100, 100], [150, 0, 250, 100]], NONE, "a")
    b = score_photo([[0, 0, 100, 100], [0, 200, 50, 250]], [[0, 0, 100, 80]], [[0, 200, 100, 300]], "b")
    r = total([a, b], "hand-made")
    assert (r.people, r.predictions, r.found, r.missed, r.false, r.ignored) == (3, 4, 2, 1, 1, 1)
    assert r.recall == pytest.approx(2 / 3) and r.precision == pytest.approx(2 / 3)
    assert r.mean_iou == pytest.approx((1.0 + 0.8) / 2)
    text = format_photos(r)
    assert "| a | 2 | 2 | 1 | 1 | 1 | 0 | 1.00, 0.00 |" in text and "| **total** | 3 | 4 | 2 | 1 | 1 | 1 |" in text
    assert json.loads(result_json(r))["photos"][1]["ious"] == [0.8]


def test_nobody_predicted_is_zero_recall_and_zero_precision():
    r = total([score_photo(NONE, [[0, 0, 10, 10]], NONE)])
    assert (r.recall, r.precision, r.missed) == (0.0, 0.0, 1) and np.isnan(r.mean_iou)
    assert "| **total** | 1 | 0 | 0 | 1 | 0 | 0 | - |" in format_photos(r)


def write(tmp_path, photos, **extra) -> Path:
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"format": FORMAT, "media_dir": str(tmp_path), "photos": photos, **extra}))
    return path


def test_the_reader_resolves_images_against_media_dir_and_names_a_missing_one(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 10, 3), np.uint8))
    photos, media = read_photo_boxes(write(tmp_path, [{"image": "a.png", "people": [[1, 1, 5, 9]]}]))
    assert media == tmp_path and photos[0].image == tmp_path / "a.png"
    assert photos[0].people.tolist() == [[1, 1, 5, 9]] and photos[0].ignore.shape == (0, 4)
    path = write(tmp_path, [{"image": "a.png", "people": []}, {"image": "gone.png", "people": []}])
    with pytest.raises(ValueError, match=r"photo 2: image .*gone\.png is missing") as e:
        read_photo_boxes(path)
    assert "\n" not in str(e.value)


def test_without_media_dir_images_come_from_the_media_cache_and_the_error_names_the_fetch_script(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"format": FORMAT, "photos": [{"image": "no_such_photo.png", "people": []}]}))
    with pytest.raises(ValueError, match="fetch_media.sh") as e:
        read_photo_boxes(path)
    assert str(default_media_dir() / "no_such_photo.png") in str(e.value)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "other/1", "photos": []}), "format 'other/1'"),
    (json.dumps({"format": FORMAT, "photos": []}), "non-empty list"),
    (json.dumps({"format": FORMAT, "photos": [{"people": []}]}), "photo 1: expected"),
    (json.dumps({"format": FORMAT, "photos": [{"image": "a.png", "people": [[5, 0, 1, 9]]}]}), "x0 < x1"),
    (json.dumps({"format": FORMAT, "photos": [{"image": "a.png", "people": [[0, 0, 1]]}]}), "x0 < x1"),
    (json.dumps({"format": FORMAT, "photos": [{"image": "a.png", "ignore": [["a", 0, 1, 1]]}]}), "numbers"),
])
def test_a_malformed_file_is_one_line_naming_it(tmp_path, content, message):
    path = tmp_path / "boxes.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as e:
        read_photo_boxes(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_the_committed_boxes_lie_inside_their_photos():
    doc = json.loads(PHOTO_BOXES.read_text())
    for entry in doc["photos"]:
        need(default_media_dir() / entry["image"], "bash scripts/fetch_media.sh")
    photos, _ = read_photo_boxes(PHOTO_BOXES)
    assert [p.image.name for p in photos] == ["messi5.jpg", "basketball1.png", "basketball2.png"]
    assert sum(len(p.people) for p in photos) == 5
    for p in photos:
        height, width = cv2.imread(str(p.image)).shape[:2]
        for box in np.r_[p.people, p.ignore]:
            assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height, (p.image.name, box)


def test_evaluate_photos_runs_the_node_on_a_rendered_photo(tmp_path, capsys):
    from hmr_ros.cli import main
    from hmr_ros.sim.clips import make_clip

    frame = make_clip(num_frames=1, width=160, height=120, num_people=1, seed=1).frames[0]
    cv2.imwrite(str(tmp_path / "walker.png"), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    truth = clip_boxes([frame.people[0].box], 160, 120).round(1).tolist()
    root = write(tmp_path, [{"image": "walker.png", "people": truth, "note": "rendered"}])
    args = ["evaluate", "--dataset", "photos", "--root", str(root), "--checkpoint", "synthetic", "--input-size", "128",
            "--window", "1", "--backend", "torch"]
    assert main(args + ["--json", str(tmp_path / "photos.json")]) == 0
    out = capsys.readouterr()
    assert "| photo | people | predictions | found | missed | false | ignored |" in out.out
    assert "[1/1] walker.png" in out.err
    r = json.loads((tmp_path / "photos.json").read_text())
    assert r["people"] == 1 and r["found"] + r["missed"] == 1
    assert r["predictions"] == r["found"] + r["false"] + r["ignored"] >= 1   # the weights see their own people
    assert r["photos"][0]["ious"][0] > 0.2 and 0.0 <= r["recall"] <= 1.0 and 0.0 <= r["precision"] <= 1.0
    # a missing image is one line naming it, exit status 2
    (tmp_path / "walker.png").unlink()
    assert main(args) == 2 and "walker.png is missing" in capsys.readouterr().err
    assert main(args[:3] + args[5:]) == 2 and "needs --root" in capsys.readouterr().err
