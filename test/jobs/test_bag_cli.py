"""``deblur-ros bag`` and ``deblur-ros fleet`` as users run them: subprocesses, real
signals, a real local Ray with two workers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bag_fixtures import CAMERA, BagSpec, read_all, write_bag

from deblur_ros.jobs.bag_deblur import BagOptions, deblur_bag, incomplete_path

pytestmark = pytest.mark.timeout(180)
CLI = [sys.executable, "-m", "deblur_ros.cli.main"]


def _run(*args: str, timeout: float = 120, env: dict | None = None
         ) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_bag_command_writes_the_bag_and_a_summary(tmp_path):
    src = write_bag(tmp_path / "in", BagSpec(frames=4, storage="sqlite3", version=8))
    done = _run("bag", str(src), str(tmp_path / "out"), "--topic", CAMERA, "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert f"{CAMERA} -> {CAMERA}/deblurred: 4 frames, deblurred 4, dropped 0" in done.stdout
    assert "sqlite3, metadata version 8" in done.stdout
    assert len([m for m in read_all(tmp_path / "out") if m[0] == CAMERA + "/deblurred"]) == 4


def test_bag_command_refusal_is_one_line_with_exit_code_2(tmp_path):
    src = write_bag(tmp_path / "in", BagSpec(frames=2))
    done = _run("bag", str(src), str(tmp_path / "out"), "--topic", "/imu/data")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an image" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()


def test_bag_mirror_goes_with_the_live_model_only(tmp_path):
    src = write_bag(tmp_path / "in", BagSpec(frames=2))
    done = _run("bag", str(src), str(tmp_path / "out"), "--mode", "scene", "--mirror", "2")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--mirror goes with the live model" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()
    done = _run("bag", str(src), str(tmp_path / "out"), "--mirror", "4", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert len([m for m in read_all(tmp_path / "out") if m[0] == CAMERA + "/deblurred"]) == 2


@pytest.fixture(scope="module")
def long_bag(tmp_path_factory) -> Path:
    """VGA frames, enough of them that a run is still going when the signal comes."""
    return write_bag(tmp_path_factory.mktemp("long") / "in",
                     BagSpec(frames=60, width=640, height=480))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_leaves_no_output_and_a_rerun_completes(tmp_path, long_bag, signum):
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "bag", str(long_bag), str(out), "--threads", "1",
                             "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    work = incomplete_path(out) / "out"
    while not any(work.glob("*.mcap")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the signal: make the bag longer"
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert not out.exists(), "an interrupted run left something that looks like a bag"
    if signum == signal.SIGKILL:
        assert incomplete_path(out).exists()  # nothing could clean up; the re-run will
    else:
        assert proc.returncode == 130, err
        assert "Traceback" not in err and not incomplete_path(out).exists()
    again = _run("bag", str(long_bag), str(out), "--threads", "1", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert not incomplete_path(out).exists()
    assert len([m for m in read_all(out) if m[0] == CAMERA + "/deblurred"]) == 60


def test_fleet_on_two_ray_workers_matches_the_single_process_bytes(tmp_path):
    pytest.importorskip("ray", reason="Ray not installed: pip install -e .[fleet]")
    fleet_in = tmp_path / "fleet"
    a = write_bag(fleet_in / "monday" / "drive_a", BagSpec(frames=5))
    b = write_bag(fleet_in / "drive_b", BagSpec(frames=3, storage="sqlite3", version=8))
    broken = write_bag(fleet_in / "drive_c", BagSpec(frames=2))
    next(broken.glob("*.mcap")).write_bytes(b"garbage")
    out = tmp_path / "out"
    done = _run("fleet", str(fleet_in), str(out), "--workers", "2", "--cpus-per-task", "1",
                timeout=170)
    assert done.returncode == 1, done.stdout + done.stderr  # drive_c failed
    table = done.stdout
    assert "2 done, 0 skipped, 1 failed; 8 frames" in table, table
    assert "drive_c" in table and "truncated or corrupt" in table
    for src, rel in ((a, "monday/drive_a"), (b, "drive_b")):
        single = tmp_path / "single" / rel
        deblur_bag(src, single, BagOptions(threads=1))
        assert read_all(out / rel) == read_all(single)
    stamp = (out / "drive_b" / "metadata.yaml").stat().st_mtime_ns
    shutil.rmtree(broken)
    again = _run("fleet", str(fleet_in), str(out), "--workers", "2", timeout=170)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 done, 2 skipped, 0 failed" in again.stdout
    assert (out / "drive_b" / "metadata.yaml").stat().st_mtime_ns == stamp


def test_fleet_without_bags_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _run("fleet", str(tmp_path / "empty"), str(tmp_path / "out"))
    assert done.returncode == 2 and "no rosbag2 bag" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# Loaded by every Python of the fleet run through PYTHONPATH: the first bag writer to
# reach its 10th message kills its worker process outright, once (the marker file).
_CRASH_ONCE = """
import os
marker = os.environ.get("DEBLUR_TEST_CRASH_MARKER")
if marker:
    from deblur_ros.adapters import bags

    _write = bags.BagWriter.write

    def write(self, conn, timestamp, data):
        if sum(self.counts.values()) == 10:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os._exit(1)
        _write(self, conn, timestamp, data)

    bags.BagWriter.write = write
"""


def test_fleet_retries_a_task_whose_worker_died_without_a_duplicate(tmp_path):
    pytest.importorskip("ray", reason="Ray not installed: pip install -e .[fleet]")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_CRASH_ONCE)
    marker = tmp_path / "crashed"
    src = write_bag(tmp_path / "fleet" / "drive", BagSpec(frames=5))
    env = dict(os.environ, DEBLUR_TEST_CRASH_MARKER=str(marker),
               PYTHONPATH=os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([*CLI, "fleet", str(tmp_path / "fleet"), str(tmp_path / "out"),
                           "--workers", "1", "--retries", "1"], capture_output=True,
                          text=True, timeout=170, env=env)
    assert marker.exists(), "the worker was never killed: the test proves nothing"
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 done, 0 skipped, 0 failed; 5 frames" in done.stdout
    single = tmp_path / "single"
    deblur_bag(src, single, BagOptions(threads=1))
    assert read_all(tmp_path / "out" / "drive") == read_all(single)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["drive"]


def test_bench_bag_prints_the_bag_and_model_rows(tmp_path):
    out = tmp_path / "bag.json"
    done = _run("bench", "--bag", "--frames", "6", "--no-fleet", "--threads", "1",
                "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "bag tool overhead over the bare model:" in done.stdout
    import json
    rows = json.loads(out.read_text())
    assert [r["path"] for r in rows] == ["model", "bag"]
    assert all(r["frames"] == 6 and r["fps"] > 0 for r in rows)


def test_spans_cover_every_message_exactly_once(tmp_path):
    from rosbags.rosbag2 import Reader

    from deblur_ros.jobs.bag_parts import plan_spans

    src = write_bag(tmp_path / "in", BagSpec(frames=30))
    spans = plan_spans(src, 1.0)
    assert len(spans) == 3
    stamps = [m[2] for m in read_all(src)]
    assert sorted(sum(([t for t in stamps if s.start_ns <= t < s.stop_ns] for s in spans),
                      [])) == sorted(stamps)
    with Reader(src) as reader:
        assert spans[0].start_ns == reader.start_time and spans[-1].stop_ns == reader.end_time
    assert len(plan_spans(src, 2.5)) == 1  # shorter than 1.5 parts: not split


def test_fleet_parts_are_stitched_losslessly_and_resume(tmp_path):
    """A bag split in three parts: every message once, in order, byte-identical except
    the deblurred frames, which differ from a single pass only where a part's recurrent
    state starts from 1 s of warm-up instead of the whole drive."""
    pytest.importorskip("ray", reason="Ray not installed: pip install -e .[fleet]")
    import numpy as np
    from bag_fixtures import TS

    from deblur_ros.fleet.ray_runner import parts_folder
    from deblur_ros.jobs.bag_parts import plan_spans

    src = write_bag(tmp_path / "fleet" / "drive", BagSpec(frames=30))
    single = tmp_path / "single"
    deblur_bag(src, single, BagOptions(threads=1))
    out = tmp_path / "out"
    # a part finished by an earlier, interrupted run is kept, not redone
    span = plan_spans(src, 1.0)[1]
    deblur_bag(src, parts_folder(out / "drive") / "part-0001", BagOptions(threads=1),
               span=span)
    done = _run("fleet", str(tmp_path / "fleet"), str(out), "--workers", "2",
                "--part-seconds", "1", timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 parts stitched (1 from an earlier run)" in done.stdout, done.stdout
    assert not parts_folder(out / "drive").exists()
    a, b = read_all(single), read_all(out / "drive")
    assert [m[:3] for m in a] == [m[:3] for m in b]
    worst = 0
    for x, y in zip(a, b):
        if x[0] == CAMERA + "/deblurred":
            px = TS.deserialize_cdr(x[3], x[1]).data.astype(int)
            py = TS.deserialize_cdr(y[3], y[1]).data.astype(int)
            worst = max(worst, int(np.abs(px - py).max()))
        else:
            assert x == y
    assert worst <= 2, f"a part's frames differ by {worst} levels from a single pass"


def test_fleet_joins_a_running_ray_cluster_by_address(tmp_path):
    """--address: the driver joins a cluster started apart (here a head on this host),
    leaves it running, and the outputs are the same."""
    pytest.importorskip("ray", reason="Ray not installed: pip install -e .[fleet]")
    ray_bin = Path(sys.executable).with_name("ray")
    port = 20000 + os.getpid() % 20000
    # Ray 2.60 clusters want a token by default; this throwaway head runs without one.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    head = subprocess.run([str(ray_bin), "start", "--head", f"--port={port}", "--num-cpus=2",
                           "--include-dashboard=false", "--disable-usage-stats"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert head.returncode == 0, head.stdout + head.stderr
    try:
        src = write_bag(tmp_path / "fleet" / "drive", BagSpec(frames=3))
        done = _run("fleet", str(tmp_path / "fleet"), str(tmp_path / "out"), "--address",
                    f"127.0.0.1:{port}", timeout=170, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        single = tmp_path / "single"
        deblur_bag(src, single, BagOptions(threads=1))
        assert read_all(tmp_path / "out" / "drive") == read_all(single)
        status = subprocess.run([str(ray_bin), "status", f"--address=127.0.0.1:{port}"],
                                capture_output=True, text=True, timeout=60, env=env)
        assert status.returncode == 0, "the driver stopped the cluster it joined"
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], capture_output=True, timeout=120,
                       env=env)
