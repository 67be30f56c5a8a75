from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.audit import AuditReport, audit_manifest
from sdc_bench.data.file_info import inspect_file
from sdc_bench.data.manifest import validate_manifest
from sdc_bench.data.sources import load_source
from tests.data.conftest import ramp, save_dicom, save_image


def _manifest(rows: list[tuple[Path, str, str]], patient_from: str = "column") -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "sample_id": [p.name for p, _, _ in rows],
            "path": [str(p) for p, _, _ in rows],
            "label": [label for _, label, _ in rows],
            "patient_id": [patient for _, _, patient in rows],
            "modality": "xray",
        }
    )
    df.attrs["patient_from"] = patient_from
    return validate_manifest(df, where="test")


def test_counts_and_distributions(class_folder: Path) -> None:
    df = load_source(class_folder, patient_regex=r"^(P\d+)_")
    report = audit_manifest(df, n_folds=3)
    assert report.n_images == 12 and report.n_patients == 6
    assert report.classes == ("normal", "scoliosis")
    assert report.images_per_class == {"normal": 6, "scoliosis": 6}
    assert report.patients_per_class == {"normal": 3, "scoliosis": 3}
    assert report.images_per_modality == {"xray": 12}
    assert report.images_per_view == {"": 12}
    assert report.images_per_patient == {"min": 2.0, "median": 2.0, "mean": 2.0, "max": 2.0}
    assert report.images_per_patient_histogram["2"] == 6
    assert report.image_sizes == {"10x14": 12}
    assert (
        report.bit_depths == {"8": 12} and report.photometric == {"L": 12} and report.formats == {"PNG": 12}
    )
    assert report.duplicate_groups == () and report.unreadable == () and report.small_classes == {}
    assert report.patient_from == "regex" and report.warnings == ()


def test_duplicates_across_classes_and_patients(class_folder: Path) -> None:
    # the same bytes filed under another class (label noise) and under another patient (leak)
    shutil.copy(class_folder / "normal" / "P02_view0.png", class_folder / "scoliosis" / "P12_copy.png")
    shutil.copy(class_folder / "normal" / "P03_view0.png", class_folder / "normal" / "P02_copy.png")
    shutil.copy(class_folder / "normal" / "P03_view1.png", class_folder / "normal" / "P03_copy.png")
    report = audit_manifest(load_source(class_folder, patient_regex=r"^(P\d+)_"), n_folds=3)
    assert report.duplicate_groups == (
        ("normal/P02_copy.png", "normal/P03_view0.png"),
        ("normal/P02_view0.png", "scoliosis/P12_copy.png"),
        ("normal/P03_copy.png", "normal/P03_view1.png"),
    )
    assert report.cross_class_duplicates == (("normal/P02_view0.png", "scoliosis/P12_copy.png"),)
    assert report.cross_patient_duplicates == (
        ("normal/P02_copy.png", "normal/P03_view0.png"),
        ("normal/P02_view0.png", "scoliosis/P12_copy.png"),
    )
    assert report.patients_in_several_classes == ()
    text = " ".join(report.warnings)
    assert "carry different labels" in text and "different patients" in text and "within one patient" in text
    with pytest.raises(DataError, match=r"audit \(strict\):"):
        audit_manifest(load_source(class_folder, patient_regex=r"^(P\d+)_"), n_folds=3, strict=True)


def test_unreadable_files_are_listed(tmp_path: Path, broken_files: dict[str, Path]) -> None:
    good = save_image(tmp_path / "ok.png", ramp())
    rows = [(good, "a", "p0")] + [(path, "a", f"p{i + 1}") for i, path in enumerate(broken_files.values())]
    report = audit_manifest(_manifest(rows), n_folds=2)
    reasons = dict(report.unreadable)
    assert set(reasons) == {str(p) for p in broken_files.values()}
    assert "no pixel data" in reasons[str(broken_files["dicom_no_pixels"])]
    assert "empty" in reasons[str(broken_files["empty_png"])]
    assert "truncated" in reasons[str(broken_files["truncated_jpeg"])]
    assert report.formats == {"PNG": 1}
    assert report.warnings[0].startswith(f"{len(broken_files)} file(s) cannot be read")
    with pytest.raises(DataError, match="cannot be read"):
        audit_manifest(_manifest(rows), n_folds=2, strict=True)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    report = audit_manifest(_manifest([(tmp_path / "gone.png", "a", "p")]), n_folds=2)
    assert report.unreadable == ((str(tmp_path / "gone.png"), "file does not exist"),)


def test_decode_finds_damage_a_header_check_misses(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    good = save_image(tmp_path / "a.tif", pixels)
    damaged = tmp_path / "b.tif"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # header intact, strip cut short
    assert inspect_file(damaged).error == ""
    assert "truncated" in inspect_file(damaged, decode=True).error


def test_small_class_is_a_warning_or_strict_error(class_folder: Path) -> None:
    df = load_source(class_folder, patient_regex=r"^(P\d+)_")
    report = audit_manifest(df, n_folds=5)
    assert report.small_classes == {"normal": 3, "scoliosis": 3}
    assert any("class 'normal' has 3 patient(s), fewer than n_folds=5" in w for w in report.warnings)
    with pytest.raises(
        DataError, match=r"class 'normal' has 3 patient\(s\), fewer than n_folds=5.*1 more problem"
    ):
        audit_manifest(df, n_folds=5, strict=True)


def test_one_patient_per_file_is_warned(class_folder: Path) -> None:
    report = audit_manifest(load_source(class_folder), n_folds=3)
    assert report.patient_from == "file"
    assert any(w.startswith("no patient ids") for w in report.warnings)


def test_dicom_headers_and_mixed_labels(tmp_path: Path) -> None:
    a = save_dicom(
        tmp_path / "a.dcm", ramp(8, 6, 4000, np.uint16) + 1, bits_stored=12, photometric="MONOCHROME1"
    )
    b = save_dicom(tmp_path / "b.dcm", np.stack([ramp(8, 6, 4000, np.uint16)] * 3), bits_stored=12)
    report = audit_manifest(_manifest([(a, "normal", "P1"), (b, "fracture", "P1")]), n_folds=2)
    assert report.image_sizes == {"8x6": 1, "8x6x3": 1}
    assert report.bit_depths == {"12": 2}
    assert report.photometric == {"MONOCHROME1": 1, "MONOCHROME2": 1}
    assert report.patients_in_several_classes == ("P1",)
    assert report.small_classes == {"fracture": 1, "normal": 1}


def test_read_headers_false_reads_no_file(tmp_path: Path) -> None:
    report = audit_manifest(
        _manifest([(tmp_path / "gone.png", "a", "p1"), (tmp_path / "x.png", "b", "p2")]),
        n_folds=2,
        read_headers=False,
    )
    assert report.files_read is False and report.unreadable == () and report.image_sizes == {}
    assert "files were not read" in report.table()


def test_json_and_table(tmp_path: Path, class_folder: Path) -> None:
    report = audit_manifest(load_source(class_folder, patient_regex=r"^(P\d+)_"), n_folds=5, progress=False)
    report.to_json(tmp_path / "audit.json")
    loaded = json.loads((tmp_path / "audit.json").read_text())
    assert loaded == report.to_dict()
    assert loaded["images_per_class"] == {"normal": 6, "scoliosis": 6}
    assert loaded["small_classes"] == {"normal": 3, "scoliosis": 3}
    assert list(tmp_path.glob(".audit.json*")) == []
    table = report.table()
    assert "normal" in table and "scoliosis" in table and "warnings:" in table
    assert "images 12   patients 6" in table
    assert isinstance(report, AuditReport)


def test_n_folds_is_validated(class_folder: Path) -> None:
    with pytest.raises(ConfigError, match="n_folds=1"):
        audit_manifest(load_source(class_folder), n_folds=1)


def test_json_follows_the_umask(tmp_path: Path, class_folder: Path) -> None:
    # audit.json sits in a run folder that workers under another user read: not mkstemp's 0600
    report = audit_manifest(load_source(class_folder, patient_regex=r"^(P\d+)_"), n_folds=5, progress=False)
    previous = os.umask(0o022)
    try:
        report.to_json(tmp_path / "audit.json")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "audit.json").stat().st_mode) == 0o644


def test_json_unwritable_is_one_line(tmp_path: Path, class_folder: Path) -> None:
    report = audit_manifest(load_source(class_folder, patient_regex=r"^(P\d+)_"), n_folds=5, progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="cannot write the audit"):
        report.to_json(blocker / "audit.json")
