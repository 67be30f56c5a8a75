"""Parameter and input checks shared by the statistical tests (one clear line naming the culprit)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sdc_bench.core.errors import ConfigError, DataError

__all__ = ["check_positive_int", "check_probability", "check_seed", "same_length"]


def check_probability(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not 0.0 < float(value) < 1.0
    ):
        raise ConfigError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def same_length(**arrays: NDArray[Any]) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        described = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise DataError(f"paired inputs must have equal lengths, got {described}")
    return next(iter(lengths.values()))
