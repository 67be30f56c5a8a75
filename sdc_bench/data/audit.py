"""Audit a manifest before anything is trained on it: counts, patients, duplicates, unreadable files.

:func:`audit_manifest` returns an :class:`AuditReport`, which is stored beside a run
(``to_json``) and printed by ``sdc-bench data`` (``table``). Problems that make the
reported numbers wrong but still let a run go ahead (a class with fewer patients than
folds, the same image under two patients or two labels, unreadable files, no patient
ids) are warnings; ``strict=True`` turns the serious ones into a
:class:`~sdc_bench.core.errors.DataError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from sdc_bench.core.errors import ConfigError, DataError, SdcBenchError
from sdc_bench.data.decode import is_dicom, read_image
from sdc_bench.data.manifest import fingerprint

__all__ = ["AuditReport", "FileInfo", "audit_manifest", "inspect_file"]

_PIL_BITS = {
    "1": 1,
    "L": 8,
    "LA": 8,
    "P": 8,
    "PA": 8,
    "RGB": 8,
    "RGBA": 8,
    "CMYK": 8,
    "YCbCr": 8,
    "I": 32,
    "F": 32,
}
_IMBALANCE_RATIO = 10.0


@dataclass(frozen=True)
class FileInfo:
    """What the audit learns from one file without decoding its pixels.

    Attributes
    ----------
    content_hash : str
        BLAKE2b hash of the file's bytes (empty when unreadable).
    format : str
        ``PNG``, ``JPEG``, ``TIFF``, ``BMP``, ``DICOM``, ``NIfTI``, ... (empty when unknown).
    size : str
        ``"<rows>x<columns>"`` (``x<frames>`` or ``x<slices>`` appended for stacks).
    bit_depth : int
        Bits per stored sample (0 when unknown).
    photometric : str
        Pillow mode, DICOM PhotometricInterpretation, or ``nifti``.
    error : str
        Why the file cannot be read; empty when it can.
    """

    content_hash: str = ""
    format: str = ""
    size: str = ""
    bit_depth: int = 0
    photometric: str = ""
    error: str = ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _dicom_info(data: bytes) -> FileInfo:
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    if not any(tag in dataset for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ValueError("DICOM file has no pixel data")
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if "PixelData" in dataset and syntax is not None and not syntax.is_compressed:
        samples = int(dataset.get("SamplesPerPixel", 1) or 1)
        bits = int(dataset.get("BitsAllocated", 8) or 8)
        expected = (rows * columns * frames * samples * bits + 7) // 8
        if len(dataset.PixelData) < expected:
            raise ValueError(f"truncated DICOM pixel data ({len(dataset.PixelData)} of {expected} bytes)")
    size = f"{rows}x{columns}" + (f"x{frames}" if frames > 1 else "")
    return FileInfo(
        format="DICOM",
        size=size,
        bit_depth=int(dataset.get("BitsStored", dataset.get("BitsAllocated", 0)) or 0),
        photometric=str(dataset.get("PhotometricInterpretation", "") or ""),
    )


def _nifti_info(path: Path) -> FileInfo:
    import nibabel as nib

    image: Any = nib.load(path)
    shape = tuple(int(n) for n in image.shape)
    return FileInfo(
        format="NIfTI",
        size="x".join(map(str, shape)),
        bit_depth=int(image.header.get_data_dtype().itemsize * 8),
        photometric="nifti",
    )


def _pil_info(data: bytes) -> FileInfo:
    with Image.open(io.BytesIO(data)) as image:
        mode, (width, height), kind = image.mode, image.size, str(image.format or "")
        # verify() walks the chunks (CRCs for PNG) without decoding, so truncation shows up.
        image.verify()
    if kind == "JPEG" and b"\xff\xd9" not in data[-1024:]:
        raise ValueError("truncated JPEG (no end-of-image marker)")
    bits = 16 if mode.startswith("I;16") else _PIL_BITS.get(mode, 8)
    return FileInfo(format=kind, size=f"{height}x{width}", bit_depth=bits, photometric=mode)


def inspect_file(path: str | Path, *, decode: bool = False) -> FileInfo:
    """Hash a file and read its header; report instead of raising when it is unreadable.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file.
    decode : bool
        Also decode the pixels with :func:`~sdc_bench.data.decode.read_image`,
        which finds damage a header check misses (e.g. a truncated JPEG body).

    Returns
    -------
    FileInfo
        With ``error`` set when the file is missing or unreadable.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = "file does not exist" if isinstance(error, FileNotFoundError) else _first_line(error)
        return FileInfo(error=reason)
    content_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
    if not data:
        return FileInfo(content_hash=content_hash, error="file is empty")
    try:
        name = str(path).lower()
        if name.endswith((".nii", ".nii.gz")):
            info = _nifti_info(path)
        elif is_dicom(path):
            info = _dicom_info(data)
        else:
            info = _pil_info(data)
        if decode:
            read_image(path)
    except SdcBenchError as error:
        return FileInfo(content_hash=content_hash, error=str(error).split(": ", 1)[-1])
    except Exception as error:  # the audit reports any failure to read, it does not stop on it
        return FileInfo(content_hash=content_hash, error=f"unreadable ({_first_line(error)})")
    return FileInfo(content_hash, info.format, info.size, info.bit_depth, info.photometric, "")


@dataclass(frozen=True)
class AuditReport:
    """What :func:`audit_manifest` found.

    Attributes
    ----------
    n_images, n_patients : int
        Rows and distinct patient ids.
    classes : tuple of str
        Class names, sorted.
    images_per_class, patients_per_class : dict
        Counts per class.
    images_per_modality, images_per_view, images_per_source : dict
        Counts per modality, view (``''`` when none) and source.
    images_per_patient : dict
        ``min``, ``median``, ``mean``, ``max`` images per patient.
    images_per_patient_histogram : dict
        Patients with ``1``, ``2``, ``3-5``, ``6-10`` and ``>10`` images.
    patients_in_several_classes : tuple of str
        Patients whose images carry different labels.
    duplicate_groups : tuple of tuple of str
        Sample ids of files with identical bytes (groups of two or more).
    cross_class_duplicates, cross_patient_duplicates : tuple of tuple of str
        The duplicate groups spanning several labels (label noise) or several
        patients (leaks one image into training and test).
    unreadable : tuple of (str, str)
        ``(path, reason)`` of files that cannot be read.
    image_sizes, bit_depths, photometric, formats : dict
        Distributions over the readable files.
    small_classes : dict
        Classes with fewer patients than ``n_folds``, and their patient counts.
    n_folds : int
        The fold count the audit checked against.
    patient_from : str
        Where patient ids came from: ``column``, ``regex``, ``dicom``,
        ``dicom+file``, ``file`` (one patient per image), or ``unknown``.
    skipped : tuple of (str, str)
        Rows the source skipped as bad (``skip_bad``).
    files_read : bool
        Whether files were hashed and their headers read.
    fingerprint : str
        The manifest fingerprint.
    warnings : tuple of str
        One line per problem, most serious first.
    """

    n_images: int
    n_patients: int
    classes: tuple[str, ...]
    images_per_class: dict[str, int]
    patients_per_class: dict[str, int]
    images_per_modality: dict[str, int]
    images_per_view: dict[str, int]
    images_per_source: dict[str, int]
    images_per_patient: dict[str, float]
    images_per_patient_histogram: dict[str, int]
    patients_in_several_classes: tuple[str, ...]
    duplicate_groups: tuple[tuple[str, ...], ...]
    cross_class_duplicates: tuple[tuple[str, ...], ...]
    cross_patient_duplicates: tuple[tuple[str, ...], ...]
    unreadable: tuple[tuple[str, str], ...]
    image_sizes: dict[str, int]
    bit_depths: dict[str, int]
    photometric: dict[str, int]
    formats: dict[str, int]
    small_classes: dict[str, int]
    n_folds: int
    patient_from: str
    skipped: tuple[tuple[str, str], ...]
    files_read: bool
    fingerprint: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready types (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self, path: str | Path) -> None:
        """Write the report as JSON, atomically (temporary file, then rename).

        Parameters
        ----------
        path : str or pathlib.Path
            The output file; its folder must exist.
        """
        path = Path(path)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.to_dict(), stream, indent=2)
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def table(self) -> str:
        """A readable plain-text summary, for a terminal or a log."""
        lines = [
            f"images {self.n_images}   patients {self.n_patients}   classes {len(self.classes)}   "
            f"patients from: {self.patient_from}   fingerprint {self.fingerprint}",
            "",
        ]
        width = max([len("class"), *(len(c) for c in self.classes)])
        lines.append(f"{'class':<{width}}  {'images':>7}  {'patients':>8}")
        lines.append(f"{'-' * width}  {'-' * 7}  {'-' * 8}")
        for name in self.classes:
            lines.append(
                f"{name:<{width}}  {self.images_per_class[name]:>7}  {self.patients_per_class[name]:>8}"
            )
        lines.append("")

        def counts(title: str, values: Mapping[str, int | float], limit: int = 6) -> None:
            if not values:
                return
            items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{k or '(none)'}: {v}" for k, v in items[:limit])
            more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
            lines.append(f"{title:<20}{shown}{more}")

        counts("modality", self.images_per_modality)
        counts("view", self.images_per_view)
        if len(self.images_per_source) > 1:
            counts("source", self.images_per_source)
        ipp = self.images_per_patient
        lines.append(
            f"{'images per patient':<20}min {ipp['min']:g}, median {ipp['median']:g}, "
            f"mean {ipp['mean']:.2f}, max {ipp['max']:g}"
        )
        if self.files_read:
            counts("formats", self.formats)
            counts("sizes (rows x cols)", self.image_sizes)
            counts("bit depth", {f"{k} bit": v for k, v in self.bit_depths.items()})
            counts("photometric", self.photometric)
            lines.append(
                f"{'duplicates':<20}{len(self.duplicate_groups)} group(s); across classes "
                f"{len(self.cross_class_duplicates)}, across patients {len(self.cross_patient_duplicates)}"
            )
            lines.append(f"{'unreadable files':<20}{len(self.unreadable)}")
        else:
            lines.append("files were not read (read_headers=False): no duplicate or header checks")
        if self.warnings:
            lines.append("")
            lines.append("warnings:")
            lines.extend(f"  - {warning}" for warning in self.warnings)
        return "\n".join(lines)


def _histogram(values: Iterable[int]) -> dict[str, int]:
    buckets = {"1": 0, "2": 0, "3-5": 0, "6-10": 0, ">10": 0}
    for n in values:
        key = "1" if n == 1 else "2" if n == 2 else "3-5" if n <= 5 else "6-10" if n <= 10 else ">10"
        buckets[key] += 1
    return buckets


def _count(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.astype(str).value_counts().sort_index().items()}


def _sample_list(groups: Iterable[Iterable[str]], limit: int = 3) -> str:
    shown = ["{" + ", ".join(group) + "}" for group in list(groups)[:limit]]
    return "; ".join(shown)


def audit_manifest(
    df: pd.DataFrame,
    *,
    n_folds: int = 5,
    read_headers: bool = True,
    progress: bool = False,
    decode: bool = False,
    strict: bool = False,
    num_threads: int = 8,
) -> AuditReport:
    """Audit a validated manifest.

    Parameters
    ----------
    df : pandas.DataFrame
        A validated manifest (``df.attrs["patient_from"]`` and ``["skipped"]`` are read when present).
    n_folds : int
        Outer folds the run will use; classes with fewer patients are reported.
    read_headers : bool
        Read every file: content hash (duplicates) and header (size, bit depth,
        photometric, unreadable files). ``False`` audits the table only.
    progress : bool
        Show a tqdm bar while reading files.
    decode : bool
        Also decode every image, to find damage a header check misses (slower).
    strict : bool
        Raise :class:`~sdc_bench.core.errors.DataError` on unreadable files, classes with
        fewer patients than ``n_folds``, or duplicates across classes or patients.
    num_threads : int
        Threads reading files (the work is mostly I/O).

    Returns
    -------
    AuditReport

    Raises
    ------
    DataError
        With ``strict=True``, naming the first serious problem.
    ConfigError
        When ``n_folds`` is below 2.

    Examples
    --------
    >>> report = audit_manifest(load_source("data/spine_xr"), n_folds=5)  # doctest: +SKIP
    >>> print(report.table())  # doctest: +SKIP
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ConfigError(f"n_folds={n_folds!r} must be an integer >= 2")
    labels = df["label"].astype(str)
    patients = df["patient_id"].astype(str)
    classes = tuple(sorted(labels.unique()))
    images_per_class = {c: int((labels == c).sum()) for c in classes}
    patients_per_class = {c: int(patients[labels == c].nunique()) for c in classes}
    per_patient = patients.value_counts()
    labels_per_patient = df.groupby(patients)["label"].nunique()
    several = tuple(sorted(str(p) for p in labels_per_patient[labels_per_patient > 1].index))
    patient_from = str(df.attrs.get("patient_from", "unknown"))
    skipped = tuple((str(p), str(r)) for p, r in df.attrs.get("skipped", []))
    small = {c: n for c, n in patients_per_class.items() if n < n_folds}

    infos: list[FileInfo] = []
    if read_headers:
        paths = [str(p) for p in df["path"]]
        with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
            results = pool.map(lambda p: inspect_file(p, decode=decode), paths)
            infos = list(
                tqdm(results, total=len(paths), desc="auditing files", unit="file", disable=not progress)
            )

    sample_ids = df["sample_id"].astype(str).tolist()
    by_hash: dict[str, list[int]] = defaultdict(list)
    unreadable: list[tuple[str, str]] = []
    sizes: Counter[str] = Counter()
    bits: Counter[str] = Counter()
    photometric: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    for row, info in enumerate(infos):
        if info.content_hash:
            by_hash[info.content_hash].append(row)
        if info.error:
            unreadable.append((str(df["path"].iat[row]), info.error))
            continue
        sizes[info.size] += 1
        bits[str(info.bit_depth)] += 1
        photometric[info.photometric] += 1
        formats[info.format] += 1
    label_list, patient_list = labels.tolist(), patients.tolist()
    groups = sorted(tuple(rows) for rows in by_hash.values() if len(rows) > 1)
    duplicate_groups = tuple(tuple(sample_ids[r] for r in rows) for rows in groups)
    cross_class = tuple(
        tuple(sample_ids[r] for r in rows) for rows in groups if len({label_list[r] for r in rows}) > 1
    )
    cross_patient = tuple(
        tuple(sample_ids[r] for r in rows) for rows in groups if len({patient_list[r] for r in rows}) > 1
    )

    warnings: list[str] = []
    problems: list[str] = []
    if unreadable:
        line = (
            f"{len(unreadable)} file(s) cannot be read (first: {unreadable[0][0]}: {unreadable[0][1]}); "
            "remove them or load the source with skip_bad=True"
        )
        warnings.append(line)
        problems.append(line)
    for name, count in sorted(small.items()):
        line = (
            f"class {name!r} has {count} patient(s), fewer than n_folds={n_folds}: some outer folds "
            "will test no patient of it; add data, merge classes or lower n_folds"
        )
        warnings.append(line)
        problems.append(line)
    if cross_patient:
        line = (
            f"{len(cross_patient)} identical file group(s) belong to different patients, so an image can sit in "
            f"training and test at once: {_sample_list(cross_patient)}; remove the copies or fix the patient ids"
        )
        warnings.append(line)
        problems.append(line)
    if cross_class:
        line = (
            f"{len(cross_class)} identical file group(s) carry different labels: {_sample_list(cross_class)}; "
            "fix the labels or remove the copies"
        )
        warnings.append(line)
        problems.append(line)
    if patient_from in ("file", "unknown"):
        warnings.append(
            "no patient ids: each image counts as its own patient, so one patient's images can land in "
            "training and test; give a patient column or a patient_regex"
        )
    elif patient_from == "dicom+file":
        warnings.append(
            "some DICOM files lack a PatientID tag; each of those images counts as its own patient"
        )
    same = len(duplicate_groups) - len(set(cross_class) | set(cross_patient))
    if same > 0:
        warnings.append(
            f"{same} group(s) of identical files within one patient and class; they weigh those images double"
        )
    if several:
        warnings.append(
            f"{len(several)} patient(s) have images with different labels (e.g. {several[0]!r}); "
            "folds keep each patient in one fold, stratification is approximate"
        )
    if images_per_class and min(images_per_class.values()) * _IMBALANCE_RATIO < max(
        images_per_class.values()
    ):
        warnings.append(
            f"classes are imbalanced more than {_IMBALANCE_RATIO:g}:1 ({images_per_class}); "
            "report balanced metrics and consider an imbalance strategy"
        )
    if skipped:
        warnings.append(
            f"{len(skipped)} row(s) or file(s) were skipped as bad when loading (first: {skipped[0][0]}: {skipped[0][1]})"
        )
    if strict and problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise DataError(f"audit (strict): {problems[0]}{more}")

    counts = per_patient.to_numpy()
    return AuditReport(
        n_images=len(df),
        n_patients=int(patients.nunique()),
        classes=classes,
        images_per_class=images_per_class,
        patients_per_class=patients_per_class,
        images_per_modality=_count(df["modality"]),
        images_per_view=_count(df["view"]) if "view" in df.columns else {"": len(df)},
        images_per_source=_count(df["source"]) if "source" in df.columns else {},
        images_per_patient={
            "min": float(counts.min()) if counts.size else 0.0,
            "median": float(np.median(counts)) if counts.size else 0.0,
            "mean": float(counts.mean()) if counts.size else 0.0,
            "max": float(counts.max()) if counts.size else 0.0,
        },
        images_per_patient_histogram=_histogram(int(n) for n in counts),
        patients_in_several_classes=several,
        duplicate_groups=duplicate_groups,
        cross_class_duplicates=cross_class,
        cross_patient_duplicates=cross_patient,
        unreadable=tuple(unreadable),
        image_sizes=dict(sorted(sizes.items())),
        bit_depths=dict(sorted(bits.items())),
        photometric=dict(sorted(photometric.items())),
        formats=dict(sorted(formats.items())),
        small_classes=small,
        n_folds=n_folds,
        patient_from=patient_from,
        skipped=skipped,
        files_read=read_headers,
        fingerprint=fingerprint(df),
        warnings=tuple(warnings),
    )
