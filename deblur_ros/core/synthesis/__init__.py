"""Synthetic (blurry, sharp) video for training and demos, from still photos or procedurally.

Modules: colour (sRGB curves), procedural (dead leaves), photos (photo pools), trajectory
(camera motion), layers (moving cut-outs), degrade (noise, JPEG), render (training clips),
shaky_camera (endless demo video), dataset (PyTorch wrapper; the only module importing torch, so
it is not imported here). Nothing in this package depends on ROS.
"""
