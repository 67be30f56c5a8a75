"""Tests for the data spec's patient_regex and columns: checked up front, read from a suite and --set, used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdc_bench.benchmark.suite import apply_overrides, load_suite
from sdc_bench.core.errors import ConfigError
from sdc_bench.data.columns import COLUMN_FIELDS, ColumnMap, column_settings
from sdc_bench.data.prepare import CACHE_ENV, prepare_data
from sdc_bench.data.spec import DataSpec
from tests.data.conftest import save_image


def _patient_folder(root: Path) -> Path:
    """Two classes, three patients; file names start with the patient id (P007 has two images)."""
    for i, (label, name) in enumerate(
        [
            ("normal", "P007_a.png"),
            ("normal", "P007_b.png"),
            ("normal", "P010_a.png"),
            ("scoliosis", "P020_a.png"),
            ("scoliosis", "P021_a.png"),
        ]
    ):
        save_image(root / label / name, np.full((8, 8), 30 * i, np.uint8))
    return root


def _csv_with_custom_columns(root: Path) -> Path:
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        save_image(root / "img" / name, np.full((8, 8), 40 * i, np.uint8))
    csv = root / "labels.csv"
    csv.write_text("file,diagnosis,pid\nimg/a.png,normal,S1\nimg/b.png,normal,S1\nimg/c.png,scoliosis,S2\n")
    return csv


# ----------------------------------------------------------------------------- checked up front
@pytest.mark.parametrize(
    ("regex", "fragment"),
    [
        ("(P", r"data\.patient_regex='\(P' does not compile"),
        (r"P\d+", r"data\.patient_regex='P\\\\d\+' has no group"),
        (r"(P)(\d+)", "has 2 groups, none named 'patient'"),
        (7, "data.patient_regex must be a regular expression"),
    ],
)
def test_bad_patient_regex_is_one_config_error(regex: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        DataSpec(patient_regex=regex)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_good_patient_regexes() -> None:
    assert DataSpec(patient_regex=r"^(P\d+)_").patient_regex == r"^(P\d+)_"
    assert DataSpec(patient_regex=r"^(?P<patient>P\d+)_(\w)").patient_regex is not None
    assert DataSpec(patient_regex="").patient_regex is None, "an empty value clears the regex"


def test_unknown_column_key_names_data_columns_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError, match=r"data\.columns: unknown key\(s\) 'diagnosis'") as info:
        DataSpec(columns={"diagnosis": "dx"})
    message = str(info.value)
    assert "\n" not in message and all(key in message for key in COLUMN_FIELDS)
    with pytest.raises(ConfigError, match=r"data\.columns\.label must be a non-empty CSV column name"):
        DataSpec(columns={"label": ""})
    with pytest.raises(ConfigError, match=r"data\.columns must be a table"):
        DataSpec(columns=3)  # type: ignore[arg-type]


def test_columns_as_text_pairs() -> None:
    spec = DataSpec(columns="path=file, label=diagnosis")  # type: ignore[arg-type]
    assert spec.columns == {"path": "file", "label": "diagnosis"}
    assert spec.column_map() == ColumnMap(path="file", label="diagnosis")
    assert column_settings({}) == {}
    with pytest.raises(ConfigError, match="expected field=column pairs"):
        column_settings("path:file")


# ----------------------------------------------------------------------------- from a suite and --set
def test_suite_toml_and_set_overrides(tmp_path: Path) -> None:
    suite_file = tmp_path / "mine.toml"
    suite_file.write_text(
        "[data]\nsource = \"data\"\npatient_regex = '^(P\\d+)_'\n"
        'columns = {path = "file", label = "diagnosis", patient_id = "pid"}\n'
    )
    suite = load_suite(suite_file)
    assert suite.data.patient_regex == r"^(P\d+)_"
    assert suite.data.column_map() == ColumnMap(path="file", label="diagnosis", patient_id="pid")

    changed = apply_overrides(suite, [r"data.patient_regex=^(?P<patient>S\d+)-", "data.columns.label=dx"])
    assert changed.data.patient_regex == r"^(?P<patient>S\d+)-"
    assert changed.data.columns == {"path": "file", "label": "dx", "patient_id": "pid"}
    whole = apply_overrides(suite, ["data.columns=path=f,label=y"])
    assert whole.data.columns == {"path": "f", "label": "y"}
    assert apply_overrides(suite, ['data.columns={label="z"}']).data.columns == {"label": "z"}

    with pytest.raises(ConfigError, match=r"data\.patient_regex='\(P' does not compile"):
        apply_overrides(suite, ["data.patient_regex=(P"])
    with pytest.raises(ConfigError, match=r"data\.columns: unknown key\(s\) 'lable'; allowed keys: path"):
        apply_overrides(suite, ["data.columns.lable=dx"])


def test_a_bad_regex_in_a_suite_file_fails_when_loading(tmp_path: Path) -> None:
    suite_file = tmp_path / "bad.toml"
    suite_file.write_text("[data]\npatient_regex = 'P[0-9]+'\n")
    with pytest.raises(ConfigError, match=r"data\.patient_regex='P\[0-9\]\+' has no group"):
        load_suite(suite_file)


# ----------------------------------------------------------------------------- used by prepare_data
def test_folder_source_groups_patients_by_the_spec_regex(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    folder = _patient_folder(tmp_path / "data")
    spec = DataSpec(source=str(folder), size=16, patient_regex=r"^(P\d+)_")
    data = prepare_data(spec, seed=0, progress=False)
    patients = dict(zip(data.manifest["sample_id"], data.manifest["patient_id"], strict=True))
    assert patients["normal/P007_a.png"] == patients["normal/P007_b.png"] == "P007"
    assert sorted(set(patients.values())) == ["P007", "P010", "P020", "P021"]
    assert data.manifest.attrs["patient_from"] == "regex"
    named = DataSpec(source=str(folder), size=16, patient_regex=r"^(?P<patient>P\d+)_(\w)")
    assert set(prepare_data(named, seed=0, progress=False).manifest["patient_id"]) == set(patients.values())
    # without the regex each file is its own patient
    alone = prepare_data(DataSpec(source=str(folder), size=16), seed=0, progress=False)
    assert alone.manifest["patient_id"].nunique() == 5


def test_csv_with_custom_column_names_loads_via_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    csv = _csv_with_custom_columns(tmp_path / "data")
    spec = DataSpec(
        source=str(csv), size=16, columns={"path": "file", "label": "diagnosis", "patient_id": "pid"}
    )
    data = prepare_data(spec, seed=0, progress=False)
    assert data.classes == ("normal", "scoliosis")
    assert data.manifest["patient_id"].tolist() == ["S1", "S1", "S2"]
    assert data.manifest.attrs["patient_from"] == "column"
    assert data.images.shape == (3, 16, 16)
