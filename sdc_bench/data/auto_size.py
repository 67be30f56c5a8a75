"""``data.size = "auto"``: the model input's rows x columns from the images' own aspect ratio.

A full-spine radiograph is about three times as tall as it is wide; squeezing it into a square
throws away two thirds of the input to padding. ``auto`` takes the median aspect ratio (rows /
columns) of the decoded images and picks the rows x columns of that aspect that fit a pixel budget
(``auto`` : 224 x 224 pixels, ``auto:N`` : N x N), both multiples of 32 (what strided CNNs and
16-pixel ViT patches divide evenly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sdc_bench.core.errors import ConfigError

__all__ = ["AUTO_SIDE", "SIZE_MULTIPLE", "auto_hw", "auto_side", "median_aspect"]

AUTO_SIDE = 224
"""``auto`` without a side fits the pixels of an ``AUTO_SIDE`` square (timm's default input)."""

SIZE_MULTIPLE = 32
"""Chosen rows and columns are multiples of this."""


def auto_side(value: str) -> int:
    """The square side whose pixel count bounds an ``auto`` / ``auto:N`` size; an error for other text."""
    text = value.strip().lower()
    if text == "auto":
        return AUTO_SIDE
    head, _, tail = text.partition(":")
    if head == "auto" and tail.isdigit() and int(tail) >= SIZE_MULTIPLE:
        return int(tail)
    raise ConfigError(
        f"data.size={value!r} is not a size; give an int (64), [rows, columns] ([384, 128]), "
        f"'auto' or 'auto:N' (N >= {SIZE_MULTIPLE}, the side of the square pixel budget)"
    )


def auto_hw(aspect: float, side: int = AUTO_SIDE) -> tuple[int, int]:
    """Rows x columns of ``aspect`` (rows / columns) within ``side`` squared pixels, multiples of 32.

    Examples
    --------
    >>> auto_hw(3.0), auto_hw(1.0), auto_hw(0.5, 128)
    ((384, 128), (224, 224), (96, 160))
    """
    if not math.isfinite(aspect) or aspect <= 0:
        return side, side
    budget = side * side
    ideal_rows, ideal_columns = math.sqrt(budget * aspect), math.sqrt(budget / aspect)

    def near(value: float) -> set[int]:
        low = max(1, math.floor(value / SIZE_MULTIPLE)) * SIZE_MULTIPLE
        return {low, low + SIZE_MULTIPLE}

    fitting = [(r, c) for r in near(ideal_rows) for c in near(ideal_columns) if r * c <= budget]
    if not fitting:  # a budget below 32 x 32 at this aspect: the smallest shape there is
        return SIZE_MULTIPLE, SIZE_MULTIPLE
    # closest aspect first, then the most pixels
    return min(fitting, key=lambda rc: (round(abs(math.log(rc[0] / rc[1] / aspect)), 6), -rc[0] * rc[1]))


def median_aspect(shapes: Iterable[tuple[int, int]]) -> float:
    """Median rows / columns of the ``(rows, columns)`` shapes given (``nan`` when none)."""
    ratios = sorted(r / c for r, c in shapes if r > 0 and c > 0)
    if not ratios:
        return float("nan")
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
