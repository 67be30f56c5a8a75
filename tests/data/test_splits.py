from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdc_bench.core.errors import DataError
from sdc_bench.data.splits import inner_split, load_splits, outer_folds, save_splits


def _manifest(n_patients: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    labels = rng.choice(["normal", "scoliosis", "fracture"], size=n_patients, p=[0.5, 0.3, 0.2])
    for patient, label in enumerate(labels):
        for image in range(rng.integers(1, 5)):
            rows.append({"sample_id": f"p{patient}-{image}", "patient_id": f"p{patient}", "label": label})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_no_patient_in_two_outer_folds(n_folds: int) -> None:
    manifest = _manifest()
    folds = outer_folds(manifest, n_folds, seed=1)
    patient = manifest.set_index("sample_id")["patient_id"]
    test_patients = [set(patient.loc[list(f.test)]) for f in folds]
    for i, a in enumerate(test_patients):
        for b in test_patients[i + 1 :]:
            assert not a & b
    # every sample is tested exactly once, and never trained on in its own fold
    all_test = [s for f in folds for s in f.test]
    assert sorted(all_test) == sorted(manifest["sample_id"])
    for fold in folds:
        assert not set(patient.loc[list(fold.train)]) & set(patient.loc[list(fold.test)])


def test_folds_are_stratified_and_reproducible() -> None:
    manifest = _manifest(120)
    first = outer_folds(manifest, 3, seed=7)
    assert first == outer_folds(manifest, 3, seed=7)
    assert first != outer_folds(manifest, 3, seed=8)
    overall = manifest["label"].value_counts(normalize=True)
    for fold in first:
        share = manifest.set_index("sample_id").loc[list(fold.test), "label"].value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.12


def test_inner_split_is_patient_disjoint() -> None:
    manifest = _manifest()
    train, val = inner_split(manifest, 0.25, seed=3)
    patient = manifest.set_index("sample_id")["patient_id"]
    assert not set(patient.loc[train]) & set(patient.loc[val])
    assert 0.1 < len(val) / len(manifest) < 0.4


def test_class_with_too_few_patients_is_a_clear_error() -> None:
    manifest = _manifest(30)
    manifest.loc[manifest["patient_id"] == "p0", "label"] = "rare"
    with pytest.raises(DataError, match="rare"):
        outer_folds(manifest, 3, seed=0)


def test_patient_with_two_labels_is_refused() -> None:
    manifest = _manifest(30)
    first = manifest.index[manifest["patient_id"] == manifest["patient_id"].iloc[0]][0]
    manifest = pd.concat([manifest, manifest.loc[[first]].assign(sample_id="extra", label="other")])
    with pytest.raises(DataError, match="different labels"):
        outer_folds(manifest, 2, seed=0)


def test_splits_round_trip(tmp_path) -> None:
    folds = outer_folds(_manifest(), 3, seed=0)
    save_splits(tmp_path / "splits.json", folds, {"seed": 0})
    assert load_splits(tmp_path / "splits.json") == folds


def test_splits_of_several_protocol_seeds_round_trip(tmp_path) -> None:
    manifest = _manifest()
    repeats = {seed: outer_folds(manifest, 3, seed=seed) for seed in (0, 1, 2)}
    path = tmp_path / "splits.json"
    save_splits(path, repeats[0], {"seed": 0, "n_folds": 3}, repeats=repeats)
    assert load_splits(path) == repeats[0]  # readers that know one set of folds get the first seed's
    for seed, folds in repeats.items():
        assert load_splits(path, seed) == folds
    assert repeats[0] != repeats[1]
    with pytest.raises(DataError, match="protocol seed 7"):
        load_splits(path, 7)


def test_single_seed_splits_answer_for_their_seed_only(tmp_path) -> None:
    folds = outer_folds(_manifest(), 3, seed=4)
    save_splits(tmp_path / "splits.json", folds, {"seed": 4}, repeats={4: folds})
    assert "repeats" not in (tmp_path / "splits.json").read_text()
    assert load_splits(tmp_path / "splits.json", 4) == folds
    with pytest.raises(DataError, match="protocol seed 5"):
        load_splits(tmp_path / "splits.json", 5)
