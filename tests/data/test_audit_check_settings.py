"""``sdc-bench data check --set data.KEY=VALUE``: the run's data settings, checked by DataSpec, change the audit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sdc_bench.cli import main
from tests.data.conftest import save_image


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes of 10 patients, one distinct 10 x 14 PNG each: enough for 2 outer folds and the inner split."""
    root = tmp_path / "spine"
    for k, label in enumerate(("normal", "scoliosis")):
        for patient in range(10):
            pixels = np.full((10, 14), 10 * patient + k, dtype=np.uint8)
            save_image(root / label / f"P{k}{patient:02d}_ap.png", pixels)
    return root


def _check(source: Path, tmp_path: Path, *extra: str) -> int:
    out = tmp_path / "audit.json"
    return main(
        [
            "data",
            "check",
            str(source),
            "--patient-regex",
            r"^(P\d+)_",
            "--folds",
            "2",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_allow_duplicates_accepts_a_leak(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the same file under a patient of the other class: a leak that stops a run unless allowed
    shutil.copy(folder / "normal" / "P002_ap.png", folder / "scoliosis" / "P199_ap.png")
    assert _check(folder, tmp_path) == 2
    assert "duplicate" in _error_line(capsys)
    assert _check(folder, tmp_path, "--set", "data.allow_duplicates=true") == 0


def test_max_image_pixels_refuses_larger_images(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(folder, tmp_path) == 0
    capsys.readouterr()
    assert _check(folder, tmp_path, "--set", "data.max_image_pixels=100") == 2  # the images are 10 x 14
    _error_line(capsys)
    unreadable = json.loads((tmp_path / "audit.json").read_text())["unreadable"]
    assert len(unreadable) == 20


@pytest.mark.parametrize(
    ("assignment", "named"),
    [
        ("seed=3", "--set seed"),
        ("train.epochs=3", "--set train.epochs"),
        ("data.n_images=10", "--set data.n_images"),
        ("data.allow_duplicates=yes", "data.allow_duplicates"),
        ("data.size=8", "data.size"),
        ("data.modality=ultrasound", "data.modality"),
        ("data.columns.colour=x", "data.columns"),
    ],
)
def test_a_setting_data_check_does_not_take_is_one_line(
    assignment: str, named: str, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(folder, tmp_path, "--set", assignment) == 2
    assert named in _error_line(capsys)
