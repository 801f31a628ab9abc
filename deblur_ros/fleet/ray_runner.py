"""Every bag under a folder deblurred on Ray: one task per bag, the bag job unchanged.

Each task runs :func:`deblur_ros.jobs.bag_deblur.deblur_bag` (the function behind
``deblur-ros bag``), so a fleet run writes the same bytes as a single one. What makes a
fleet run safe to repeat: the job builds its output in ``OUT.incomplete`` and moves it
into place only when complete, so

- a bag whose output exists is finished (a re-run skips it: runs are resumable);
- a task Ray retries after its worker died starts clean (the job removes the stale
  ``.incomplete`` folder) and cannot leave a duplicate or a half output;
- a bag the job refuses (damaged, no image topic) fails alone, with its one-line reason
  in the table, and the other bags go on.

Ray is the optional extra ``.[fleet]``; this module imports it only when run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from deblur_ros.jobs.bag_deblur import INCOMPLETE, BagOptions

__all__ = ["FleetRow", "find_bags", "run_fleet"]


class FleetError(Exception):
    """A fleet problem (no bags, Ray missing or unreachable), in one line."""


@dataclass
class FleetRow:
    bag: str  # relative to the input folder
    status: str  # done, skipped, failed
    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    output: str = ""
    error: str = ""


def find_bags(root: Path) -> list[Path]:
    """rosbag2 folders under ``root`` (a folder holding metadata.yaml), sorted; a bag's
    own folder is not searched further, and our own unfinished outputs are skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "metadata.yaml" in filenames:
            found.append(Path(dirpath))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.endswith(INCOMPLETE))
    return sorted(found)


def _task(src: str, dst: str, options: dict[str, Any]) -> dict[str, Any]:
    """One bag: what a Ray worker runs. Refusals come back as rows, not exceptions, so
    Ray retries only what is worth retrying (a worker that died)."""
    from deblur_ros.jobs.bag_deblur import BagError, deblur_bag

    try:
        summary = deblur_bag(src, dst, BagOptions(**options))
    except BagError as exc:
        return {"status": "failed", "error": str(exc)}
    except OSError as exc:
        return {"status": "failed", "error": f"{exc.strerror or exc} ({exc.filename or dst})"}
    return {"status": "done", "frames": summary.frames, "seconds": summary.seconds,
            "fps": summary.fps, "output": summary.output}


def _ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from robots
    try:
        import ray
    except ImportError:
        raise FleetError("deblur-ros fleet needs Ray: pip install 'deblur_ros[fleet]' "
                         "(or pip install ray)") from None
    return ray


def run_fleet(in_dir: str | Path, out_dir: str | Path, options: BagOptions | None = None,
              address: str | None = None, workers: int | None = None,
              cpus_per_task: int = 1, retries: int = 2,
              on_row: Callable[[FleetRow], None] | None = None) -> list[FleetRow]:
    """Deblur every bag under ``in_dir`` into the same relative path under ``out_dir``.

    ``address`` None starts a local Ray with ``workers`` CPUs (default: all cores);
    ``auto`` or ``ray://host:port`` joins an existing cluster, whose nodes need
    deblur_ros installed. Each task asks Ray for ``cpus_per_task`` CPUs (and a GPU when
    the model runs on CUDA) and runs the model with that many threads.
    """
    in_dir, out_dir = Path(in_dir).expanduser(), Path(out_dir).expanduser()
    options = options or BagOptions()
    if not in_dir.is_dir():
        raise FleetError(f"input folder {str(in_dir)!r} does not exist")
    if out_dir.resolve() == in_dir.resolve() or in_dir.resolve() in out_dir.resolve().parents:
        raise FleetError(f"output folder {str(out_dir)!r} is inside the input folder; write "
                         "the outputs elsewhere (inputs are never modified)")
    bags = find_bags(in_dir)
    if not bags:
        raise FleetError(f"no rosbag2 bag (a folder with metadata.yaml) under {str(in_dir)!r}")
    rows: list[FleetRow] = []
    todo: list[tuple[str, Path, Path]] = []
    for src in bags:
        rel = src.relative_to(in_dir).as_posix() if src != in_dir else src.name
        dst = out_dir / rel
        if (dst / "metadata.yaml").is_file() and not options.overwrite:
            rows.append(FleetRow(rel, "skipped", output=str(dst),
                                 error="already done (its output exists)"))
            if on_row:
                on_row(rows[-1])
        else:
            todo.append((rel, src, dst))
    if not todo:
        return rows
    ray = _ray()
    gpu = options.device.startswith("cuda") or (options.device == "auto" and _has_cuda())
    task_options = replace(options, threads=options.threads or cpus_per_task)
    started = False
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                     log_to_driver=False, object_store_memory=128 * 2**20,
                     configure_logging=False)
        started = True
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; say it in one line
        raise FleetError(f"cannot start or reach Ray ({address or 'local'}): "
                         f"{' '.join(str(exc).split())[:300]}") from None
    try:
        remote = ray.remote(_task).options(num_cpus=cpus_per_task, num_gpus=1 if gpu else 0,
                                           max_retries=retries)
        payload = asdict(task_options)
        pending = {remote.remote(str(src), str(dst), payload): (rel, dst)
                   for rel, src, dst in todo}
        out_dir.mkdir(parents=True, exist_ok=True)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            rel, dst = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - the task failed after its retries
                result = {"status": "failed",
                          "error": f"task failed after {retries} retries: "
                                   f"{' '.join(str(exc).split())[:300]}"}
            row = FleetRow(rel, **result)
            rows.append(row)
            if on_row:
                on_row(row)
    finally:
        if started and not address:
            ray.shutdown()
    order = {rel: i for i, rel in enumerate(sorted(r.bag for r in rows))}
    return sorted(rows, key=lambda r: order[r.bag])


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
