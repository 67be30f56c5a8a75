from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.manifest import ColumnMap
from sdc_bench.data.sources import is_image_file, load_source
from tests.data.conftest import ramp, save_dicom, save_image


def test_folder_source_labels_from_folder_names(class_folder: Path) -> None:
    df = load_source(class_folder)
    assert len(df) == 12
    assert sorted(df["label"].unique()) == ["normal", "scoliosis"]
    assert (df["label"] == df["sample_id"].str.split("/").str[0]).all()
    assert "normal/nested/P01_view1.png" in set(df["sample_id"]), "class folders are searched recursively"
    assert df["path"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    assert set(df["modality"]) == {"xray"} and set(df["source"]) == {"spine"}
    # no patient information: one patient per file, and the manifest says so
    assert df.attrs["patient_from"] == "file"
    assert df["patient_id"].nunique() == 12


def test_folder_source_patient_regex(class_folder: Path) -> None:
    df = load_source(class_folder, patient_regex=r"^(P\d+)_", modality="mri")
    assert df.attrs["patient_from"] == "regex"
    assert sorted(df["patient_id"].unique()) == ["P01", "P02", "P03", "P11", "P12", "P13"]
    assert (df.groupby("patient_id").size() == 2).all()
    assert set(df["modality"]) == {"mri"}
    # a pattern without a group uses the whole match
    assert set(load_source(class_folder, patient_regex=r"P\d+")["patient_id"]) == set(df["patient_id"])


def test_patient_regex_that_does_not_match(class_folder: Path) -> None:
    save_image(class_folder / "normal" / "unnamed.png", ramp())
    with pytest.raises(DataError, match=r"unnamed\.png: patient_regex '\^\(P\\d\+\)_' does not match"):
        load_source(class_folder, patient_regex=r"^(P\d+)_")
    df = load_source(class_folder, patient_regex=r"^(P\d+)_", skip_bad=True)
    assert len(df) == 12
    assert [Path(p).name for p, _ in df.attrs["skipped"]] == ["unnamed.png"]


def test_invalid_patient_regex_is_a_config_error(class_folder: Path) -> None:
    with pytest.raises(ConfigError, match=r"patient_regex='\(P'"):
        load_source(class_folder, patient_regex="(P")


def test_dicom_patient_id_is_the_default_patient(tmp_path: Path) -> None:
    for label, patient in (("normal", "A"), ("normal", "A"), ("fracture", "B")):
        count = len(list((tmp_path / label).glob("*"))) if (tmp_path / label).exists() else 0
        save_dicom(tmp_path / label / f"img{count}.dcm", ramp(4, 4, 100, np.uint16), patient_id=patient)
    df = load_source(tmp_path)
    assert df.attrs["patient_from"] == "dicom"
    assert df.set_index("sample_id")["patient_id"].to_dict() == {
        "fracture/img0.dcm": "B",
        "normal/img0.dcm": "A",
        "normal/img1.dcm": "A",
    }
    # an explicit pattern wins over the tag
    assert load_source(tmp_path, patient_regex=r"img(\d)").attrs["patient_from"] == "regex"


def test_dicom_without_patient_id_falls_back_per_file(tmp_path: Path) -> None:
    save_dicom(tmp_path / "normal" / "a.dcm", ramp(4, 4, 100, np.uint16), patient_id="A")
    save_dicom(tmp_path / "normal" / "b.dcm", ramp(4, 4, 100, np.uint16), patient_id=None)
    df = load_source(tmp_path)
    assert df.attrs["patient_from"] == "dicom+file"
    assert df["patient_id"].tolist() == ["A", "normal/b.dcm"]


def test_non_image_file_in_class_folder(class_folder: Path) -> None:
    notes = class_folder / "scoliosis" / "notes.txt"
    notes.write_text("read me")
    (class_folder / "scoliosis" / ".DS_Store").write_bytes(b"\0\0")  # dot files are ignored
    with pytest.raises(DataError) as caught:
        load_source(class_folder)
    assert str(notes) in str(caught.value) and "not an image" in str(caught.value)
    df = load_source(class_folder, skip_bad=True)
    assert len(df) == 12
    assert df.attrs["skipped"] == [
        (
            str(notes),
            "not an image file (expected PNG, JPEG, TIFF, BMP, DICOM, NIfTI or MetaImage); remove it",
        )
    ]


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: source folder is empty"):
        load_source(tmp_path / "empty")


def test_empty_class_folder(class_folder: Path) -> None:
    (class_folder / "fracture").mkdir()
    with pytest.raises(DataError, match=r"fracture: class folder 'fracture' holds no images"):
        load_source(class_folder)
    df = load_source(class_folder, skip_bad=True)
    assert "fracture" not in set(df["label"])


def test_dicom_folder_without_class_folders(tmp_path: Path) -> None:
    for index in range(3):
        save_dicom(tmp_path / "series" / f"{index}.dcm", ramp(4, 4, 100, np.uint16))
    with pytest.raises(DataError, match=r"DICOM files but no class sub-folders.*CSV manifest"):
        load_source(tmp_path / "series")


def test_images_without_class_folders(tmp_path: Path) -> None:
    save_image(tmp_path / "flat" / "a.png", ramp())
    with pytest.raises(DataError, match="no class sub-folders"):
        load_source(tmp_path / "flat")


def test_image_outside_class_folders(class_folder: Path) -> None:
    save_image(class_folder / "stray.png", ramp())
    with pytest.raises(DataError, match=r"stray\.png: image outside any class sub-folder"):
        load_source(class_folder)
    assert len(load_source(class_folder, skip_bad=True)) == 12


def test_classes_filter_folders(class_folder: Path) -> None:
    with pytest.raises(DataError, match=r"scoliosis: class folder 'scoliosis' is not one of the classes"):
        load_source(class_folder, classes=["normal"])
    assert set(load_source(class_folder, classes=["normal"], skip_bad=True)["label"]) == {"normal"}
    with pytest.raises(DataError, match=r"no class folder for 'fracture'"):
        load_source(class_folder, classes=["normal", "scoliosis", "fracture"])


def test_folder_with_manifest_csv_is_read_as_csv(class_folder: Path) -> None:
    (class_folder / "manifest.csv").write_text(
        "file,dx,pid\nnormal/P01_view0.png,normal,X\nscoliosis/P11_view0.png,scoliosis,Y\n"
    )
    df = load_source(class_folder, columns=ColumnMap(path="file", label="dx", patient_id="pid"))
    assert df["patient_id"].tolist() == ["X", "Y"]
    assert set(df["source"]) == {"spine"}
    assert df.attrs["patient_from"] == "column"


def test_csv_file_source_with_patient_regex(class_folder: Path) -> None:
    csv = class_folder.parent / "labels.csv"
    csv.write_text("path,label\nspine/normal/P01_view0.png,normal\nspine/normal/P02_view1.png,normal\n")
    df = load_source(csv, patient_regex=r"^(P\d+)_")
    assert df["patient_id"].tolist() == ["P01", "P02"]
    assert df.attrs["patient_from"] == "regex"
    assert load_source(csv).attrs["patient_from"] == "file"


def test_csv_source_errors_pass_through(class_folder: Path) -> None:
    csv = class_folder.parent / "labels.csv"
    csv.write_text("path,label\nspine/normal/absent.png,normal\n")
    with pytest.raises(DataError, match=r"labels\.csv: line 2: image file .*absent\.png does not exist"):
        load_source(csv)


def test_missing_source_and_non_csv_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: data source does not exist"):
        load_source(tmp_path / "nowhere")
    png = save_image(tmp_path / "a.png", ramp())
    with pytest.raises(DataError, match=r"a\.png: a file source must be a CSV manifest"):
        load_source(png)


def test_bad_modality(class_folder: Path) -> None:
    with pytest.raises(ConfigError, match="modality='pet'"):
        load_source(class_folder, modality="pet")


def test_is_image_file(tmp_path: Path) -> None:
    dicom = save_dicom(tmp_path / "x.dcm", ramp(4, 4, 10, np.uint16))
    bare = tmp_path / "IM0001"
    shutil.copy(dicom, bare)
    (tmp_path / "readme").write_text("hello")
    assert is_image_file(tmp_path / "a.PNG") and is_image_file(tmp_path / "v.nii.gz") and is_image_file(bare)
    assert not is_image_file(tmp_path / "readme") and not is_image_file(tmp_path / "notes.txt")


def test_dicom_named_by_uid_is_an_image(tmp_path: Path) -> None:
    dicom = save_dicom(tmp_path / "normal" / "x.dcm", ramp(4, 4, 10, np.uint16))
    dicom.rename(tmp_path / "normal" / "1.2.840.113619.2.55")
    df = load_source(tmp_path)
    assert df["sample_id"].tolist() == ["normal/1.2.840.113619.2.55"]
