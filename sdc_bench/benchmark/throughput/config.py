"""What a throughput measurement covers: :class:`ThroughputConfig`, validated up front, naming the culprit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sdc_bench.benchmark.suite import THROUGHPUT_MODES
from sdc_bench.core.device import PRECISIONS
from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.backbones import BACKBONES

__all__ = ["MODES", "ThroughputConfig"]

MODES = THROUGHPUT_MODES
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
        Input size in px: one side (a square) or ``(rows, columns)`` (a run's rectangular input);
        ``None`` uses each backbone's default size.
    in_chans
        Input channels: 1 (grey), 3 (RGB) or K slices stacked as channels.
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
    img_size: int | tuple[int, int] | None = None
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
        if isinstance(self.img_size, (tuple, list)):
            if len(self.img_size) != 2:
                raise ConfigError(f"img_size must be one side or (rows, columns), got {self.img_size!r}")
            for side in self.img_size:
                _check_int("img_size", side, 8)
            rows, columns = self.img_size
            object.__setattr__(self, "img_size", rows if rows == columns else (rows, columns))
        elif self.img_size is not None:
            _check_int("img_size", self.img_size, 8)
        _check_int("in_chans", self.in_chans, 1)  # 1 grey, 3 RGB, K slices as channels
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
