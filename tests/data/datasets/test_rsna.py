"""RSNA 2024 lumbar: a miniature tree converts to one sagittal T2/STIR series per study; missing files are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from tests.data.datasets.layouts import write_rsna

pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def rsna_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rsna(tmp_path_factory.mktemp("rsna"))


def _get(copy: Path, out: Path, task: str) -> pd.DataFrame:
    assert (
        main(["data", "get", "rsna", "--task", task, "--out", str(out), "--from", str(copy), "--quiet"]) == 0
    )
    return pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)


def test_severe_stenosis_manifest_is_exact(rsna_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    manifest = _get(rsna_copy, out, "severe-stenosis")
    studies = ["4003253", "4646740", "7143189"]
    series = ["702807833", "3486248476", "132939515"]
    folders = [f"train_images/{s}/{r}" for s, r in zip(studies, series, strict=True)]
    expected = pd.DataFrame(
        {
            "sample_id": folders,
            "path": [f"images/{folder}/3.dcm" for folder in folders],  # the middle of 5 slices
            "label": ["severe", "none", "none"],
            "patient_id": studies,
            "modality": ["mri"] * 3,
            "view": ["sagittal"] * 3,
            "canal_stenosis_worst": ["Severe", "Normal/Mild", "Moderate"],
            "series_description": ["Sagittal T2/STIR"] * 3,
            "series_id": series,
            "study_id": studies,
        }
    )
    pd.testing.assert_frame_equal(manifest, expected)
    for folder in folders:  # the whole series is copied, so 2.5D input finds the neighbours
        assert sorted(p.name for p in (out / "images" / folder).iterdir()) == [
            f"{n}.dcm" for n in range(1, 6)
        ]
    assert not (out / "images" / "train_images" / "4003253" / "1054713880").exists()  # the Sagittal T1
    audit = json.loads((out / "audit.json").read_text())
    assert audit["dataset"]["converted_counts"] == {"none": 2, "severe": 1}
    assert audit["dataset"]["dropped"] == {
        "no Sagittal T2/STIR series in train_series_descriptions.csv": ["8785691"],
        "no level reaches the task's grade, and a level is not graded": ["8902453"],
    }
    assert "one per patient" in (out / "DATASET.md").read_text()


def test_stenosis_counts_moderate_too(rsna_copy: Path, tmp_path: Path) -> None:
    manifest = _get(rsna_copy, tmp_path / "d", "rsna-stenosis")
    assert dict(zip(manifest["study_id"], manifest["label"], strict=True)) == {
        "4003253": "stenosis",
        "4646740": "none",
        "7143189": "stenosis",
    }


def test_the_series_reads_as_three_slices(rsna_copy: Path, tmp_path: Path) -> None:
    from sdc_bench.data.decode import Preprocess
    from sdc_bench.data.slices import read_slices

    manifest = _get(rsna_copy, tmp_path / "d", "severe-stenosis")
    stack = read_slices(tmp_path / "d" / manifest["path"][0], Preprocess(size=16, slices=3))
    bright = [int(plane.mean(axis=0).argmax()) for plane in stack]
    assert bright == [2, 3, 4]  # slices 2, 3 and 4 of 5, in order


@pytest.mark.parametrize("missing", ["train.csv", "train_series_descriptions.csv", "train_images"])
def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], missing: str) -> None:
    import shutil

    copy = write_rsna(tmp_path / "copy", slices=1)
    target = copy / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert (
        main(
            [
                "data",
                "get",
                "rsna",
                "--task",
                "severe-stenosis",
                "--out",
                str(tmp_path / "d"),
                "--from",
                str(copy),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err.strip()
    assert f"{missing}: missing from the RSNA 2024 copy" in error and "\n" not in error
