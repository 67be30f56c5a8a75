"""AASCE 2019: a miniature in the published layout converts to the expected manifest; a missing file is one line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from tests.data.datasets.layouts import write_aasce


def test_cobb_classes_manifest_is_exact(tmp_path: Path) -> None:
    copy = write_aasce(tmp_path / "copy")
    assert main(["data", "get", "aasce", "--out", str(tmp_path / "d"), "--from", str(copy), "--quiet"]) == 0
    manifest = pd.read_csv(tmp_path / "d" / "manifest.csv", dtype=str, keep_default_na=False)
    names = [f"sunhl-1th-0{n}" for n in range(1, 5)]
    expected = pd.DataFrame(
        {
            "sample_id": [f"data/training/{n}.jpg" for n in names] + ["data/test/test-01.jpg"],
            "label": ["normal", "mild", "moderate", "severe", "severe"],
            "patient_id": [f"training/{n}" for n in names] + ["test/test-01"],
            "modality": ["xray"] * 5,
            "view": ["ap"] * 5,
            "aasce_split": ["training"] * 4 + ["test"],
            "cobb_angle_max": ["8.5", "24.9", "30.5", "61", "41"],
        }
    )
    expected.insert(1, "path", "images/" + expected["sample_id"])
    pd.testing.assert_frame_equal(manifest, expected)
    assert "no patient ids" in (tmp_path / "d" / "DATASET.md").read_text()


def test_missing_angles_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = write_aasce(tmp_path / "copy")
    (copy / "labels" / "training" / "angles.csv").unlink()
    assert main(["data", "get", "aasce", "--out", str(tmp_path / "d"), "--from", str(copy)]) == 2
    error = capsys.readouterr().err.strip()
    assert "labels/training/angles.csv: missing from the AASCE copy (three Cobb angles a line)" in error
    assert "\n" not in error
