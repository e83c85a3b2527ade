"""Start hmr_node (and optionally RViz with the mesh markers).

    ros2 launch hmr_ros hmr.launch.py image:=/camera/color/image_raw camera_info:=/camera/color/camera_info
    ros2 launch hmr_ros hmr.launch.py params_file:=/path/to/my_hmr.yaml rviz:=true rviz_fixed_frame:=camera_link
    ros2 launch hmr_ros hmr.launch.py cameras:=front,rear    # topics front/image, front/camera_info, ... per camera
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare("hmr_ros")
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw",
                              description="input image topic (sensor_msgs/Image, or CompressedImage with "
                                          "image_transport: compressed in the params file)"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info",
                              description="sensor_msgs/CameraInfo of that camera (default intrinsics without it)"),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution([share, "config", "hmr.yaml"]),
                              description="hmr_node parameters (YAML)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz showing the meshes"),
        DeclareLaunchArgument("rviz_fixed_frame", default_value="camera_optical_frame",
                              description="RViz fixed frame: the camera frame, or any frame TF connects to it"),
        DeclareLaunchArgument("cameras", default_value="",
                              description="camera names, comma-separated (e.g. front,rear): each reads <name>/image "
                                          "and <name>/camera_info and publishes <name>/humans/smpl; empty = one "
                                          "camera on the image/camera_info arguments"),
    ]
    hmr_node = Node(
        package="hmr_ros",
        executable="hmr_node",
        name="hmr_node",
        output="screen",
        # value_type=str: an empty camera list stays the string "" instead of YAML's null
        parameters=[LaunchConfiguration("params_file"),
                    {"cameras": ParameterValue(LaunchConfiguration("cameras"), value_type=str)}],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        output="screen",
        arguments=["-d", PathJoinSubstitution([share, "config", "hmr.rviz"]),
                   "-f", LaunchConfiguration("rviz_fixed_frame")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription(arguments + [hmr_node, rviz])
