"""BlazePose GHUM's 33 landmarks, the COCO-17 keypoints among them, and the SMPL joint slots they supervise.

BlazePose names follow the person's own left/right (``left_hip`` is the hip on the person's left, on the image's
right when they face the camera), as COCO's and SMPL's do, so no side is swapped anywhere below.
"""
from __future__ import annotations

#: The 33 landmarks of ``pose_landmark_{lite,full,heavy}.tflite`` in output order (6 auxiliary ROI points follow).
BLAZEPOSE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
#: COCO-17 keypoint order (``datasets.coco.COCO17``) -> the BlazePose landmark of the same name.
COCO17_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: The 12 COCO body joints (shoulders, elbows, wrists, hips, knees, ankles) as indices into COCO-17: the joints the
#: keypoint protocol's PCK and person matching use, and the ones SMPL has a joint for.
COCO_BODY12 = tuple(range(5, 17))
