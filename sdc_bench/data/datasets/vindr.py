"""VinDr-SpineXR (Nguyen et al., MICCAI 2021; PhysioNet, credentialed): spine radiographs with lesion boxes, to abnormal vs normal.

Published layout (PhysioNet ``vindr-spinexr`` 1.0.0; brought by the user), as this converter reads it (the
names are those of the published release as best known here; a missing file or column is named in one line):

* ``train_images/<image_id>.dicom`` and ``test_images/<image_id>.dicom``;
* ``annotations/train.csv`` and ``annotations/test.csv``: one row per box, columns ``image_id``,
  ``study_id``, ``series_id``, ``rad_id``, ``lesion_type``, ``xmin``, ``ymin``, ``xmax``, ``ymax``; an image
  without any lesion has one row whose ``lesion_type`` is ``No finding``.

An image is ``abnormal`` when any of its rows names a lesion other than ``No finding``, ``normal`` otherwise.
VinDr gives no patient id: the study (``study_id``) is the closest grouping it publishes, so it is the
``patient_id``, and one patient's two studies, if any, may fall in different folds. Per-lesion tasks (13
lesion types, boxes) are not built: they are detection or multi-label tasks, not one class per image.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Conversion, Dataset, Task, register, require

__all__ = ["VinDrSpineXR"]

NO_FINDING = "No finding"
_COLUMNS = ("image_id", "study_id", "lesion_type")
STUDY_AS_PATIENT = (
    "VinDr-SpineXR gives no patient id: each study_id is a patient_id (the closest grouping it publishes), so "
    "two studies of one patient, if any, may fall in different folds"
)


def _read_annotations(path: Path) -> dict[str, tuple[str, set[str]]]:
    """Image id -> (its study id, the lesion types of its rows)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [column for column in _COLUMNS if column not in header]
        if missing:
            raise DataError(
                f"{path}: no column {missing[0]!r} (published VinDr-SpineXR annotations name it so); its "
                f"columns: {', '.join(header)}"
            )
        images: dict[str, tuple[str, set[str]]] = {}
        for row in reader:
            row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
            if not row["image_id"]:
                continue
            _, lesions = images.setdefault(row["image_id"], (row["study_id"], set()))
            lesions.add(row["lesion_type"])
    return images


@register
class VinDrSpineXR(Dataset):
    name = "vindr"
    title = "VinDr-SpineXR spine radiographs"
    licence = "PhysioNet Credentialed Health Data License 1.5.0 (credentialed access)"
    homepage = "https://doi.org/10.13026/q45h-5h59"
    modality = "xray"
    how_to_get = (
        "become a credentialed PhysioNet user, sign the data use agreement at "
        "https://physionet.org/content/vindr-spinexr/ and download the whole release"
    )
    documented_totals: ClassVar[Mapping[str, int]] = {"images": 10466, "studies": 5000}
    totals_source = (
        "PhysioNet vindr-spinexr 1.0.0 (the MICCAI paper says 10,468 images, 2,078 of 1,000 studies in its "
        "test set)"
    )
    citation = """
@inproceedings{nguyen2021vindrspinexr,
  title     = {{VinDr-SpineXR}: A deep learning framework for spinal lesions detection and classification
               from radiographs},
  author    = {Nguyen, Hieu T. and Pham, Hieu H. and Nguyen, Nghia T. and Nguyen, Ha Q. and Huynh, Thang Q.
               and Dao, Minh and Vu, Van},
  booktitle = {Medical Image Computing and Computer Assisted Intervention (MICCAI)},
  pages     = {291--301},
  year      = {2021},
  doi       = {10.1007/978-3-030-87240-3_28}
}"""
    tasks = (
        Task(
            "abnormal",
            "any annotated lesion other than 'No finding' (abnormal) vs 'No finding' only (normal)",
            ("abnormal", "normal"),
            unit="image",
        ),
    )

    def convert(self, root: Path, task: Task) -> Conversion:
        rows: list[dict[str, str]] = []
        dropped: dict[str, list[str]] = {}
        studies: set[str] = set()
        images_seen = 0
        for split in ("train", "test"):
            annotations = require(
                root, f"annotations/{split}.csv", "VinDr-SpineXR", "one row per lesion box or 'No finding'"
            )
            folder = require(root, f"{split}_images", "VinDr-SpineXR", "the <image_id>.dicom radiographs")
            images = _read_annotations(annotations)
            files = {
                path.stem: path for path in folder.iterdir() if path.suffix.lower() in (".dicom", ".dcm")
            }
            images_seen += len(files)
            for image_id in sorted(set(files) - set(images)):
                dropped.setdefault(f"a DICOM in {split}_images/ without a row in {split}.csv", []).append(
                    image_id
                )
            for image_id, (study, lesions) in sorted(images.items()):
                if image_id not in files:
                    dropped.setdefault(f"a row of {split}.csv without a DICOM in {split}_images/", []).append(
                        image_id
                    )
                    continue
                found = sorted(lesion for lesion in lesions if lesion and lesion != NO_FINDING)
                studies.add(study)
                rows.append(
                    {
                        "path": files[image_id].relative_to(root).as_posix(),
                        "label": "abnormal" if found else "normal",
                        "patient_id": study,
                        "modality": self.modality,
                        "view": "",
                        "image_id": image_id,
                        "study_id": study,
                        "vindr_split": split,
                        "lesions": ";".join(found),
                    }
                )
        return Conversion(
            tuple(rows),
            {reason: tuple(ids) for reason, ids in dropped.items()},
            notes=(STUDY_AS_PATIENT,),
            totals={"images": images_seen, "studies": len(studies)},
        )
