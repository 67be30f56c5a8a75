from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.manifest import (
    MANIFEST_COLUMNS,
    ColumnMap,
    fingerprint,
    read_manifest_csv,
    validate_manifest,
)
from tests.data.conftest import save_image


def _frame(**overrides: list[str]) -> pd.DataFrame:
    columns = {
        "sample_id": ["a", "b"],
        "path": ["/data/a.png", "/data/b.png"],
        "label": ["normal", "scoliosis"],
        "patient_id": ["p1", "p2"],
        "modality": ["X-ray", "MR"],
        "age": ["54", "61"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def _images(folder: Path, names: list[str]) -> None:
    for i, name in enumerate(names):
        save_image(folder / name, np.full((4, 4), i * 20, np.uint8))


# ----------------------------------------------------------------------------- validate_manifest
def test_validate_normalises_and_keeps_extra_columns() -> None:
    df = _frame()
    df.attrs["patient_from"] = "column"
    out = validate_manifest(df, where="spine.csv")
    assert list(out.columns) == [*MANIFEST_COLUMNS, "age"]
    assert out["modality"].tolist() == ["xray", "mri"]
    assert out["view"].tolist() == ["", ""]
    assert out["source"].tolist() == ["spine.csv", "spine.csv"]
    assert out["age"].tolist() == ["54", "61"]
    assert out.attrs["patient_from"] == "column"
    assert df["modality"].tolist() == ["X-ray", "MR"], "the input must not be modified"


@pytest.mark.parametrize(
    ("overrides", "drop", "fragment"),
    [
        ({}, "label", "lacks column(s) label"),
        ({"sample_id": ["a", "a"]}, None, "sample_id 'a' appears in row 0, row 1"),
        ({"label": ["normal", " "]}, None, "row 1 has an empty 'label'"),
        ({"patient_id": ["", "p2"]}, None, "row 0 has an empty 'patient_id'"),
        ({"modality": ["xray", "pet"]}, None, "row 1 has modality 'pet'"),
        ({"path": ["/data/a.png", "b.png"]}, None, "row 1 has a relative path 'b.png'"),
    ],
)
def test_validate_rejects_bad_manifests(
    overrides: dict[str, list[str]], drop: str | None, fragment: str
) -> None:
    df = _frame(**overrides)
    if drop:
        df = df.drop(columns=[drop])
    with pytest.raises(DataError, match=r"spine\.csv") as caught:
        validate_manifest(df, where="spine.csv")
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_validate_rejects_empty_manifest() -> None:
    with pytest.raises(DataError, match="no rows"):
        validate_manifest(_frame().iloc[:0], where="empty.csv")


# ----------------------------------------------------------------------------- read_manifest_csv
def test_csv_with_column_map_relative_paths_and_extra_columns(tmp_path: Path) -> None:
    _images(tmp_path / "img", ["a.png", "b.png", "c.png"])
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "filename,diagnosis,subject,view_name,age\n"
        "img/a.png,normal,S1,AP,40\n"
        "img/b.png,scoliosis,S2,lateral,50\n"
        "img/c.png,normal,S1,AP,40\n"
    )
    columns = ColumnMap(path="filename", label="diagnosis", patient_id="subject", view="view_name")
    df = read_manifest_csv(csv, columns=columns, classes=["normal", "scoliosis"])
    assert df["path"].tolist() == [str(tmp_path / "img" / n) for n in ("a.png", "b.png", "c.png")]
    assert all(os.path.isabs(p) for p in df["path"])
    assert df["sample_id"].tolist() == ["img/a.png", "img/b.png", "img/c.png"]
    assert df["label"].tolist() == ["normal", "scoliosis", "normal"]
    assert df["patient_id"].tolist() == ["S1", "S2", "S1"]
    assert df["view"].tolist() == ["AP", "lateral", "AP"]
    assert df["modality"].tolist() == ["xray"] * 3
    assert df["source"].tolist() == ["labels"] * 3
    assert df["age"].tolist() == ["40", "50", "40"]
    assert df.attrs["patient_from"] == "column"
    assert df.attrs["skipped"] == []


def test_csv_without_patient_column_is_one_patient_per_file(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_age\na.png,normal,40\nb.png,normal,50\n")
    df = read_manifest_csv(tmp_path / "m.csv", modality="mri")
    assert df.attrs["patient_from"] == "file"
    assert df["patient_id"].tolist() == df["sample_id"].tolist() == ["a.png", "b.png"]
    assert df["modality"].tolist() == ["mri", "mri"]
    assert "patient_age" in df.columns


def test_csv_sample_id_column_is_used(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("sample_id,path,label,patient_id\nX-001,a.png,normal,p1\n")
    assert read_manifest_csv(tmp_path / "m.csv")["sample_id"].tolist() == ["X-001"]


def test_misspelt_required_column_lists_columns_and_suggests_mapping(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("path,diagnosis,patient_id\na.png,normal,p1\n")
    with pytest.raises(DataError) as caught:
        read_manifest_csv(tmp_path / "m.csv", columns=ColumnMap(label="diagnosos"))
    message = str(caught.value)
    assert "m.csv" in message and "'diagnosos'" in message
    assert "available columns: path, diagnosis, patient_id" in message
    assert "--columns label=diagnosis" in message


def test_missing_required_column_without_close_match(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("path,grade\na.png,2\n")
    with pytest.raises(DataError, match=r"no column 'label'.*--columns label=COLUMN"):
        read_manifest_csv(tmp_path / "m.csv")


def test_misspelt_optional_patient_column_is_an_error_not_a_silent_default(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("path,label,PatientID\na.png,normal,p1\n")
    with pytest.raises(DataError, match=r"--columns patient_id=PatientID"):
        read_manifest_csv(tmp_path / "m.csv")
    df = read_manifest_csv(tmp_path / "m.csv", columns=ColumnMap(patient_id="PatientID"))
    assert df["patient_id"].tolist() == ["p1"]


def test_unknown_label_names_value_line_and_file(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_id\na.png,normal,p1\nb.png,scolio,p2\n")
    with pytest.raises(DataError) as caught:
        read_manifest_csv(tmp_path / "m.csv", classes=["normal", "scoliosis"])
    message = str(caught.value)
    assert "m.csv" in message and "line 3" in message and "'scolio'" in message
    df = read_manifest_csv(tmp_path / "m.csv", classes=["normal", "scoliosis"], skip_bad=True)
    assert df["label"].tolist() == ["normal"]
    [(path, reason)] = df.attrs["skipped"]
    assert path == str(tmp_path / "b.png") and "'scolio'" in reason


def test_missing_file_names_line_and_path_or_is_skipped(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_id\na.png,normal,p1\nmissing.png,normal,p2\n")
    with pytest.raises(DataError) as caught:
        read_manifest_csv(tmp_path / "m.csv")
    assert "line 3" in str(caught.value) and str(tmp_path / "missing.png") in str(caught.value)
    df = read_manifest_csv(tmp_path / "m.csv", skip_bad=True)
    assert df["sample_id"].tolist() == ["a.png"]
    assert df.attrs["skipped"] == [
        (
            str(tmp_path / "missing.png"),
            f"line 3: image file {tmp_path / 'missing.png'} does not exist; fix the path",
        )
    ]
    assert len(read_manifest_csv(tmp_path / "m.csv", check_files=False)) == 2


def test_empty_label_is_an_error(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_id\na.png,,p1\n")
    with pytest.raises(DataError, match=r"m.csv: line 2: empty 'label'"):
        read_manifest_csv(tmp_path / "m.csv")


def test_every_row_skipped_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,label,patient_id\nx.png,normal,p1\n")
    with pytest.raises(DataError, match="every row was skipped"):
        read_manifest_csv(tmp_path / "m.csv", skip_bad=True)


def test_unreadable_or_absent_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: manifest CSV not found"):
        read_manifest_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: cannot be read as CSV"):
        read_manifest_csv(tmp_path / "empty.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81\x82" * 50)
    with pytest.raises(DataError, match=r"binary\.csv"):
        read_manifest_csv(tmp_path / "binary.csv")


def test_bad_default_modality_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,label\n")
    with pytest.raises(ConfigError, match="modality='pet'"):
        read_manifest_csv(tmp_path / "m.csv", modality="pet")


# ----------------------------------------------------------------------------- fingerprint
def test_fingerprint_is_stable_and_sensitive(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_id,extra\na.png,normal,p1,x\nb.png,scoliosis,p2,y\n")
    df = read_manifest_csv(tmp_path / "m.csv")
    first = fingerprint(df)
    assert len(first) == 16 and int(first, 16) >= 0
    assert fingerprint(df.iloc[::-1]) == first, "row order must not matter"
    assert fingerprint(df.assign(extra="z")) == first, "extra columns must not matter"
    assert fingerprint(df.assign(label=["normal", "normal"])) != first
    assert fingerprint(df.assign(patient_id=["p1", "p1"])) != first
    stat = os.stat(tmp_path / "a.png")
    os.utime(tmp_path / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint(df) == first, "a touched file has the same content"


def test_fingerprint_depends_on_content_not_on_file_times(tmp_path: Path) -> None:
    _images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "m.csv").write_text("path,label,patient_id\na.png,normal,p1\nb.png,scoliosis,p2\n")
    df = read_manifest_csv(tmp_path / "m.csv")
    first = fingerprint(df)
    # the same bytes written again, with a new modification time: same fingerprint
    for name in ("a.png", "b.png"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).unlink()
        (tmp_path / name).write_bytes(data)
        os.utime(tmp_path / name, ns=(1_000_000_000, 1_000_000_000))
    assert fingerprint(df) == first
    # the same files moved to another folder: same fingerprint (paths do not count)
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / name).rename(moved / name)
    assert fingerprint(df.assign(path=[str(moved / "a.png"), str(moved / "b.png")])) == first
    # one byte changed, size and modification time kept: another fingerprint
    target = moved / "b.png"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    stat = os.stat(target)
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = fingerprint(df.assign(path=[str(moved / "a.png"), str(moved / "b.png")]))
    assert changed != first


def test_fingerprint_of_a_regenerated_synthspine_set_is_the_same(tmp_path: Path) -> None:
    from sdc_bench.data.sources import load_source
    from sdc_bench.data.synthspine import SynthConfig, generate

    config = SynthConfig(n_images=6, size=32, seed=1)
    generate(tmp_path / "first", config, progress=False)
    generate(tmp_path / "second", config, progress=False)
    first = fingerprint(load_source(tmp_path / "first"))
    assert fingerprint(load_source(tmp_path / "second")) == first
