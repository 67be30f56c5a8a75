"""SynthSpine images as DICOM files: the tags a CR/DX radiograph or an MR slice of a real scanner carries.

Every UID is derived from the seed and the sample or patient id (no clock, no randomness), so the
same dataset always gives the same files, and the stored pixel values map back exactly to the PNG
values through RescaleSlope.  The label never appears in a tag: it lives in the manifest only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sdc_bench.data.synthspine.sites import SiteProfile

if TYPE_CHECKING:
    from pydicom.dataset import Dataset
    from pydicom.uid import UID

__all__ = ["write_dicom"]


def _uid(*parts: object) -> UID:
    """Deterministic UID: the same parts always give the same UID (no clock, no randomness)."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _stored_values(
    pixels: np.ndarray, site: SiteProfile, photometric: str
) -> tuple[np.ndarray, int, int, int]:
    """Stored values over the full BitsStored range (inverted for MONOCHROME1); also bits, PNG top, top."""
    png_bits = 8 if pixels.dtype == np.uint8 else 16
    bits = site.bits_stored if png_bits == 8 else 16
    png_top, top = (1 << png_bits) - 1, (1 << bits) - 1
    stored = np.floor(pixels.astype(np.float64) * (top / png_top) + 0.5)
    if photometric == "MONOCHROME1":
        stored = top - stored
    return stored, bits, png_top, top


def _sop_class(xray: bool, modality: str) -> UID:
    from pydicom.uid import (
        ComputedRadiographyImageStorage,
        DigitalXRayImageStorageForPresentation,
        MRImageStorage,
    )

    if not xray:
        return MRImageStorage
    return ComputedRadiographyImageStorage if modality == "CR" else DigitalXRayImageStorageForPresentation


def _dataset(sop_class: UID, sop_uid: UID) -> Dataset:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def _patient_and_study(
    ds: Dataset, row: dict[str, object], site: SiteProfile, modality: str, seed: int
) -> None:
    sample_id, patient_id = str(row["sample_id"]), str(row["patient_id"])
    ds.StudyInstanceUID = _uid(seed, patient_id, "study")
    ds.SeriesInstanceUID = _uid(seed, sample_id, "series")
    ds.PatientID = patient_id
    ds.PatientName = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.Modality = modality
    ds.Manufacturer = site.manufacturer
    ds.InstitutionName = site.name
    ds.BodyPartExamined = "LSPINE"
    ds.SeriesNumber = 1
    ds.InstanceNumber = int(sample_id.rsplit("-i", 1)[1]) + 1
    ds.SeriesDescription = f"SynthSpine {row['view']}"
    ds.ImageComments = "SynthSpine procedural phantom"  # never the label: it lives in the manifest only
    ds.ImageType = ["ORIGINAL", "PRIMARY"]


def _image_pixel(
    ds: Dataset,
    shape: tuple[int, ...],
    photometric: str,
    bits: int,
    png_top: int,
    top: int,
    spacing_mm: float,
) -> list[str]:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    spacing = [f"{spacing_mm:.6f}", f"{spacing_mm:.6f}"]
    ds.PixelSpacing = spacing
    ds.RescaleSlope = f"{png_top / top:.12g}"
    ds.RescaleIntercept = "0"
    ds.WindowCenter = f"{png_top / 2:.1f}"
    ds.WindowWidth = f"{png_top + 1:d}"
    return spacing


def _xray_tags(
    ds: Dataset, row: dict[str, object], modality: str, photometric: str, spacing: list[str]
) -> None:
    ds.ImagerPixelSpacing = spacing
    ds.ViewPosition = "AP" if row["view"] == "ap" else "LL"
    ds.PatientOrientation = ["R", "F"] if row["view"] == "ap" else ["A", "F"]
    ds.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    ds.RescaleType = "US"
    if modality == "DX":
        ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.DetectorType = "DIRECT"
        ds.BurnedInAnnotation = "YES"


def _mri_tags(ds: Dataset, row: dict[str, object], site: SiteProfile, seed: int) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "3500"
    ds.EchoTime = "100"
    ds.EchoTrainLength = 16
    ds.MagneticFieldStrength = f"{site.field_strength_t:g}"
    ds.SliceThickness = "4"
    ds.FrameOfReferenceUID = _uid(seed, str(row["patient_id"]), "frame")
    ds.ImagePositionPatient = ["0", "0", "0"]
    ds.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]


def write_dicom(
    path: Path, pixels: np.ndarray, row: dict[str, object], site: SiteProfile, spacing_mm: float, seed: int
) -> None:
    """Write one image as a DICOM file whose rescaled pixel values equal the PNG values.

    Stored values use the full BitsStored range; RescaleSlope maps them back to the PNG scale
    (rounding recovers the PNG exactly). MONOCHROME1 sites store the values inverted.
    """
    xray = row["modality"] == "xray"
    photometric = site.xray_photometric if xray else "MONOCHROME2"
    stored, bits, png_top, top = _stored_values(pixels, site, photometric)
    modality = site.xray_modality if xray else "MR"
    ds = _dataset(_sop_class(xray, modality), _uid(seed, str(row["sample_id"]), "sop"))
    _patient_and_study(ds, row, site, modality, seed)
    spacing = _image_pixel(ds, pixels.shape, photometric, bits, png_top, top, spacing_mm)
    if xray:
        _xray_tags(ds, row, modality, photometric, spacing)
    else:
        _mri_tags(ds, row, site, seed)
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
