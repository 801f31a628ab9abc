"""Every backend against PyTorch fp32 on the same frames, state carried over 12 frames,
and the same streaming behaviour (look-ahead, flush, reset on a resolution change)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from deblur_ros.core.inference.runners import (
    BackendUnavailableError,
    default_threads,
    installed_backends,
    make_runner,
    resolve,
)
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

# (backend, precision, max abs error, mean abs error) against PyTorch fp32 on [0, 1] images
CASES = [
    ("onnxruntime", "fp32", 1e-4, 1e-6),
    ("openvino", "fp32", 1e-4, 1e-6),
    ("openvino", "bf16", 5e-2, 2e-3),
    ("torch", "bf16", 5e-2, 2e-3),
]


def _installed(backend: str) -> bool:
    return backend == "torch" or importlib.util.find_spec(backend) is not None


@pytest.fixture
def model(monkeypatch, tmp_path):
    monkeypatch.setenv("DEBLUR_ROS_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    net = StrcnnDtb(StrcnnConfig(width=8))
    torch.nn.init.normal_(net.to_image.weight, std=0.05)
    with torch.no_grad():
        net.blend.beta.fill_(0.3)
    return net.eval()


def _clip(n: int, h: int = 30, w: int = 44, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.random((h + n, w + n, 3), dtype=np.float32)
    return [np.ascontiguousarray(base[i:i + h, i:i + w]) for i in range(n)]  # a moving scene


@pytest.mark.parametrize("backend, precision, max_err, mean_err", CASES,
                         ids=[f"{b}-{p}" for b, p, _, _ in CASES])
def test_backend_matches_pytorch_fp32_over_a_stream(model, backend, precision, max_err,
                                                    mean_err):
    if not _installed(backend):
        with pytest.raises(BackendUnavailableError, match=f"pip install .*{backend[:4]}"):
            make_runner(model, backend, precision)
        return
    clip = _clip(12)
    reference = StreamingDeblurrer(model).process(clip)
    fast = StreamingDeblurrer(model, backend=backend, precision=precision)
    assert (fast.runner.name, fast.runner.precision) == (backend, precision)
    out = fast.process(clip)
    assert len(out) == len(reference) == 12
    errors = np.stack([np.abs(a - b) for a, b in zip(out, reference)])
    assert errors.max() < max_err and errors.mean() < mean_err, (errors.max(), errors.mean())
    # the state is carried: the last frame is much nearer the reference's than what the
    # reference gives that frame without the 11 frames before it
    fresh = StreamingDeblurrer(model).process(clip[-1:])[0]
    assert 3 * np.abs(out[-1] - reference[-1]).mean() < np.abs(out[-1] - fresh).mean()


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_streaming_behaviour_is_the_same_on_every_backend(model, backend):
    if not _installed(backend):
        pytest.skip(f"{backend} not installed (pip install 'deblur_ros[...]' gives it)")
    small, large = _clip(3, 20, 26, seed=1), _clip(2, 30, 44, seed=2)
    runs = {}
    for name in ("torch", backend):
        stream = StreamingDeblurrer(model, backend=name)
        log = [[o.stamp for o in stream.push(f, i)] for i, f in enumerate(small)]
        log.append([o.stamp for o in stream.push(large[0], 10)])  # resolution change
        log.append([o.stamp for o in stream.push(large[1], 11)])
        tail = stream.flush()
        log.append([o.stamp for o in tail])
        runs[name] = (log, stream.resets, tail[-1].frame)
    assert runs[backend][0] == runs["torch"][0] == [[], [0], [1], [2], [10], [11]]
    assert runs[backend][1] == runs["torch"][1] == 1
    np.testing.assert_allclose(runs[backend][2], runs["torch"][2], atol=1e-4)


def test_export_is_cached_by_weights(model, tmp_path):
    from deblur_ros.core.inference.export import export_onnx

    if not _installed("onnx"):
        pytest.skip("onnx not installed")
    first = export_onnx(model)
    assert first.parent == tmp_path / "cache" / "onnx" and first.is_file()
    stamp = first.stat().st_mtime_ns
    assert export_onnx(model) == first and first.stat().st_mtime_ns == stamp
    with torch.no_grad():
        model.to_image.bias.add_(0.01)
    assert export_onnx(model) != first


def test_auto_and_bad_requests():
    cpu = torch.device("cpu")
    backend, precision, why = resolve("auto", "auto", cpu)
    # PyTorch first on a CPU: the fastest in every precision bench measured here.
    assert backend == "torch" and "auto" in why
    assert installed_backends(cpu)[0] == "torch"
    assert default_threads(2) == 2 and default_threads(1) == 1 and default_threads(16) == 16
    assert resolve("onnxruntime", "auto", cpu)[1] == "fp32"
    with pytest.raises(ValueError, match="unknown backend 'tensorrtx'"):
        resolve("tensorrtx", "auto", cpu)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve("cuda", "auto", cpu)
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        make_runner(StrcnnDtb(StrcnnConfig(width=8)), "torch", "fp16")
