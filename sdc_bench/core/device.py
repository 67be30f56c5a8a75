"""Devices and precisions: resolve a requested device once, and the autocast context of a precision.

torch is imported when a device is resolved, not with this module: the suite's checks read
:data:`PRECISIONS` before any heavy import, so a bad input is refused fast.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sdc_bench.core.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISIONS", "autocast", "resolve_device"]

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


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32); fp16 needs CUDA."""
    import torch

    device_type = torch.device(device).type
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device_type != "cuda":
        raise ConfigError("train.precision='fp16' needs a CUDA device; use 'bf16' on CPU")
    return torch.autocast(device_type, dtype=getattr(torch, _AUTOCAST_DTYPE[precision]))
