"""Spine X-ray, scoliosis / spondylolisthesis / normal (Fraiwan et al., PLoS ONE 2022): class folders of JPEGs.

Published layout (Mendeley Data, doi 10.17632/xkt857dsxk.1, CC BY 4.0): one archive whose class folders
``Normal/``, ``Scoliosis/`` and ``Spondylolisthesis/`` (any capitalisation, at any depth) hold the JPEG films.
The files carry no patient ids: each image is its own ``patient_id``, so two films of one patient, if the set
holds any, can fall in different folds; DATASET.md and the audit say so.
"""

from __future__ import annotations

from pathlib import Path

from sdc_bench.core.errors import DataError
from sdc_bench.data.datasets._base import Conversion, Dataset, RemoteFile, Task, register

__all__ = ["Fraiwan"]

_CLASSES = ("normal", "scoliosis", "spondylolisthesis")
_SUFFIXES = (".jpg", ".jpeg", ".png")
NO_PATIENT_IDS = (
    "the files carry no patient ids: each image is its own patient_id, so two films of one patient (if any) "
    "may fall in different folds and the scores may be optimistic"
)


@register
class Fraiwan(Dataset):
    name = "fraiwan"
    title = "Spine X-ray: scoliosis, spondylolisthesis, normal (Fraiwan et al.)"
    licence = "CC BY 4.0"
    homepage = "https://doi.org/10.17632/xkt857dsxk.1"
    modality = "xray"
    citation = """
@article{fraiwan2022scoliosis,
  title   = {Using deep transfer learning to detect scoliosis and spondylolisthesis from x-ray images},
  author  = {Fraiwan, Mohammad and Audat, Ziad and Fraiwan, Luay and Manasreh, Tarek},
  journal = {PLoS ONE},
  volume  = {17},
  number  = {5},
  pages   = {e0267851},
  year    = {2022},
  doi     = {10.1371/journal.pone.0267851}
}"""
    # Mendeley Data serves the archive from a per-file URL; its sha256 is not recorded here yet, so `data get`
    # asks for a copy fetched by hand until a maintainer records it (tests serve a miniature with its hash).
    files = (
        RemoteFile("fraiwan-spine-xray.zip", "https://data.mendeley.com/datasets/xkt857dsxk/1", unpack=True),
    )
    how_to_get = "download the archive from https://data.mendeley.com/datasets/xkt857dsxk/1 and unzip it"
    tasks = (
        Task(
            "3class",
            "the class folder: normal, scoliosis or spondylolisthesis",
            _CLASSES,
            unit="image",
            documented_counts={"normal": 71, "scoliosis": 188, "spondylolisthesis": 79},
            counts_source="Fraiwan et al., PLoS ONE 2022: 338 subjects, 188 scoliosis, 79 spondylolisthesis, "
            "71 healthy",
        ),
    )

    def convert(self, root: Path, task: Task) -> Conversion:
        folders: dict[str, list[Path]] = {}
        for folder in sorted(p for p in root.rglob("*") if p.is_dir() and p.name.lower() in _CLASSES):
            folders.setdefault(folder.name.lower(), []).append(folder)
        missing = [label for label in _CLASSES if label not in folders]
        if missing:
            raise DataError(
                f"{root}: no class folder {', '.join(repr(m.capitalize()) for m in missing)} in the Fraiwan copy; "
                "point --from at the unzipped archive (Normal/, Scoliosis/, Spondylolisthesis/)"
            )
        rows: list[dict[str, str]] = []
        skipped: list[str] = []
        for label in _CLASSES:
            for folder in folders[label]:
                for path in sorted(folder.rglob("*")):
                    if not path.is_file() or path.name.startswith("."):
                        continue
                    relative = path.relative_to(root).as_posix()
                    if path.suffix.lower() not in _SUFFIXES:
                        skipped.append(relative)
                        continue
                    rows.append(
                        {
                            "path": relative,
                            "label": label,
                            "patient_id": f"{label}/{path.stem}",
                            "modality": self.modality,
                            "view": "",
                            "file_name": path.name,
                        }
                    )
        dropped = {"not a JPEG or PNG file": tuple(skipped)} if skipped else {}
        return Conversion(tuple(rows), dropped, notes=(NO_PATIENT_IDS,))
