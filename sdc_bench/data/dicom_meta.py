"""What a DICOM header says about an image beyond its pixels: patient, modality, view, series, slice place.

Clinics hand over DICOM folders whose header is the only grouping there is: PatientID groups the
images into patients, Modality tells X-ray (CR/DX) from MRI (MR) and CT, ViewPosition names the
radiograph's view, and SeriesInstanceUID ties the slices of one MRI/CT series together. The slices of a
series are ordered along the slice normal (ImagePositionPatient projected on the normal of
ImageOrientationPatient), else by InstanceNumber, else by file name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sdc_bench.data.decode import is_dicom

__all__ = [
    "MODALITY_FROM_DICOM",
    "VOLUME_MODALITIES",
    "DicomMeta",
    "read_dicom_meta",
    "series_files",
]

MODALITY_FROM_DICOM: dict[str, str] = {"CR": "xray", "DX": "xray", "MR": "mri", "CT": "ct"}
"""DICOM Modality (0008,0060) -> manifest modality."""

VOLUME_MODALITIES: tuple[str, ...] = ("mri", "ct")
"""Modalities whose series are volumes: all files of one series are one sample."""

_TAGS = [
    "PatientID",
    "Modality",
    "ViewPosition",
    "SeriesDescription",
    "SeriesInstanceUID",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
]


@dataclass(frozen=True)
class DicomMeta:
    """The header fields that group and order images; empty strings (``nan`` position) when absent."""

    patient_id: str = ""
    modality: str = ""  # the manifest's name (xray, mri, ct), '' for a modality it does not know
    view: str = ""  # ViewPosition, else SeriesDescription, lower case
    series_description: str = ""
    series_uid: str = ""
    instance_number: float = float("nan")
    position: float = float("nan")  # along the slice normal, in mm

    def order_key(self, name: str) -> tuple[float, float, str]:
        """Sort key of a slice in its series (position, else instance number, else file name)."""
        position = self.position if np.isfinite(self.position) else np.inf
        number = self.instance_number if np.isfinite(self.instance_number) else np.inf
        return float(position), float(number), name


def _text(dataset: object, tag: str) -> str:
    return str(getattr(dataset, tag, "") or "").strip()


def _position(dataset: Any) -> float:
    try:
        position = np.asarray([float(v) for v in dataset.ImagePositionPatient], dtype=np.float64)
        orientation = np.asarray([float(v) for v in dataset.ImageOrientationPatient], dtype=np.float64)
        normal = np.cross(orientation[:3], orientation[3:6])
        return float(position[:3] @ normal)
    except (AttributeError, TypeError, ValueError, IndexError):
        return float("nan")


@functools.lru_cache(maxsize=65536)
def _cached_meta(path: str, mtime_ns: int, size: int) -> DicomMeta | None:
    import pydicom

    del mtime_ns, size  # part of the cache key only: a rewritten file is read again
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS, force=True)
    except Exception:  # an unreadable header is reported by the audit and the decoder, not here
        return None
    try:
        number = float(dataset.get("InstanceNumber", "nan") or "nan")
    except (TypeError, ValueError):
        number = float("nan")
    description = _text(dataset, "SeriesDescription")
    return DicomMeta(
        patient_id=_text(dataset, "PatientID"),
        modality=MODALITY_FROM_DICOM.get(_text(dataset, "Modality").upper(), ""),
        view=(_text(dataset, "ViewPosition") or description).lower(),
        series_description=description,
        series_uid=_text(dataset, "SeriesInstanceUID"),
        instance_number=number,
        position=_position(dataset),
    )


def read_dicom_meta(path: str | Path) -> DicomMeta | None:
    """The grouping fields of a DICOM file's header, or ``None`` when it is not DICOM or unreadable.

    Headers are read without pixel data and remembered per file (path, size and modification time).
    """
    if not is_dicom(path):
        return None
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _cached_meta(str(path), stat.st_mtime_ns, stat.st_size)


def series_files(path: str | Path) -> list[Path]:
    """The files of ``path``'s series in its folder, in slice order; ``[path]`` when it has no series UID."""
    path = Path(path)
    meta = read_dicom_meta(path)
    if meta is None or not meta.series_uid:
        return [path]
    members = []
    for candidate in sorted(path.parent.iterdir()):
        if candidate.name.startswith(".") or not candidate.is_file():
            continue
        other = read_dicom_meta(candidate)
        if other is not None and other.series_uid == meta.series_uid:
            members.append((other.order_key(candidate.name), candidate))
    return [member for _, member in sorted(members)] or [path]
