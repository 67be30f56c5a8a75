"""Slices as channels (2.5D): K adjacent slices around the middle one of a volume, one model input.

A NIfTI or MetaImage volume gives the K planes around its mid plane (``nifti_slices`` names the axis); a DICOM
series (the files sharing the SeriesInstanceUID of the manifest's file, which is the series' middle
slice) gives its K middle slices in slice order. Each slice is decoded and normalised as a single
slice is (:func:`~sdc_bench.data.decode.read_image`), so the middle channel equals the one-slice
input. A 2-D image has no neighbours: its one slice is repeated. Slices past the end of the volume
repeat the edge slice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sdc_bench.core.errors import DataError
from sdc_bench.data.decode import (
    VOLUME_SUFFIXES,
    Preprocess,
    load_preprocessed,
    nifti_plane,
    read_image,
    read_volume,
    resize_image,
    to_uint8,
)
from sdc_bench.data.dicom_meta import read_dicom_meta, series_files

__all__ = ["GAP_FACTOR", "SLICE_GAPS_FIX", "find_slice_gaps", "load_input", "read_slices", "slice_gap"]

GAP_FACTOR = 1.5
"""A step between two adjacent slices of a series over this many times its spacing is a gap."""

SLICE_GAPS_FIX = (
    "add the missing slices, use data.slices = 1, or accept the gap with --set data.allow_slice_gaps=true"
)
"""The fix every message about a slice gap names."""


def _offsets(count: int) -> range:
    return range(-(count // 2), count // 2 + 1)


def read_slices(path: str | Path, preprocess: Preprocess, max_pixels: int | None = None) -> np.ndarray:
    """The ``preprocess.slices`` slices around the middle of ``path``'s volume or series, ``(K, rows, columns)``.

    Raises
    ------
    DataError
        When a slice cannot be decoded, or the slices of a series differ in shape.
    """
    path = Path(path)
    count = preprocess.slices
    if str(path).lower().endswith(VOLUME_SUFFIXES):
        volume = read_volume(path, max_pixels)
        return np.stack([nifti_plane(volume, preprocess.nifti_slices, o) for o in _offsets(count)])
    files = series_files(path)
    middle = files.index(path) if path in files else len(files) // 2
    picked = [files[min(max(middle + o, 0), len(files) - 1)] for o in _offsets(count)]
    planes = [
        read_image(f, frame=preprocess.frame, nifti_slice=preprocess.nifti_slices, max_pixels=max_pixels)
        for f in picked
    ]
    if len({plane.shape for plane in planes}) > 1:
        raise DataError(
            f"{path}: the slices of its DICOM series differ in shape ({sorted({p.shape for p in planes})}); "
            "one series must hold slices of one size - split or remove it"
        )
    return np.stack(planes)


def slice_gap(path: str | Path, count: int) -> str | None:
    """What is wrong with the ``count`` slices around ``path`` in its DICOM series, or None when they are
    adjacent: a step over :data:`GAP_FACTOR` times the series' spacing (the median step) between two of them.
    """
    path = Path(path)
    if count < 2 or str(path).lower().endswith(VOLUME_SUFFIXES):
        return None
    files = series_files(path)
    if len(files) < 3:
        return None
    metas = [read_dicom_meta(f) for f in files]
    positions = np.asarray([m.position if m is not None else np.nan for m in metas], dtype=np.float64)
    if not np.isfinite(positions).all():
        return None
    steps = np.abs(np.diff(positions))
    spacing = float(np.median(steps))
    if spacing <= 0:
        return None
    middle = files.index(path) if path in files else len(files) // 2
    low, high = max(middle - count // 2, 0), min(middle + count // 2, len(files) - 1)
    for index in range(low, high):
        if steps[index] > GAP_FACTOR * spacing:
            before, after = metas[index], metas[index + 1]
            numbers = (before.instance_number, after.instance_number)  # type: ignore[union-attr]
            if all(np.isfinite(numbers)) and abs(numbers[1] - numbers[0]) > 1:
                first, last = sorted(int(n) for n in numbers)
                missing = (
                    f"missing instances {first + 1}-{last - 1}"
                    if last - first > 2
                    else f"missing instance {first + 1}"
                )
            else:
                missing = f"about {round(steps[index] / spacing) - 1} slice(s) missing"
            return (
                f"its {count} slices jump {steps[index]:g} mm between {files[index].name} and "
                f"{files[index + 1].name} against a {spacing:g} mm spacing ({missing})"
            )
    return None


def find_slice_gaps(paths: list[str], count: int) -> list[tuple[int, str]]:
    """``(row, what is wrong)`` for every input of ``count`` slices whose series has a gap in them."""
    if count < 2:
        return []
    found = []
    for row, path in enumerate(paths):
        gap = slice_gap(path, count)
        if gap is not None:
            found.append((row, gap))
    return found


def load_input(path: str | Path, preprocess: Preprocess, max_pixels: int | None = None) -> np.ndarray:
    """Decode, resize and quantise one sample as the tensor cache stores it.

    ``(rows, columns)`` ``uint8`` for one slice (exactly :func:`~sdc_bench.data.decode.load_preprocessed`),
    ``(K, rows, columns)`` for ``preprocess.slices = K > 1``.
    """
    if preprocess.slices == 1:
        return load_preprocessed(path, preprocess, max_pixels)
    stack = read_slices(path, preprocess, max_pixels)
    return np.stack([to_uint8(resize_image(plane, preprocess.size, preprocess.resize)) for plane in stack])
