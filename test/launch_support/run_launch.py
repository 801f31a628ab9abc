"""What ``ros2 launch <package> <file> [name:=value ...]`` does, without ``ros2cli``.

    python run_launch.py deblur_ros live.launch.py source:=synthetic rate:=5

Finds the launch file in the package's share folder through the ament index (so the
package must be built and its prefix on ``AMENT_PREFIX_PATH``) and runs it with
``ros2launch.api.launch_a_launch_file``, the function the ``ros2 launch`` verb calls.
SIGINT stops it as Ctrl-C stops ``ros2 launch``. The exit status is the launch service's.
"""

from __future__ import annotations

import sys

from ros2launch.api import get_share_file_path_from_package, launch_a_launch_file


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: run_launch.py PACKAGE LAUNCH_FILE [name:=value ...]", file=sys.stderr)
        return 2
    package, file_name, *arguments = argv
    path = get_share_file_path_from_package(package_name=package, file_name=file_name)
    print(f"run_launch: {path} {' '.join(arguments)}", flush=True)
    return launch_a_launch_file(launch_file_path=path, launch_file_arguments=arguments,
                                noninteractive=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
