"""Every configuration of a :class:`ThroughputConfig` measured, one row each: the throughput contract table.

The columns are :data:`sdc_bench.core.contracts.THROUGHPUT_COLUMNS`; :func:`measure` resumes from an
earlier table (:data:`RESUME_KEY`), and :func:`sdc_bench.core.store.write_throughput_table` writes it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import statistics
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from sdc_bench.benchmark.throughput import timing
from sdc_bench.benchmark.throughput.config import ThroughputConfig
from sdc_bench.benchmark.throughput.contention import ContentionProbe
from sdc_bench.benchmark.throughput.timing import Case, Outcome, free_memory, skip_reason
from sdc_bench.core.contracts import THROUGHPUT_COLUMNS
from sdc_bench.core.device import resolve_device
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.openmp import wait_setting
from sdc_bench.zoo.backbones import BACKBONES, count_gflops, count_params, create_backbone

__all__ = ["COLUMNS", "PEAK_TFLOPS", "RESUME_KEY", "load_per_core", "measure", "peak_tflops"]

_logger = logging.getLogger(__name__)

# FLOPs of one training step relative to the forward pass: forward + backward (~2x forward)
_FLOPS_FACTOR = {"infer": 1, "train": 3}

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


def load_per_core() -> float:
    """The 1-minute load average per core now (NaN where the OS has none, e.g. Windows).

    It includes this process's own threads, so a machine that does nothing else reads up to about 1;
    :func:`sdc_bench.reports.throughput_view.under_load` flags rows measured above that.
    """
    try:
        return round(os.getloadavg()[0] / (os.cpu_count() or 1), 3)
    except (AttributeError, OSError):
        return math.nan


def _tf32_allowed() -> bool:
    # newer torch versions deprecate the allow_tf32 flags in favour of fp32_precision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)


def _peak_key(precision: str) -> str:
    # fp32 convolutions run on tensor cores as TF32 when allowed (cuDNN's default), so that is their ceiling
    return "tf32" if precision == "fp32" and _tf32_allowed() else precision


def _cases(config: ThroughputConfig, sizes: dict[str, int | tuple[int, int]]) -> Iterator[tuple[Case, int]]:
    for backbone in config.backbones:
        for mode in config.modes:
            for precision in config.precisions:
                for channels_last in config.channels_last:
                    for compiled in config.compile:
                        for batch_size in config.batch_sizes:
                            yield (
                                Case(backbone, mode, precision, channels_last, compiled, sizes[backbone]),
                                batch_size,
                            )


def _model_stats(
    backbone: str, config: ThroughputConfig, img_size: int | tuple[int, int]
) -> tuple[float, float]:
    model = create_backbone(
        backbone, num_classes=config.num_classes, in_chans=config.in_chans, img_size=img_size
    ).model
    stats = count_params(model) / 1e6, count_gflops(model, config.in_chans, img_size)
    del model
    return stats


RESUME_KEY = (
    "backbone", "device_name", "threads", "mode", "precision", "channels_last", "compiled",
    "requested_batch_size", "img_size", "in_chans",
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
    name = timing.device_name(device)
    sizes: dict[str, int | tuple[int, int]] = {
        b: config.img_size or BACKBONES.get(b).default_size for b in config.backbones
    }
    cases = list(_cases(config, sizes))
    done = _kept_rows(previous)

    def case_key(case: Case, batch_size: int) -> tuple[str, ...]:
        threads = torch.get_num_threads()
        values = (case.backbone, name, threads, case.mode, case.precision, case.channels_last, case.compiled)
        return _key([*values, batch_size, case.img_size, config.in_chans])

    todo = {c.backbone for c, b in cases if case_key(c, b) not in done}
    stats = {b: _model_stats(b, config, sizes[b]) for b in config.backbones if b in todo}
    rows: list[dict[str, Any]] = []
    with _cudnn_benchmark(device):
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
            probe = ContentionProbe()
            probe.start()
            outcome = _measure_case(case, batch_size, config, device)
            row = _row(case, batch_size, outcome, device, name, stats[case.backbone], config.in_chans)
            row["contention"] = probe.stop().note() if outcome.timing is not None else ""
            rows.append(row)
            if on_row is not None:
                on_row(pd.DataFrame(rows, columns=list(COLUMNS)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _kept_rows(previous: pd.DataFrame | None) -> dict[tuple[str, ...], dict[str, Any]]:
    """The ``ok`` and ``skipped`` rows of an earlier table, by their :data:`RESUME_KEY` values."""
    done: dict[tuple[str, ...], dict[str, Any]] = {}
    if previous is None or not len(previous):
        return done
    missing = [c for c in (*RESUME_KEY, "status") if c not in previous.columns]
    if missing:
        raise ConfigError(f"cannot resume from a throughput table without column(s) {missing}")
    for record in previous.to_dict("records"):
        if record["status"] in ("ok", "skipped"):
            done[_key([record[c] for c in RESUME_KEY])] = {c: record.get(c) for c in COLUMNS}
    return done


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN autotuning on while measuring on CUDA (as in timm), restored afterwards."""
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark


def _measure_case(case: Case, batch_size: int, config: ThroughputConfig, device: torch.device) -> Outcome:
    """A skipped outcome with its reason, or the timed one (batch halved on out-of-memory)."""
    reason = skip_reason(case, device)
    if reason is not None:
        _logger.warning("skipping %s %s %s: %s", case.backbone, case.mode, case.precision, reason)
        return Outcome(batch_size, status="skipped", error=reason)
    outcome = timing.run_with_decay(case, batch_size, config, device)
    free_memory(device)
    return outcome


def _row(
    case: Case,
    requested: int,
    outcome: Outcome,
    device: torch.device,
    name: str,
    stats: tuple[float, float],
    in_chans: int,
) -> dict[str, Any]:
    params_m, gflops = stats
    images_per_s = p50_ms = p95_ms = peak_mem = math.nan
    if outcome.timing is not None:
        step_s = statistics.median(statistics.median(block) for block in outcome.timing.step_s)
        pooled = [t for block in outcome.timing.step_s for t in block]
        images_per_s = outcome.batch_size / step_s
        p50_ms = step_s * 1000
        p95_ms = float(np.percentile(pooled, 95)) * 1000
        # CPU "peak memory" is RSS growth, which the allocator's reuse makes junk (0.19 MB for a ResNet)
        peak_mem = outcome.timing.peak_mem_mb if device.type == "cuda" else math.nan
    achieved = gflops * images_per_s * _FLOPS_FACTOR[case.mode] / 1000
    peak = peak_tflops(name, _peak_key(case.precision)) if device.type == "cuda" else math.nan
    return {
        "backbone": case.backbone,
        "device": device.type,
        "device_name": name,
        "threads": torch.get_num_threads(),
        "load": load_per_core(),
        "omp_wait": wait_setting(),
        "contention": "",  # measure() fills it from a ContentionProbe around the timing
        "precision": case.precision,
        "channels_last": case.channels_last,
        "compiled": case.compiled,
        "requested_batch_size": requested,
        "batch_size": outcome.batch_size,
        # one side for a square (as before), "ROWSxCOLUMNS" for a rectangle
        "img_size": case.img_size if isinstance(case.img_size, int) else "x".join(map(str, case.img_size)),
        "in_chans": in_chans,
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
