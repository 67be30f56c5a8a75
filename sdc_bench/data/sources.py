"""Turn a data source (a CSV manifest, or a folder of class sub-folders) into a validated manifest.

:func:`load_source` dispatches on what it is given:

* a ``.csv`` file, or a folder holding ``manifest.csv``: read with
  :func:`~sdc_bench.data.manifest.read_manifest_csv`;
* a folder with one sub-folder per class: every image below a class folder
  (recursively) is one row, its label the class folder's name.

Patients are taken, in this order, from the CSV patient column; from
``patient_regex`` applied to the file name (the group named ``patient``, else the first
group, else the whole match); from
the DICOM ``PatientID`` tag of DICOM files; else each image is its own patient and
``df.attrs["patient_from"]`` is ``"file"``, which the audit reports, because folds
can then leak one patient's images across training and test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.decode import IMAGE_SUFFIXES, is_dicom
from sdc_bench.data.dicom_meta import read_dicom_meta
from sdc_bench.data.manifest import MODALITIES, ColumnMap, map_labels, read_manifest_csv, validate_manifest
from sdc_bench.data.paths import OUTSIDE_ROOT_FIX, RootGuard
from sdc_bench.data.series import dicom_rows
from sdc_bench.data.spec import PATIENT_GROUP

__all__ = ["MANIFEST_FILE_NAME", "is_image_file", "load_source"]

MANIFEST_FILE_NAME = "manifest.csv"
"""A folder holding a file of this name is read as a CSV source."""


def is_image_file(path: str | Path) -> bool:
    """Whether :func:`~sdc_bench.data.decode.read_image` would try to read this file.

    True for the suffixes in :data:`~sdc_bench.data.decode.IMAGE_SUFFIXES` and for
    DICOM files under any other name (the ``DICM`` marker at byte 128 is checked).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    bool
    """
    if str(path).lower().endswith(IMAGE_SUFFIXES):
        return True
    # DICOM files are often named by UID ("1.2.840.113619.2.55.3") or have no suffix at all.
    return is_dicom(path)


def _compile_patient_regex(patient_regex: str | None) -> re.Pattern[str] | None:
    if patient_regex is None:
        return None
    try:
        return re.compile(patient_regex)
    except re.error as error:
        raise ConfigError(
            f"patient_regex='{patient_regex}' is not a valid regular expression ({error})"
        ) from None


def _patient_from_name(pattern: re.Pattern[str], path: str | Path) -> str | None:
    match = pattern.search(os.path.basename(path))
    if match is None:
        return None
    if PATIENT_GROUP in pattern.groupindex:
        value = match.group(PATIENT_GROUP)
    else:
        value = match.group(1) if pattern.groups else match.group(0)
    return value if value else None


def _dicom_patient_id(path: Path) -> str | None:
    meta = read_dicom_meta(path)
    return (meta.patient_id or None) if meta is not None else None


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ConfigError(f"modality={modality!r} is not supported; use one of {', '.join(MODALITIES)}")


def _visible(entry: os.DirEntry[str]) -> bool:
    # Dot files (.DS_Store, ._foo from macOS, .ipynb_checkpoints) are file-system clutter, not data.
    return not entry.name.startswith(".")


def _walk_files(folder: Path) -> list[str]:
    """Every visible file below ``folder``, as paths that start with ``str(folder)``, in sorted order."""
    files: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(os.path.join(root, name) for name in sorted(names) if not name.startswith("."))
    return files


def _patients_with_regex(
    csv_df: pd.DataFrame, pattern: re.Pattern[str], where: str, skip_bad: bool
) -> pd.DataFrame:
    """Fill patient ids of a CSV without a patient column from the file names."""
    patients = [_patient_from_name(pattern, p) for p in csv_df["path"]]
    missing = [p for p, patient in zip(csv_df["path"], patients, strict=True) if patient is None]
    if missing and not skip_bad:
        raise DataError(
            f"{where}: patient_regex '{pattern.pattern}' does not match file name {Path(missing[0]).name!r} "
            f"({len(missing)} file(s) in all); fix the pattern or pass --skip-bad to skip those files"
        )
    out = csv_df.copy()
    out.attrs = dict(csv_df.attrs)
    out["patient_id"] = [p if p is not None else "" for p in patients]
    matched = (out["patient_id"] != "").to_numpy()
    out = out[matched].copy()
    if len(out) == 0:
        raise DataError(f"{where}: patient_regex '{pattern.pattern}' matched no file name; fix the pattern")
    out.attrs = dict(csv_df.attrs)
    lines = csv_df.attrs.get("csv_lines")
    if lines is not None and len(lines) == len(matched):
        out.attrs["csv_lines"] = [line for line, keep in zip(lines, matched, strict=True) if keep]
    out.attrs["skipped"] = list(csv_df.attrs.get("skipped", [])) + [
        (path, f"patient_regex '{pattern.pattern}' does not match the file name") for path in missing
    ]
    out.attrs["patient_from"] = "regex"
    return out


def _patients_from_dicom(csv_df: pd.DataFrame) -> pd.DataFrame:
    """Take patient ids of DICOM rows of a CSV without a patient column from their PatientID tag."""
    ids = [(_dicom_patient_id(Path(p)) if is_dicom(p) else None) for p in csv_df["path"]]
    found = sum(i is not None for i in ids)
    if found == 0:
        return csv_df
    out = csv_df.copy()
    out.attrs = dict(csv_df.attrs)
    out["patient_id"] = [i if i is not None else s for i, s in zip(ids, out["sample_id"], strict=True)]
    out.attrs["patient_from"] = "dicom" if found == len(ids) else "dicom+file"
    return out


def _load_csv(
    csv_path: Path,
    *,
    columns: ColumnMap,
    pattern: re.Pattern[str] | None,
    classes: Sequence[str] | None,
    modality: str,
    skip_bad: bool,
    allow_outside_root: bool,
) -> pd.DataFrame:
    df = read_manifest_csv(
        csv_path,
        columns=columns,
        classes=classes,
        skip_bad=skip_bad,
        modality=modality,
        allow_outside_root=allow_outside_root,
    )
    if df.attrs.get("patient_from") == "file":
        if pattern is not None:
            df = _patients_with_regex(df, pattern, str(csv_path), skip_bad)
        else:
            df = _patients_from_dicom(df)
        df = validate_manifest(df, where=str(csv_path))
    return df


class _Skips:
    """Bad files and folders: raised at once, or collected as ``(path, reason)`` with ``skip_bad``."""

    def __init__(self, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.skipped: list[tuple[str, str]] = []

    def bad(self, path: str | Path, reason: str, fix: str) -> None:
        if not self.skip_bad:
            raise DataError(f"{path}: {reason}; {fix} (or pass --skip-bad to skip it)")
        self.skipped.append((str(path), f"{reason}; {fix}"))


def _class_folders(folder: Path) -> tuple[list[Path], list[Path]]:
    """The class sub-folders and the loose files of a folder source; an error when it has no class folder."""
    with os.scandir(folder) as entries:
        visible = sorted((e for e in entries if _visible(e)), key=lambda e: e.name)
    class_dirs = [Path(e.path) for e in visible if e.is_dir()]
    loose_files = [Path(e.path) for e in visible if e.is_file()]
    if class_dirs:
        return class_dirs, loose_files
    if not loose_files:
        raise DataError(f"{folder}: source folder is empty; put images in one sub-folder per class")
    if any(is_dicom(p) for p in loose_files[:50]):
        raise DataError(
            f"{folder}: holds DICOM files but no class sub-folders; labels come from class sub-folders "
            f"(e.g. {folder}/scoliosis/*.dcm) or from a CSV manifest with path,label columns"
        )
    raise DataError(
        f"{folder}: holds files but no class sub-folders; put images in one sub-folder per class "
        f"or give a CSV manifest with path,label columns"
    )


def _chosen_classes(
    folder: Path, class_dirs: list[Path], classes: Sequence[str] | None, skips: _Skips
) -> list[Path]:
    if classes is None:
        return class_dirs
    names = [d.name for d in class_dirs]
    for name in (n for n in names if n not in classes):
        skips.bad(
            folder / name,
            f"class folder {name!r} is not one of the classes {list(classes)}",
            "rename or remove it",
        )
    absent = [c for c in classes if c not in names]
    if absent:
        raise DataError(
            f"{folder}: no class folder for {', '.join(map(repr, absent))}; "
            f"found {', '.join(names)} - create it or remove it from the class list"
        )
    return [d for d in class_dirs if d.name in classes]


def _image_rows(
    folder: Path, class_dirs: list[Path], forced: tuple[str, str], skips: _Skips, allow_outside_root: bool
) -> list[dict[str, str]]:
    """One row per image below each class folder (recursively); non-images and empty classes are bad."""
    rows: list[dict[str, str]] = []
    guard = RootGuard(folder)
    for class_dir in class_dirs:
        images = []
        # _walk_files' paths start with the class folder's: the sample id is the rest, without pathlib
        prefix = len(str(class_dir)) + 1
        for file in _walk_files(class_dir):
            if not allow_outside_root and guard.is_outside(file):
                skips.bad(file, f"symlink leads outside the source folder {folder}", OUTSIDE_ROOT_FIX)
            elif is_image_file(file):
                images.append(file)
            else:
                skips.bad(
                    file,
                    "not an image file (expected PNG, JPEG, TIFF, BMP, DICOM, NIfTI or MetaImage)",
                    "remove it",
                )
        if not images:
            skips.bad(
                class_dir,
                f"class folder {class_dir.name!r} holds no images",
                "add images or remove the folder",
            )
            continue
        rows.extend(
            {
                "sample_id": f"{class_dir.name}/{image[prefix:].replace(os.sep, '/')}",
                "path": os.path.abspath(image),
                "label": class_dir.name,
                "modality": forced[0],
                "view": forced[1],
                "source": folder.name,
            }
            for image in images
        )
    if not rows:
        raise DataError(
            f"{folder}: no images found in its class folders; add images (PNG, JPEG, TIFF, BMP, DICOM, NIfTI, MetaImage)"
        )
    return rows


def _patients_of_rows(
    folder: Path, rows: list[dict[str, str]], pattern: re.Pattern[str] | None, skips: _Skips
) -> tuple[list[dict[str, str]], str]:
    """Fill ``patient_id`` of every row (regex, else DICOM tag, else the file); return rows and their origin."""
    if pattern is None:
        found = 0
        for row in rows:
            patient = _dicom_patient_id(Path(row["path"])) if is_dicom(row["path"]) else None
            found += patient is not None
            row["patient_id"] = patient if patient is not None else row["sample_id"]
        return rows, ("file" if not found else "dicom" if found == len(rows) else "dicom+file")
    kept = []
    for row in rows:
        patient = _patient_from_name(pattern, row["path"])
        if patient is None:
            skips.bad(
                Path(row["path"]),
                f"patient_regex '{pattern.pattern}' does not match the file name",
                "fix the pattern",
            )
            continue
        row["patient_id"] = patient
        kept.append(row)
    if not kept:
        raise DataError(f"{folder}: patient_regex '{pattern.pattern}' matched no file name; fix the pattern")
    return kept, "regex"


def _load_folder(
    folder: Path,
    *,
    pattern: re.Pattern[str] | None,
    classes: Sequence[str] | None,
    modality: str,
    view: str,
    skip_bad: bool,
    allow_outside_root: bool,
) -> pd.DataFrame:
    class_dirs, loose_files = _class_folders(folder)
    skips = _Skips(skip_bad)
    for loose in loose_files:
        if is_image_file(loose):
            skips.bad(loose, "image outside any class sub-folder", "move it into its class folder")
    class_dirs = _chosen_classes(folder, class_dirs, classes, skips)
    rows, series = dicom_rows(_image_rows(folder, class_dirs, (modality, view), skips, allow_outside_root))
    rows, patient_from = _patients_of_rows(folder, rows, pattern, skips)
    df = pd.DataFrame(
        rows, columns=["sample_id", "path", "label", "patient_id", "modality", "view", "source"]
    )
    df.attrs["patient_from"] = patient_from
    df.attrs["skipped"] = skips.skipped
    df.attrs["series"] = series
    return validate_manifest(df, where=str(folder))


def load_source(
    source: str | Path,
    *,
    columns: ColumnMap = ColumnMap(),  # noqa: B008 - a frozen dataclass is a safe default
    patient_regex: str | None = None,
    classes: Sequence[str] | None = None,
    modality: str | None = None,
    skip_bad: bool = False,
    allow_outside_root: bool = False,
    view: str = "",
    label_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a data source into a validated manifest.

    Parameters
    ----------
    source : str or pathlib.Path
        A CSV manifest, a folder holding ``manifest.csv``, or a folder with one
        sub-folder per class (images below it, recursively: PNG, JPEG, TIFF, BMP,
        DICOM with or without a ``.dcm`` suffix, NIfTI, MetaImage). Dot files are ignored.
    columns : ColumnMap
        CSV column names (CSV sources only).
    patient_regex : str, optional
        Regular expression searched in each file name; its group named ``patient``,
        else its first group, else the whole match is the patient id. Used when
        there is no patient column.
    classes : sequence of str, optional
        The allowed class names; other labels or class folders are errors (or skipped).
    modality : str, optional
        ``xray``, ``mri`` or ``ct``, for rows that do not name one (no CSV column, no DICOM
        Modality tag); ``None`` takes ``xray``.
    skip_bad : bool
        Skip bad rows and files (non-images, missing files, unknown labels, names
        the pattern does not match) instead of raising; they are listed in
        ``df.attrs["skipped"]`` as ``(path, reason)`` pairs.
    allow_outside_root : bool
        Accept manifest paths and symlinks that lead outside the source's folder
        (``data.allow_outside_root``); refused by default.
    view : str
        The view of folder-source images whose DICOM header names none (``data.view``).
    label_map : mapping of str to str, optional
        Label as written -> class name (``data.label_map``), applied before labels are checked: two
        labels that differ only in case or spacing are refused, naming both and their counts.

    Returns
    -------
    pandas.DataFrame
        A validated manifest; ``df.attrs["patient_from"]`` is one of ``column``,
        ``regex``, ``dicom``, ``dicom+file`` or ``file``. In folder sources the files of
        one MRI/CT DICOM series are one row (``df.attrs["series"]`` counts them; see
        :mod:`sdc_bench.data.series`), and DICOM rows take modality and view from the header.

    Raises
    ------
    DataError
        When the source is missing, empty, unlabelled or holds bad files; the
        message names the file or folder.
    ConfigError
        When ``patient_regex`` or ``modality`` is invalid.

    Examples
    --------
    >>> df = load_source("data/spine_xr", patient_regex=r"^(P\\d+)_")  # doctest: +SKIP
    >>> df.attrs["patient_from"]  # doctest: +SKIP
    'regex'
    """
    modality = modality or "xray"
    _check_modality(modality)
    pattern = _compile_patient_regex(patient_regex)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"{path}: data source does not exist; give a CSV manifest or a folder of class sub-folders"
        )
    if path.is_file() and path.suffix.lower() != ".csv":
        raise DataError(
            f"{path}: a file source must be a CSV manifest (.csv); or give a folder of class sub-folders"
        )
    csv = path if path.is_file() else path / MANIFEST_FILE_NAME
    options = {"pattern": pattern, "classes": classes, "modality": modality, "skip_bad": skip_bad}
    if csv.is_file():
        df = _load_csv(csv, columns=columns, allow_outside_root=allow_outside_root, **options)  # type: ignore[arg-type]
    else:
        df = _load_folder(path, allow_outside_root=allow_outside_root, view=view, **options)  # type: ignore[arg-type]
    return map_labels(df, label_map or {}, str(path))
