"""AASCE 2019 / SpineWeb dataset 16 (Wu et al.): AP spine films with three Cobb angles each, to severity classes.

Published layout (research use only; brought by the user), as this converter reads it:

* ``data/training/*.jpg`` and ``data/test/*.jpg`` (the AP films);
* ``labels/training/filenames.csv`` and ``labels/test/filenames.csv``: one image name a line, no header;
* ``labels/training/angles.csv`` and ``labels/test/angles.csv``: on the same line, the three Cobb angles
  (proximal thoracic, main thoracic, thoracolumbar/lumbar) in degrees, no header.

Severity is that of the largest of the three angles: < 10 degrees ``normal``, 10-25 ``mild``, 25-40
``moderate``, > 40 ``severe`` (10 and 25 belong to the class above them; 40 is still moderate, as "> 40"). Each film is its own patient: the files
carry no patient ids. The split the challenge made (training, test) is kept in the column ``aasce_split``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Conversion, Dataset, Task, register, require

__all__ = ["Aasce", "cobb_class"]

_BOUNDS = ((10.0, "normal"), (25.0, "mild"), (40.0, "moderate"))
NO_PATIENT_IDS = "the files carry no patient ids: each film is its own patient_id"


def cobb_class(angle: float) -> str:
    """Severity class of a Cobb angle in degrees.

    >>> [cobb_class(a) for a in (9.9, 10.0, 25.0, 40.0, 40.1)]
    ['normal', 'mild', 'moderate', 'moderate', 'severe']
    """
    for bound, label in _BOUNDS:
        if angle < bound:
            return label
    return "moderate" if angle == 40.0 else "severe"


def _lines(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [[cell.strip() for cell in row] for row in csv.reader(handle) if any(c.strip() for c in row)]


@register
class Aasce(Dataset):
    name = "aasce"
    title = "AASCE 2019 scoliosis films (SpineWeb dataset 16)"
    licence = "research use only (SpineWeb dataset 16 terms)"
    homepage = "http://spineweb.digitalimaginggroup.ca/"
    modality = "xray"
    view = "ap"
    how_to_get = (
        "request SpineWeb dataset 16 (AASCE 2019) from http://spineweb.digitalimaginggroup.ca/ and unzip it"
    )
    documented_totals: ClassVar[Mapping[str, int]] = {"films": 609, "training films": 481, "test films": 128}
    totals_source = "AASCE 2019 challenge (SpineWeb dataset 16): 609 AP films, 481 training + 128 test"
    citation = """
@article{wu2017automatic,
  title   = {Automatic landmark estimation for adolescent idiopathic scoliosis assessment using {BoostNet}},
  author  = {Wu, Hongbo and Bailey, Chris and Rasoulinejad, Parham and Li, Shuo},
  journal = {Medical Image Computing and Computer Assisted Intervention (MICCAI)},
  pages   = {127--135},
  year    = {2017},
  doi     = {10.1007/978-3-319-66182-7_15}
}"""
    tasks = (
        Task(
            "cobb",
            "largest Cobb angle: < 10 normal, 10-25 mild, 25-40 moderate, > 40 severe (degrees)",
            ("normal", "mild", "moderate", "severe"),
            unit="image",
        ),
    )

    def convert(self, root: Path, task: Task) -> Conversion:
        rows: list[dict[str, str]] = []
        dropped: dict[str, list[str]] = {}
        totals: dict[str, int] = {}
        for split in ("training", "test"):
            if not (root / "labels" / split).is_dir() and split == "test":
                continue  # some copies hold the training set only
            names = _lines(require(root, f"labels/{split}/filenames.csv", "AASCE", "one image name a line"))
            angles = _lines(require(root, f"labels/{split}/angles.csv", "AASCE", "three Cobb angles a line"))
            if len(names) != len(angles):
                raise DataError(
                    f"{root / 'labels' / split}: filenames.csv has {len(names)} lines but angles.csv "
                    f"{len(angles)}; they must pair line by line"
                )
            images = require(root, f"data/{split}", "AASCE", "the AP films")
            totals[f"{split} films"] = len(names)
            for (name, *_), values in zip(names, angles, strict=True):
                if not (images / name).is_file():
                    dropped.setdefault("listed in filenames.csv but no image in data/", []).append(name)
                    continue
                try:
                    largest = max(float(value) for value in values[:3])
                except ValueError:
                    dropped.setdefault("angles that are not numbers", []).append(name)
                    continue
                rows.append(
                    {
                        "path": (images / name).relative_to(root).as_posix(),
                        "label": cobb_class(largest),
                        "patient_id": f"{split}/{Path(name).stem}",
                        "modality": self.modality,
                        "view": self.view,
                        "aasce_split": split,
                        "cobb_angle_max": f"{largest:g}",
                    }
                )
        totals = {"films": sum(totals.values()), **totals}
        return Conversion(
            tuple(rows), {r: tuple(ids) for r, ids in dropped.items()}, notes=(NO_PATIENT_IDS,), totals=totals
        )
