"""The same image content under two patients or two labels: a leak or label noise, refused before a run.

Files are compared by the BLAKE2b hash of their bytes, the one the manifest fingerprint
uses (each file is read once per process). Copies within one patient and one label only
weigh an image double; the audit lists them as a warning.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from sdc_bench.core.errors import DataError
from sdc_bench.data.manifest import file_hash

__all__ = ["ALLOW_DUPLICATES_FIX", "check_duplicates", "conflicting_duplicates"]

ALLOW_DUPLICATES_FIX = "remove the copy or fix its patient id / label, or keep it on purpose with --set data.allow_duplicates=true"
"""The fix named by every message about a duplicate across patients or labels."""


def conflicting_duplicates(manifest: pd.DataFrame) -> list[tuple[str, tuple[int, ...]]]:
    """Groups of rows with identical file bytes that span several patients or labels.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A validated manifest.

    Returns
    -------
    list of (str, tuple of int)
        ``("patients" or "labels", row positions)`` per conflicting group, in manifest order.
    """
    by_hash: dict[str, list[int]] = defaultdict(list)
    for row, path in enumerate(manifest["path"]):
        digest = file_hash(str(path))
        if digest != "-":
            by_hash[digest].append(row)
    labels = manifest["label"].astype(str).tolist()
    patients = manifest["patient_id"].astype(str).tolist()
    found: list[tuple[str, tuple[int, ...]]] = []
    for rows in by_hash.values():
        if len(rows) < 2:
            continue
        if len({patients[r] for r in rows}) > 1:
            found.append(("patients", tuple(rows)))
        elif len({labels[r] for r in rows}) > 1:
            found.append(("labels", tuple(rows)))
    return found


def check_duplicates(manifest: pd.DataFrame, where: str) -> None:
    """Refuse identical files under different patients or labels, naming both samples and the fix."""
    found = conflicting_duplicates(manifest)
    if not found:
        return
    kind, rows = found[0]
    first, second = rows[0], rows[1]
    column = "patient_id" if kind == "patients" else "label"

    def name(row: int) -> str:
        return f"{manifest['sample_id'].iat[row]!r} ({column} {manifest[column].iat[row]!r})"

    raise DataError(
        f"{where}: {manifest['path'].iat[first]} and {manifest['path'].iat[second]} hold identical images "
        f"under different {kind}: {name(first)} and {name(second)} ({len(found)} such group(s) in all); "
        + ALLOW_DUPLICATES_FIX
    )
