"""COCO-2017 person keypoints in the official layout, on an annotation file the tests write."""
import json

import numpy as np
import pytest

from hmr_ros.datasets.coco import CocoKeypoints


def write(root, annotations=None):
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    kp = np.zeros((17, 3))
    kp[0] = [100, 50, 2]
    kp[5] = [90, 80, 1]
    data = {"images": [{"id": 139, "file_name": "000000000139.jpg", "width": 640, "height": 426},
                       {"id": 285, "file_name": "000000000285.jpg", "width": 586, "height": 640}],
            "annotations": annotations if annotations is not None else [
                {"id": 1, "image_id": 139, "keypoints": kp.reshape(-1).tolist(), "bbox": [80, 40, 50, 120],
                 "iscrowd": 0, "num_keypoints": 2, "category_id": 1},
                {"id": 2, "image_id": 285, "keypoints": [0] * 51, "bbox": [0, 0, 200, 300], "iscrowd": 1}],
            "categories": [{"id": 1, "name": "person"}]}
    (root / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(data))


def test_people_with_keypoints_boxes_and_visibility(tmp_path):
    write(tmp_path)
    coco = CocoKeypoints(tmp_path, "val")
    images = coco.images()
    assert len(coco) == 2 and [im.id for im in images] == [139]  # 285 holds only a crowd region
    (person,) = images[0].people
    assert images[0].path == tmp_path / "val2017" / "000000000139.jpg" and (images[0].width, images[0].height) == (640, 426)
    assert person.box.tolist() == [80, 40, 130, 160] and person.labelled and not person.crowd
    assert person.keypoints[0].tolist() == [100, 50, 2] and person.keypoints[5, 2] == 1
    assert [im.id for im in coco.images(with_people_only=False)] == [139, 285]
    assert coco.images(with_people_only=False)[1].people[0].crowd


def test_malformed_annotations_say_what_is_wrong(tmp_path):
    write(tmp_path, [{"image_id": 139, "keypoints": [1, 2, 3], "bbox": [0, 0, 1, 1]}])
    with pytest.raises(ValueError, match=r"person_keypoints_val2017\.json: annotation 0 needs image_id, bbox"):
        CocoKeypoints(tmp_path, "val")
    write(tmp_path, [{"image_id": 7, "keypoints": [0] * 51, "bbox": [0, 0, 1, 1]}])
    with pytest.raises(ValueError, match="annotation 0 refers to unknown image 7"):
        CocoKeypoints(tmp_path, "val")
    with pytest.raises(ValueError, match="cannot read"):
        CocoKeypoints(tmp_path, "train")
