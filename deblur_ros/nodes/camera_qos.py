"""Which reliability a node should subscribe a camera with (shared by both nodes).

A best-effort reader gets a best-effort connection even from a reliable camera. On a
stock Fast DDS setup an image over the 512 KB shared-memory segment (VGA rgb8 and up)
then travels as UDP fragments, and one lost fragment loses the frame: measured here, 0
of 50 VGA frames from a camera in another process arrived at a best-effort subscriber,
50 of 50 at a reliable one. So "auto" subscribes reliable whenever every camera
publisher offers it; a best-effort camera still connects (a reliable reader would not
match it). Nodes call this again on a timer to follow cameras as they come and go.
"""

from __future__ import annotations

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy

from deblur_ros.nodes.params import Param

RELIABILITY = {"reliable": ReliabilityPolicy.RELIABLE,
               "best_effort": ReliabilityPolicy.BEST_EFFORT}


def reliability_param(depth: int) -> Param:
    return Param(
        "image_reliability", "auto",
        f"QoS reliability of the image subscription (depth {depth}): auto (reliable when "
        "every camera publisher offers it, else best_effort), reliable, best_effort",
        choices=("auto", *RELIABILITY), check_choices_later=True)


def wanted_reliability(node: Node, mode: str, topic: str = "image") -> ReliabilityPolicy:
    if mode in RELIABILITY:
        return RELIABILITY[mode]
    offered = [info.qos_profile.reliability
               for info in node.get_publishers_info_by_topic(node.resolve_topic_name(topic))]
    if offered and all(r == ReliabilityPolicy.RELIABLE for r in offered):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


def no_event_handlers() -> SubscriptionEventCallbacks:
    """For an image subscription that a timer replaces while the node spins: without
    QoS-event handlers it adds no waitable to the executor. With rclpy's default ones,
    destroying the subscription while another executor thread builds its wait set
    raises InvalidHandle in that thread and kills the node (seen here under load; the
    open rclpy issues #1142 and #1206)."""
    return SubscriptionEventCallbacks(use_default_callbacks=False)
