"""Which CSV column holds which manifest field (:class:`ColumnMap`), and building one from suite settings.

Kept apart from :mod:`sdc_bench.data.manifest` (which needs pandas) so that the suite's data spec can
check ``data.columns`` up front without loading the table machinery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from sdc_bench.core.errors import ConfigError

__all__ = ["COLUMN_FIELDS", "ColumnMap", "column_settings"]


@dataclass(frozen=True)
class ColumnMap:
    """Names of the CSV columns that hold each manifest field.

    Parameters
    ----------
    path : str
        Column with the image path (absolute, or relative to the CSV's folder).
    label : str
        Column with the class name.
    patient_id : str
        Column with the patient identifier. When the column is absent each image
        counts as its own patient (and the audit says so).
    modality : str
        Column with ``xray`` or ``mri``; when absent every row gets the default modality.
    view : str
        Column with the view (e.g. ``AP``, ``lateral``, ``T2-sag``); optional.
    sample_id : str
        Column with a unique, stable image identifier; when absent it is derived
        from the path relative to the CSV's folder.

    Examples
    --------
    >>> ColumnMap(path="filename", label="diagnosis", patient_id="subject")
    ColumnMap(path='filename', label='diagnosis', patient_id='subject', modality='modality', view='view', sample_id='sample_id')
    """

    path: str = "path"
    label: str = "label"
    patient_id: str = "patient_id"
    modality: str = "modality"
    view: str = "view"
    sample_id: str = "sample_id"


COLUMN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ColumnMap))
"""The manifest fields a CSV column can be mapped to (the keys of ``data.columns``)."""


def _parse_pairs(text: str, where: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(
                f"{where}={text!r}: expected field=column pairs, e.g. path=file,label=diagnosis"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def column_settings(value: object, where: str = "data.columns") -> dict[str, str]:
    """Check and normalise a field -> CSV column mapping (a table, or ``"path=file,label=dx"`` text).

    Parameters
    ----------
    value : mapping or str
        Manifest field -> CSV column name; keys from :data:`COLUMN_FIELDS`.
    where : str
        The setting's name, for the error message.

    Returns
    -------
    dict of str to str
        The mapping, with every key and column name a non-empty string.

    Raises
    ------
    ConfigError
        One line naming ``where`` and the allowed keys, for an unknown key or an empty column name.

    Examples
    --------
    >>> column_settings("path=file, label=diagnosis")
    {'path': 'file', 'label': 'diagnosis'}
    >>> ColumnMap(**column_settings({"patient_id": "pid"})).patient_id
    'pid'
    """
    if isinstance(value, str):
        value = _parse_pairs(value, where)
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where} must be a table of field = column name, e.g. {{path = 'file', label = 'diagnosis'}}; "
            f"got {value!r}"
        )
    allowed = ", ".join(COLUMN_FIELDS)
    unknown = [str(k) for k in value if k not in COLUMN_FIELDS]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys: {allowed}")
    empty = [str(k) for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    if empty:
        raise ConfigError(f"{where}.{empty[0]} must be a non-empty CSV column name (keys: {allowed})")
    return {str(k): str(v).strip() for k, v in value.items()}
