"""Where an original image lands on the model's input: the geometry of the cache's resize modes.

``data/decode.py::resize_image`` turns an image of any shape into a ``rows`` x ``columns`` model input
(``letterbox``, ``resize`` or ``center_crop``; a square when the size is one int). Anything computed on
that input (a saliency map) must be mapped back onto the original image, which needs the exact offsets
and scale the resize used. This module states them once, on the ground floor, and ``resize_image``
uses it, so the arithmetic lives in one place; the zoo (saliency maps) shares it without importing the
data floor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdc_bench.core.errors import ConfigError

__all__ = ["GEOMETRY_MODES", "ResizeGeometry", "resize_geometry", "target_hw"]

GEOMETRY_MODES: tuple[str, ...] = ("letterbox", "resize", "center_crop")
"""The resize modes of ``data/decode.py::RESIZE_MODES``, in the same order (a test keeps them equal)."""


def target_hw(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(rows, columns)`` of a model input given as one side (a square) or as ``[rows, columns]``.

    Examples
    --------
    >>> target_hw(64), target_hw((96, 32))
    ((64, 64), (96, 32))
    """
    sides = (size, size) if not isinstance(size, (tuple, list)) else tuple(size)
    if len(sides) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sides):
        raise ConfigError(f"size={size!r} must be a positive integer or [rows, columns] of positive integers")
    return int(sides[0]), int(sides[1])


@dataclass(frozen=True)
class ResizeGeometry:
    """The box the resized original occupies on the ``target_rows`` x ``target_columns`` model input.

    ``top``/``left`` are the input's row/column where the resized original starts: positive for the
    letterbox padding, negative where ``center_crop`` cut the image off. ``rows``/``columns`` are the
    resized original's height and width in input pixels.
    """

    original_rows: int
    original_columns: int
    target_rows: int
    target_columns: int
    top: int
    left: int
    rows: int
    columns: int

    @property
    def original_hw(self) -> tuple[int, int]:
        return self.original_rows, self.original_columns

    @property
    def target_hw(self) -> tuple[int, int]:
        return self.target_rows, self.target_columns


def resize_geometry(
    original_hw: tuple[int, int], size: int | tuple[int, int], mode: str = "letterbox"
) -> ResizeGeometry:
    """The geometry ``resize_image(image, size, mode)`` applies to an image of shape ``original_hw``.

    ``letterbox`` scales the image to fit inside the target and pads the rest (so a tall image on a
    tall target of the same aspect is not padded at all); ``center_crop`` scales it to cover the target
    and cuts the overhang; ``resize`` stretches. Offsets are floor-halved.

    Examples
    --------
    >>> resize_geometry((100, 50), 64)
    ResizeGeometry(original_rows=100, original_columns=50, target_rows=64, target_columns=64, top=0, left=16, rows=64, columns=32)
    >>> resize_geometry((100, 50), 64, "center_crop").top
    -32
    >>> resize_geometry((300, 100), (96, 32)).left
    0
    """
    if mode not in GEOMETRY_MODES:
        raise ConfigError(f"resize mode {mode!r} is not one of {', '.join(GEOMETRY_MODES)}")
    height, width = target_hw(size)
    rows, columns = (int(value) for value in original_hw)
    if rows < 1 or columns < 1:
        raise ConfigError(f"original image shape {original_hw!r} must have positive height and width")
    if mode == "resize":
        return ResizeGeometry(rows, columns, height, width, 0, 0, height, width)
    if mode == "letterbox":
        # for a square this is size / max(rows, columns) exactly (division rounds monotonically)
        scale = min(height / rows, width / columns)
        new_rows = min(height, max(1, round(rows * scale)))
        new_columns = min(width, max(1, round(columns * scale)))
        top, left = (height - new_rows) // 2, (width - new_columns) // 2
        return ResizeGeometry(rows, columns, height, width, top, left, new_rows, new_columns)
    scale = max(height / rows, width / columns)
    new_rows = max(height, round(rows * scale))
    new_columns = max(width, round(columns * scale))
    top, left = (new_rows - height) // 2, (new_columns - width) // 2
    return ResizeGeometry(rows, columns, height, width, -top, -left, new_rows, new_columns)
