"""hmr_ros: multi-person video 3D human mesh recovery (SIAM) for ROS 2.

The core (everything outside ``hmr_ros.ros``) imports without rclpy. Data path::

    image -> Estimator.step -> [letterbox -> frame_net -> FrameBuffer -> temporal_net
          -> camera -> body model] -> list[Body] -> (tracker) -> ROS messages
"""
__version__ = "0.1.0"

from hmr_ros.bodies import Body  # noqa: F401  (light: numpy only)
