"""deblur_ros: motion-blur removal for ROS 2 camera streams.

Layers (dependencies point downward only):
``core`` (numpy, OpenCV, PyTorch; never imports rclpy) <- ``adapters``
(ROS messages, bags, video files) <- ``nodes`` and ``cli``.
"""

__version__ = "0.1.0"
