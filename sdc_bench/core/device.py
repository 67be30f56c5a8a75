"""Devices and precisions: resolve a requested device once, pin a worker to one, and the autocast context
of a precision.

torch is imported when a device is resolved, not with this module: the suite's checks read
:data:`PRECISIONS` before any heavy import, so a bad input is refused fast.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sdc_bench.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = [
    "PRECISIONS",
    "VISIBLE_DEVICES_ENV",
    "autocast",
    "parse_worker_devices",
    "pinned_worker",
    "resolve_device",
]

#: The variable CUDA reads to decide which GPUs a process sees.
VISIBLE_DEVICES_ENV = "CUDA_VISIBLE_DEVICES"

_WORKER_DEVICE = re.compile(r"cpu|cuda:\d+")

#: Numeric precisions of forward passes: plain fp32, or bf16/fp16 under :func:`torch.autocast`.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")

_AUTOCAST_DTYPE = {"bf16": "bfloat16", "fp16": "float16"}  # torch dtype names


def resolve_device(requested: str, option: str = "device") -> torch.device:
    """The device ``requested`` names: ``auto`` picks CUDA when one is visible, else the CPU.

    ``option`` is the setting's name in error messages (``train.device``, ``--device``).

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"{option}={requested!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{option}={requested!r} but no CUDA device is visible; use device='cpu' or 'auto'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"{option}={requested!r} but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    return device


def parse_worker_devices(text: str, workers: int | None) -> tuple[str, ...]:
    """The devices of ``--devices`` (one per local worker), checked against ``--workers`` when it was given.

    >>> parse_worker_devices("cuda:0,cuda:1", 2)
    ('cuda:0', 'cuda:1')

    Raises
    ------
    ConfigError
        If a device is not ``cpu`` or ``cuda:N``, or ``workers`` is not the number of devices.
    """
    devices = tuple(part.strip() for part in text.split(","))
    for device in devices:
        if not _WORKER_DEVICE.fullmatch(device):
            raise ConfigError(
                f"--devices: {device!r} is not a worker device; name one per worker as cpu or cuda:N, "
                "e.g. --devices cuda:0,cuda:1"
            )
    if workers is not None and workers != len(devices):
        raise ConfigError(
            f"--workers {workers} but --devices names {len(devices)} device(s) ({text}); "
            "give one device per worker, or drop --workers"
        )
    return devices


def pinned_worker(device: str, environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The ``--device`` argument and the environment of a worker process pinned to ``device``.

    A ``cuda:N`` worker sees only that GPU (:data:`VISIBLE_DEVICES_ENV` set to its id, read through the
    parent's own ``CUDA_VISIBLE_DEVICES`` when that is set, as Slurm does) and trains on its ``cuda:0``;
    a ``cpu`` worker sees no GPU.

    >>> pinned_worker("cuda:1", {"CUDA_VISIBLE_DEVICES": "4,5"})[0]
    'cuda:0'
    >>> pinned_worker("cuda:1", {"CUDA_VISIBLE_DEVICES": "4,5"})[1]["CUDA_VISIBLE_DEVICES"]
    '5'
    >>> pinned_worker("cpu", {})
    ('cpu', {'CUDA_VISIBLE_DEVICES': ''})
    """
    env = dict(environ)
    if device == "cpu":
        env[VISIBLE_DEVICES_ENV] = ""
        return "cpu", env
    index = int(device.removeprefix("cuda:"))
    visible = [part.strip() for part in environ.get(VISIBLE_DEVICES_ENV, "").split(",") if part.strip()]
    if visible and index >= len(visible):
        raise ConfigError(
            f"--devices {device}: {VISIBLE_DEVICES_ENV}={environ[VISIBLE_DEVICES_ENV]} shows only "
            f"{len(visible)} GPU(s); name devices cuda:0 to cuda:{len(visible) - 1}"
        )
    env[VISIBLE_DEVICES_ENV] = visible[index] if visible else str(index)
    return "cuda:0", env


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32); fp16 needs CUDA."""
    import torch

    device_type = torch.device(device).type
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("train.precision='fp16' needs a CUDA device; use 'bf16' on CPU")
    return torch.autocast(device_type, dtype=getattr(torch, _AUTOCAST_DTYPE[precision]))
