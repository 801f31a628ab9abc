"""The scene sidecar: fits a scene model to a drive's sharpest frames and republishes it.

    ros2 launch deblur_ros scene.launch.py image:=/camera/image_raw
    ros2 launch deblur_ros scene.launch.py image:=/deblurred/image   # refine the live output
    ros2 service call /deblur_scene/fit std_srvs/srv/Trigger          # fit now

Output: ``output_image`` / ``output_camera_info`` (defaults ``/scene/image`` and
``/scene/camera_info``), status on ``/scene/status``.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    share = FindPackageShare("deblur_ros")
    arg = LaunchConfiguration
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw",
                              description="input sensor_msgs/Image topic (a camera, or the "
                                          "live node's output)"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info",
                              description="input sensor_msgs/CameraInfo topic"),
        DeclareLaunchArgument("output_image", default_value="/scene/image",
                              description="the drive deblurred by the scene model"),
        DeclareLaunchArgument("output_camera_info", default_value="/scene/camera_info",
                              description="CameraInfo with the output's header"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "scene.yaml"]),
                              description="parameters of the scene node"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure and activate without a lifecycle manager"),
    ]
    scene = LifecycleNode(
        package="deblur_ros",
        executable="scene_node",
        name="deblur_scene",
        namespace="",
        output="screen",
        parameters=[arg("params_file"), {"autostart": arg("autostart")}],
        remappings=[
            ("image", arg("image")),
            ("camera_info", arg("camera_info")),
            ("scene/image", arg("output_image")),
            ("scene/camera_info", arg("output_camera_info")),
            ("scene/status", "/scene/status"),
        ],
    )
    return LaunchDescription([*arguments, scene])
