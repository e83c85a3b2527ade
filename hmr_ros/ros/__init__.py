"""The ROS 2 interface of hmr_ros: the only package that imports rclpy.

``node`` translates ROS <-> core; ``image_codec``, ``messages``, ``markers`` and ``diagnostics`` are the
conversions it uses, ``params`` the single declaration of its parameters.
"""
import pkgutil

import hmr_ros as _hmr_ros

# The generated message modules (hmr_ros.msg) exist only in the colcon install tree. When a source
# checkout comes first on sys.path (tests, development), `hmr_ros` resolves to the source directory,
# so merge every `hmr_ros` directory on sys.path into the package path to find them there.
_hmr_ros.__path__ = pkgutil.extend_path(_hmr_ros.__path__, _hmr_ros.__name__)
