"""The ROS 2 interface of hmr_ros: the only package that imports rclpy.

``node`` translates ROS <-> core: ``camera_input`` holds one camera's subscriptions and publishers, ``messages``,
``markers`` and ``diagnostics`` are the conversions it uses (image decoding, stamps and CameraInfo are the ROS-free
``hmr_ros.camera_messages``), ``params`` declares the parameters of ``hmr_ros.parameters`` to rclpy; ``demo*`` are
``make demo``.
"""
import pkgutil

import hmr_ros as _hmr_ros

# The generated message modules (hmr_ros.msg) exist only in the colcon install tree. When a source
# checkout comes first on sys.path (tests, development), `hmr_ros` resolves to the source directory,
# so merge every `hmr_ros` directory on sys.path into the package path to find them there.
_hmr_ros.__path__ = pkgutil.extend_path(_hmr_ros.__path__, _hmr_ros.__name__)
