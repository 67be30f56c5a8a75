"""Every problem the audit finds, one record each: kind, culprit, reason, fix, and whether it stops a run.

``sdc-bench data check`` works like a linter: it reads every file in one pass, then lists
each :class:`Problem` with a count per kind (in the terminal and in ``audit.json``) and
exits 2 when any of them would stop a run.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sdc_bench.data.duplicates import ALLOW_DUPLICATES_FIX
from sdc_bench.data.file_info import FileInfo

__all__ = ["TINY_FRACTION", "Problem", "find_problems", "problem_counts"]

TINY_FRACTION = 8
"""An image whose short side is under ``target_size / TINY_FRACTION`` is upscaled past recognition."""

_SKIP_FIX = "fix or remove it, or pass --skip-bad to skip unreadable files"


@dataclass(frozen=True)
class Problem:
    """One problem of a dataset.

    Attributes
    ----------
    kind : str
        E.g. ``unreadable image``, ``duplicate across patients``, ``tiny image``.
    culprit : str
        The file, sample ids or class at fault.
    reason : str
        What is wrong.
    fix : str
        How to fix it.
    blocking : bool
        Whether it would stop a run.
    """

    kind: str
    culprit: str
    reason: str
    fix: str
    blocking: bool


def problem_counts(problems: Sequence[Problem]) -> dict[str, int]:
    """Problems per kind, in order of first appearance."""
    return dict(Counter(p.kind for p in problems))


def _file_problems(
    df: pd.DataFrame, infos: Sequence[FileInfo], skipped_ok: bool, target: int
) -> list[Problem]:
    out: list[Problem] = []
    for path, info in zip(df["path"].astype(str), infos, strict=False):
        if info.error:
            bomb = "max_image_pixels" in info.error
            kind = "too large image" if bomb else "unreadable image"
            fix = "downscale it or raise data.max_image_pixels" if bomb else _SKIP_FIX
            out.append(Problem(kind, path, info.error, fix if not skipped_ok else "skipped", not skipped_ok))
            continue
        parts = info.size.split("x")
        if info.format != "NIfTI" and len(parts) >= 2 and all(p.isdigit() for p in parts[:2]):
            short = min(int(parts[0]), int(parts[1]))
            if short * TINY_FRACTION < target:
                out.append(
                    Problem(
                        "tiny image",
                        path,
                        f"{info.size} pixels is upscaled to {target}x{target}",
                        "check the file is the full image, not a thumbnail or placeholder",
                        False,
                    )
                )
    return out


def _duplicate_problems(df: pd.DataFrame, infos: Sequence[FileInfo], allow_duplicates: bool) -> list[Problem]:
    by_hash: dict[str, list[int]] = defaultdict(list)
    for row, info in enumerate(infos):
        if info.content_hash:
            by_hash[info.content_hash].append(row)
    ids, paths = df["sample_id"].astype(str).tolist(), df["path"].astype(str).tolist()
    labels, patients = df["label"].astype(str).tolist(), df["patient_id"].astype(str).tolist()
    out: list[Problem] = []
    for rows in (r for r in by_hash.values() if len(r) > 1):
        culprit = ", ".join(f"{ids[r]} ({paths[r]})" for r in rows)
        if len({patients[r] for r in rows}) > 1 or len({labels[r] for r in rows}) > 1:
            across = "patients" if len({patients[r] for r in rows}) > 1 else "labels"
            out.append(
                Problem(
                    f"duplicate across {across}",
                    culprit,
                    f"identical images under different {across}",
                    ALLOW_DUPLICATES_FIX,
                    not allow_duplicates,
                )
            )
        else:
            out.append(
                Problem(
                    "duplicate",
                    culprit,
                    "identical images of one patient and label",
                    "remove the copy",
                    False,
                )
            )
    return out


def _fold_problems(table: dict[str, Any], n_folds: int, inner_folds: int) -> list[Problem]:
    out: list[Problem] = []
    if len(table["patients_per_class"]) == 1:
        (name,) = table["patients_per_class"]
        out.append(
            Problem(
                "one class",
                f"class {name!r}",
                f"every image is labelled {name!r}; a classifier needs at least two classes",
                "add images of another class, or check the label column (--columns label=COLUMN)",
                True,
            )
        )
    for name, patients in sorted(table["patients_per_class"].items()):
        if patients < n_folds:
            out.append(
                Problem(
                    "class too small for the folds",
                    f"class {name!r}",
                    f"{patients} patient(s), fewer than the {n_folds} outer folds",
                    "add patients, merge classes or lower --folds (protocol.outer_folds)",
                    True,
                )
            )
            continue
        left = patients - math.ceil(patients / n_folds)
        if left < inner_folds:
            need = next(
                p
                for p in range(patients, patients + 10 * n_folds * inner_folds)
                if p - math.ceil(p / n_folds) >= inner_folds
            )
            out.append(
                Problem(
                    "inner split impossible",
                    f"class {name!r}",
                    f"{patients} patient(s): a training fold of {n_folds} outer folds keeps as few as {left}, "
                    f"fewer than the {inner_folds} inner folds (protocol.inner_val_fraction = 1/{inner_folds})",
                    f"add patients (at least {need} needed), merge classes, lower --folds or raise "
                    "protocol.inner_val_fraction",
                    True,
                )
            )
    for patient in table["patients_in_several_classes"]:
        out.append(
            Problem(
                "patient in several classes",
                f"patient {patient!r}",
                "images with different labels; patient-grouped folds need one label per patient",
                "split the patient id per finding or fix the labels",
                True,
            )
        )
    return out


def find_problems(
    df: pd.DataFrame,
    infos: Sequence[FileInfo],
    table: dict[str, Any],
    *,
    n_folds: int,
    inner_folds: int,
    target_size: int,
    skipped_ok: bool,
    allow_duplicates: bool,
) -> list[Problem]:
    """Every problem of an audited manifest, those that stop a run first.

    Parameters
    ----------
    df : pandas.DataFrame
        The validated manifest.
    infos : sequence of FileInfo
        One per row (empty when files were not read).
    table : dict
        The audit's table counts (``patients_per_class``, ``patients_in_several_classes``, ``skipped``).
    n_folds, inner_folds : int
        Outer folds, and inner folds of each outer training fold.
    target_size : int
        Side of the cached square; images far smaller are reported as tiny.
    skipped_ok : bool
        Whether skipped rows and unreadable files were skipped on purpose (``--skip-bad``).
    allow_duplicates : bool
        Whether identical files across patients or labels are accepted (``data.allow_duplicates``).

    Returns
    -------
    list of Problem
    """
    skipped = [
        Problem(
            "skipped file",
            path,
            reason,
            "skipped (--skip-bad)" if skipped_ok else "or pass --skip-bad to skip it",
            not skipped_ok,
        )
        for path, reason in table["skipped"]
    ]
    problems = (
        skipped
        + _file_problems(df, infos, skipped_ok, target_size)
        + _duplicate_problems(df, infos, allow_duplicates)
        + _fold_problems(table, n_folds, inner_folds)
    )
    return sorted(problems, key=lambda p: not p.blocking)
