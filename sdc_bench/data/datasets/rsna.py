"""RSNA 2024 Lumbar Spine Degenerative Classification (Kaggle): per-level severities to study tasks on sagittal T2.

Published layout (the Kaggle competition's data; brought by the user), as this converter reads it (the names are
those of the published competition files as best known here; a missing file or column is named in one line):

* ``train.csv``: one row per study, ``study_id`` and one column per condition and level, e.g.
  ``spinal_canal_stenosis_l1_l2`` ... ``spinal_canal_stenosis_l5_s1`` (also the left/right neural foraminal
  narrowing and subarticular stenosis columns, not used here), valued ``Normal/Mild``, ``Moderate``,
  ``Severe`` or empty (not graded);
* ``train_series_descriptions.csv``: ``study_id``, ``series_id``, ``series_description`` (``Sagittal
  T2/STIR``, ``Sagittal T1``, ``Axial T2``);
* ``train_images/<study_id>/<series_id>/<instance>.dcm``: one DICOM file per slice.

One row per study, from its ``Sagittal T2/STIR`` series (the first by ``series_id`` when it has several),
where spinal canal stenosis shows best. A manifest row names a file, not a folder, so ``path`` is the series'
middle slice and ``sample_id`` the series folder, as the data floor's own DICOM series rows do
(:mod:`sdc_bench.data.series`): the slices around it are found again by their SeriesInstanceUID for 2.5D
input (``data.slices``), and ``data get`` copies the whole series. Kaggle's studies are one per patient, so
``patient_id`` is the ``study_id``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Conversion, Dataset, Task, register, require
from sdc_bench.data.dicom_meta import series_files

__all__ = ["RsnaLumbar"]

SAGITTAL_T2 = "sagittal t2/stir"
_LEVELS = ("l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1")
_CANAL = tuple(f"spinal_canal_stenosis_{level}" for level in _LEVELS)
_GRADES = {"normal/mild": 0, "moderate": 1, "severe": 2}
Rule = Callable[[list[int | None]], tuple[str | None, str]]


def _at_least(grade: int, positive: str, negative: str) -> Rule:
    """Positive when any level reaches ``grade``; negative only when every level is graded below it."""

    def rule(grades: list[int | None]) -> tuple[str | None, str]:
        if any(g is not None and g >= grade for g in grades):
            return positive, ""
        if any(g is None for g in grades):
            return None, "no level reaches the task's grade, and a level is not graded"
        return negative, ""

    return rule


_RULES: dict[str, Rule] = {
    "severe-stenosis": _at_least(2, "severe", "none"),
    "stenosis": _at_least(1, "stenosis", "none"),
}


def _number_key(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (1 << 62, text)


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [column for column in columns if column not in header]
        if missing:
            raise DataError(
                f"{path}: no column {missing[0]!r} (the published RSNA 2024 files name it so); its columns: "
                f"{', '.join(header[:12])}{', ...' if len(header) > 12 else ''}"
            )
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def _grade(cell: str, path: Path, study: str, column: str) -> int | None:
    if not cell:
        return None
    grade = _GRADES.get(cell.lower())
    if grade is None:
        raise DataError(
            f"{path}: study {study}, {column}: {cell!r} is not a severity (Normal/Mild, Moderate, Severe)"
        )
    return grade


def _middle_slice(folder: Path) -> Path | None:
    """The middle slice of the series in ``folder`` (slice order from the headers), ``None`` if it is empty."""
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".dcm"),
        key=lambda p: _number_key(p.stem),
    )
    if not files:
        return None
    ordered = series_files(files[0])
    if len(ordered) != len(files):  # no series UID, or several: the instance numbers of the file names
        ordered = files
    return ordered[len(ordered) // 2]


@register
class RsnaLumbar(Dataset):
    name = "rsna"
    title = "RSNA 2024 Lumbar Spine Degenerative Classification"
    licence = "Kaggle competition rules (non-commercial research and education; accept them on Kaggle)"
    homepage = "https://www.kaggle.com/competitions/rsna-2024-lumbar-spine-degenerative-classification"
    modality = "mri"
    view = "sagittal"
    how_to_get = (
        "accept the competition's rules on Kaggle, then `kaggle competitions download -c "
        "rsna-2024-lumbar-spine-degenerative-classification` and unzip it"
    )
    citation = """
@misc{rsna2024lumbar,
  title        = {{RSNA} 2024 Lumbar Spine Degenerative Classification},
  author       = {Richards, Tyler and Talbott, Jason and Ball, Robyn and Colak, Errol and Flanders, Adam and
                  Kitamura, Felipe and Mongan, John and Prevedello, Luciano and Vazirabad, Maryam},
  year         = {2024},
  howpublished = {Kaggle},
  url          = {https://kaggle.com/competitions/rsna-2024-lumbar-spine-degenerative-classification}
}"""
    tasks = (
        Task(
            "severe-stenosis",
            "any level with Severe spinal canal stenosis vs every level graded Normal/Mild or Moderate "
            "(sagittal T2/STIR)",
            ("severe", "none"),
            unit="study",
        ),
        Task(
            "stenosis",
            "any level with Moderate or Severe spinal canal stenosis vs every level graded Normal/Mild "
            "(sagittal T2/STIR)",
            ("stenosis", "none"),
            unit="study",
        ),
    )

    def convert(self, root: Path, task: Task) -> Conversion:
        labels_path = require(root, "train.csv", "RSNA 2024", "one row of severities per study")
        series_path = require(
            root, "train_series_descriptions.csv", "RSNA 2024", "the description of every series"
        )
        images = require(root, "train_images", "RSNA 2024", "train_images/<study_id>/<series_id>/*.dcm")
        studies = _read_csv(labels_path, ("study_id", *_CANAL))
        sagittal: dict[str, list[str]] = {}
        for row in _read_csv(series_path, ("study_id", "series_id", "series_description")):
            if " ".join(row["series_description"].lower().split()) == SAGITTAL_T2:
                sagittal.setdefault(row["study_id"], []).append(row["series_id"])
        rule = _RULES[task.name]
        rows: list[dict[str, str]] = []
        dropped: dict[str, list[str]] = {}
        several = 0
        for study in sorted(studies, key=lambda row: _number_key(row["study_id"])):
            study_id = study["study_id"]
            grades = [_grade(study[column], labels_path, study_id, column) for column in _CANAL]
            label, reason = rule(grades)
            if label is None:
                dropped.setdefault(reason, []).append(study_id)
                continue
            if study_id not in sagittal:
                dropped.setdefault("no Sagittal T2/STIR series in train_series_descriptions.csv", []).append(
                    study_id
                )
                continue
            series = sorted(sagittal[study_id], key=_number_key)
            several += len(series) > 1
            folder = images / study_id / series[0]
            middle = _middle_slice(folder) if folder.is_dir() else None
            if middle is None:
                dropped.setdefault(
                    "its Sagittal T2/STIR series has no .dcm file in train_images/", []
                ).append(study_id)
                continue
            worst = max((g for g in grades if g is not None), default=None)
            rows.append(
                {
                    "path": middle.relative_to(root).as_posix(),
                    "sample_id": folder.relative_to(root).as_posix(),
                    "label": label,
                    "patient_id": study_id,
                    "modality": self.modality,
                    "view": self.view,
                    "study_id": study_id,
                    "series_id": series[0],
                    "series_description": "Sagittal T2/STIR",
                    "canal_stenosis_worst": ""
                    if worst is None
                    else ("Normal/Mild", "Moderate", "Severe")[worst],
                }
            )
        notes = ["Kaggle's studies are one per patient: each study_id is the patient_id"]
        if several:
            notes.append(
                f"{several} study(ies) have several Sagittal T2/STIR series; the first by series_id is used"
            )
        return Conversion(
            tuple(rows),
            {reason: tuple(ids) for reason, ids in dropped.items()},
            notes=tuple(notes),
            totals={"studies": len(studies)},
        )
