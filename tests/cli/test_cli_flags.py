"""The run options that name local files or data settings: --weights-file, --weights-dir, --splits,
--patient-regex and --columns. Each bad value is one line on stderr and exit 2, before any training."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from sdc_bench.cli import build_parser, main
from sdc_bench.cli._commands import data_overrides, override_assignments
from sdc_bench.data.splits import Fold, save_splits

BACKBONE = "mobilenetv3_small_100"


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / f"{BACKBONE}.pth"
    torch.save(timm.create_model(BACKBONE, pretrained=False).state_dict(), path)
    return path


def test_wrong_sha256_is_one_line_with_both_digests(
    weights_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--dry-run", "--weights-file", f"{BACKBONE}={weights_file}@sha256:{'0' * 64}"])
    assert code == 2
    line = _error_line(capsys)
    actual = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert str(weights_file) in line and "0" * 64 in line and actual in line


@pytest.mark.parametrize(
    ("entry", "culprit"),
    [
        ("no_such_net={file}", "no_such_net"),
        (f"{BACKBONE}=/nonexistent/w.pth", "/nonexistent/w.pth"),
        (f"{BACKBONE}", "BACKBONE=PATH"),
    ],
)
def test_bad_weights_file_is_exit_2(
    entry: str, culprit: str, weights_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--dry-run", "--weights-file", entry.format(file=weights_file)]) == 2
    assert culprit in _error_line(capsys)


def test_weights_dir_that_does_not_exist_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", str(tmp_path), "--weights-dir", str(tmp_path / "absent")]) == 2
    assert "absent" in _error_line(capsys)


def test_data_flags_are_the_data_settings() -> None:
    args = build_parser().parse_args(
        ["run", "--patient-regex", r"^(P\d+)_", "--columns", "path=file, label=dx"]
    )
    overrides = data_overrides(args)
    assert overrides == {"data.patient_regex": r"^(P\d+)_", "data.columns": {"path": "file", "label": "dx"}}
    # as --set assignments, read back the way --set reads values (TOML): a regex never becomes a number
    assignments = override_assignments({**overrides, "data.patient_regex": "123"})
    values = {a.partition("=")[0]: tomllib.loads(f"v = {a.partition('=')[2]}")["v"] for a in assignments}
    assert values == {"data.patient_regex": "123", "data.columns": {"path": "file", "label": "dx"}}
    assert data_overrides(build_parser().parse_args(["run"])) == {}


@pytest.mark.parametrize("columns", ["path", "path=file,colour=x"])
def test_bad_columns_is_exit_2(columns: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", "x.csv", "--columns", columns]) == 2
    assert "--columns" in _error_line(capsys)


def _images(folder: Path, n_per_class: int = 20) -> list[tuple[str, str, str]]:
    """Tiny distinct PNGs of two classes, two images per patient: (file, class, patient).

    10 patients a class: enough for 2 outer folds and the inner split, which ``data check`` also checks.
    """
    rows = []
    for label in ("normal", "fracture"):
        for index in range(n_per_class):
            name = f"{label}/P{label[0]}{index // 2:02d}_{index}.png"
            (folder / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), 10 * index + (label == "fracture") * 5, dtype=np.uint8)).save(
                folder / name
            )
            rows.append((name, label, f"P{label[0]}{index // 2:02d}"))
    return rows


def test_data_check_reads_renamed_columns_and_patient_regex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _images(tmp_path)
    csv = tmp_path / "table.csv"
    csv.write_text("file,dx,subject\n" + "".join(f"{f},{label},{p}\n" for f, label, p in rows))
    out = tmp_path / "audit.json"
    args = ["--folds", "2", "--out", str(out), "--quiet"]
    assert main(["data", "check", str(csv), "--columns", "path=file,label=dx,patient_id=subject", *args]) == 0
    assert '"n_patients": 20' in out.read_text().replace("\n", "").replace("  ", "")
    assert main(["data", "check", str(tmp_path / "normal"), *args]) == 2  # not a class-folder layout
    capsys.readouterr()
    folder = tmp_path / "folder"
    _images(folder)
    assert main(["data", "check", str(folder), "--patient-regex", r"^(P\w\d\d)_", *args]) == 0
    assert '"n_patients": 20' in out.read_text().replace("\n", "").replace("  ", "")


def test_splits_that_do_not_match_the_data_stop_the_run_early(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _images(tmp_path / "images", n_per_class=4)
    csv = tmp_path / "manifest.csv"
    csv.write_text(
        "path,label,patient_id,sample_id\n" + "".join(f"images/{f},{lab},{p},{f}\n" for f, lab, p in rows)
    )
    ids = [f for f, _, _ in rows]
    splits = tmp_path / "splits.json"
    save_splits(
        splits,
        [Fold(0, tuple(ids[:3]), tuple(ids[3:6])), Fold(1, tuple(ids[3:6]), tuple(ids[:3]))],
        {"seed": 0},
    )
    run_dir = tmp_path / "run"
    code = main(
        [
            "run",
            "--data",
            str(csv),
            "--splits",
            str(splits),
            "--out",
            str(run_dir),
            "--quiet",
            "--set",
            "protocol.outer_folds=2",
            "--set",
            "data.size=16",
            "--set",
            "data.classes=[]",
        ]
    )
    assert code == 2
    line = _error_line(capsys)
    assert str(splits) in line and "2 sample ids of the manifest are missing" in line
    assert not run_dir.exists()


def test_splits_with_resume_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path), "--splits", str(tmp_path / "splits.json")]) == 2
    assert "--splits" in _error_line(capsys)
