"""One configuration timed: build, warm up, synchronise, timed steps; peak memory; batch halving on OOM.

The timing loop is the one :mod:`sdc_bench.benchmark.throughput` describes (warm-up steps untimed, then
``repeats`` blocks of ``timed_steps`` steps, each closed by a device synchronisation);
:func:`reference_images_per_s` is the bare loop it is checked against.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sdc_bench.benchmark.throughput.config import ThroughputConfig
from sdc_bench.core.device import autocast, resolve_device
from sdc_bench.core.geometry import target_hw
from sdc_bench.core.store import cpu_model
from sdc_bench.zoo.backbones import BACKBONES, create_backbone

__all__ = [
    "Case",
    "Outcome",
    "Timing",
    "device_name",
    "free_memory",
    "reference_images_per_s",
    "run_with_decay",
    "skip_reason",
]

_logger = logging.getLogger(__name__)

# the perf_counter the timed loop reads; a module attribute so tests can drive it with a fake clock
_clock: Callable[[], float] = time.perf_counter


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _PeakMemory:
    """Peak memory of one configuration: CUDA allocator peak, or peak RSS growth on Linux CPUs."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.baseline_kb = math.nan
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            return
        try:
            # '5' resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)
            Path("/proc/self/clear_refs").write_text("5")
            self.baseline_kb = _proc_status_kb("VmRSS")
        except (OSError, ValueError):
            self.baseline_kb = math.nan

    def peak_mb(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if math.isnan(self.baseline_kb):
            return math.nan
        try:
            return max(0.0, _proc_status_kb("VmHWM") - self.baseline_kb) / 1024
        except (OSError, ValueError):
            return math.nan


def _proc_status_kb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return float(line.split()[1])
    raise ValueError(f"{key} not in /proc/self/status")


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    # CPU allocation failures surface as plain RuntimeErrors
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


@dataclass(frozen=True)
class Case:
    backbone: str
    mode: str
    precision: str
    channels_last: bool
    compiled: bool
    img_size: int | tuple[int, int]  # one side, or (rows, columns)


@dataclass
class Timing:
    step_s: list[list[float]]  # timed step durations, one list per repeat
    peak_mem_mb: float


def _time_steps(step: Callable[[], object], steps: int, device: torch.device) -> list[float]:
    times = []
    for _ in range(steps):
        start = _clock()
        step()
        _sync(device)
        times.append(_clock() - start)
    return times


def _timed_run(case: Case, batch_size: int, config: ThroughputConfig, device: torch.device) -> Timing:
    """Build, warm up and time one configuration at one batch size (raises on out-of-memory)."""
    memory = _PeakMemory(device)
    model: nn.Module = create_backbone(
        case.backbone, num_classes=config.num_classes, in_chans=config.in_chans, img_size=case.img_size
    ).model
    memory_format = torch.channels_last if case.channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=memory_format)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch_size, config.in_chans, *target_hw(case.img_size), generator=generator)
    inputs = inputs.to(device).contiguous(memory_format=memory_format)
    targets = torch.randint(config.num_classes, (batch_size,), generator=generator).to(device)
    runnable: Callable[..., Any] = torch.compile(model) if case.compiled else model

    if case.mode == "infer":
        model.eval()

        def step() -> object:
            with autocast(device, case.precision):
                return runnable(inputs)

        context: contextlib.AbstractContextManager[Any] = torch.inference_mode()
    else:
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        scaler = (
            torch.amp.GradScaler(device.type) if case.precision == "fp16" and device.type == "cuda" else None
        )

        def step() -> object:
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, case.precision):
                output = runnable(inputs)
                if isinstance(output, tuple):  # distillation heads return (logits, logits_dist)
                    output = output[0]
                loss = F.cross_entropy(output, targets)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            return loss

        context = contextlib.nullcontext()

    with context:
        for _ in range(config.warmup_steps):
            step()
        _sync(device)
        timings = [_time_steps(step, config.timed_steps, device) for _ in range(config.repeats)]
    return Timing(timings, memory.peak_mb())


def skip_reason(case: Case, device: torch.device) -> str | None:
    if case.precision == "fp16" and device.type == "cpu":
        return "fp16 autocast is not measured on CPU (few CPUs have fast fp16 kernels); use bf16"
    if case.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return f"{device_name(device)} has no native bf16 support; use fp16"
    return None


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:limit]


@dataclass
class Outcome:
    batch_size: int
    timing: Timing | None = None
    status: str = "ok"
    error: str = ""


def run_with_decay(case: Case, batch_size: int, config: ThroughputConfig, device: torch.device) -> Outcome:
    """timm's batch-size decay: on out-of-memory halve the batch and retry, down to 1."""
    while True:
        failure = ""
        oom = False
        try:
            return Outcome(batch_size, _timed_run(case, batch_size, config, device))
        except Exception as exc:
            if _is_oom(exc):
                oom = True
                failure = _first_line(exc)
            elif case.compiled:
                # compilation fails in many ways (no compiler, unsupported op); record it, keep the table
                failure = f"torch.compile failed: {_first_line(exc)}"
            else:
                raise
        finally:
            if case.compiled:
                import torch._dynamo

                torch._dynamo.reset()  # each configuration compiles afresh and never hits the recompile limit
        # outside the except block, so the traceback's frames (and their tensors) are already released
        free_memory(device)
        if not oom:
            _logger.warning("%s: %s", case.backbone, failure)
            return Outcome(batch_size, status="failed", error=failure)
        if batch_size == 1:
            _logger.warning("%s: out of memory even at batch size 1", case.backbone)
            return Outcome(1, status="failed", error=f"out of memory at batch size 1 ({failure})")
        _logger.warning(
            "%s: out of memory at batch size %d, retrying with %d", case.backbone, batch_size, batch_size // 2
        )
        batch_size //= 2


def reference_images_per_s(
    model_name: str,
    batch_size: int,
    img_size: int,
    device: str = "cpu",
    steps: int = 10,
    *,
    warmup: int = 3,
    in_chans: int = 1,
    num_classes: int = 5,
) -> float:
    """Inference images/s from a bare loop: the yardstick :func:`measure` is checked against.

    Plain timm model in ``eval()``, ``torch.inference_mode()``, the same fixed random input as
    :func:`measure`, ``warmup`` untimed calls, then one ``perf_counter`` span around ``steps`` calls
    closed by a device synchronisation: ``batch_size * steps / elapsed``.
    """
    import timm

    spec = BACKBONES.get(model_name)
    extra: dict[str, Any] = {"img_size": img_size} if spec.fixed_size else {}
    target = resolve_device(device)
    model = timm.create_model(
        spec.timm_name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **extra
    )
    model = model.to(target).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch_size, in_chans, img_size, img_size, generator=generator).to(target)
    with torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        _sync(target)
        start = time.perf_counter()
        for _ in range(steps):
            model(inputs)
        _sync(target)
        elapsed = time.perf_counter() - start
    return batch_size * steps / elapsed
