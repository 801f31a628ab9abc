"""Import-only stand-in for ``composition_interfaces`` (a message package not on PyPI).

``launch_ros`` imports ``composition_interfaces.srv`` at module level for its
composable-node actions. deblur_ros launches no composable nodes, so the launch
tests put this folder on ``PYTHONPATH`` only so that the import succeeds; any real
use fails loudly. Never installed; a ROS distro has the real package.
"""
