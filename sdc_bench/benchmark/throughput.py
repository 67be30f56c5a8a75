"""Inference and training throughput of zoo backbones, measured the way timm's ``benchmark.py`` does.

For every configuration (backbone x mode x precision x channels_last x compiled x batch size) a fresh model
is built on the device, fed one fixed random batch for ``warmup_steps`` untimed steps (these absorb
``torch.compile``, cuDNN autotuning and allocator growth), then for ``repeats`` blocks of ``timed_steps``
steps, each wrapped in ``time.perf_counter()`` and ended by a device synchronisation. A step that runs out
of memory halves the batch size (down to 1) and the configuration is tried again. The result is one row
per configuration in the DESIGN.md throughput schema, plus achieved TFLOP/s and, on known GPUs, the
fraction of the datasheet peak.

Timing definitions (used by the tests and by :func:`reference_images_per_s`):

* ``latency_ms_p50``: the median over repeats of each repeat's median step time;
* ``images_per_s``: ``batch_size / latency_ms_p50`` (so one slow step, e.g. a GC pause, does not move it);
* ``latency_ms_p95``: the 95th percentile of all timed steps pooled;
* ``achieved_tflops``: ``gflops * images_per_s * k / 1000`` with ``k = 1`` for inference and ``k = 3``
  for training (forward + backward, the usual 1:2 convention; the optimizer step is not counted).

``peak_mem_mb`` is ``torch.cuda.max_memory_allocated`` after a reset on CUDA (model, optimizer state,
activations, in MiB). On CPU it is the growth of the peak resident set size during the configuration
(Linux ``VmHWM``, reset through ``/proc/self/clear_refs``); memory the allocator kept from earlier
configurations is reused without growing the RSS, so CPU values are lower bounds, and NaN where ``/proc``
is not available (macOS, Windows).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import math
import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from sdc_bench.core.contracts import THROUGHPUT_COLUMNS
from sdc_bench.core.device import PRECISIONS, autocast, resolve_device
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.store import cpu_model, read_throughput
from sdc_bench.zoo.backbones import BACKBONES, count_gflops, count_params, create_backbone

__all__ = [
    "COLUMNS",
    "PEAK_TFLOPS",
    "RESUME_KEY",
    "ThroughputConfig",
    "add_cli",
    "measure",
    "peak_tflops",
    "read_throughput",
    "reference_images_per_s",
]

_logger = logging.getLogger(__name__)

MODES = ("infer", "train")
# FLOPs of one training step relative to the forward pass: forward + backward (~2x forward)
_FLOPS_FACTOR = {"infer": 1, "train": 3}
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")

COLUMNS = THROUGHPUT_COLUMNS
"""Columns of the throughput table: :data:`sdc_bench.core.contracts.THROUGHPUT_COLUMNS`."""

# Dense (no structured sparsity) datasheet peaks in TFLOP/s per precision. 'fp32' is the plain CUDA-core
# rate, 'tf32' the tensor-core rate used for fp32 convolutions/matmuls when TF32 is allowed; bf16/fp16 are
# tensor-core rates with fp32 accumulation. A GPU without a unit has no entry (e.g. no bf16 on V100/T4).
# The first pattern that matches the device name wins, so specific names come before general ones.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    (r"\bGH200\b", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.5, "fp16": 989.5}),
    (r"\bH200 NVL\b", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}),
    (r"\bH200\b", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.5, "fp16": 989.5}),
    (r"\bH100 NVL\b", {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5}),
    (r"\bH100 PCIe\b", {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}),
    (r"\bH100\b", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.5, "fp16": 989.5}),  # SXM ("H100 80GB HBM3")
    (r"\bA100\b", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    (r"\bA10\b", {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0, "fp16": 125.0}),
    (r"\bL40S\b", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.05, "fp16": 362.05}),
    (r"\bL40\b", {"fp32": 90.5, "tf32": 90.5, "bf16": 181.05, "fp16": 181.05}),
    (r"\bL4\b", {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0}),
    (r"\bRTX 4090\b", {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2}),
    (r"\bV100S\b", {"fp32": 16.4, "tf32": 16.4, "fp16": 130.0}),
    (r"\bV100-PCIE\b", {"fp32": 14.0, "tf32": 14.0, "fp16": 112.0}),
    (r"\bV100\b", {"fp32": 15.7, "tf32": 15.7, "fp16": 125.0}),  # SXM2
    (r"\bT4\b", {"fp32": 8.1, "tf32": 8.1, "fp16": 65.0}),
)  # fmt: skip

# the perf_counter the timed loop reads; a module attribute so tests can drive it with a fake clock
_clock: Callable[[], float] = time.perf_counter


@dataclass(frozen=True)
class ThroughputConfig:
    """What to measure: the cross product of every tuple below, for every backbone.

    Parameters
    ----------
    backbones
        Registered backbone names (``sdc-bench list backbones``).
    batch_sizes
        Requested batch sizes; one that runs out of memory is halved until it fits (the row records the
        size used in ``batch_size`` and the request in ``requested_batch_size``).
    precisions
        ``fp32``, ``bf16`` or ``fp16``; the reduced precisions run under ``torch.autocast``. ``fp16`` on
        CPU, and ``bf16`` on a GPU without bf16 support, give a ``skipped`` row with the reason.
    channels_last, compile
        Which settings to measure (``(False, True)`` measures both).
    modes
        ``infer`` (eval, ``torch.inference_mode``) and/or ``train`` (forward, cross-entropy, backward,
        SGD step).
    img_size
        Square input size in px; ``None`` uses each backbone's default size.
    device
        ``auto`` (CUDA when visible, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
    warmup_steps, timed_steps, repeats
        Untimed steps first, then ``repeats`` blocks of ``timed_steps`` timed steps.

    Examples
    --------
    >>> config = ThroughputConfig(("resnet10t",), batch_sizes=(2,), modes=("infer",), img_size=32)
    >>> config.timed_steps
    10
    """

    backbones: tuple[str, ...]
    batch_sizes: tuple[int, ...] = (8, 32)
    precisions: tuple[str, ...] = ("fp32",)
    channels_last: tuple[bool, ...] = (False,)
    compile: tuple[bool, ...] = (False,)
    modes: tuple[str, ...] = ("infer", "train")
    img_size: int | None = None
    in_chans: int = 1
    num_classes: int = 5
    device: str = "auto"
    warmup_steps: int = 3
    timed_steps: int = 10
    repeats: int = 1

    def __post_init__(self) -> None:
        for name in ("backbones", "batch_sizes", "precisions", "channels_last", "compile", "modes"):
            object.__setattr__(self, name, _as_tuple(name, getattr(self, name)))
        for backbone in self.backbones:
            if not isinstance(backbone, str):
                raise ConfigError(f"backbones must be names (str), got {backbone!r}")
            BACKBONES.get(backbone)  # UnknownNameError with close matches
        for size in self.batch_sizes:
            _check_int("batch_sizes", size, 1)
        _check_choices("precisions", self.precisions, PRECISIONS)
        _check_choices("modes", self.modes, MODES)
        for name in ("channels_last", "compile"):
            if not all(isinstance(flag, bool) for flag in getattr(self, name)):
                raise ConfigError(f"{name} must hold booleans, got {getattr(self, name)!r}")
        if self.img_size is not None:
            _check_int("img_size", self.img_size, 8)
        if self.in_chans not in (1, 3) or isinstance(self.in_chans, bool):
            raise ConfigError(f"in_chans must be 1 or 3, got {self.in_chans!r}")
        _check_int("num_classes", self.num_classes, 2)
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.match(self.device):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        _check_int("warmup_steps", self.warmup_steps, 0)
        if True in self.compile and self.warmup_steps < 1:
            raise ConfigError(
                "warmup_steps must be at least 1 when compile is measured: the first call compiles"
            )
        _check_int("timed_steps", self.timed_steps, 1)
        _check_int("repeats", self.repeats, 1)


def _as_tuple(name: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{name} must be a sequence (e.g. a tuple), got {value!r}")
    items = tuple(value)
    if not items:
        raise ConfigError(f"{name} must not be empty")
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} has duplicates: {items!r}")
    return items


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choices(name: str, values: tuple[Any, ...], allowed: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ConfigError(f"{name} has unknown value(s) {bad!r}; choose from {', '.join(allowed)}")


# ---------------------------------------------------------------------------------------------- devices


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device_name: str, precision: str) -> float:
    """Dense datasheet peak TFLOP/s of a GPU for ``precision`` (``fp32``, ``tf32``, ``bf16``, ``fp16``).

    The GPU is matched by the patterns of :data:`PEAK_TFLOPS` against the name CUDA reports; NaN when the
    GPU is not in the table (CPUs never are) or has no unit for that precision.

    Examples
    --------
    >>> peak_tflops("NVIDIA H200", "bf16")
    989.5
    >>> peak_tflops("NVIDIA A100-SXM4-80GB", "fp32")
    19.5
    """
    for pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            return peaks.get(precision, math.nan)
    return math.nan


def _tf32_allowed() -> bool:
    # newer torch versions deprecate the allow_tf32 flags in favour of fp32_precision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)


def _peak_key(precision: str) -> str:
    # fp32 convolutions run on tensor cores as TF32 when allowed (cuDNN's default), so that is their ceiling
    return "tf32" if precision == "fp32" and _tf32_allowed() else precision


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


def _free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    # CPU allocation failures surface as plain RuntimeErrors
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


# ---------------------------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class _Case:
    backbone: str
    mode: str
    precision: str
    channels_last: bool
    compiled: bool
    img_size: int


@dataclass
class _Timing:
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


def _timed_run(case: _Case, batch_size: int, config: ThroughputConfig, device: torch.device) -> _Timing:
    """Build, warm up and time one configuration at one batch size (raises on out-of-memory)."""
    memory = _PeakMemory(device)
    model: nn.Module = create_backbone(
        case.backbone, num_classes=config.num_classes, in_chans=config.in_chans, img_size=case.img_size
    ).model
    memory_format = torch.channels_last if case.channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=memory_format)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch_size, config.in_chans, case.img_size, case.img_size, generator=generator)
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
    return _Timing(timings, memory.peak_mb())


def _skip_reason(case: _Case, device: torch.device) -> str | None:
    if case.precision == "fp16" and device.type == "cpu":
        return "fp16 autocast is not measured on CPU (few CPUs have fast fp16 kernels); use bf16"
    if case.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return f"{_device_name(device)} has no native bf16 support; use fp16"
    return None


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:limit]


@dataclass
class _Outcome:
    batch_size: int
    timing: _Timing | None = None
    status: str = "ok"
    error: str = ""


def _run_with_decay(case: _Case, batch_size: int, config: ThroughputConfig, device: torch.device) -> _Outcome:
    """timm's batch-size decay: on out-of-memory halve the batch and retry, down to 1."""
    while True:
        failure = ""
        oom = False
        try:
            return _Outcome(batch_size, _timed_run(case, batch_size, config, device))
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
        _free_memory(device)
        if not oom:
            _logger.warning("%s: %s", case.backbone, failure)
            return _Outcome(batch_size, status="failed", error=failure)
        if batch_size == 1:
            _logger.warning("%s: out of memory even at batch size 1", case.backbone)
            return _Outcome(1, status="failed", error=f"out of memory at batch size 1 ({failure})")
        _logger.warning(
            "%s: out of memory at batch size %d, retrying with %d", case.backbone, batch_size, batch_size // 2
        )
        batch_size //= 2


# ---------------------------------------------------------------------------------------------- the table


def _cases(config: ThroughputConfig, sizes: dict[str, int]) -> Iterator[tuple[_Case, int]]:
    for backbone in config.backbones:
        for mode in config.modes:
            for precision in config.precisions:
                for channels_last in config.channels_last:
                    for compiled in config.compile:
                        for batch_size in config.batch_sizes:
                            yield (
                                _Case(backbone, mode, precision, channels_last, compiled, sizes[backbone]),
                                batch_size,
                            )


def _model_stats(backbone: str, config: ThroughputConfig, img_size: int) -> tuple[float, float]:
    model = create_backbone(
        backbone, num_classes=config.num_classes, in_chans=config.in_chans, img_size=img_size
    ).model
    stats = count_params(model) / 1e6, count_gflops(model, config.in_chans, img_size)
    del model
    return stats


RESUME_KEY = (
    "backbone", "device_name", "threads", "mode", "precision", "channels_last", "compiled",
    "requested_batch_size", "img_size",
)  # fmt: skip
"""Columns that identify a configuration when a measurement is resumed from an earlier table."""


def _key(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def measure(
    config: ThroughputConfig,
    *,
    progress: bool = True,
    previous: pd.DataFrame | None = None,
    on_row: Callable[[pd.DataFrame], object] | None = None,
) -> pd.DataFrame:
    """Measure every configuration of ``config``; one row per configuration, columns :data:`COLUMNS`.

    A configuration that cannot run (fp16 on CPU, bf16 on a GPU without it), fails to compile, or runs out
    of memory even at batch size 1 still gets a row, with ``status`` ``skipped``/``failed``, NaN timings
    and the reason in ``error``. On CUDA ``torch.backends.cudnn.benchmark`` is on while measuring (as in
    timm) and restored afterwards.

    ``previous`` is an earlier table (e.g. of an interrupted run): its ``ok`` and ``skipped`` rows for
    configurations of ``config`` on this device (:data:`RESUME_KEY`) are kept instead of measured again;
    ``failed`` rows are measured again. ``on_row`` receives the table so far after every configuration
    (to write it, so an interrupted measurement keeps what it measured).

    Examples
    --------
    >>> config = ThroughputConfig(("resnet10t",), batch_sizes=(2,), modes=("infer",), img_size=32,
    ...                           device="cpu", warmup_steps=1, timed_steps=2)
    >>> table = measure(config, progress=False)
    >>> table[["backbone", "batch_size", "status"]].values.tolist()
    [['resnet10t', 2, 'ok']]
    """
    device = resolve_device(config.device)
    name = _device_name(device)
    sizes = {b: config.img_size or BACKBONES.get(b).default_size for b in config.backbones}
    cases = list(_cases(config, sizes))
    done: dict[tuple[str, ...], dict[str, Any]] = {}
    if previous is not None and len(previous):
        missing = [c for c in (*RESUME_KEY, "status") if c not in previous.columns]
        if missing:
            raise ConfigError(f"cannot resume from a throughput table without column(s) {missing}")
        for record in previous.to_dict("records"):
            if record["status"] in ("ok", "skipped"):
                done[_key([record[c] for c in RESUME_KEY])] = {c: record.get(c) for c in COLUMNS}

    def case_key(case: _Case, batch_size: int) -> tuple[str, ...]:
        threads = torch.get_num_threads()
        values = (case.backbone, name, threads, case.mode, case.precision, case.channels_last, case.compiled)
        return _key([*values, batch_size, case.img_size])

    todo = {c.backbone for c, b in cases if case_key(c, b) not in done}
    stats = {b: _model_stats(b, config, sizes[b]) for b in config.backbones if b in todo}
    rows: list[dict[str, Any]] = []
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        bar = tqdm(cases, desc="throughput", unit="config", disable=not progress)
        for case, batch_size in bar:
            kept = done.get(case_key(case, batch_size))
            if kept is not None:
                rows.append(kept)
                continue
            bar.set_postfix_str(
                f"{case.backbone} {case.mode} {case.precision} b{batch_size}"
                f"{' cl' if case.channels_last else ''}{' compiled' if case.compiled else ''}"
            )
            reason = _skip_reason(case, device)
            if reason is not None:
                _logger.warning("skipping %s %s %s: %s", case.backbone, case.mode, case.precision, reason)
                outcome = _Outcome(batch_size, status="skipped", error=reason)
            else:
                outcome = _run_with_decay(case, batch_size, config, device)
                _free_memory(device)
            rows.append(_row(case, batch_size, outcome, device, name, stats[case.backbone]))
            if on_row is not None:
                on_row(pd.DataFrame(rows, columns=list(COLUMNS)))
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _row(
    case: _Case,
    requested: int,
    outcome: _Outcome,
    device: torch.device,
    name: str,
    stats: tuple[float, float],
) -> dict[str, Any]:
    params_m, gflops = stats
    images_per_s = p50_ms = p95_ms = peak_mem = math.nan
    if outcome.timing is not None:
        step_s = statistics.median(statistics.median(block) for block in outcome.timing.step_s)
        pooled = [t for block in outcome.timing.step_s for t in block]
        images_per_s = outcome.batch_size / step_s
        p50_ms = step_s * 1000
        p95_ms = float(np.percentile(pooled, 95)) * 1000
        peak_mem = outcome.timing.peak_mem_mb
    achieved = gflops * images_per_s * _FLOPS_FACTOR[case.mode] / 1000
    peak = peak_tflops(name, _peak_key(case.precision)) if device.type == "cuda" else math.nan
    return {
        "backbone": case.backbone,
        "device": device.type,
        "device_name": name,
        "threads": torch.get_num_threads(),
        "precision": case.precision,
        "channels_last": case.channels_last,
        "compiled": case.compiled,
        "requested_batch_size": requested,
        "batch_size": outcome.batch_size,
        "img_size": case.img_size,
        "mode": case.mode,
        "images_per_s": images_per_s,
        "latency_ms_p50": p50_ms,
        "latency_ms_p95": p95_ms,
        "peak_mem_mb": peak_mem,
        "params_m": params_m,
        "gflops": gflops,
        "achieved_tflops": achieved,
        "peak_tflops": peak,
        "fraction_of_peak": achieved / peak if peak > 0 else math.nan,
        "status": outcome.status,
        "error": outcome.error,
        "torch_version": torch.__version__,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------------------------------- output


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


# ---------------------------------------------------------------------------------------------- CLI


def _list_of(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(part.strip()) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from exc

    return parse


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``throughput`` command to an ``argparse`` subparsers object; the caller sets what it runs.

    The command measures (:func:`measure`) and writes the table and its Markdown view, which is the
    pipeline's job (:func:`sdc_bench.pipeline.throughput_command`), so this floor stays below the reports.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "throughput",
        help="measure inference and training throughput of backbones",
        description=(
            "Measure images/s, per-step latency (p50/p95), peak memory and achieved TFLOP/s of backbones for "
            "every combination of batch size, precision, memory format, compilation and mode, the way timm's "
            "benchmark.py does: warm-up steps, device-synchronised timed steps, batch-size halving on "
            "out-of-memory. Writes a CSV or parquet table and a Markdown view (<stem>.md) beside it."
        ),
        epilog=(
            "example: sdc-bench throughput --backbones resnet18,efficientnet_b0 --batch-sizes 8,32 "
            "--precision fp32,bf16 --channels-last --out reports/throughput.csv"
        ),
    )
    parser.add_argument(
        "--backbones",
        required=True,
        type=_list_of(str),
        help="comma-separated backbone names (see `sdc-bench list backbones`)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=_list_of(int),
        default=(8, 32),
        help="comma-separated batch sizes (default: 8,32)",
    )
    parser.add_argument(
        "--precision",
        type=_list_of(str),
        default=("fp32",),
        help="comma-separated fp32, bf16, fp16 (autocast; fp16 is skipped on CPU) (default: fp32)",
    )
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="measure every configuration both without and with channels_last memory format",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="measure every configuration both without and with torch.compile (compilation happens in the warm-up steps)",
    )
    parser.add_argument(
        "--modes",
        type=_list_of(str),
        default=("infer", "train"),
        help="comma-separated infer, train (default: infer,train)",
    )
    parser.add_argument(
        "--img-size", type=int, help="input size in px (default: each backbone's default size)"
    )
    parser.add_argument(
        "--in-chans", type=int, choices=[1, 3], default=1, help="input channels (default: 1, grayscale)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repeat (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default: 3)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="blocks of timed steps; the median over blocks is reported (default: 1)",
    )
    parser.add_argument(
        "--out", required=True, help="output table, .csv or .parquet (a .md view is written beside it)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the ok/skipped rows already in --out for the same configurations on this device and "
        "measure only the rest (the table is rewritten after every configuration)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser
