"""What one image file holds, read without trusting it: content hash, format, size, bit depth, damage.

:func:`inspect_file` never raises on a bad file: it returns a :class:`FileInfo` whose ``error`` says
why the file cannot be read, so :mod:`sdc_bench.data.audit` can list every problem of a dataset at once.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from sdc_bench.core.errors import SdcBenchError
from sdc_bench.data.decode import (
    METAIMAGE_SUFFIXES,
    check_pixel_count,
    is_dicom,
    metaimage_plane_hw,
    metaimage_voxels,
    nifti_voxels,
    pixel_type,
    read_image,
)

__all__ = ["FileInfo", "inspect_file", "nifti_plane_hw"]

_PIL_BITS = {
    "1": 1,
    "L": 8,
    "LA": 8,
    "P": 8,
    "PA": 8,
    "RGB": 8,
    "RGBA": 8,
    "CMYK": 8,
    "YCbCr": 8,
    "I": 32,
    "F": 32,
}


@dataclass(frozen=True)
class FileInfo:
    """What the audit learns from one file without decoding its pixels.

    Attributes
    ----------
    content_hash : str
        BLAKE2b hash of the file's bytes (empty when unreadable).
    format : str
        ``PNG``, ``JPEG``, ``TIFF``, ``BMP``, ``DICOM``, ``NIfTI``, ... (empty when unknown).
    size : str
        ``"<rows>x<columns>"`` (``x<frames>`` or ``x<slices>`` appended for stacks).
    bit_depth : int
        Bits per stored sample (0 when unknown).
    photometric : str
        Pillow mode, DICOM PhotometricInterpretation, or ``nifti``.
    error : str
        Why the file cannot be read; empty when it can.
    hw : tuple of int
        ``(rows, columns)`` of the 2-D image the decoder makes of it (a NIfTI volume's mid slice);
        ``(0, 0)`` when unknown.
    """

    content_hash: str = ""
    format: str = ""
    size: str = ""
    bit_depth: int = 0
    photometric: str = ""
    error: str = ""
    hw: tuple[int, int] = (0, 0)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _dicom_info(path: Path, data: bytes, max_pixels: int | None) -> FileInfo:
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    if not any(tag in dataset for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ValueError("DICOM file has no pixel data")
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    check_pixel_count(
        path, rows * columns * frames * samples, f"{rows}x{columns}x{frames} pixels", max_pixels
    )
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if "PixelData" in dataset and syntax is not None and not syntax.is_compressed:
        bits = int(dataset.get("BitsAllocated", 8) or 8)
        expected = (rows * columns * frames * samples * bits + 7) // 8
        if len(dataset.PixelData) < expected:
            raise ValueError(f"truncated DICOM pixel data ({len(dataset.PixelData)} of {expected} bytes)")
    size = f"{rows}x{columns}" + (f"x{frames}" if frames > 1 else "")
    return FileInfo(
        format="DICOM",
        size=size,
        bit_depth=int(dataset.get("BitsStored", dataset.get("BitsAllocated", 0)) or 0),
        photometric=str(dataset.get("PhotometricInterpretation", "") or ""),
        hw=(rows, columns),
    )


def _nifti_info(path: Path, max_pixels: int | None) -> FileInfo:
    import nibabel as nib

    image: Any = nib.load(path)
    check_pixel_count(path, *nifti_voxels(image), max_pixels)
    shape = tuple(int(n) for n in image.shape)
    return FileInfo(
        format="NIfTI",
        size="x".join(map(str, shape)),
        bit_depth=int(image.header.get_data_dtype().itemsize * 8),
        photometric="nifti",
        hw=nifti_plane_hw(image),
    )


def _metaimage_info(path: Path, max_pixels: int | None) -> FileInfo:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()  # the header only: a bomb is refused before a voxel is read
    check_pixel_count(path, *metaimage_voxels(reader), max_pixels)
    bits = re.search(r"(\d+)-bit", pixel_type(reader))  # e.g. "16-bit signed integer"
    return FileInfo(
        format="MetaImage",
        size="x".join(str(int(n)) for n in reader.GetSize()),
        bit_depth=int(bits.group(1)) if bits else 0,
        photometric="metaimage",
        hw=metaimage_plane_hw(reader),
    )


def nifti_plane_hw(image: Any, nifti_slice: str = "mid_sagittal") -> tuple[int, int]:
    """``(rows, columns)`` of the slice ``read_image`` takes from a NIfTI image, from its header alone.

    The decoder reorients to RAS and shows superior (sagittal, coronal) or anterior (axial) up; the
    affine says which stored axis ends up where, without reading a voxel.
    """
    import nibabel as nib

    shape = tuple(int(n) for n in image.shape)
    if len(shape) < 3:
        return (shape[0], shape[1]) if len(shape) == 2 else (0, 0)
    axes = nib.orientations.io_orientation(image.affine)[:, 0].astype(int)  # stored axis -> RAS axis
    ras = {int(ras_axis): shape[stored] for stored, ras_axis in enumerate(axes[:3])}
    across, up = {"mid_sagittal": (1, 2), "mid_coronal": (0, 2), "mid_axial": (0, 1)}[nifti_slice]
    return ras.get(up, 0), ras.get(across, 0)


def _pil_info(path: Path, data: bytes, max_pixels: int | None) -> FileInfo:
    with Image.open(io.BytesIO(data)) as image:
        mode, (width, height), kind = image.mode, image.size, str(image.format or "")
        check_pixel_count(path, width * height, f"{height}x{width} pixels", max_pixels)
        # verify() walks the chunks (CRCs for PNG) without decoding, so truncation shows up.
        image.verify()
    if kind == "JPEG" and b"\xff\xd9" not in data[-1024:]:
        raise ValueError("truncated JPEG (no end-of-image marker)")
    bits = 16 if mode.startswith("I;16") else _PIL_BITS.get(mode, 8)
    return FileInfo(
        format=kind, size=f"{height}x{width}", bit_depth=bits, photometric=mode, hw=(height, width)
    )


def inspect_file(path: str | Path, *, decode: bool = False, max_pixels: int | None = None) -> FileInfo:
    """Hash a file and read its header; report instead of raising when it is unreadable.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file.
    decode : bool
        Also decode the pixels with :func:`~sdc_bench.data.decode.read_image`,
        which finds damage a header check misses (e.g. a truncated JPEG body).
    max_pixels : int, optional
        Largest pixel (voxel) count a header may claim; ``None`` takes Pillow's cap.

    Returns
    -------
    FileInfo
        With ``error`` set when the file is missing or unreadable.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = "file does not exist" if isinstance(error, FileNotFoundError) else _first_line(error)
        return FileInfo(error=reason)
    content_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
    if not data:
        return FileInfo(content_hash=content_hash, error="file is empty")
    try:
        name = str(path).lower()
        if name.endswith((".nii", ".nii.gz")):
            info = _nifti_info(path, max_pixels)
        elif name.endswith(METAIMAGE_SUFFIXES):
            info = _metaimage_info(path, max_pixels)
        elif is_dicom(path, data):
            info = _dicom_info(path, data, max_pixels)
        else:
            info = _pil_info(path, data, max_pixels)
        if decode:
            read_image(path, max_pixels=max_pixels, data=data)
    except SdcBenchError as error:
        return FileInfo(content_hash=content_hash, error=str(error).split(": ", 1)[-1])
    except Exception as error:  # the audit reports any failure to read, it does not stop on it
        return FileInfo(content_hash=content_hash, error=f"unreadable ({_first_line(error)})")
    return FileInfo(content_hash, info.format, info.size, info.bit_depth, info.photometric, "", info.hw)
