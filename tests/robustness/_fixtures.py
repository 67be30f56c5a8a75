"""Small dataset builders for the robustness tests: a good folder source, broken files, bomb headers."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from tests.data.conftest import save_dicom

__all__ = ["bomb_dicom", "bomb_nifti", "good_folder", "png"]


def png(path: Path, value: int, size: tuple[int, int] = (32, 32)) -> Path:
    """A gray PNG whose bytes differ for every ``value``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full(size, value % 256, dtype=np.uint8)
    pixels.flat[value % pixels.size] = 255 - value % 256
    pixels.flat[0] = value // 256
    Image.fromarray(pixels).save(path)
    return path


def good_folder(root: Path, patients: int = 6, classes: tuple[str, ...] = ("normal", "scoliosis")) -> Path:
    """Class folders, one 32x32 PNG per patient, every file distinct; names ``P<class><nn>_a.png``."""
    value = 1
    for k, label in enumerate(classes):
        for patient in range(patients):
            png(root / label / f"P{k}{patient:02d}_a.png", value)
            value += 7
    return root


def bomb_nifti(path: Path, dim: int = 4096) -> Path:
    """A tiny ``.nii.gz`` whose header claims a ``dim``^3 int16 volume; the data are a few zero bytes."""
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, dim, dim, dim, 1, 1, 1, 1)
    struct.pack_into("<hh", header, 70, 4, 16)  # datatype int16, bitpix
    struct.pack_into("<8f", header, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)  # vox_offset
    struct.pack_into("<f", header, 112, 1.0)  # scl_slope
    header[344:348] = b"n+1\x00"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(bytes(header) + b"\x00" * 4 + b"\x00" * 1024))
    return path


def bomb_dicom(path: Path) -> Path:
    """A DICOM whose header claims 60000 x 60000 pixels x 100 frames but holds 32 bytes of pixel data."""
    written = save_dicom(path, np.zeros((4, 4), dtype=np.uint16))
    import pydicom

    dataset = pydicom.dcmread(written)
    dataset.Rows = 60000
    dataset.Columns = 60000
    dataset.NumberOfFrames = 100
    dataset.save_as(written)
    return written
