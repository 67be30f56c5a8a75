"""End to end on clinic-shaped folders: tall radiographs at a rectangular size, MRI series as 3 slices."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.data.synthspine import normal_vs_abnormal, write_mri_series, write_tall_xrays

SUITE = """
description = "test: clinic-shaped input"
seed = 3
methods = ["sdc_dl", "classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"

[protocol]
outer_folds = 2
inner_val_fraction = 0.5

[search]
n_trials = 0

[train]
batch_size = 8
patience = 1
max_epochs = 1
early_stopping = false
device = "cpu"

[params.sdc_dl]
head_epochs = 1
epochs = 1
"""


def _run(tmp_path: Path, data: Path, *settings: str) -> Path:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    args = ["run", "--suite", str(suite), "--data", str(data), "--out", str(out), "--quiet"]
    for setting in settings:
        args += ["--set", setting]
    assert main(args) == 0
    return out


def _two_largest_classes(data: Path) -> Path:
    """Drop all but the two most populous class folders: tiny random sets leave rare classes too thin for folds."""
    import shutil

    folders = sorted((f for f in data.iterdir() if f.is_dir()), key=lambda f: -sum(1 for _ in f.rglob("*.*")))
    for folder in folders[2:]:
        shutil.rmtree(folder)
    return data


def _kept_and_reported(out: Path, size_hw: list[int], slices: int) -> None:
    """Kept models say the geometry they were trained on; the report's data section shows it."""
    kept = [json.loads(p.read_text()) for p in (out / "models").glob("sdc_dl__*.json")]
    assert kept and all(k["input"]["size_hw"] == size_hw and k["input"]["slices"] == slices for k in kept)
    assert all(k["backbone"]["in_chans"] == slices for k in kept)
    report = (out / "report.html").read_text()
    assert f"Model input: {size_hw[0]}x{size_hw[1]} pixels" in report


def _predicted_every_sample(out: Path) -> None:
    audit = json.loads((out / "audit.json").read_text())
    predictions = pd.read_parquet(out / "predictions.parquet")
    per_cell = predictions.groupby(["method", "backbone"])["sample_id"].nunique()
    assert (per_cell == audit["n_images"]).all(), per_cell


def _exported_and_reproduced(out: Path, data: Path, tmp_path: Path, cam: bool = False) -> None:
    """The package of such a run predicts its own images as the run did (fold 0's model on fold 0)."""
    package = tmp_path / "package"
    assert main(["export", str(out), "--method", "sdc_dl", "--out", str(package)]) == 0
    assert "×" in (package / "MODEL_CARD.md").read_text()
    preds = tmp_path / "preds.csv"
    argv = ["predict", str(package), "--data", str(data), "--out", str(preds), "--member", "fold0"]
    assert main([*argv, *(["--cam", str(tmp_path / "cam")] if cam else [])]) == 0
    oof = pd.read_parquet(out / "predictions.parquet")
    oof = oof[(oof["method"] == "sdc_dl") & (oof["split"] == "test") & (oof["outer_fold"] == 0)]
    columns = [c for c in oof.columns if c.startswith("p_")]
    got = pd.read_csv(preds).set_index("sample_id").loc[oof["sample_id"], columns]
    assert abs(got.to_numpy() - oof[columns].to_numpy()).max() < 1e-5
    if cam:
        assert len(list((tmp_path / "cam").rglob("*.png"))) == len(pd.read_csv(preds))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["png", "dicom"])
def test_tall_xrays_train_at_a_rectangular_size(fmt: str, tmp_path: Path) -> None:
    data = _two_largest_classes(write_tall_xrays(tmp_path / "xrays", n_images=40, fmt=fmt, seed=1))
    out = _run(tmp_path, data, "data.size=[96, 32]")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["data"]["size_hw"] == [96, 32]
    audit = json.loads((out / "audit.json").read_text())
    if fmt == "dicom":
        assert audit["patient_from"] == "dicom"
        assert audit["images_per_modality"] == {"xray": audit["n_images"]}
    _predicted_every_sample(out)
    _kept_and_reported(out, [96, 32], 1)
    _exported_and_reproduced(out, data, tmp_path, cam=fmt == "png")


@pytest.mark.slow
def test_mri_series_train_as_three_slices(tmp_path: Path) -> None:
    data = normal_vs_abnormal(
        write_mri_series(tmp_path / "mri", n_patients=12, series_per_patient=2, slices=3, seed=2)
    )
    out = _run(tmp_path, data, "data.slices=3")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["data"]["slices"] == 3
    audit = json.loads((out / "audit.json").read_text())
    assert audit["patient_from"] == "dicom" and audit["n_patients"] < audit["n_images"]
    assert audit["images_per_modality"] == {"mri": audit["n_images"]}
    _predicted_every_sample(out)
    _kept_and_reported(out, [64, 64], 3)
    _exported_and_reproduced(out, data, tmp_path, cam=True)
