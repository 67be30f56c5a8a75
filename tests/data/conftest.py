"""Fixtures that write small image files of every supported format (and broken ones) into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

WritePng = Callable[..., Path]
WriteDicom = Callable[..., Path]
WriteNifti = Callable[..., Path]


def save_image(path: Path, pixels: np.ndarray, **options: Any) -> Path:
    """Save uint8 gray/RGB or uint16 gray pixels with Pillow, format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint16:
        image = Image.fromarray(pixels.astype(np.uint16))  # mode I;16
    else:
        image = Image.fromarray(pixels.astype(np.uint8))
    image.save(path, **options)
    return path


def save_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 16,
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple[float, float] | None = None,
    voi_function: str | None = None,
    patient_id: str | None = "P001",
    with_pixels: bool = True,
) -> Path:
    """Write an uncompressed DICOM (explicit VR little endian); 3-D pixels become a multi-frame object."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(pixels, dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    if patient_id is not None:
        ds.PatientID = patient_id
    if with_pixels:
        ds.Rows, ds.Columns = int(pixels.shape[-2]), int(pixels.shape[-1])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 0
        if pixels.ndim == 3:
            ds.NumberOfFrames = int(pixels.shape[0])
        if slope is not None:
            ds.RescaleSlope = slope
            ds.RescaleIntercept = intercept if intercept is not None else 0
            ds.RescaleType = "HU"
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        if voi_function is not None:
            ds.VOILUTFunction = voi_function
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def save_nifti(path: Path, volume: np.ndarray, affine: np.ndarray | None = None) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(volume), np.eye(4) if affine is None else affine), str(path))
    return path


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """``write_image(path, pixels, **pillow_options)`` saves PNG/JPEG/TIFF/BMP by suffix."""
    return save_image


@pytest.fixture
def write_dicom() -> WriteDicom:
    """``write_dicom(path, pixels, photometric=..., slope=..., window=(c, w), ...)`` writes a DICOM file."""
    return save_dicom


@pytest.fixture
def write_nifti() -> WriteNifti:
    """``write_nifti(path, volume, affine=None)`` writes a NIfTI file (.nii or .nii.gz)."""
    return save_nifti


def ramp(rows: int = 12, columns: int = 16, high: int = 255, dtype: Any = np.uint8) -> np.ndarray:
    """A left-to-right ramp from 0 to ``high``, the same on every row."""
    return np.tile(np.linspace(0, high, columns).round().astype(dtype), (rows, 1))


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """A folder source: 2 classes, 3 patients each, 2 images per patient, one in a nested folder.

    File names look like ``P01_view0.png``; the normal class holds patients P01-P03,
    scoliosis P11-P13. Each image has distinct content.
    """
    root = tmp_path / "spine"
    value = 0
    for label, first in (("normal", 1), ("scoliosis", 11)):
        for patient in range(first, first + 3):
            for view in range(2):
                sub = root / label / ("nested" if (patient, view) == (first, 1) else "")
                pixels = np.full((10, 14), value, dtype=np.uint8)
                pixels[0, 0] = 255 - value  # keep every file's bytes distinct
                save_image(sub / f"P{patient:02d}_view{view}.png", pixels)
                value += 10
    return root


@pytest.fixture
def broken_files(tmp_path: Path) -> dict[str, Path]:
    """Files every reader must reject with a DataError naming them."""
    folder = tmp_path / "broken"
    folder.mkdir()
    good_png = folder / "good.png"
    save_image(good_png, ramp(64, 64))
    good_jpeg = folder / "good.jpg"
    save_image(good_jpeg, np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8), quality=90)
    files = {
        "garbage_png": folder / "garbage.png",
        "truncated_png": folder / "truncated.png",
        "truncated_jpeg": folder / "truncated.jpg",
        "text_as_png": folder / "notes.png",
        "empty_png": folder / "empty.png",
        "dicom_no_pixels": save_dicom(folder / "report.dcm", np.zeros((4, 4)), with_pixels=False),
        "truncated_dicom": folder / "truncated.dcm",
        "garbage_nifti": folder / "garbage.nii.gz",
    }
    files["garbage_png"].write_bytes(np.random.default_rng(1).bytes(300))
    files["truncated_png"].write_bytes(good_png.read_bytes()[: good_png.stat().st_size // 2])
    files["truncated_jpeg"].write_bytes(good_jpeg.read_bytes()[: good_jpeg.stat().st_size // 2])
    files["text_as_png"].write_text("patient notes, not an image\n")
    files["empty_png"].write_bytes(b"")
    dicom = save_dicom(folder / "full.dcm", ramp(32, 32, 4095, np.uint16))
    files["truncated_dicom"].write_bytes(dicom.read_bytes()[:-700])
    dicom.unlink()
    files["garbage_nifti"].write_bytes(b"\x1f\x8b" + np.random.default_rng(2).bytes(200))
    good_png.unlink()
    good_jpeg.unlink()
    return files
