"""In-process ROS 2 harness: a private context, an executor thread, an isolated DDS domain."""

from __future__ import annotations

import os
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy not installed: pip install -e .[ros]")

# Every test run gets its own domain and stays on this host, so parallel runs
# (and other robots on the network) never see each other's topics.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOCALHOST_ONLY", "1")

from rclpy.executors import MultiThreadedExecutor  # noqa: E402


class RosHarness:
    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.nodes = []
        self._thread = threading.Thread(target=self._spin, name="test_spin")
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - context shut down under us at teardown
            pass

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str):
        return self.add(rclpy.create_node(name, context=self.context))

    @staticmethod
    def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return predicate()

    def close(self) -> None:
        # Stop spinning first: destroying entities under a spinning executor leaves
        # "destruction was requested" errors in its pending tasks.
        self.executor.shutdown()
        self._thread.join(timeout=10)
        for node in self.nodes:
            shutdown = getattr(node, "shutdown_quietly", None)
            if shutdown is not None:
                shutdown()
        for node in self.nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.close()
