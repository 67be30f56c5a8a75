"""Where an original image lands on the model's square input: the geometry of the cache's resize modes.

``data/decode.py::resize_image`` turns an image of any shape into a ``size`` x ``size`` square
(``letterbox``, ``resize`` or ``center_crop``). Anything computed on that square (a saliency map) must
be mapped back onto the original image, which needs the exact offsets and scale the resize used. This
module states them once, on the ground floor, so the zoo (saliency maps) and the data floor can share
them without importing each other; ``tests/zoo/test_saliency.py`` checks it against ``resize_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdc_bench.core.errors import ConfigError

__all__ = ["GEOMETRY_MODES", "ResizeGeometry", "resize_geometry"]

GEOMETRY_MODES: tuple[str, ...] = ("letterbox", "resize", "center_crop")
"""The resize modes of ``data/decode.py::RESIZE_MODES``, in the same order (a test keeps them equal)."""


@dataclass(frozen=True)
class ResizeGeometry:
    """The box the resized original occupies on the ``size`` x ``size`` model input.

    ``top``/``left`` are the square's row/column where the resized original starts: positive for the
    letterbox padding, negative where ``center_crop`` cut the image off. ``rows``/``columns`` are the
    resized original's height and width in square pixels.
    """

    original_rows: int
    original_columns: int
    size: int
    top: int
    left: int
    rows: int
    columns: int

    @property
    def original_hw(self) -> tuple[int, int]:
        return self.original_rows, self.original_columns


def resize_geometry(original_hw: tuple[int, int], size: int, mode: str = "letterbox") -> ResizeGeometry:
    """The geometry ``resize_image(image, size, mode)`` applies to an image of shape ``original_hw``.

    The arithmetic (rounding, clamping, floor-halved offsets) is the one of
    ``sdc_bench.data.decode.resize_image``; keep the two in step.

    Examples
    --------
    >>> resize_geometry((100, 50), 64)
    ResizeGeometry(original_rows=100, original_columns=50, size=64, top=0, left=16, rows=64, columns=32)
    >>> resize_geometry((100, 50), 64, "center_crop").top
    -32
    """
    if mode not in GEOMETRY_MODES:
        raise ConfigError(f"resize mode {mode!r} is not one of {', '.join(GEOMETRY_MODES)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"size={size!r} must be a positive integer")
    rows, columns = (int(value) for value in original_hw)
    if rows < 1 or columns < 1:
        raise ConfigError(f"original image shape {original_hw!r} must have positive height and width")
    if mode == "resize":
        return ResizeGeometry(rows, columns, size, 0, 0, size, size)
    if mode == "letterbox":
        scale = size / max(rows, columns)
        new_rows = min(size, max(1, round(rows * scale)))
        new_columns = min(size, max(1, round(columns * scale)))
        top, left = (size - new_rows) // 2, (size - new_columns) // 2
        return ResizeGeometry(rows, columns, size, top, left, new_rows, new_columns)
    scale = size / min(rows, columns)
    new_rows = max(size, round(rows * scale))
    new_columns = max(size, round(columns * scale))
    top, left = (new_rows - size) // 2, (new_columns - size) // 2
    return ResizeGeometry(rows, columns, size, -top, -left, new_rows, new_columns)
