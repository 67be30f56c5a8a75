"""Parameter validation in the scikit-learn style: a constraint per parameter, one clear error naming it.

>>> check_param("search.n_trials", 3, Interval(int, 0, None))
>>> check_param("search.pruner", "median", Options(("hyperband", "median", "none")))
>>> check_param("search.pruner", "medain", Options(("hyperband", "median", "none")))
Traceback (most recent call last):
...
sdc_bench.core.errors.ConfigError: search.pruner must be one of hyperband, median, none, got 'medain'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sdc_bench.core.errors import ConfigError

__all__ = ["Interval", "Options", "check_param"]


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int`` or ``float``; bools are refused) between ``low`` and ``high``.

    None is unbounded; ``closed`` says which ends belong to the interval (``both``, ``left``, ``right``,
    ``neither``), as in scikit-learn.

    >>> Interval(float, 0, 1, closed="neither").describe()
    'a number in (0, 1)'
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        number = float(value)
        if number != number:  # NaN fits no interval
            return False
        low_ok = self.low is None or (
            number >= self.low if self.closed in ("both", "left") else number > self.low
        )
        high_ok = self.high is None or (
            number <= self.high if self.closed in ("both", "right") else number < self.high
        )
        return low_ok and high_ok

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        low_closed = self.closed in ("both", "left")
        high_closed = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{noun} in {'[' if low_closed else '('}{self.low:g}, {self.high:g}{']' if high_closed else ')'}"
        if self.low is not None:
            return f"{noun} {'>=' if low_closed else '>'} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<=' if high_closed else '<'} {self.high:g}"
        return noun


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (taken from the module that owns the choice)."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        return value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


def check_param(name: str, value: Any, constraint: Interval | Options, *, where: str = "") -> None:
    """Raise :class:`~sdc_bench.core.errors.ConfigError` naming ``name`` and what it allows, unless ``value`` fits.

    ``where`` (a file or a suite name) starts the message when given.
    """
    if constraint.accepts(value):
        return
    prefix = f"{where}: " if where else ""
    raise ConfigError(f"{prefix}{name} must be {constraint.describe()}, got {value!r}")
