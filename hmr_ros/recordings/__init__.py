"""Recordings without ROS: frames from videos, image folders and rosbag2 files (``sources``), the node's per-frame
path over them (``runner``), and what ``python -m hmr_ros run`` writes (``outputs``, ``bag_writer``)."""
