"""Placeholders for the services ``launch_ros.actions.LoadComposableNodes`` names."""


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "composition_interfaces is a test shim (test/launch_support): composable nodes "
            "need a ROS distro install")


class LoadNode(_Unavailable):
    Request = _Unavailable
    Response = _Unavailable


class UnloadNode(_Unavailable):
    Request = _Unavailable
    Response = _Unavailable


class ListNodes(_Unavailable):
    Request = _Unavailable
    Response = _Unavailable
