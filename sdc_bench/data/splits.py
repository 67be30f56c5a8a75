"""Patient-grouped, label-stratified folds: outer folds for reporting, inner splits for tuning/early stopping.

Outer folds are saved as ``splits.json`` in the run folder (nnU-Net's ``splits_final.json`` habit) so a run
can be audited, reproduced, or re-used with ``--splits``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from sdc_bench.core.errors import DataError
from sdc_bench.core.store import write_json

__all__ = [
    "Fold",
    "assert_patient_disjoint",
    "inner_split",
    "load_splits",
    "outer_folds",
    "reuse_splits",
    "save_splits",
]


@dataclass(frozen=True)
class Fold:
    """One outer fold: which samples train (and are searched over) and which are held out."""

    outer_fold: int
    train: tuple[str, ...]
    test: tuple[str, ...]


_OUTER_FIX = "add data, merge classes, or lower the number of folds (protocol.outer_folds)"


def _check_groups(manifest: pd.DataFrame, n_splits: int, what: str, fix: str = _OUTER_FIX) -> None:
    labels_per_patient = manifest.groupby("patient_id")["label"].nunique()
    if (labels_per_patient > 1).any():
        example = labels_per_patient[labels_per_patient > 1].index[0]
        raise DataError(
            f"{what}: patient {example!r} has images with different labels; patient-grouped stratification "
            "needs one label per patient (split the patient id per finding or fix the labels)"
        )
    patients_per_class = manifest.groupby("label")["patient_id"].nunique()
    short = patients_per_class[patients_per_class < n_splits]
    if not short.empty:
        listing = ", ".join(f"{label} ({count})" for label, count in short.items())
        raise DataError(f"{what}: classes with fewer patients than the {n_splits} folds: {listing}; {fix}")


def _grouped_kfold(manifest: pd.DataFrame, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # sklearn's "least populated class" warning; we check above
        return list(
            splitter.split(
                np.zeros(len(manifest)), manifest["label"].to_numpy(), manifest["patient_id"].to_numpy()
            )
        )


def outer_folds(manifest: pd.DataFrame, n_folds: int, seed: int) -> list[Fold]:
    """Stratified (by label), patient-grouped K-fold over the manifest."""
    if n_folds < 2:
        raise DataError(f"outer folds must be at least 2, got {n_folds}")
    _check_groups(manifest, n_folds, "outer folds")
    ids = manifest["sample_id"].to_numpy()
    return [
        Fold(k, tuple(ids[train]), tuple(ids[test]))
        for k, (train, test) in enumerate(_grouped_kfold(manifest, n_folds, seed))
    ]


def inner_split(manifest: pd.DataFrame, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A patient-grouped, stratified train/validation split of an outer fold's training samples."""
    if not 0.05 <= val_fraction <= 0.5:
        raise DataError(f"inner validation fraction must be in [0.05, 0.5], got {val_fraction}")
    n_splits = max(2, round(1.0 / val_fraction))
    fix = (
        f"add patients, merge classes, or raise protocol.inner_val_fraction (now {val_fraction:g}: "
        f"{n_splits} inner folds); a fixed recipe (search.n_trials = 0, train.early_stopping = false) "
        "makes no inner split"
    )
    _check_groups(manifest, n_splits, "inner split of an outer training fold", fix)
    train, val = _grouped_kfold(manifest, n_splits, seed)[0]
    ids = manifest["sample_id"].to_numpy()
    return list(ids[train]), list(ids[val])


def assert_patient_disjoint(
    manifest: pd.DataFrame, train_ids: list[str] | tuple[str, ...], test_ids: list[str] | tuple[str, ...]
) -> None:
    """Raise if any patient has images on both sides (a programming error, never a user error)."""
    patient = manifest.set_index("sample_id")["patient_id"]
    overlap = set(patient.loc[list(train_ids)]) & set(patient.loc[list(test_ids)])
    if overlap:
        raise AssertionError(f"patients on both sides of a split: {sorted(overlap)[:5]}")


def _fold_records(folds: list[Fold]) -> list[dict[str, Any]]:
    return [{"outer_fold": f.outer_fold, "train": list(f.train), "test": list(f.test)} for f in folds]


def save_splits(
    path: str | Path,
    folds: list[Fold],
    meta: dict[str, Any],
    *,
    repeats: Mapping[int, list[Fold]] | None = None,
) -> None:
    """Write ``splits.json``: ``folds`` (the first protocol seed's) and, for repeated cross-validation,
    ``repeats`` (protocol seed -> its folds) with the list of ``seeds``. Readers that know one set of folds
    (the dataset-flow table) keep reading ``folds``."""
    payload: dict[str, Any] = {**meta, "folds": _fold_records(folds)}
    if repeats is not None and len(repeats) > 1:
        payload["seeds"] = [int(seed) for seed in repeats]
        payload["repeats"] = {str(seed): _fold_records(value) for seed, value in repeats.items()}
    write_json(path, payload)


def _folds_from(records: list[dict[str, Any]]) -> list[Fold]:
    return [Fold(int(f["outer_fold"]), tuple(f["train"]), tuple(f["test"])) for f in records]


def load_splits(path: str | Path, seed: int | None = None) -> list[Fold]:
    """The outer folds of protocol seed ``seed`` (None: the file's first, i.e. ``folds``)."""
    try:
        payload = json.loads(Path(path).read_text())
        repeats = payload.get("repeats") or {}
        if seed is not None and str(seed) in repeats:
            return _folds_from(repeats[str(seed)])
        if seed is not None and (repeats or payload.get("seed", seed) != seed):
            known = list(repeats) or [payload.get("seed")]
            raise DataError(
                f"splits file {path} holds no folds for protocol seed {seed} (seeds there: {known}); "
                "run without --splits or with the seeds it was made for"
            )
        return _folds_from(payload["folds"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"splits file {path} is unreadable ({exc.__class__.__name__}: {exc}); regenerate it by running without --splits"
        ) from None


def reuse_splits(
    path: str | Path, manifest: pd.DataFrame, seeds: tuple[int, ...], n_folds: int
) -> dict[int, list[Fold]]:
    """The outer folds of an earlier run's ``splits.json`` (``--splits``), checked against this manifest.

    A file with one set of folds serves a run with one protocol seed whatever seed made it (the folds are
    fixed on purpose); repeated cross-validation needs the file's folds of each seed. Every set must cover
    exactly the manifest's sample ids, hold each sample in one test fold and keep each patient in one fold.
    """
    payload_seeds = _file_seeds(path)
    if len(seeds) == 1 and len(payload_seeds) <= 1:
        repeats = {seeds[0]: load_splits(path)}
    else:
        repeats = {seed: load_splits(path, seed) for seed in seeds}
    for seed, folds in repeats.items():
        where = f"splits file {path}" + (f" (protocol seed {seed})" if len(repeats) > 1 else "")
        if len(folds) != n_folds:
            raise DataError(
                f"{where} has {len(folds)} outer folds but the suite asks for {n_folds}; "
                f"pass --set protocol.outer_folds={len(folds)} or run without --splits"
            )
        _check_fold_ids(folds, manifest, where)
        _check_fold_patients(folds, manifest, where)
    return repeats


def _file_seeds(path: str | Path) -> list[str]:
    try:
        return list(json.loads(Path(path).read_text()).get("repeats") or {})
    except (OSError, ValueError, AttributeError) as exc:
        raise DataError(
            f"splits file {path} is unreadable ({exc.__class__.__name__}); pass the splits.json of an earlier run"
        ) from None


def _check_fold_ids(folds: list[Fold], manifest: pd.DataFrame, where: str) -> None:
    ids = set(manifest["sample_id"].astype(str))
    tested = [str(i) for fold in folds for i in fold.test]
    listed = set(tested) | {str(i) for fold in folds for i in fold.train}
    missing, extra = ids - listed, listed - ids
    if missing or extra:
        example = sorted(missing or extra)[0]
        raise DataError(
            f"{where} does not match the data: {len(missing)} sample ids of the manifest are missing from it and "
            f"{len(extra)} of its ids are not in the manifest (e.g. {example!r}); pass the data it was made for "
            "or run without --splits"
        )
    for fold in folds:
        overlap = set(map(str, fold.train)) & set(map(str, fold.test))
        if overlap or len(fold.train) + len(fold.test) != len(ids):
            raise DataError(
                f"{where}: outer fold {fold.outer_fold} does not split the data into disjoint train and test "
                "sets; regenerate it by running without --splits"
            )
    if len(tested) != len(ids) or set(tested) != ids:
        raise DataError(
            f"{where}: the test folds do not hold every sample exactly once; regenerate it by running without --splits"
        )


def _check_fold_patients(folds: list[Fold], manifest: pd.DataFrame, where: str) -> None:
    patient = dict(zip(manifest["sample_id"].astype(str), manifest["patient_id"].astype(str)))
    fold_of: dict[str, int] = {}
    for fold in folds:
        for sample in fold.test:
            owner = patient[str(sample)]
            if fold_of.setdefault(owner, fold.outer_fold) != fold.outer_fold:
                raise DataError(
                    f"{where}: patient {owner!r} is in outer folds {fold_of[owner]} and {fold.outer_fold}, so "
                    "its images would leak between training and test; run without --splits to make patient-grouped folds"
                )
