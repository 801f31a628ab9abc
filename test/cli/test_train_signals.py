"""A training run stopped by a real signal keeps its progress and the same command resumes
it (runs of hours are stopped by a service manager or a shell, not only by Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from deblur_ros.core.models.checkpoint import read_checkpoint


def _step(path) -> int:
    return int(read_checkpoint(path, architecture="unet")["train_state"]["step"])


def test_sigterm_stops_scene_meta_cleanly_and_the_same_command_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "deblur_ros.cli.main", "train", "scene-meta", "--out", str(out),
           "--width", "4", "--depth", "2", "--tasks", "1", "--crops", "2", "--crop", "32",
           "--val-every", "5", "--threads", "1", "--photos", str(tmp_path / "none")]
    proc = subprocess.Popen([*cmd, "--iterations", "100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "last.pt").exists(), proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(1.0)  # a few more steps past the first save
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "the same command resumes" in err and "Traceback" not in err
    stopped_at = _step(out / "last.pt")
    assert stopped_at >= 5  # saved on the way out, not only at the last validation
    # Resume: the step count continues from where it stopped.
    done = subprocess.run([*cmd, "--iterations", str(stopped_at + 3)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _step(out / "last.pt") == stopped_at + 3
    exported = out / "unet-w4-d2-maml.pt"
    assert exported.exists()
    assert torch.load(exported, weights_only=True)["architecture"] == "unet"


def test_sigterm_to_the_process_group_stops_train_live_cleanly(tmp_path):
    """A service manager or ``timeout`` signals the whole process group, loader workers
    included: a worker that died first used to turn the trainer's clean stop into a
    RuntimeError traceback that lost every step since the last save."""
    out = tmp_path / "run"
    (tmp_path / "photos").mkdir()  # empty: procedural images, no ../shared needed
    cmd = [sys.executable, "-m", "deblur_ros.cli.main", "train", "live",
           *_tiny_live_run(out, tmp_path / "photos", save_every=5, iterations=100000)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not (out / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "last.pt").exists(), proc.stderr.read() if proc.poll() is not None else ""
        saved_first = _step_live(out / "last.pt")
        time.sleep(2.0)  # more steps past that save, not yet saved
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "the same command resumes" in err, err[-2000:]
    stopped_at = _step_live(out / "last.pt")
    assert stopped_at > saved_first, (stopped_at, saved_first)


def _tiny_live_run(out, photos, save_every: int, iterations: int) -> list[str]:
    """`train live` options for a width-4 run on procedural images with one loader worker
    (the worker is what a stop or an error must shut down)."""
    return ["--out", str(out), "--width", "4", "--crop", "32", "--clip-frames", "3",
            "--batch", "2", "--val-every", "1000", "--save-every", str(save_every),
            "--val-photos", "1", "--val-size", "32", "--workers", "1", "--threads", "1",
            "--photos", str(photos), "--iterations", str(iterations)]


def _step_live(path) -> int:
    return int(read_checkpoint(path)["train_state"]["step"])


FULL_DISK_AT_SECOND_SAVE = """
import errno, sys, torch
from deblur_ros.cli.main import main
real_save, saves = torch.save, []
def save(obj, f, *args, **kwargs):
    if str(f).endswith("last.pt.tmp"):
        saves.append(f)
        if len(saves) == 2:  # the disk fills up halfway through the second save
            with open(f, "wb") as half:
                half.write(b"PK half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device", str(f))
    return real_save(obj, f, *args, **kwargs)
torch.save = save
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_ends_train_live_in_one_line_and_keeps_the_last_save(tmp_path):
    """Loader workers ignore SIGTERM (so a group stop reaches the trainer first); after an
    error the process used to print a traceback and then hang at exit, joining them."""
    out = tmp_path / "run"
    (tmp_path / "photos").mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK_AT_SECOND_SAVE)
    cmd = [sys.executable, str(script), "train", "live",
           *_tiny_live_run(out, tmp_path / "photos", save_every=3, iterations=100)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert "No space left on device" in err and "run the same command to resume" in err
    assert _step_live(out / "last.pt") == 3  # the first save, whole
    assert not (out / "last.pt.tmp").exists()  # no half file left behind
