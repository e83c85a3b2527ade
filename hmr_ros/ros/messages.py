"""Core ``Body`` results <-> ``hmr_ros/SMPLHumanArray`` messages (and plain dicts for JSON logs); the fields are
``hmr_ros.smpl_human``'s table, which ``run --bag-out`` fills too."""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import RegionOfInterest

import hmr_ros.ros  # noqa: F401  (makes the generated hmr_ros.msg importable from a source checkout)
from hmr_ros.bodies import Body, box_roi
from hmr_ros.msg import SMPLHuman, SMPLHumanArray
from hmr_ros.smpl_human import fill_smpl_human, smpl_human_record


def box_to_roi(box: np.ndarray, width: int, height: int) -> RegionOfInterest:
    """(4,) x0, y0, x1, y1 pixel box -> RegionOfInterest clipped to a ``width`` x ``height`` image (``box_roi``)."""
    roi = RegionOfInterest()
    roi.x_offset, roi.y_offset, roi.width, roi.height = box_roi(box, width, height)
    return roi


def body_to_msg(body: Body, width: int, height: int) -> SMPLHuman:
    """One ``Body`` -> ``SMPLHuman`` (units and frames are those of ``Body``: metres, camera optical frame)."""
    return fill_smpl_human(SMPLHuman(), body, width, height, Point)


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
        "humans": [smpl_human_record(h) for h in msg.humans],
    }
