"""``Body`` <-> ``hmr_ros/msg/SMPLHuman``, the one field table, without ROS: the node fills rclpy messages through
it, ``run --bag-out`` fills rosbags messages (the field names are the same), and JSON logs read messages back.

Units and frames are those of ``Body`` and msg/SMPLHuman.msg: metres, radians (axis-angle), camera optical frame;
the ROI in pixels of the source image.
"""
from __future__ import annotations

import numpy as np

from hmr_ros.bodies import Body, box_roi

#: SMPLHuman's numeric fields and the shape each takes from Body (float32 arrays; translation is a Vector3 and the
#: joints are Point[24] in the message)
FIELDS = {"betas": (10,), "global_orient": (3,), "body_pose": (69,), "translation": (3,), "joints": (24, 3)}


def body_values(body: Body) -> dict[str, np.ndarray]:
    """The FIELDS of ``body`` as float32 arrays of their shapes; ValueError naming the field of a wrong size."""
    out = {}
    for name, shape in FIELDS.items():
        value = np.asarray(getattr(body, name), dtype=np.float32)
        if value.size != int(np.prod(shape)):
            raise ValueError(f"Body.{name} must have {int(np.prod(shape))} values, got shape {value.shape}")
        out[name] = value.reshape(shape)
    return out


def fill_smpl_human(human, body: Body, width: int, height: int, point):
    """Write ``body`` into ``human`` (an SMPLHuman of rclpy or rosbags) and return it. ``point``: the message
    library's geometry_msgs/Point type; width, height: the source image size (clips the ROI)."""
    values = body_values(body)
    human.id, human.score = str(body.id), float(body.score)
    human.betas, human.global_orient, human.body_pose = values["betas"], values["global_orient"], values["body_pose"]
    human.translation.x, human.translation.y, human.translation.z = values["translation"].tolist()
    human.joints = [point(x=x, y=y, z=z) for x, y, z in values["joints"].tolist()]
    human.roi.x_offset, human.roi.y_offset, human.roi.width, human.roi.height = box_roi(body.box, width, height)
    return human


def smpl_human_record(human) -> dict:
    """An SMPLHuman (rclpy or rosbags) -> JSON-ready dict: id, score, the FIELDS as lists, roi."""
    return {
        "id": human.id,
        "score": float(human.score),
        "betas": np.asarray(human.betas, dtype=np.float64).tolist(),
        "global_orient": np.asarray(human.global_orient, dtype=np.float64).tolist(),
        "body_pose": np.asarray(human.body_pose, dtype=np.float64).tolist(),
        "translation": [human.translation.x, human.translation.y, human.translation.z],
        "joints": [[p.x, p.y, p.z] for p in human.joints],
        "roi": {"x_offset": human.roi.x_offset, "y_offset": human.roi.y_offset, "width": human.roi.width,
                "height": human.roi.height},
    }
