"""The manifest contract: validate a table of images, read one from a CSV file, fingerprint it.

A manifest is a :class:`pandas.DataFrame` with one row per image and the columns
:data:`MANIFEST_COLUMNS`. Everything after the data source (audit, tensor cache,
folds) reads only a validated manifest, so every check on user data happens here
or in :mod:`sdc_bench.data.sources`, and fails with a one-line
:class:`~sdc_bench.core.errors.DataError` that names the file, the row and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.columns import ColumnMap
from sdc_bench.data.csv_text import read_raw_csv
from sdc_bench.data.paths import OUTSIDE_ROOT_FIX, RootGuard

__all__ = [
    "MANIFEST_COLUMNS",
    "MODALITIES",
    "REQUIRED_COLUMNS",
    "ColumnMap",
    "file_hash",
    "fingerprint",
    "map_labels",
    "normalise_modality",
    "read_manifest_csv",
    "validate_manifest",
]

MANIFEST_COLUMNS: tuple[str, ...] = ("sample_id", "path", "label", "patient_id", "modality", "view", "source")
"""Columns of a validated manifest, in this order; extra columns follow them."""

REQUIRED_COLUMNS: tuple[str, ...] = ("sample_id", "path", "label", "patient_id", "modality")
"""Columns :func:`validate_manifest` requires; ``view`` and ``source`` are filled when absent."""

MODALITIES: tuple[str, ...] = ("xray", "mri", "ct")
"""Imaging modalities a manifest may name."""

# Spellings people use for a modality, mapped to the canonical name.
_MODALITY_ALIASES = {
    "xray": "xray",
    "x-ray": "xray",
    "x_ray": "xray",
    "radiograph": "xray",
    "cr": "xray",
    "dx": "xray",
    "mri": "mri",
    "mr": "mri",
    "ct": "ct",
}


def _csv_line(df: pd.DataFrame, index: int) -> int:
    """Line number in the CSV file of data row ``index`` (line 1 is the header)."""
    lines = df.attrs.get("csv_lines")
    return int(lines[int(index)]) if lines is not None and int(index) < len(lines) else int(index) + 2


def _row_name(out: pd.DataFrame, row: int) -> str:
    """``line N`` (the CSV file's line) when the manifest came from a CSV, else ``row N`` (0-based)."""
    lines = out.attrs.get("csv_lines")
    return f"line {lines[row]}" if lines is not None and row < len(lines) else f"row {row}"


def _is_blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip() == "")


def normalise_modality(value: str) -> str | None:
    """The canonical modality name of a common spelling (``X-ray``, ``MR``, ``DX``), ``None`` when unknown."""
    return _MODALITY_ALIASES.get(str(value).strip().lower())


def validate_manifest(df: pd.DataFrame, *, where: str) -> pd.DataFrame:
    """Check a manifest and return a normalised copy.

    Checks that the required columns are present, ``sample_id`` values are unique
    and non-empty, labels and patient ids are non-empty, modalities are one of
    :data:`MODALITIES` (common spellings such as ``X-ray`` or ``MR`` are accepted)
    and paths are absolute. The copy has the columns of :data:`MANIFEST_COLUMNS`
    first, as strings (``view`` filled with ``''`` and ``source`` with ``where``
    when absent), followed by any extra columns unchanged, and a fresh
    ``RangeIndex``. ``df.attrs`` is kept.

    Parameters
    ----------
    df : pandas.DataFrame
        The manifest to check.
    where : str
        Name of the file or source the manifest came from; every error names it.

    Returns
    -------
    pandas.DataFrame
        The normalised copy.

    Raises
    ------
    DataError
        When any check fails; the message names ``where``, the column and the row.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sample_id": ["a"], "path": ["/data/a.png"], "label": ["normal"],
    ...                    "patient_id": ["p1"], "modality": ["X-ray"]})
    >>> validate_manifest(df, where="example")["modality"].tolist()
    ['xray']
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in df.columns]
    if missing:
        raise DataError(
            f"{where}: manifest lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, df.columns)) or 'no columns'}"
        )
    if len(df) == 0:
        raise DataError(f"{where}: manifest has no rows; add at least one image per class")

    out = df.copy()
    out.attrs = dict(df.attrs)
    out = out.reset_index(drop=True)
    if "view" not in out.columns:
        out["view"] = ""
    if "source" not in out.columns:
        out["source"] = where
    for column in ("view", "source"):
        out[column] = out[column].fillna("").astype(str).str.strip()
    _check_filled(out, where)
    _check_unique_ids(out, where)
    _check_modalities(out, where)
    _check_absolute_paths(out, where)
    extra = [column for column in out.columns if column not in MANIFEST_COLUMNS]
    return out[list(MANIFEST_COLUMNS) + extra]


def _first_row(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0])


def _check_filled(out: pd.DataFrame, where: str) -> None:
    """Required text columns are non-blank; they are stripped in place."""
    for column in ("sample_id", "label", "patient_id", "path", "modality"):
        blank = _is_blank(out[column])
        if blank.any():
            raise DataError(
                f"{where}: {_row_name(out, _first_row(blank))} has an empty {column!r} "
                f"({int(blank.sum())} row(s) in all); fill it in or drop the row"
            )
        out[column] = out[column].astype(str).str.strip()


def _check_unique_ids(out: pd.DataFrame, where: str) -> None:
    duplicated = out["sample_id"].duplicated(keep=False)
    if duplicated.any():
        repeated = out.loc[duplicated, "sample_id"].unique()
        positions = out.index[out["sample_id"] == repeated[0]].tolist()
        rows = ", ".join(_row_name(out, r) for r in positions[:_LISTED])
        more = f" and {len(positions) - _LISTED} more row(s)" if len(positions) > _LISTED else ""
        raise DataError(
            f"{where}: sample_id {repeated[0]!r} appears in {rows}{more} "
            f"({len(repeated)} repeated id(s) in {int(duplicated.sum())} rows in all); sample ids must be unique: "
            "give each row its own file or a sample_id column"
        )


_LISTED = 3
"""How many rows a message about many rows names; the rest are counted."""


def map_labels(df: pd.DataFrame, label_map: Mapping[str, str], where: str) -> pd.DataFrame:
    """Labels renamed by ``label_map``; two labels left that differ only in case or spacing are an error.

    >>> frame = pd.DataFrame({"label": ["Normal", "normal", "scoliosis"]})
    >>> map_labels(frame, {"Normal": "normal"}, "example")["label"].tolist()
    ['normal', 'normal', 'scoliosis']
    """
    if label_map:
        attrs = dict(df.attrs)
        df = df.assign(label=df["label"].astype(str).map(lambda label: label_map.get(label, label)))
        df.attrs = attrs
    counts = df["label"].astype(str).value_counts(sort=False)
    spellings: dict[str, list[str]] = {}
    for label in counts.index:
        spellings.setdefault(" ".join(label.casefold().split()), []).append(label)
    for group in spellings.values():
        if len(group) > 1:
            first, second = sorted(group, key=lambda label: -counts[label])[:2]
            listed = " and ".join(f"{label!r} ({counts[label]} image(s))" for label in (first, second))
            raise DataError(
                f"{where}: labels {listed} differ only in case or spacing and would train as two classes; "
                f"map them onto one with --set 'data.label_map={{{second} = \"{first}\"}}' (or fix the labels)"
            )
    return df


def _check_modalities(out: pd.DataFrame, where: str) -> None:
    """Modalities are known spellings; they are normalised in place."""
    modality = out["modality"].map(normalise_modality)
    bad = modality.isna()
    if bad.any():
        row = _first_row(bad)
        raise DataError(
            f"{where}: {_row_name(out, row)} has modality {out.at[row, 'modality']!r}; use one of {', '.join(MODALITIES)}"
        )
    out["modality"] = modality.astype(str)


def _check_absolute_paths(out: pd.DataFrame, where: str) -> None:
    relative = ~out["path"].map(os.path.isabs)
    if relative.any():
        row = _first_row(relative)
        raise DataError(
            f"{where}: {_row_name(out, row)} has a relative path {out.at[row, 'path']!r}; "
            "manifest paths must be absolute (read_manifest_csv resolves them against the CSV's folder)"
        )


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _suggest(name: str, available: Sequence[str], *, cutoff: float = 0.6) -> str | None:
    """The available column closest to ``name`` (case and punctuation ignored), if any is close enough."""
    squashed = {_squash(a): a for a in available}
    matches = difflib.get_close_matches(_squash(name), list(squashed), n=1, cutoff=cutoff)
    return squashed[matches[0]] if matches else None


def _missing_column_error(csv_path: Path, field: str, name: str, available: Sequence[str]) -> DataError:
    suggestion = _suggest(name, available)
    hint = (
        f"did you mean {suggestion!r}? map it with --columns {field}={suggestion} "
        f"(in a suite: data.columns = {{{field} = {suggestion!r}}})"
        if suggestion
        else f"map the right column with --columns {field}=COLUMN (in a suite: data.columns = {{{field} = 'COLUMN'}})"
    )
    return DataError(
        f"{csv_path}: no column {name!r} for {field}; available columns: {', '.join(available)}; {hint}"
    )


def _derived_sample_id(path_value: str) -> str:
    """A stable id from the path as written in the CSV (relative to its folder)."""
    return Path(path_value.strip().replace("\\", "/")).as_posix()


def read_manifest_csv(
    path: str | Path,
    *,
    columns: ColumnMap = ColumnMap(),  # noqa: B008 - a frozen dataclass is a safe default
    classes: Sequence[str] | None = None,
    check_files: bool = True,
    skip_bad: bool = False,
    modality: str = "xray",
    allow_outside_root: bool = False,
) -> pd.DataFrame:
    """Read a manifest from a CSV file and validate it.

    Relative image paths are resolved against the CSV's folder. A missing
    ``sample_id`` column is derived from the path as written in the CSV (stable
    across machines). A missing patient column makes each image its own patient
    and sets ``df.attrs["patient_from"] = "file"`` (otherwise ``"column"``). Extra
    columns are kept. Rows skipped with ``skip_bad`` are listed in
    ``df.attrs["skipped"]`` as ``(path, reason)`` pairs.

    An optional column (patient, modality, view, sample id) that is absent under
    its default name is filled in, unless the CSV holds a column with a close
    spelling or the :class:`ColumnMap` names it explicitly; then it is an error,
    so a misspelt patient column never silently turns into one patient per image.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    columns : ColumnMap
        Names of the CSV columns that hold each field.
    classes : sequence of str, optional
        The allowed class names; a label outside them is an error (or skipped).
    check_files : bool
        Check that every image file exists.
    skip_bad : bool
        Skip rows with a missing file, an empty or unknown label, or an empty
        patient id instead of raising; they are listed in ``df.attrs["skipped"]``.
    modality : str
        Modality for every row when the CSV has no modality column.
    allow_outside_root : bool
        Accept paths that lead (also through a symlink) outside the CSV's folder; refused by default.

    Returns
    -------
    pandas.DataFrame
        The validated manifest (see :func:`validate_manifest`).

    Raises
    ------
    DataError
        When the file cannot be read, a column is missing or misspelt, or a row is
        bad and ``skip_bad`` is false.

    Examples
    --------
    >>> df = read_manifest_csv("data/spine.csv", columns=ColumnMap(label="diagnosis"))  # doctest: +SKIP
    """
    csv_path = Path(path).expanduser()
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: manifest CSV not found; check the path")
    if normalise_modality(modality) is None:
        raise ConfigError(
            f"modality={modality!r} is not a known modality; use one of {', '.join(MODALITIES)}"
        )
    raw = read_raw_csv(csv_path)
    names = _resolve_columns(raw, columns, csv_path)
    df = _manifest_frame(raw, names, csv_path, modality)
    df.attrs["csv_lines"] = raw.attrs["csv_lines"]
    patient_from = "column" if names["patient_id"] else "file"
    checks = {"check_files": check_files, "skip_bad": skip_bad, "allow_outside_root": allow_outside_root}
    df, skipped = _drop_bad_rows(df, names, csv_path, classes=classes, **checks)
    if skipped and len(df) == 0:
        raise DataError(f"{csv_path}: every row was skipped as bad (first: {skipped[0][1]}); fix the CSV")
    df.attrs["patient_from"] = patient_from
    df.attrs["skipped"] = skipped
    df.attrs["csv_lines"] = [_csv_line(raw, index) for index in df.index]
    return validate_manifest(df, where=str(csv_path))


def _resolve_columns(raw: pd.DataFrame, columns: ColumnMap, csv_path: Path) -> dict[str, str | None]:
    """The CSV column of each manifest field; ``None`` for an optional field the CSV does not have."""
    available = list(raw.columns)
    defaults = ColumnMap()
    taken = {getattr(columns, f.name) for f in dataclasses.fields(columns)}

    def column(field: str, *, required: bool) -> str | None:
        name = getattr(columns, field)
        if name in raw.columns:
            return name
        explicit = name != getattr(defaults, field)
        # A close spelling of an optional column is almost always a typo, not an absent field.
        close = _suggest(name, [a for a in available if a not in taken], cutoff=0.85)
        if required or explicit or close is not None:
            raise _missing_column_error(csv_path, field, name, available)
        return None

    return {
        "path": column("path", required=True),
        "label": column("label", required=True),
        "patient_id": column("patient_id", required=False),
        "modality": column("modality", required=False),
        "view": column("view", required=False),
        "sample_id": column("sample_id", required=False),
    }


def _manifest_frame(
    raw: pd.DataFrame, names: dict[str, str | None], csv_path: Path, modality: str
) -> pd.DataFrame:
    """The manifest columns taken from the CSV (paths as written), then its extra columns."""
    path_col, label_col = str(names["path"]), str(names["label"])
    patient_col, modality_col, view_col, sample_col = (
        names["patient_id"],
        names["modality"],
        names["view"],
        names["sample_id"],
    )
    mapped = set(names.values()) - {None}
    df = pd.DataFrame(index=raw.index)
    df["path"] = raw[path_col].str.strip()
    df["label"] = raw[label_col].str.strip()
    df["sample_id"] = raw[sample_col].str.strip() if sample_col else df["path"].map(_derived_sample_id)
    df["patient_id"] = raw[patient_col].str.strip() if patient_col else df["sample_id"]
    df["modality"] = raw[modality_col].str.strip() if modality_col else modality
    df["view"] = raw[view_col].str.strip() if view_col else ""
    if "source" not in raw.columns or "source" in mapped:
        df["source"] = csv_path.parent.name if csv_path.name == "manifest.csv" else csv_path.stem
    for extra in raw.columns:
        if extra not in mapped and extra not in df.columns:
            df[extra] = raw[extra]
    return df


def _drop_bad_rows(
    df: pd.DataFrame,
    names: dict[str, str | None],
    csv_path: Path,
    *,
    classes: Sequence[str] | None,
    check_files: bool,
    skip_bad: bool,
    allow_outside_root: bool,
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Resolve paths against the CSV's folder and drop (or raise on) rows that cannot be used."""
    path_col, label_col, patient_col = names["path"], names["label"], names["patient_id"]
    folder = csv_path.resolve().parent
    skipped: list[tuple[str, str]] = []
    keep = pd.Series(True, index=df.index)
    allowed = set(classes) if classes is not None else None

    def bad_row(index: int, path_value: str, reason: str, fix: str) -> None:
        if not skip_bad:
            raise DataError(
                f"{csv_path}: line {_csv_line(df, index)}: {reason}; {fix} (or pass --skip-bad to skip it)"
            )
        skipped.append((path_value, f"line {_csv_line(df, index)}: {reason}; {fix}"))
        keep.at[index] = False

    absolute = []
    guard = RootGuard(folder)
    modality_col = names["modality"]
    for index, path_value, label, patient, modality in zip(
        df.index, df["path"], df["label"], df["patient_id"], df["modality"], strict=True
    ):
        resolved = Path(os.path.expanduser(path_value))
        if not resolved.is_absolute():
            resolved = folder / resolved
        resolved_str = os.path.normpath(resolved)
        absolute.append(resolved_str)
        if path_value == "":
            bad_row(index, path_value, f"empty {path_col!r}", "give every row an image path")
        elif label == "":
            bad_row(index, resolved_str, f"empty {label_col!r}", "give every row a class label")
        elif allowed is not None and label not in allowed:
            bad_row(
                index,
                resolved_str,
                f"label {label!r} in column {label_col!r} is not one of the classes {sorted(allowed)}",
                "fix the label or the class list",
            )
        elif patient == "":
            bad_row(index, resolved_str, f"empty {patient_col!r}", "give every row a patient id")
        elif modality_col is not None and modality and normalise_modality(str(modality)) is None:
            bad_row(
                index,
                resolved_str,
                f"modality {modality!r} in column {modality_col!r} is not one of {', '.join(MODALITIES)}",
                "fix the modality or drop the row",
            )
        elif not allow_outside_root and guard.is_outside(resolved_str):
            bad_row(
                index,
                resolved_str,
                f"path {path_value!r} leads outside the folder {folder}",
                OUTSIDE_ROOT_FIX,
            )
        elif check_files and not os.path.isfile(resolved_str):
            bad_row(index, resolved_str, f"image file {resolved_str} does not exist", "fix the path")
    df["path"] = absolute
    return df[keep], skipped


_HASH_CHUNK_BYTES = 1 << 20
# A file changed within this many ns can change again without its times moving (timestamps advance in
# clock ticks), so its hash is not remembered; git treats "racily clean" index entries the same way.
_SETTLED_NS = 2_000_000_000
_content_hashes: dict[tuple[str, int, int, int, int], str] = {}


def _content_hash(path: object) -> str:
    """BLAKE2b of a file's bytes, streamed; ``"-"`` when it cannot be read.

    Remembered for this process per (path, inode, size, mtime_ns, ctime_ns), only to avoid reading a
    file twice: the value itself depends on the bytes alone. ``ctime`` is in the key because a
    program can set ``mtime`` back (``touch -d``, ``cp -p``) but not ``ctime``.
    """
    if not isinstance(path, str | os.PathLike):  # e.g. NaN in an unvalidated frame
        return "-"
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return "-"
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    known = _content_hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError:
        return "-"
    value = digest.hexdigest()
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _SETTLED_NS:
        _content_hashes[key] = value
    return value


def file_hash(path: str | os.PathLike[str]) -> str:
    """BLAKE2b of a file's bytes as :func:`fingerprint` uses it (``"-"`` when unreadable); read once per process."""
    return _content_hash(path)


def fingerprint(df: pd.DataFrame, hashes: Sequence[str] | None = None) -> str:
    """A short, stable hash of a manifest's content.

    SHA-256 over the rows sorted by ``sample_id``, each contributing
    ``(sample_id, label, patient_id, BLAKE2b of the file's bytes)``; a file that
    cannot be read contributes ``-``. Row order, paths, extra columns and file
    times do not change it, so a dataset regenerated byte for byte, copied or
    moved keeps its fingerprint; relabelling, regrouping or changing one byte of
    a file changes it. Each file is read once per process (remembered by path,
    size and file times).

    Parameters
    ----------
    df : pandas.DataFrame
        A validated manifest.
    hashes : sequence of str, optional
        The BLAKE2b (:func:`file_hash`) of each row's file, in row order, when the caller has hashed
        them already (the audit reads every file once); ``"-"`` or ``""`` for a file that cannot be
        read. ``None`` reads the files here.

    Returns
    -------
    str
        The first 16 hex digits of the hash.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sample_id": ["a"], "label": ["x"], "patient_id": ["p"], "path": [""]})
    >>> len(fingerprint(df))
    16
    """
    if hashes is None:
        digests = [_content_hash(path) for path in df["path"]]
    else:
        if len(hashes) != len(df):
            raise ValueError(f"fingerprint: {len(hashes)} hashes for {len(df)} rows")
        digests = [digest or "-" for digest in hashes]
    rows = sorted(
        (str(sample_id), str(label), str(patient_id), digest)
        for sample_id, label, patient_id, digest in zip(
            df["sample_id"], df["label"], df["patient_id"], digests, strict=True
        )
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join(row).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]
