"""SPIDER lumbar MRI (van der Graaf et al., Sci Data 2024): MetaImage volumes and per-disc gradings to patient tasks.

Published layout (Zenodo record 10159290), as this converter reads it (the column names are those of the
published ``radiological_gradings.csv`` as best known here; a missing column is named in one line):

* ``images/<patient>_t1.mha``, ``images/<patient>_t2.mha``, ``images/<patient>_t2_SPACE.mha`` (sagittal
  volumes; not every patient has all three), or the same under ``images.zip.unzipped/images/``;
* ``radiological_gradings.csv``: one row per intervertebral disc, columns ``Patient``, ``IVD label``,
  ``Modic``, ``UP endplate``, ``LOW endplate``, ``Spondylolisthesis``, ``Disc herniation``,
  ``Disc narrowing``, ``Disc bulging``, ``Pfirrman grade`` (also accepted: ``Pfirrmann grade``).

Every volume of a patient becomes one manifest row under that patient's id (column ``sequence`` says which),
so the folds keep a patient's sequences together. Per-disc tasks (crops of each level from the masks) are not
built: the masks are a separate archive and a crop's geometry is a design of its own.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Conversion, Dataset, RemoteFile, Task, register, require

__all__ = ["Spider"]

_ZENODO = "https://zenodo.org/records/10159290/files"
_SEQUENCES = ("t1", "t2", "t2_SPACE")
_IMAGE = re.compile(r"^(?P<patient>[^_]+)_(?P<sequence>t1|t2|t2_SPACE)\.mha$")
_COLUMNS = {
    "patient": ("patient",),
    "pfirrmann": ("pfirrman grade", "pfirrmann grade"),
    "modic": ("modic",),
    "spondylolisthesis": ("spondylolisthesis",),
}


def _rule_degeneration(grades: dict[str, list[int]]) -> tuple[str | None, str]:
    worst = max(grades["pfirrmann"])
    if worst == 5:
        return "severe", ""
    if worst <= 3:
        return "mild", ""
    return None, "max Pfirrmann grade 4 (between the classes of this task)"


def _rule_any(column: str, positive: str) -> Callable[[dict[str, list[int]]], tuple[str | None, str]]:
    def rule(grades: dict[str, list[int]]) -> tuple[str | None, str]:
        return (positive if any(value > 0 for value in grades[column]) else "none"), ""

    return rule


_RULES = {
    "degeneration": ("pfirrmann", _rule_degeneration),
    "spondylolisthesis": ("spondylolisthesis", _rule_any("spondylolisthesis", "spondylolisthesis")),
    "modic": ("modic", _rule_any("modic", "modic")),
}


def _header_index(header: list[str], path: Path) -> dict[str, int]:
    normalised = {" ".join(name.strip().lower().split()): i for i, name in enumerate(header)}
    index = {}
    for field, names in _COLUMNS.items():
        found = next((normalised[n] for n in names if n in normalised), None)
        if found is None:
            raise DataError(
                f"{path}: no column {names[0]!r} (published SPIDER gradings name it so); its columns: "
                f"{', '.join(header)}"
            )
        index[field] = found
    return index


def _read_gradings(path: Path) -> dict[str, dict[str, list[int]]]:
    """Patient -> field -> its discs' integer values (cells that are not integers are left out)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        index = _header_index(header, path)
        patients: dict[str, dict[str, list[int]]] = {}
        for row in reader:
            if not row or not row[index["patient"]].strip():
                continue
            grades = patients.setdefault(
                row[index["patient"]].strip(), {f: [] for f in _COLUMNS if f != "patient"}
            )
            for field in grades:
                cell = row[index[field]].strip() if index[field] < len(row) else ""
                if re.fullmatch(r"\d+(\.0+)?", cell):
                    grades[field].append(int(float(cell)))
    return patients


def _sort_key(patient: str) -> tuple[int, str]:
    return (int(patient), "") if patient.isdigit() else (1 << 30, patient)


@register
class Spider(Dataset):
    name = "spider"
    title = "SPIDER lumbar spine MRI"
    licence = "CC BY 4.0"
    homepage = "https://doi.org/10.5281/zenodo.10159290"
    modality = "mri"
    view = "sagittal"
    citation = """
@article{vandergraaf2024spider,
  title   = {Lumbar spine segmentation in {MR} images: a dataset and a public benchmark},
  author  = {van der Graaf, Jasper W. and van Hooff, Miranda L. and Buckens, Constantinus F. M. and
             Rutten, Matthieu and van Susante, Job L. C. and Kroeze, Robert Jan and de Kleuver, Marinus and
             van Ginneken, Bram and Lessmann, Nikolas},
  journal = {Scientific Data},
  volume  = {11},
  pages   = {264},
  year    = {2024},
  doi     = {10.1038/s41597-024-03090-w}
}"""
    # The record's files are open (CC BY 4.0), but their sha256 are not recorded here yet: until they are,
    # `data get` refuses to download unverified bytes and asks for a copy fetched by hand.
    files = (
        RemoteFile("images.zip", f"{_ZENODO}/images.zip?download=1", unpack=True),
        RemoteFile("radiological_gradings.csv", f"{_ZENODO}/radiological_gradings.csv?download=1"),
    )
    documented_totals: ClassVar[Mapping[str, int]] = {"patients": 218, "series": 447}
    totals_source = (
        "van der Graaf et al., Sci Data 2024: 218 patients, 447 sagittal T1/T2 series from 4 hospitals; the "
        "paper publishes no per-task class counts"
    )
    how_to_get = f"download images.zip and radiological_gradings.csv from {_ZENODO.rsplit('/', 1)[0]}, unzip images.zip"
    tasks = (
        Task(
            "degeneration",
            "max Pfirrmann grade over the patient's discs: 5 (severe) vs <= 3 (mild); 4 dropped",
            ("severe", "mild"),
        ),
        Task(
            "spondylolisthesis",
            "any disc level graded with spondylolisthesis vs none",
            ("spondylolisthesis", "none"),
        ),
        Task("modic", "any Modic change (type 1-3) at any endplate vs none", ("modic", "none")),
    )

    def _images(self, root: Path) -> Path:
        for candidate in (root / "images", root / "images.zip.unzipped" / "images"):
            if candidate.is_dir():
                return candidate
        return require(root, "images", "SPIDER", "the folder of <patient>_t1/_t2/_t2_SPACE.mha volumes")

    def convert(self, root: Path, task: Task) -> Conversion:
        gradings = _read_gradings(
            require(root, "radiological_gradings.csv", "SPIDER", "one row of gradings per disc")
        )
        images_folder = self._images(root)
        volumes: dict[str, list[tuple[str, Path]]] = {}
        for path in sorted(images_folder.iterdir()):
            match = _IMAGE.match(path.name)
            if match:
                volumes.setdefault(match["patient"], []).append((match["sequence"], path))
        field, rule = _RULES[task.name]
        rows: list[dict[str, str]] = []
        dropped: dict[str, list[str]] = {}
        for patient in sorted(set(gradings) | set(volumes), key=_sort_key):
            if patient not in gradings:
                dropped.setdefault("volumes without a row in radiological_gradings.csv", []).append(patient)
                continue
            if patient not in volumes:
                dropped.setdefault("gradings without a volume in images/", []).append(patient)
                continue
            if not gradings[patient][field]:
                dropped.setdefault(f"no {field} value at any disc", []).append(patient)
                continue
            label, reason = rule(gradings[patient])
            if label is None:
                dropped.setdefault(reason, []).append(patient)
                continue
            for sequence, path in sorted(volumes[patient], key=lambda item: _SEQUENCES.index(item[0])):
                rows.append(
                    {
                        "path": path.relative_to(root).as_posix(),
                        "label": label,
                        "patient_id": patient,
                        "modality": self.modality,
                        "view": self.view,
                        "sequence": sequence,
                    }
                )
        totals = {"patients": len(volumes), "series": sum(len(found) for found in volumes.values())}
        return Conversion(tuple(rows), {reason: tuple(ids) for reason, ids in dropped.items()}, totals=totals)
