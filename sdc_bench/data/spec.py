"""The data spec: where a suite's images come from and how they are preprocessed (the ``[data]`` table)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from PIL import Image

from sdc_bench.core.errors import ConfigError
from sdc_bench.data.auto_size import auto_side
from sdc_bench.data.columns import ColumnMap, column_settings
from sdc_bench.data.manifest import MODALITIES, normalise_modality

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "FREE_TYPED",
    "MIN_SIZE",
    "PATIENT_GROUP",
    "DataSpec",
    "label_map_settings",
]

DEFAULT_MAX_IMAGE_PIXELS: int = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
"""Pillow's own decompression-bomb cap; ``data.max_image_pixels`` applies it to DICOM and NIfTI as well."""

MIN_SIZE = 16
"""Smallest side of the model input."""

FREE_TYPED = "free_typed"
"""Field metadata key: the field takes several types (``size``: an int, ``[rows, columns]`` or text),
so a suite loader must not coerce the value to the default's type; the spec checks it itself."""

PATIENT_GROUP = "patient"
"""Name of the regex group that holds the patient id, when a ``patient_regex`` has several groups."""


def _check_patient_regex(value: object) -> str | None:
    """The regex, or ``None`` for none (an empty string clears it); a one-line error when unusable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"data.patient_regex must be a regular expression (text), got {value!r}")
    try:
        pattern = re.compile(value)
    except re.error as error:
        raise ConfigError(
            f"data.patient_regex={value!r} does not compile ({error}); give e.g. '^(P\\d+)_'"
        ) from None
    if pattern.groups == 0 or (pattern.groups > 1 and PATIENT_GROUP not in pattern.groupindex):
        found = (
            "no group" if pattern.groups == 0 else f"{pattern.groups} groups, none named {PATIENT_GROUP!r}"
        )
        raise ConfigError(
            f"data.patient_regex={value!r} has {found}; put the patient id in one group, "
            f"e.g. '^(P\\d+)_', or name it (?P<{PATIENT_GROUP}>...)"
        )
    return value


def _check_size(value: object) -> int | tuple[int, int] | str:
    """``data.size`` as an int (square), a ``(rows, columns)`` pair, or ``auto``/``auto:N`` text."""
    if isinstance(value, str):
        auto_side(value)
        return value.strip().lower()
    sides = list(value) if isinstance(value, (list, tuple)) else [value, value]
    if len(sides) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < MIN_SIZE for s in sides):
        raise ConfigError(
            f"data.size={value!r} must be an integer >= {MIN_SIZE} (a square), [rows, columns] "
            "(e.g. [384, 128]) or 'auto'"
        )
    rows, columns = int(sides[0]), int(sides[1])  # type: ignore[arg-type]
    return rows if rows == columns else (rows, columns)


def _check_slices(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ConfigError(f"data.slices={value!r} must be a positive odd integer (1, 3, 5, ...)")
    return value


def label_map_settings(value: object) -> dict[str, str]:
    """``data.label_map``: a table of label as written -> class name, both non-empty text.

    >>> label_map_settings({"Normal": "normal"})
    {'Normal': 'normal'}
    """
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in value.items()
    ):
        raise ConfigError(
            f"data.label_map={value!r} must be a table of label = class name, "
            "e.g. --set 'data.label_map={Normal = \"normal\"}'"
        )
    return {k.strip(): v.strip() for k, v in value.items()}


def _check_modality(value: object) -> str:
    if value is None or value == "":
        return ""
    modality = normalise_modality(str(value)) if isinstance(value, str) else None
    if modality is None:
        raise ConfigError(f"data.modality={value!r} is not a modality; use one of {', '.join(MODALITIES)}")
    return modality


@dataclass(frozen=True)
class DataSpec:
    """Where images come from and how they are preprocessed.

    ``patient_regex`` and ``columns`` apply to the user's own sources (``source`` a path), not to
    SynthSpine, and are checked when the spec is built, so a bad value fails before any data is read.

    Attributes
    ----------
    patient_regex : str or None
        Regular expression searched in each image's file name (folder sources, and CSV manifests
        without a patient column); its one group, or the group named ``patient``, is the patient id.
        ``None`` (or ``""``) takes patients from a CSV column, the DICOM PatientID tag, or else one
        patient per file. In a suite: ``patient_regex = '^(P\\d+)_'`` (a TOML literal string keeps
        the backslash); on the command line: ``--set 'data.patient_regex=^(P\\d+)_'`` (a value that
        is not TOML is taken as text).
    columns : dict of str to str
        Manifest field -> CSV column name for CSV manifests; keys from ``path``, ``label``,
        ``patient_id``, ``modality``, ``view``, ``sample_id``; fields not named keep their default
        column name. In a suite: ``columns = {path = "file", label = "diagnosis", patient_id = "pid"}``
        (or a ``[data.columns]`` table); on the command line one key at a time,
        ``--set data.columns.label=diagnosis``, or all at once as ``--set data.columns=path=file,label=dx``
        (``field=column`` pairs) or as a TOML inline table ``--set 'data.columns={label="dx"}'``.
    allow_outside_root : bool
        Accept manifest paths (or symlinks) that lead outside the manifest's folder; off by default,
        so a manifest row like ``../../etc/passwd`` is refused.
    max_image_pixels : int
        Largest image (pixels; voxels for a NIfTI volume, pixels x frames for DICOM) read; a header
        claiming more is refused before any pixel data is loaded (a decompression bomb).
    allow_duplicates : bool
        Accept the same file content under two patients or two labels (a leak or label noise).
    size : int, (int, int) or str
        The model input: a side (a square), ``[rows, columns]`` (``size = [384, 128]`` for full-spine
        radiographs; ``--set 'data.size=[384, 128]'``), or ``"auto"`` / ``"auto:N"``: rows x columns
        of the images' median aspect ratio within 224 x 224 (N x N) pixels, multiples of 32.
    slices : int
        Adjacent slices around the middle one of a NIfTI volume or a DICOM series, stacked as input
        channels (2.5D); odd, 1 by default. 2-D images repeat their one slice.
    modality, view : str
        Force the modality (``xray``, ``mri``, ``ct``) and view of images whose source does not say
        (PNG/JPEG folders; a DICOM header's Modality and ViewPosition win). Empty: ``xray`` and no view.
    label_map : dict of str to str
        Label as written -> class name, applied when the source is read; labels that differ only in
        case or spacing (``Normal``, ``normal``) are refused unless mapped onto one name, e.g.
        ``--set 'data.label_map={Normal = "normal"}'``.
    allow_slice_gaps : bool
        Accept a DICOM series with missing slices (a gap over 1.5x its spacing) under ``slices > 1``;
        the gap is then a note in the audit and the report instead of an error.
    """

    source: str = "synthspine"  # 'synthspine' or a path (CSV manifest, class folders)
    n_images: int = 300
    classes: tuple[str, ...] = ()  # empty: all of the source's classes
    prevalence: tuple[float, ...] = ()  # empty: the source's default
    modalities: tuple[str, ...] = ("xray", "mri")
    site: str = "site_a"
    size: int | tuple[int, int] | str = field(default=64, metadata={FREE_TYPED: True})
    resize: str = "letterbox"
    # SynthSpine's generation seed; -1 takes the suite's seed. A fixed value makes the dataset a fixed
    # benchmark dataset, like a real one, so --seed/--seeds vary only the protocol (folds, initialisation).
    seed: int = -1
    patient_regex: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    allow_outside_root: bool = False
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    allow_duplicates: bool = False
    slices: int = 1
    modality: str = ""
    view: str = ""
    label_map: dict[str, str] = field(default_factory=dict)
    allow_slice_gaps: bool = False

    def __post_init__(self) -> None:
        limit = self.max_image_pixels
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(
                f"data.max_image_pixels={limit!r} must be a positive integer (default {DEFAULT_MAX_IMAGE_PIXELS})"
            )
        object.__setattr__(self, "patient_regex", _check_patient_regex(self.patient_regex))
        object.__setattr__(self, "size", _check_size(self.size))
        object.__setattr__(self, "slices", _check_slices(self.slices))
        object.__setattr__(self, "modality", _check_modality(self.modality))
        if not isinstance(self.view, str):
            raise ConfigError(f"data.view={self.view!r} must be text, e.g. 'ap' or 'sagittal t2'")
        object.__setattr__(self, "view", self.view.strip().lower())
        object.__setattr__(self, "columns", column_settings(self.columns))
        object.__setattr__(self, "label_map", label_map_settings(self.label_map))
        if not isinstance(self.allow_slice_gaps, bool):
            raise ConfigError(f"data.allow_slice_gaps={self.allow_slice_gaps!r} must be true or false")

    @property
    def pixel_side(self) -> int:
        """Side of a square with the input's pixel count (``auto``: its budget); for speed estimates."""
        if isinstance(self.size, str):
            return auto_side(self.size)
        rows, columns = (self.size, self.size) if isinstance(self.size, int) else self.size
        return rows if rows == columns else round(math.sqrt(rows * columns))

    def column_map(self) -> ColumnMap:
        """The CSV column names of :attr:`columns`, defaults for the fields it does not name."""
        return ColumnMap(**self.columns)
