"""Neural network modules of hmr_ros (pure PyTorch, no rclpy).

``hrnet`` (backbone) -> ``instances`` (frame head: fusion, centre heatmap, top-K tokens) -> ``sia`` (attention over
people and frames) -> ``fd`` (feature decomposition) -> ``smpl_head`` (iterative SMPL regression); ``siam``
assembles them into the two exported graphs, FrameNet and TemporalNet.
"""
from hmr_ros.model.siam import SIAM, FrameNet, SIAMConfig, TemporalNet  # noqa: F401
