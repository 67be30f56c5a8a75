"""What a throughput measurement covers: :class:`ThroughputConfig`, validated up front, naming the culprit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sdc_bench.core.device import PRECISIONS
from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.backbones import BACKBONES

__all__ = ["MODES", "ThroughputConfig"]

MODES = ("infer", "train")
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


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
