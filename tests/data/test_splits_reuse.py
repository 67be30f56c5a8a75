"""``--splits FILE``: an earlier run's splits.json, checked against this run's manifest before use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.core.errors import DataError
from sdc_bench.data.splits import Fold, outer_folds, reuse_splits, save_splits


def _manifest(n_patients: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = rng.choice(["normal", "fracture"], size=n_patients)
    rows = [
        {"sample_id": f"p{patient}-{image}", "patient_id": f"p{patient}", "label": label}
        for patient, label in enumerate(labels)
        for image in range(1 + patient % 3)
    ]
    return pd.DataFrame(rows)


def _write(path: Path, repeats: dict[int, list[Fold]]) -> Path:
    first = next(iter(repeats))
    save_splits(path, repeats[first], {"seed": first, "n_folds": len(repeats[first])}, repeats=repeats)
    return path


def test_reused_folds_are_the_files_folds(tmp_path: Path) -> None:
    manifest = _manifest()
    folds = outer_folds(manifest, 3, seed=4)
    path = _write(tmp_path / "splits.json", {4: folds})
    # one set of folds serves a one-seed run whatever its seed: fixing the folds is the point
    assert reuse_splits(path, manifest, (0,), 3) == {0: folds}
    repeats = {1: outer_folds(manifest, 3, seed=1), 2: outer_folds(manifest, 3, seed=2)}
    path = _write(tmp_path / "repeats.json", repeats)
    assert reuse_splits(path, manifest, (1, 2), 3) == repeats
    with pytest.raises(DataError, match="protocol seed 3"):
        reuse_splits(path, manifest, (1, 3), 3)


def test_sample_ids_that_do_not_match_are_counted(tmp_path: Path) -> None:
    manifest = _manifest()
    path = _write(tmp_path / "splits.json", {0: outer_folds(manifest, 3, seed=0)})
    smaller = manifest.iloc[:-5]
    with pytest.raises(DataError, match=r"0 sample ids of the manifest are missing .* 5 of its ids are not"):
        reuse_splits(path, smaller, (0,), 3)
    larger = pd.concat([manifest, pd.DataFrame([{"sample_id": "new", "patient_id": "x", "label": "normal"}])])
    with pytest.raises(DataError, match="1 sample ids of the manifest are missing"):
        reuse_splits(path, larger, (0,), 3)


def test_fold_count_must_match_the_suite(tmp_path: Path) -> None:
    manifest = _manifest()
    path = _write(tmp_path / "splits.json", {0: outer_folds(manifest, 3, seed=0)})
    with pytest.raises(DataError, match=r"protocol\.outer_folds=3"):
        reuse_splits(path, manifest, (0,), 5)


def test_a_patient_split_over_two_folds_is_refused(tmp_path: Path) -> None:
    manifest = _manifest()
    folds = outer_folds(manifest, 2, seed=0)
    # move one image of a multi-image patient to the other fold
    patient = manifest.set_index("sample_id")["patient_id"]
    moved = next(s for s in folds[0].test if (patient == patient[s]).sum() > 1)
    tests = [[s for s in folds[0].test if s != moved], [*folds[1].test, moved]]
    leaky = [Fold(k, tuple(tests[1 - k]), tuple(tests[k])) for k in range(2)]
    path = _write(tmp_path / "splits.json", {0: leaky})
    with pytest.raises(DataError, match=f"patient {patient[moved]!r} is in outer folds"):
        reuse_splits(path, manifest, (0,), 2)


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "splits.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="unreadable"):
        reuse_splits(path, _manifest(), (0,), 3)
    path.write_text(json.dumps({"folds": [{"outer_fold": 0}]}))
    with pytest.raises(DataError, match="unreadable"):
        reuse_splits(path, _manifest(), (0,), 1)
