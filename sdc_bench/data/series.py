"""DICOM rows of a folder source: modality and view from the header, one sample per MRI/CT series.

A clinic's lumbar MRI is a series of sagittal slices, one file each; counting every slice as a
sample would put slices of one scan in training and test and weigh long series more. Files of an
MRI or CT series (same SeriesInstanceUID, same folder) become one row: its ``path`` is the series'
middle slice (what one slice reads), its ``sample_id`` the folder plus the series UID, and
:mod:`sdc_bench.data.slices` finds the neighbours again for 2.5D inputs. Radiographs (CR/DX) stay
one row per file, since one X-ray series often holds several views.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from sdc_bench.data.dicom_meta import VOLUME_MODALITIES, DicomMeta, read_dicom_meta

__all__ = ["SeriesCount", "dicom_rows"]

SeriesCount = dict[str, int]
"""``{"series": series merged into one row each, "files": files they hold}`` (``df.attrs["series"]``)."""


def _with_header(row: dict[str, str], meta: DicomMeta | None) -> dict[str, str]:
    if meta is None:
        return row
    return {
        **row,
        "modality": meta.modality or row["modality"],
        "view": meta.view or row["view"],
    }


def dicom_rows(rows: Sequence[dict[str, str]]) -> tuple[list[dict[str, str]], SeriesCount]:
    """Rows with the DICOM header's modality and view, the files of each MRI/CT series merged.

    Parameters
    ----------
    rows : sequence of dict
        One row per image file (``sample_id`` relative to the source folder, absolute ``path``,
        ``label``, ``modality``, ``view``, ...).

    Returns
    -------
    rows : list of dict
        In the order of the first file of each sample.
    count : dict
        Series merged and the files they held.
    """
    metas = [read_dicom_meta(row["path"]) for row in rows]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for index, (row, meta) in enumerate(zip(rows, metas, strict=True)):
        if meta is not None and meta.series_uid and meta.modality in VOLUME_MODALITIES:
            key = (row["label"], str(Path(row["path"]).parent), meta.series_uid)
            groups.setdefault(key, []).append(index)
    merged: dict[int, dict[str, str]] = {}  # first file's index -> the series' row
    dropped: set[int] = set()
    count: SeriesCount = {"series": 0, "files": 0}
    for (_, _, uid), members in groups.items():
        if len(members) < 2:
            continue
        ordered = sorted(members, key=lambda i: metas[i].order_key(Path(rows[i]["path"]).name))  # type: ignore[union-attr]
        middle = ordered[len(ordered) // 2]
        folder = PurePosixPath(rows[middle]["sample_id"]).parent
        merged[min(members)] = {
            **_with_header(rows[middle], metas[middle]),
            "sample_id": f"{folder}/{uid}",
        }
        dropped.update(members)
        count["series"] += 1
        count["files"] += len(members)
    out = []
    for index, (row, meta) in enumerate(zip(rows, metas, strict=True)):
        if index in merged:
            out.append(merged[index])
        elif index not in dropped:
            out.append(_with_header(row, meta))
    return out, count
