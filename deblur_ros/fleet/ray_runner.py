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

A long bag can be split by time (``part_seconds``): each part is a task of its own
(:mod:`jobs.bag_parts`), finished parts are kept under ``OUT.parts/`` across re-runs, and
the bag is stitched from them, message for message, once all are done.

Ray is the optional extra ``.[fleet]``; this module imports it only when run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from deblur_ros.jobs.bag_deblur import INCOMPLETE, BagOptions, Span

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
    parts: int = 1


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


def _task(src: str, dst: str, options: dict[str, Any], span: dict[str, int] | None = None
          ) -> dict[str, Any]:
    """One bag or one part of one: what a Ray worker runs. Refusals come back as rows,
    not exceptions, so Ray retries only what is worth retrying (a worker that died)."""
    from deblur_ros.jobs.bag_deblur import BagError, deblur_bag

    try:
        summary = deblur_bag(src, dst, BagOptions(**options),
                             span=Span(**span) if span else None)
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


def parts_folder(dst: Path) -> Path:
    return dst.with_name(dst.name + ".parts")


def run_fleet(in_dir: str | Path, out_dir: str | Path, options: BagOptions | None = None,
              address: str | None = None, workers: int | None = None,
              cpus_per_task: int = 1, retries: int = 2, part_seconds: float = 0.0,
              on_row: Callable[[FleetRow], None] | None = None) -> list[FleetRow]:
    """Deblur every bag under ``in_dir`` into the same relative path under ``out_dir``.

    ``address`` None starts a local Ray with ``workers`` CPUs (default: all cores);
    ``auto`` or ``ray://host:port`` joins an existing cluster, whose nodes need
    deblur_ros installed. Each task asks Ray for ``cpus_per_task`` CPUs (and a GPU when
    the model runs on CUDA) and runs the model with that many threads. ``part_seconds`` >
    0 splits bags longer than 1.5 parts into parts of about that length (live mode, or
    scene mode with a fitted ``--model``).
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
    splittable = options.mode == "live" or bool(options.model)
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
        pending: dict[Any, tuple[str, int]] = {}
        jobs: dict[str, _BagJob] = {}
        for rel, src, dst in todo:
            spans = _spans(src, part_seconds) if part_seconds > 0 and splittable else [None]
            job = jobs[rel] = _BagJob(rel, src, dst, spans)
            for i, span in enumerate(spans):
                target = job.target(i)
                if span is not None and (target / "metadata.yaml").is_file() \
                        and not options.overwrite:
                    job.results[i] = {"status": "done", "frames": 0, "seconds": 0.0,
                                      "fps": 0.0, "resumed": True}
                    continue
                ref = remote.remote(str(src), str(target), payload,
                                    asdict(span) if span is not None else None)
                pending[ref] = (rel, i)
        out_dir.mkdir(parents=True, exist_ok=True)
        finished = [job for job in jobs.values() if job.complete()]
        while pending or finished:
            for job in finished:
                row = job.row()
                rows.append(row)
                if on_row:
                    on_row(row)
            finished = []
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1)
            rel, i = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - the task failed after its retries
                result = {"status": "failed",
                          "error": f"task failed after {retries} retries: "
                                   f"{' '.join(str(exc).split())[:300]}"}
            jobs[rel].results[i] = result
            if jobs[rel].complete():
                finished.append(jobs[rel])
    finally:
        if started:  # stops a local instance; only disconnects from a cluster
            ray.shutdown()
    order = {rel: i for i, rel in enumerate(sorted(r.bag for r in rows))}
    return sorted(rows, key=lambda r: order[r.bag])


def _spans(src: Path, part_seconds: float) -> list[Span | None]:
    from deblur_ros.jobs.bag_deblur import BagError
    from deblur_ros.jobs.bag_parts import plan_spans

    try:
        spans = plan_spans(src, part_seconds)
    except BagError:
        return [None]  # the task says what is wrong with the bag, in its row
    return [None] if len(spans) < 2 else list(spans)


class _BagJob:
    """One bag of the run: its tasks' results, and the stitch once all parts are done."""

    def __init__(self, rel: str, src: Path, dst: Path, spans: list[Span | None]) -> None:
        self.rel, self.src, self.dst, self.spans = rel, src, dst, spans
        self.results: dict[int, dict[str, Any]] = {}

    def target(self, i: int) -> Path:
        if self.spans[i] is None:
            return self.dst
        return parts_folder(self.dst) / f"part-{i:04d}"

    def complete(self) -> bool:
        return len(self.results) == len(self.spans)

    def row(self) -> FleetRow:
        failed = [r for r in self.results.values() if r["status"] != "done"]
        if failed:
            return FleetRow(self.rel, "failed", error=failed[0].get("error", ""),
                            parts=len(self.spans))
        if self.spans[0] is None:
            return FleetRow(self.rel, **self.results[0])
        from deblur_ros.jobs.bag_deblur import BagError
        from deblur_ros.jobs.bag_parts import stitch_parts

        parts = [self.target(i) for i in range(len(self.spans))]
        try:
            stitch_parts(parts, self.dst)
        except BagError as exc:
            return FleetRow(self.rel, "failed", error=str(exc), parts=len(parts))
        shutil.rmtree(parts_folder(self.dst), ignore_errors=True)
        fresh = [r for r in self.results.values() if not r.get("resumed")]
        frames = sum(r["frames"] for r in fresh)
        seconds = sum(r["seconds"] for r in fresh)
        resumed = len(self.spans) - len(fresh)
        return FleetRow(self.rel, "done", frames=frames, seconds=seconds,
                        fps=frames / seconds if seconds else 0.0, output=str(self.dst),
                        parts=len(parts), error=f"{len(parts)} parts stitched"
                        + (f" ({resumed} from an earlier run)" if resumed else ""))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
