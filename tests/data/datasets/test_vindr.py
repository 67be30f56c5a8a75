"""VinDr-SpineXR: a miniature of DICOMs and box annotations converts to the expected manifest; missing files are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from tests.data.datasets.layouts import write_vindr

pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def vindr_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_vindr(tmp_path_factory.mktemp("vindr"))


def test_abnormal_manifest_is_exact_with_study_as_patient(vindr_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    assert main(["data", "get", "vindr", "--out", str(out), "--from", str(vindr_copy), "--quiet"]) == 0
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    ids = ["img01", "img02", "img03", "img04", "img05", "img06"]
    splits = ["train"] * 4 + ["test"] * 2
    expected = pd.DataFrame(
        {
            "sample_id": [f"{s}_images/{i}.dicom" for s, i in zip(splits, ids, strict=True)],
            "label": ["normal", "abnormal", "abnormal", "normal", "abnormal", "normal"],
            "patient_id": ["study1", "study1", "study2", "study3", "study4", "study4"],
            "modality": ["xray"] * 6,
            "view": [""] * 6,
            "image_id": ids,
            "lesions": [
                "",
                "Disc space narrowing;Osteophytes",
                "Surgical implant",
                "",
                "Spondylolysthesis",
                "",
            ],
            "study_id": ["study1", "study1", "study2", "study3", "study4", "study4"],
            "vindr_split": splits,
        }
    )
    expected.insert(1, "path", "images/" + expected["sample_id"])
    pd.testing.assert_frame_equal(manifest, expected)
    audit = json.loads((out / "audit.json").read_text())
    assert audit["dataset"]["converted_counts"] == {"abnormal": 3, "normal": 3}  # images, not studies
    assert audit["dataset"]["dropped"] == {
        "a DICOM in train_images/ without a row in train.csv": ["orphan"],
        "a row of train.csv without a DICOM in train_images/": ["lost"],
    }
    assert audit["formats"] == {"DICOM": 6}
    card = (out / "DATASET.md").read_text()
    assert "no patient id" in card and "| abnormal | 3 | - |" in card
    assert "the copy holds 7 images but 10466 are documented" in card  # the totals, compared


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("annotations/test.csv", "annotations/test.csv: missing from the VinDr-SpineXR copy"),
        ("train_images", "train_images: missing from the VinDr-SpineXR copy"),
    ],
)
def test_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], missing: str, named: str
) -> None:
    import shutil

    copy = write_vindr(tmp_path / "copy")
    target = copy / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert main(["data", "get", "vindr", "--out", str(tmp_path / "d"), "--from", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert named in error and "\n" not in error


def test_a_missing_column_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = write_vindr(tmp_path / "copy")
    csv = copy / "annotations" / "train.csv"
    csv.write_text(csv.read_text().replace("lesion_type", "finding"))
    assert main(["data", "get", "vindr", "--out", str(tmp_path / "d"), "--from", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert "train.csv: no column 'lesion_type'" in error and "\n" not in error
