"""``deblur-ros bench --scene-memory`` drives a real scene_node from a real camera process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("rclpy", reason="rclpy not installed: pip install -e .[ros]")


@pytest.mark.timeout(120)
def test_scene_memory_bench_reports_what_the_node_holds(tmp_path):
    out = tmp_path / "memory.json"
    done = subprocess.run(
        [sys.executable, "-m", "deblur_ros.cli.main", "bench", "--scene-memory",
         "--frames", "60", "--rate", "40", "--size", "64x48", "-p", "fit_after:=0",
         "--json", str(out)], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    # The camera starts once the node's subscription matches; a node that falls behind
    # loses frames at the writer (depth 2), as behind a real driver: allow a few.
    assert result["frames_published"] == 60
    assert 55 <= result["frames_received"] <= 60
    last = result["rows"][-1]
    assert last["frames"] == result["frames_received"]
    assert last["selected"] == result["frames_received"] // 20  # one per window of 20
    assert last["spool_refused"] == 0 and last["fits_done"] == 0
    assert result["peak"]["spool_mb"] >= 0.4  # ~57 serialised 64x48 rgb8 frames: 0.5 MB
    assert 0 < result["start_rss_mb"] <= result["peak"]["node_hwm_mb"]
