"""Audit a manifest before anything is trained on it: counts, patients, duplicates, unreadable files.

:func:`audit_manifest` returns an :class:`AuditReport`, which is stored beside a run
(``to_json``) and printed by ``sdc-bench data`` (``table``). Problems that make the
reported numbers wrong but still let a run go ahead (a class with fewer patients than
folds, the same image under two patients or two labels, unreadable files, no patient
ids) are warnings; ``strict=True`` turns the serious ones into a
:class:`~sdc_bench.core.errors.DataError`.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sdc_bench.core.errors import ConfigError, DataError, DiskFullError
from sdc_bench.core.store import write_json
from sdc_bench.data.audit_layout import layout_fields, layout_lines
from sdc_bench.data.file_info import FileInfo, inspect_file
from sdc_bench.data.manifest import fingerprint
from sdc_bench.data.problems import Problem, find_problems, problem_counts

__all__ = ["AuditReport", "audit_manifest", "audit_warnings"]

_IMBALANCE_RATIO = 10.0


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
    problems : tuple of Problem
        Every problem found, one record each (kind, culprit, reason, fix, blocking),
        those that would stop a run first.
    problem_counts : dict
        Problems per kind.
    grouping : str
        The patient grouping used, in words (PatientID from DICOM, regex, column, one per file).
    patients_with_several_images : int
        Patients with more than one image (sample); 0 means the grouping groups nothing.
    series : dict
        DICOM series merged into one sample each, and the files they hold.
    image_aspect : float or None
        Median rows / columns of the readable images (``None`` when no file was read).
    size_hw : tuple of int
        The model input's ``(rows, columns)`` for ``data.size`` (``auto`` resolved).
    size_note : str
        How ``data.size = "auto"`` chose ``size_hw``; empty for a fixed size.
    classes_note : str
        In a run on the user's data without a class list for it: that the classes are the data's own
        (:class:`~sdc_bench.data.prepare.PreparedData`); empty otherwise.
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
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    problem_counts: dict[str, int] = field(default_factory=dict)
    grouping: str = ""
    patients_with_several_images: int = 0
    series: dict[str, int] = field(default_factory=dict)
    image_aspect: float | None = None
    size_hw: tuple[int, int] = (0, 0)
    size_note: str = ""
    classes_note: str = ""

    def blocking(self) -> tuple[Problem, ...]:
        """The problems that would stop a run."""
        return tuple(p for p in self.problems if p.blocking)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready types (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self, path: str | Path) -> None:
        """Write the report as JSON, atomically and with the umask's mode (:func:`sdc_bench.core.store.write_json`).

        Parameters
        ----------
        path : str or pathlib.Path
            The output file; a missing folder is created.
        """
        path = Path(path)
        try:
            write_json(path, self.to_dict())
        except DiskFullError:
            raise
        except OSError as error:
            raise DataError(
                f"{path}: cannot write the audit ({error.strerror or error}); choose another --out"
            ) from None

    def table(self) -> str:
        """A readable plain-text summary, for a terminal or a log."""
        lines = [
            f"images {self.n_images}   patients {self.n_patients}   classes {len(self.classes)}   "
            f"patients from: {self.patient_from}   fingerprint {self.fingerprint}",
            "",
        ]
        if self.classes_note:
            lines[-1:-1] = [self.classes_note]
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
        lines.extend(layout_lines(asdict(self), self.n_patients))
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
        lines.extend(self._problem_lines())
        return "\n".join(lines)

    def _problem_lines(self) -> list[str]:
        if not self.problems:
            return []
        counts = ", ".join(f"{kind}: {n}" for kind, n in self.problem_counts.items())
        lines = ["", f"problems ({len(self.problems)}; {len(self.blocking())} would stop a run): {counts}"]
        lines.extend(
            f"  - {'[stops a run] ' if p.blocking else ''}{p.kind}: {p.culprit}: {p.reason}; {p.fix}"
            for p in self.problems
        )
        return lines


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


_CHUNK_FILES = 256
"""Most files one thread reads per task: per-file futures cost more than a tiny file's read."""


def _read_files(
    df: pd.DataFrame, *, decode: bool, progress: bool, num_threads: int, max_pixels: int | None
) -> list[FileInfo]:
    """One :class:`FileInfo` per row, in row order; threads read chunks of files (each file opened once)."""
    paths = [str(p) for p in df["path"]]
    threads = max(1, num_threads)
    size = max(1, min(_CHUNK_FILES, math.ceil(len(paths) / (4 * threads))))
    chunks = [paths[start : start + size] for start in range(0, len(paths), size)]

    def read(chunk: list[str]) -> list[FileInfo]:
        return [inspect_file(path, decode=decode, max_pixels=max_pixels) for path in chunk]

    infos: list[FileInfo] = []
    with (
        ThreadPoolExecutor(max_workers=threads) as pool,
        tqdm(total=len(paths), desc="auditing files", unit="file", disable=not progress) as bar,
    ):
        for part in pool.map(read, chunks):
            infos.extend(part)
            bar.update(len(part))
    return infos


@dataclass(frozen=True)
class _FileSummary:
    """What the files of a manifest hold together (fields named as in :class:`AuditReport`)."""

    duplicate_groups: tuple[tuple[str, ...], ...]
    cross_class_duplicates: tuple[tuple[str, ...], ...]
    cross_patient_duplicates: tuple[tuple[str, ...], ...]
    unreadable: tuple[tuple[str, str], ...]
    image_sizes: dict[str, int]
    bit_depths: dict[str, int]
    photometric: dict[str, int]
    formats: dict[str, int]


def _summarise_files(
    df: pd.DataFrame, infos: list[FileInfo], labels: pd.Series, patients: pd.Series
) -> _FileSummary:
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
    return _FileSummary(
        duplicate_groups=tuple(tuple(sample_ids[r] for r in rows) for rows in groups),
        cross_class_duplicates=tuple(
            tuple(sample_ids[r] for r in rows) for rows in groups if len({label_list[r] for r in rows}) > 1
        ),
        cross_patient_duplicates=tuple(
            tuple(sample_ids[r] for r in rows) for rows in groups if len({patient_list[r] for r in rows}) > 1
        ),
        unreadable=tuple(unreadable),
        image_sizes=dict(sorted(sizes.items())),
        bit_depths=dict(sorted(bits.items())),
        photometric=dict(sorted(photometric.items())),
        formats=dict(sorted(formats.items())),
    )


def _serious_problems(files: _FileSummary, small: dict[str, int], n_folds: int) -> list[str]:
    """Problems that make the reported numbers wrong; ``strict=True`` raises on the first."""
    problems: list[str] = []
    unreadable, cross_patient, cross_class = (
        files.unreadable,
        files.cross_patient_duplicates,
        files.cross_class_duplicates,
    )
    if unreadable:
        problems.append(
            f"{len(unreadable)} file(s) cannot be read (first: {unreadable[0][0]}: {unreadable[0][1]}); "
            "remove them or pass --skip-bad to skip unreadable files"
        )
    for name, count in sorted(small.items()):
        problems.append(
            f"class {name!r} has {count} patient(s), fewer than n_folds={n_folds}: some outer folds "
            "will test no patient of it; add data, merge classes or lower n_folds"
        )
    if cross_patient:
        problems.append(
            f"{len(cross_patient)} identical file group(s) belong to different patients, so an image can sit in "
            f"training and test at once: {_sample_list(cross_patient)}; remove the copies or fix the patient ids"
        )
    if cross_class:
        problems.append(
            f"{len(cross_class)} identical file group(s) carry different labels: {_sample_list(cross_class)}; "
            "fix the labels or remove the copies"
        )
    return problems


def _notes(files: _FileSummary, table: dict[str, Any]) -> list[str]:
    """Warnings that do not make the numbers wrong but are worth a look."""
    patient_from, several, skipped = (
        table["patient_from"],
        table["patients_in_several_classes"],
        table["skipped"],
    )
    images_per_class = table["images_per_class"]
    notes: list[str] = []
    if patient_from in ("file", "unknown"):
        notes.append(
            "no patient ids: each image counts as its own patient, so one patient's images can land in "
            "training and test; give a patient column or a patient_regex"
        )
    elif patient_from == "dicom+file":
        notes.append("some DICOM files lack a PatientID tag; each of those images counts as its own patient")
    same = len(files.duplicate_groups) - len(
        set(files.cross_class_duplicates) | set(files.cross_patient_duplicates)
    )
    if same > 0:
        notes.append(
            f"{same} group(s) of identical files within one patient and class; they weigh those images double"
        )
    if several:
        notes.append(
            f"{len(several)} patient(s) have images with different labels (e.g. {several[0]!r}); "
            "folds keep each patient in one fold, stratification is approximate"
        )
    if images_per_class and min(images_per_class.values()) * _IMBALANCE_RATIO < max(
        images_per_class.values()
    ):
        notes.append(
            f"classes are imbalanced more than {_IMBALANCE_RATIO:g}:1 ({images_per_class}); "
            "report balanced metrics and consider an imbalance strategy"
        )
    if skipped:
        notes.append(
            f"{len(skipped)} row(s) or file(s) were skipped as bad when loading (first: {skipped[0][0]}: {skipped[0][1]})"
        )
    return notes


def _table_counts(df: pd.DataFrame, labels: pd.Series, patients: pd.Series) -> dict[str, Any]:
    """The :class:`AuditReport` fields taken from the table and its attrs alone (no file is read)."""
    classes = tuple(sorted(labels.unique()))
    counts = patients.value_counts().to_numpy()
    labels_per_patient = df.groupby(patients)["label"].nunique()
    return {
        "n_images": len(df),
        "n_patients": int(patients.nunique()),
        "classes": classes,
        "images_per_class": {c: int((labels == c).sum()) for c in classes},
        "patients_per_class": {c: int(patients[labels == c].nunique()) for c in classes},
        "images_per_modality": _count(df["modality"]),
        "images_per_view": _count(df["view"]) if "view" in df.columns else {"": len(df)},
        "images_per_source": _count(df["source"]) if "source" in df.columns else {},
        "images_per_patient": _images_per_patient(counts),
        "images_per_patient_histogram": _histogram(int(n) for n in counts),
        "patients_in_several_classes": tuple(
            sorted(str(p) for p in labels_per_patient[labels_per_patient > 1].index)
        ),
        "patient_from": str(df.attrs.get("patient_from", "unknown")),
        "skipped": tuple((str(p), str(r)) for p, r in df.attrs.get("skipped", [])),
    }


def _images_per_patient(counts: np.ndarray) -> dict[str, float]:
    return {
        "min": float(counts.min()) if counts.size else 0.0,
        "median": float(np.median(counts)) if counts.size else 0.0,
        "mean": float(counts.mean()) if counts.size else 0.0,
        "max": float(counts.max()) if counts.size else 0.0,
    }


def audit_warnings(problems: Sequence[Problem], where: Path, width: int = 100) -> list[str]:
    """One short line per kind of problem that does not stop a run: count, first culprit, fix, ``where``.

    >>> tiny = Problem("tiny image", "a.png", "1x1 pixels is upscaled to 64x64", "check the file", False)
    >>> audit_warnings([tiny, tiny], Path("audit.json"))[0]
    '2 tiny image(s), first a.png: 1x1 pixels is upscaled to 64x64; check the file (all in audit.json)'
    """
    kinds: dict[str, list[Problem]] = {}
    for problem in problems:
        if not problem.blocking:
            kinds.setdefault(problem.kind, []).append(problem)
    lines = []
    for kind, found in kinds.items():
        first = found[0]
        culprit = first.culprit if len(first.culprit) <= width else "..." + first.culprit[-width:]
        lines.append(f"{len(found)} {kind}(s), first {culprit}: {first.reason}; {first.fix} (all in {where})")
    return lines


def audit_manifest(
    df: pd.DataFrame,
    *,
    n_folds: int = 5,
    read_headers: bool = True,
    progress: bool = False,
    decode: bool = False,
    strict: bool = False,
    num_threads: int = 8,
    inner_folds: int = 4,
    target_size: int | tuple[int, int] | str = 64,
    skipped_ok: bool = True,
    allow_duplicates: bool = False,
    max_pixels: int | None = None,
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
    inner_folds : int
        Inner folds of each outer training fold (``round(1 / protocol.inner_val_fraction)``).
    target_size : int, (int, int) or str
        ``data.size``: the cached square's side, ``(rows, columns)`` or ``auto``; images far
        smaller than its short side are reported as tiny. Recorded (resolved) as ``size_hw``.
    skipped_ok : bool
        Whether skipped rows and unreadable files are skipped on purpose (``--skip-bad``);
        ``False`` counts them among the problems that stop a run.
    allow_duplicates : bool
        Whether identical files across patients or labels are accepted (``data.allow_duplicates``).
    max_pixels : int, optional
        Largest pixel count a header may claim (``data.max_image_pixels``).

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
    infos = (
        _read_files(df, decode=decode, progress=progress, num_threads=num_threads, max_pixels=max_pixels)
        if read_headers
        else []
    )
    checks = {
        "inner_folds": inner_folds,
        "target_size": target_size,
        "skipped_ok": skipped_ok,
        "allow_duplicates": allow_duplicates,
    }
    return _report(df, infos, n_folds=n_folds, strict=strict, read_headers=read_headers, checks=checks)


def _report(
    df: pd.DataFrame,
    infos: list[FileInfo],
    *,
    n_folds: int,
    strict: bool,
    read_headers: bool,
    checks: dict[str, Any],
) -> AuditReport:
    """The :class:`AuditReport` of a manifest whose files were read (``infos``), or not (empty)."""
    labels = df["label"].astype(str)
    patients = df["patient_id"].astype(str)
    table = _table_counts(df, labels, patients)
    layout = layout_fields(df, patients, infos, checks["target_size"])
    checks = {**checks, "target_size": min(layout["size_hw"])}
    small = {c: n for c, n in table["patients_per_class"].items() if n < n_folds}
    files = _summarise_files(df, infos, labels, patients)
    problems = _serious_problems(files, small, n_folds)
    if strict and problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise DataError(f"audit (strict): {problems[0]}{more}")
    notes = _notes(files, table)
    found = find_problems(df, infos, table, n_folds=n_folds, **checks)
    return AuditReport(
        **table,
        **asdict(files),
        small_classes=small,
        n_folds=n_folds,
        files_read=read_headers,
        fingerprint=fingerprint(df, [info.content_hash for info in infos] if read_headers else None),
        warnings=tuple(problems + notes),
        problems=tuple(found),
        problem_counts=problem_counts(found),
        **layout,
    )
