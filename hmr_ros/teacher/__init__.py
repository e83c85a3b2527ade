"""Real-image supervision: a pose teacher whose keypoints label real frames (``python -m hmr_ros label``).

``BlazePose`` (``blazepose.py``) runs Google's BlazePose GHUM detector and landmark models (Apache-2.0) with LiteRT
on the CPU; ``proposals.py`` says where it looks (tiles at several scales, regions around given boxes) and merges
what it finds; ``anchors.py`` decodes the detector; ``landmarks.py`` names the landmarks and their COCO subset.
The model files are not part of the package: ``scripts/fetch_teacher.sh`` puts them in the cache.
"""
from hmr_ros.teacher.blazepose import BlazePose, TeacherPerson, TeacherUnavailable  # noqa: F401
