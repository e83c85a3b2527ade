"""Core ``Body`` results <-> ``hmr_ros/SMPLHumanArray`` messages (and plain dicts for JSON logs)."""
from __future__ import annotations


import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import RegionOfInterest

import hmr_ros.ros  # noqa: F401  (makes the generated hmr_ros.msg importable from a source checkout)
from hmr_ros.bodies import Body, box_roi
from hmr_ros.msg import SMPLHuman, SMPLHumanArray


def box_to_roi(box: np.ndarray, width: int, height: int) -> RegionOfInterest:
    """(4,) x0, y0, x1, y1 pixel box -> RegionOfInterest clipped to a ``width`` x ``height`` image (``box_roi``)."""
    roi = RegionOfInterest()
    roi.x_offset, roi.y_offset, roi.width, roi.height = box_roi(box, width, height)
    return roi


def _vector(shape_name: str, value, n: int) -> np.ndarray:
    v = np.asarray(value, dtype=np.float32).reshape(-1)
    if v.size != n:
        raise ValueError(f"Body.{shape_name} must have {n} values, got shape {np.shape(value)}")
    return v


def body_to_msg(body: Body, width: int, height: int) -> SMPLHuman:
    """One ``Body`` -> ``SMPLHuman`` (units and frames are those of ``Body``: metres, camera optical frame)."""
    h = SMPLHuman()
    h.id = str(body.id)
    h.score = float(body.score)
    h.betas = _vector("betas", body.betas, 10)
    h.global_orient = _vector("global_orient", body.global_orient, 3)
    h.body_pose = _vector("body_pose", body.body_pose, 69)
    tx, ty, tz = _vector("translation", body.translation, 3).tolist()
    h.translation.x, h.translation.y, h.translation.z = tx, ty, tz
    joints = _vector("joints", body.joints, 72).reshape(24, 3).tolist()
    h.joints = [Point(x=x, y=y, z=z) for x, y, z in joints]
    h.roi = box_to_roi(body.box, width, height)
    return h


def bodies_to_msg(bodies: list[Body], header, body_model: str, width: int, height: int) -> SMPLHumanArray:
    """People of one image -> ``SMPLHumanArray``.

    Args:
        bodies: the people, in the order to publish (``Pipeline`` orders them: highest score first).
        header: the source image's ``std_msgs/Header`` (stamp and frame_id are kept, never now()).
        body_model: name of the body model that produced the parameters.
        width, height: source image size in pixels (clips the ROIs).
    """
    msg = SMPLHumanArray()
    msg.header = header
    msg.body_model = body_model
    msg.humans = [body_to_msg(b, width, height) for b in bodies]
    return msg


def smpl_array_to_dict(msg: SMPLHumanArray) -> dict:
    """``SMPLHumanArray`` -> JSON-ready dict (lists of floats), e.g. for recording received messages."""
    return {
        "header": {"stamp": {"sec": int(msg.header.stamp.sec), "nanosec": int(msg.header.stamp.nanosec)},
                   "frame_id": msg.header.frame_id},
        "body_model": msg.body_model,
        "humans": [
            {
                "id": h.id,
                "score": float(h.score),
                "betas": np.asarray(h.betas, dtype=np.float64).tolist(),
                "global_orient": np.asarray(h.global_orient, dtype=np.float64).tolist(),
                "body_pose": np.asarray(h.body_pose, dtype=np.float64).tolist(),
                "translation": [h.translation.x, h.translation.y, h.translation.z],
                "joints": [[p.x, p.y, p.z] for p in h.joints],
                "roi": {"x_offset": h.roi.x_offset, "y_offset": h.roi.y_offset,
                        "width": h.roi.width, "height": h.roi.height},
            }
            for h in msg.humans
        ],
    }
