"""The data settings of ``sdc-bench data check``: its flags and ``--set data.KEY=VALUE``, as one checked DataSpec.

``data check`` audits a source the way a run would read it, so it takes the run's ``data.*`` settings
that change what the audit sees, and checks them with the same :class:`~sdc_bench.data.spec.DataSpec`
a suite's ``[data]`` table is built into: a bad value fails here, with the same one line a run gives.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import replace
from typing import Any

from sdc_bench.core.errors import ConfigError
from sdc_bench.data.columns import column_settings
from sdc_bench.data.spec import DataSpec

__all__ = ["CHECK_SETTINGS", "data_check_spec"]

#: The ``data.*`` settings ``data check`` uses; another key would be silently ignored, so it is refused.
CHECK_SETTINGS = (
    "allow_outside_root",
    "allow_duplicates",
    "max_image_pixels",
    "size",
    "patient_regex",
    "columns",
    "modality",
    "view",
    "label_map",
    "slices",
    "allow_slice_gaps",
)
_FLAGS = ("allow_outside_root", "allow_duplicates", "allow_slice_gaps")


def _value(text: str) -> Any:
    """A ``--set`` value read as a suite's is: TOML if it parses, else the text itself (a bare word)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _changes(assignments: list[str], columns: dict[str, str]) -> dict[str, Any]:
    """``data.KEY=VALUE`` assignments as DataSpec field changes (``data.columns.FIELD`` adds one column)."""
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, equals, raw = (part.strip() for part in assignment.partition("="))
        if not equals:
            raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set data.size=128")
        name, value = key.removeprefix("data."), _value(raw)
        if key.startswith("data.columns."):
            columns = {**columns, name.removeprefix("columns."): str(value)}
            changes["columns"] = columns
            continue
        if not key.startswith("data.") or name not in CHECK_SETTINGS:
            raise ConfigError(
                f"--set {key}: data check takes only data.{', data.'.join(CHECK_SETTINGS)}; "
                "give the others to sdc-bench run"
            )
        if name in _FLAGS and not isinstance(value, bool):
            raise ConfigError(f"--set {key} must be true or false, got {raw!r}")
        if name == "columns":
            value = columns = column_settings(value)  # later data.columns.FIELD keys add to this table
        changes[name] = value
    return changes


def data_check_spec(args: argparse.Namespace, base: DataSpec) -> DataSpec:
    """``base`` (built from the command's flags) with ``args.set`` applied, checked by DataSpec itself.

    Raises
    ------
    ConfigError
        One line naming the key: not a ``data.*`` setting ``data check`` uses, or a value DataSpec refuses.
    """
    assignments = list(getattr(args, "set", None) or [])
    return replace(base, **_changes(assignments, base.columns)) if assignments else base
