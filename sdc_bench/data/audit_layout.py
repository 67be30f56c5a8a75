"""The audit's account of how samples were formed: patient grouping, DICOM series, input geometry.

Split from :mod:`sdc_bench.data.audit` so the report module keeps one job; the fields computed
here are those :class:`~sdc_bench.data.audit.AuditReport` records as ``grouping``,
``patients_with_several_images``, ``series``, ``image_aspect``, ``size_hw`` and ``size_note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from sdc_bench.core.geometry import target_hw
from sdc_bench.data.auto_size import auto_hw, auto_side, median_aspect
from sdc_bench.data.file_info import FileInfo

__all__ = ["GROUPINGS", "layout_fields", "layout_lines"]

GROUPINGS: dict[str, str] = {
    "column": "patient column of the CSV",
    "regex": "patient_regex on the file names",
    "dicom": "PatientID of the DICOM headers",
    "dicom+file": "PatientID of the DICOM headers (one patient per file where it is missing)",
    "file": "one patient per file (no patient ids)",
    "unknown": "unknown",
}
"""``df.attrs["patient_from"]`` -> what the audit prints as the grouping it used."""


def layout_fields(
    df: pd.DataFrame, patients: pd.Series, infos: Sequence[FileInfo], target: int | tuple[int, int] | str
) -> dict[str, Any]:
    """Grouping, series and geometry fields of the audit (``target``: ``data.size``)."""
    patient_from = str(df.attrs.get("patient_from", "unknown"))
    aspect = median_aspect(info.hw for info in infos if not info.error)
    note = ""
    if isinstance(target, str):
        side = auto_side(target)
        size_hw = auto_hw(aspect, side)
        note = (
            f"{target}: median aspect {aspect:.2f} -> {size_hw[0]}x{size_hw[1]} within {side}x{side} pixels"
        )
    else:
        size_hw = target_hw(target)
    return {
        "grouping": GROUPINGS.get(patient_from, patient_from),
        "patients_with_several_images": int((patients.value_counts() > 1).sum()),
        "series": dict(df.attrs.get("series", {"series": 0, "files": 0})),
        "image_aspect": round(aspect, 4) if aspect == aspect else None,
        "size_hw": size_hw,
        "size_note": note,
    }


def layout_lines(fields: dict[str, Any], n_patients: int) -> list[str]:
    """The report lines of :func:`layout_fields`' values."""
    several = fields["patients_with_several_images"]
    lines = [f"{'grouping':<20}{fields['grouping']}: {several} of {n_patients} patient(s) have >1 image"]
    series = fields["series"]
    if series.get("series"):
        lines.append(
            f"{'samples':<20}{series['series']} DICOM series as one sample each ({series['files']} files)"
        )
    aspect = fields["image_aspect"]
    rows, columns = fields["size_hw"]
    shown = f"median aspect (rows/cols) {aspect:g}, " if aspect is not None else ""
    lines.append(
        f"{'geometry':<20}{shown}input {rows}x{columns}"
        + (f" ({fields['size_note']})" if fields["size_note"] else "")
    )
    return lines
