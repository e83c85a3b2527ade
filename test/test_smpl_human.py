"""The Body <-> SMPLHuman field table: one Body fills rclpy's and rosbags' SMPLHuman alike (the node and
``run --bag-out`` publish the same numbers), and a message reads back into the Body's values."""
import numpy as np
import pytest

from hmr_ros.bodies import Body
from hmr_ros.recordings.bag_writer import default_message, typestore
from hmr_ros.smpl_human import FIELDS, body_values, fill_smpl_human, smpl_human_record


def make_body(seed: int = 0) -> Body:
    rng = np.random.default_rng(seed)
    return Body(score=0.87, box=np.array([10.5, 20.2, 300.9, 470.0], np.float32), center=np.zeros(2, np.float32),
                betas=rng.normal(size=10).astype(np.float32), global_orient=rng.normal(size=3).astype(np.float32),
                body_pose=rng.normal(size=69).astype(np.float32),
                translation=np.array([0.3, -0.1, 4.2], np.float32),
                joints=rng.normal(size=(24, 3)).astype(np.float32), vertices=np.zeros((5, 3), np.float32), id="k")


@pytest.fixture(scope="module")
def store():
    return typestore()


def test_every_field_of_the_table_reaches_the_message_and_reads_back(store):
    body = make_body()
    human = fill_smpl_human(default_message(store, "hmr_ros/msg/SMPLHuman"), body, 640, 480,
                            store.types["geometry_msgs/msg/Point"])
    record = smpl_human_record(human)
    assert record["id"] == "k" and record["score"] == pytest.approx(0.87)
    for name in FIELDS:
        np.testing.assert_allclose(record[name], getattr(body, name), rtol=1e-6)
    # the ROI covers the box's pixels, clipped to the 640 x 480 image
    assert record["roi"] == {"x_offset": 10, "y_offset": 20, "width": 291, "height": 450}


def test_the_message_serialises_as_the_msg_file_declares(store):
    human = fill_smpl_human(default_message(store, "hmr_ros/msg/SMPLHuman"), make_body(1), 640, 480,
                            store.types["geometry_msgs/msg/Point"])
    raw = store.serialize_cdr(human, "hmr_ros/msg/SMPLHuman")
    back, sent = smpl_human_record(store.deserialize_cdr(raw, "hmr_ros/msg/SMPLHuman")), smpl_human_record(human)
    assert back.pop("score") == pytest.approx(sent.pop("score"))  # float32 on the wire
    assert back == sent


@pytest.mark.parametrize("name, size", [("betas", 9), ("body_pose", 66), ("joints", 23 * 3)])
def test_a_field_of_the_wrong_size_is_named(name, size):
    body = make_body()
    setattr(body, name, np.zeros(size, np.float32))
    with pytest.raises(ValueError, match=f"Body.{name} must have"):
        body_values(body)
