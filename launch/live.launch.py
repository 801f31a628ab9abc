"""Live deblurring: the lifecycle node between a camera and its consumers.

    ros2 launch deblur_ros live.launch.py image:=/camera/image_raw \
        camera_info:=/camera/camera_info
    ros2 launch deblur_ros live.launch.py source:=synthetic   # no camera: built-in source
    ros2 launch deblur_ros live.launch.py scene:=true          # + the scene sidecar

A SLAM front end then subscribes ``output_image`` / ``output_camera_info``
(defaults: ``/deblurred/image`` and ``/deblurred/camera_info``).
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    share = FindPackageShare("deblur_ros")
    arg = LaunchConfiguration
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw",
                              description="input sensor_msgs/Image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info",
                              description="input sensor_msgs/CameraInfo topic"),
        DeclareLaunchArgument("output_image", default_value="/deblurred/image",
                              description="deblurred image topic"),
        DeclareLaunchArgument("output_camera_info", default_value="/deblurred/camera_info",
                              description="CameraInfo republished with the output's header"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "live.yaml"]),
                              description="parameters of the live node"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure and activate without a lifecycle manager"),
        DeclareLaunchArgument("source", default_value="",
                              description="also start camera_source: 'synthetic', a video, a "
                                          "folder of frames or a V4L2 camera (/dev/video0 or "
                                          "0) (empty: another driver publishes 'image')"),
        DeclareLaunchArgument("rate", default_value="10.0",
                              description="camera_source frame rate (Hz; 5 and 5.0 both work)"),
        DeclareLaunchArgument("scene", default_value="false",
                              description="also start the scene sidecar (scene_node, "
                                          "config/scene.yaml): fits a scene model to the "
                                          "drive and publishes it on /scene/image"),
        DeclareLaunchArgument("scene_image", default_value=arg("image"),
                              description="the scene node's input: the camera (default) or "
                                          "the live output for refinement (/deblurred/image)"),
    ]
    live = LifecycleNode(
        package="deblur_ros",
        executable="live_node",
        name="deblur_live",
        namespace="",
        output="screen",
        parameters=[arg("params_file"), {"autostart": arg("autostart")}],
        remappings=[
            ("image", arg("image")),
            ("camera_info", arg("camera_info")),
            ("deblurred/image", arg("output_image")),
            ("deblurred/camera_info", arg("output_camera_info")),
        ],
    )
    source = Node(
        package="deblur_ros",
        executable="camera_source",
        name="camera_source",
        output="screen",
        condition=IfCondition(PythonExpression(["'", arg("source"), "' != ''"])),
        parameters=[PathJoinSubstitution([share, "config", "camera_source.yaml"]),
                    # Launch arguments arrive typed by YAML rules (rate:=5 is an integer,
                    # source:=0 too): give the node the types it declares.
                    {"source": ParameterValue(arg("source"), value_type=str),
                     "rate": ParameterValue(arg("rate"), value_type=float)}],
        remappings=[("image", arg("image")), ("camera_info", arg("camera_info"))],
    )
    scene = LifecycleNode(
        package="deblur_ros",
        executable="scene_node",
        name="deblur_scene",
        namespace="",
        output="screen",
        condition=IfCondition(arg("scene")),
        parameters=[PathJoinSubstitution([share, "config", "scene.yaml"]),
                    {"autostart": arg("autostart")}],
        remappings=[("image", arg("scene_image")), ("camera_info", arg("camera_info")),
                    ("scene/image", "/scene/image"),
                    ("scene/camera_info", "/scene/camera_info"),
                    ("scene/status", "/scene/status")],
    )
    return LaunchDescription([*arguments, live, source, scene])
