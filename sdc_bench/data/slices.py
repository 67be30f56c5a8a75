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
from sdc_bench.data.dicom_meta import series_files

__all__ = ["load_input", "read_slices"]


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


def load_input(path: str | Path, preprocess: Preprocess, max_pixels: int | None = None) -> np.ndarray:
    """Decode, resize and quantise one sample as the tensor cache stores it.

    ``(rows, columns)`` ``uint8`` for one slice (exactly :func:`~sdc_bench.data.decode.load_preprocessed`),
    ``(K, rows, columns)`` for ``preprocess.slices = K > 1``.
    """
    if preprocess.slices == 1:
        return load_preprocessed(path, preprocess, max_pixels)
    stack = read_slices(path, preprocess, max_pixels)
    return np.stack([to_uint8(resize_image(plane, preprocess.size, preprocess.resize)) for plane in stack])
