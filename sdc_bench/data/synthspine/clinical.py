"""Clinic-shaped SynthSpine folders: tall full-spine radiographs and MRI DICOM series.

Real spine data are not SynthSpine's squares: a full-spine AP radiograph is about three times as tall
as it is wide, and a lumbar MRI is a series of slices, one DICOM file each, whose PatientID header is
the only patient grouping there is. These writers reuse SynthSpine's renderers and DICOM writer to
make such folders (class sub-folders, as ``sdc-bench data check`` and ``data.source`` read them), for
tests and demos of rectangular inputs, slices as channels and DICOM metadata.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from sdc_bench.data.synthspine.dataset import CLASSES, SynthConfig, generate_arrays
from sdc_bench.data.synthspine.dicom import write_dicom
from sdc_bench.data.synthspine.sites import SITES

__all__ = ["normal_vs_abnormal", "write_mri_series", "write_tall_xrays"]


def _anonymous(*parts: object) -> str:
    """A file or folder name that says nothing about the patient (as a PACS export names files)."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:12]


def write_tall_xrays(
    out: str | Path,
    *,
    n_images: int = 12,
    width: int = 48,
    aspect: float = 3.0,
    fmt: str = "png",
    seed: int = 0,
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """Full-spine AP radiographs, ``round(width * aspect)`` x ``width`` pixels, in class sub-folders.

    ``fmt="dicom"`` writes DX/CR files (PatientID, Modality, ViewPosition ``AP`` in the header, file
    names without the patient); ``"png"`` names files ``<patient>_<n>.png``. Returns ``out``.
    """
    config = SynthConfig(
        n_images=n_images, seed=seed, size=max(width, 64), modalities=("xray",), site="site_a",
        classes=classes,
    )  # fmt: skip
    images, manifest = generate_arrays(config)
    rows = round(width * aspect)
    out = Path(out)
    for index, (pixels, row) in enumerate(zip(images, manifest.to_dict("records"), strict=True)):
        tall = np.asarray(Image.fromarray(pixels).resize((width, rows), Image.Resampling.BILINEAR))
        folder = out / str(row["label"])
        folder.mkdir(parents=True, exist_ok=True)
        record: dict[str, object] = {**{str(k): v for k, v in row.items()}, "view": "ap"}
        if fmt == "dicom":
            write_dicom(
                folder / f"{_anonymous(seed, index)}.dcm", tall, record, SITES[config.site], 0.5, seed
            )
        else:
            Image.fromarray(tall).save(folder / f"{row['patient_id']}_{index}.png")
    return out


def write_mri_series(
    out: str | Path,
    *,
    n_patients: int = 4,
    series_per_patient: int = 2,
    slices: int = 5,
    size: int = 64,
    seed: int = 0,
    classes: tuple[str, ...] = CLASSES,
    prevalence: tuple[float, ...] | None = None,
) -> Path:
    """Sagittal MRI DICOM series: one folder per series, one file per slice, PatientID only in the header.

    Slices are SynthSpine MRI renders attenuated away from the mid slice, ordered by
    ImagePositionPatient (file names are random, so only the header orders them). Each series is a
    render of its patient's class and sits in that class's folder. Returns ``out``.
    """
    images, manifest = generate_arrays(
        SynthConfig(
            n_images=3 * n_patients * series_per_patient, seed=seed, size=size, modalities=("mri",),
            site="site_a", classes=classes, prevalence=prevalence,
        )
    )  # fmt: skip
    out = Path(out)
    for index, (patient, label, image) in enumerate(_series_plan(manifest, n_patients, series_per_patient)):
        row = manifest.iloc[image].to_dict()
        series = out / label / _anonymous(seed, "series", index)
        series.mkdir(parents=True, exist_ok=True)
        for position in range(slices):
            offset = position - slices // 2
            plane = np.clip(images[image].astype(np.float32) * (1.0 - 0.15 * abs(offset)), 0, 255)
            record: dict[str, object] = {
                **{str(k): v for k, v in row.items()},
                "patient_id": patient,
                "sample_id": f"s{index}-i{position}",
                "view": "sagittal t2",
            }
            path = series / f"{_anonymous(seed, index, position)}.dcm"
            write_dicom(path, plane.astype(np.uint8), record, SITES["site_a"], 0.8, seed)
            _place_slice(path, f"{seed}.{index}", position, slices)
    return out


def normal_vs_abnormal(data: str | Path) -> Path:
    """Merge every class folder but ``normal`` of ``data`` into one ``abnormal`` folder (in place).

    A small generated set keeps enough patients per class for patient-grouped folds. Returns ``data``.
    """
    data = Path(data)
    abnormal = data / "abnormal"
    abnormal.mkdir(exist_ok=True)
    for folder in [f for f in data.iterdir() if f.is_dir() and f.name not in {"normal", "abnormal"}]:
        for entry in folder.iterdir():
            entry.rename(abnormal / entry.name)
        folder.rmdir()
    return data


def _series_plan(
    manifest: pd.DataFrame, n_patients: int, series_per_patient: int
) -> list[tuple[str, str, int]]:
    """(patient, label, image row) of each series: every series shows its patient's class.

    Patients take SynthSpine's patients in order; each series is a different rendered image of the
    patient's class (never one image twice, which the audit would call a duplicate across patients).
    """
    unused: dict[str, list[int]] = {}
    for image, label in enumerate(manifest["label"].astype(str)):
        unused.setdefault(label, []).append(image)
    plan: list[tuple[str, str, int]] = []
    patients = manifest.drop_duplicates("patient_id")
    for patient, label in zip(patients["patient_id"].astype(str), patients["label"].astype(str), strict=True):
        if len(plan) == n_patients * series_per_patient:
            break
        if len(unused[label]) >= series_per_patient:
            plan += [(patient, label, unused[label].pop(0)) for _ in range(series_per_patient)]
    if len(plan) < n_patients * series_per_patient:
        raise ValueError(
            f"not enough SynthSpine images for {n_patients} patients x {series_per_patient} series"
        )
    return plan


def _place_slice(path: Path, series_key: str, position: int, slices: int) -> None:
    """Give a written slice its series' UID and its place along the sagittal normal."""
    import pydicom
    from pydicom.uid import generate_uid

    dataset = pydicom.dcmread(path)
    dataset.SeriesInstanceUID = generate_uid(entropy_srcs=["synthspine-series", series_key])
    dataset.ImagePositionPatient = [f"{4.0 * (position - slices // 2):g}", "0", "0"]
    dataset.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]
    dataset.SliceLocation = f"{4.0 * (position - slices // 2):g}"
    dataset.save_as(path, enforce_file_format=True)
