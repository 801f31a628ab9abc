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


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


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
