"""Bad data in, one line out: ``sdc-bench data check`` on small broken datasets, as a user runs it.

Every case builds a dataset in tmp_path and runs the CLI; a problem that would stop a run
exits 2 with exactly one line on stderr naming the culprit and the fix; warnings and
``--skip-bad`` exit 0 and list every problem (and every skipped file) in audit.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sdc_bench.cli import main
from tests.data.conftest import ramp, save_dicom, save_image
from tests.robustness._fixtures import bomb_dicom, bomb_nifti, good_folder, png

Builder = Callable[[Path], tuple[Path, list[str]]]  # dataset -> (source, extra CLI args)


def _check(capsys: pytest.CaptureFixture[str], source: Path, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["data", "check", str(source), "--out", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    return code, captured.err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------- broken files in a folder source
def _truncated_jpeg(path: Path) -> None:
    good = save_image(
        path.with_name("full.jpg"), np.random.default_rng(0).integers(0, 255, (48, 48), np.uint8)
    )
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    good.unlink()


def _truncated_png(path: Path) -> None:
    good = save_image(path.with_name("full.png"), ramp(48, 48))
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    good.unlink()


def _truncated_dicom(path: Path) -> None:
    good = save_dicom(path.with_name("full.dcm"), ramp(32, 32, 4095, np.uint16))
    path.write_bytes(good.read_bytes()[:-700])
    good.unlink()


BAD_FILES: dict[str, tuple[str, Callable[[Path], object]]] = {
    "text file": ("notes.txt", lambda p: p.write_text("not an image\n")),
    "garbage png": ("garbage.png", lambda p: p.write_bytes(np.random.default_rng(1).bytes(300))),
    "truncated png": ("cut.png", _truncated_png),
    "empty png": ("empty.png", lambda p: p.write_bytes(b"")),
    "truncated jpeg": ("cut.jpg", _truncated_jpeg),
    "dicom without pixels": ("report.dcm", lambda p: save_dicom(p, np.zeros((4, 4)), with_pixels=False)),
    "truncated dicom": ("cut.dcm", _truncated_dicom),
    "corrupt nifti": ("broken.nii.gz", lambda p: p.write_bytes(b"\x1f\x8b" + b"\x00" * 200)),
    "nifti bomb header": ("bomb.nii.gz", bomb_nifti),
    "dicom bomb header": ("bomb.dcm", bomb_dicom),
}


def _with_bad_file(tmp_path: Path, name: str, make: Callable[[Path], object]) -> Path:
    root = good_folder(tmp_path / "spine")
    make(root / "normal" / name)
    return root


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_stops_with_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, make = BAD_FILES[case]
    root = _with_bad_file(tmp_path, name, make)
    code, err = _check(capsys, root, tmp_path / "audit.json")
    line = _one_line(err)
    assert code == 2
    assert name in line
    assert "--skip-bad" in line or "max_image_pixels" in line
    problems = json.loads((tmp_path / "audit.json").read_text())["problems"]
    assert [p["culprit"] for p in problems if p["blocking"]] == [str(root / "normal" / name)]


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_skip_bad_skips_and_lists_every_bad_file(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, make = BAD_FILES[case]
    root = _with_bad_file(tmp_path, name, make)
    code, err = _check(capsys, root, tmp_path / "audit.json", "--skip-bad")
    assert code == 0, err
    audit = json.loads((tmp_path / "audit.json").read_text())
    listed = [p["culprit"] for p in audit["problems"]]
    assert str(root / "normal" / name) in listed
    assert not any(p["blocking"] for p in audit["problems"])


def test_every_problem_is_listed_in_one_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    (root / "normal" / "notes.txt").write_text("text")
    _truncated_jpeg(root / "scoliosis" / "cut.jpg")
    code, err = _check(capsys, root, tmp_path / "audit.json")
    line = _one_line(err)
    assert code == 2 and "2 problem(s) would stop a run" in line and "notes.txt" in line
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert {p["culprit"] for p in audit["problems"] if p["blocking"]} == {
        str(root / "normal" / "notes.txt"),
        str(root / "scoliosis" / "cut.jpg"),
    }
    assert audit["problem_counts"] == {"skipped file": 1, "unreadable image": 1}


def test_skip_bad_through_the_cache_build_drops_undecodable_images(tmp_path: Path) -> None:
    from sdc_bench.core.errors import DataError
    from sdc_bench.data.prepare import prepare_data
    from sdc_bench.data.spec import DataSpec

    root = good_folder(tmp_path / "spine")
    _truncated_jpeg(root / "normal" / "P099_a.jpg")
    spec = DataSpec(source=str(root), size=16)
    with pytest.raises(DataError, match=r"P099_a\.jpg.*pass --skip-bad to skip unreadable files"):
        prepare_data(spec, seed=0, progress=False)
    data = prepare_data(spec, seed=0, progress=False, skip_bad=True)
    assert len(data.manifest) == 12 and data.images.shape == (12, 16, 16)
    assert [Path(p).name for p, _ in data.manifest.attrs["skipped"]] == ["P099_a.jpg"]


# ----------------------------------------------------------------------------- manifests (CSV)
def _csv(root: Path, text: str) -> Path:
    good_folder(root)
    (root / "manifest.csv").write_text(text)
    return root / "manifest.csv"


def _rows(sep: str = ",") -> str:
    rows = [f"normal/P0{p:02d}_a.png{sep}normal{sep}p{p}" for p in range(6)]
    rows += [f"scoliosis/P1{p:02d}_a.png{sep}scoliosis{sep}q{p}" for p in range(6)]
    return "\n".join([f"path{sep}label{sep}patient_id", *rows]) + "\n"


CSV_ERRORS: dict[str, tuple[Callable[[Path], str], str, str]] = {
    # case: (CSV text from the root, culprit in the line, fix in the line)
    "dot-dot path": (
        lambda r: _rows() + "../../etc/passwd,normal,p9\n",
        "../../etc/passwd",
        "allow_outside_root",
    ),
    "absolute path outside": (
        lambda r: _rows() + f"{r.parent / 'x.png'},normal,p9\n",
        "x.png",
        "allow_outside_root",
    ),
    "missing file at line 14": (lambda r: _rows() + "normal/gone.png,normal,p9\n", "line 14", "--skip-bad"),
    "blank lines keep line numbers": (
        lambda r: _rows() + "\n\nnormal/gone.png,normal,p9\n",
        "line 16",
        "--skip-bad",
    ),
    "empty label": (lambda r: _rows() + "normal/P000_a.png,,p9\n", "line 14", "class label"),
    "single column": (lambda r: _rows(" "), "single column", "comma"),
    "unknown label column": (lambda r: _rows().replace("label", "diagnosis", 1), "label", "--columns label="),
}


@pytest.mark.parametrize("case", sorted(CSV_ERRORS))
def test_bad_manifest_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, culprit, fix = CSV_ERRORS[case]
    root = tmp_path / "spine"
    root.mkdir()
    csv = _csv(root, make(root))
    (tmp_path / "x.png").write_bytes(png(tmp_path / "x.png", 3).read_bytes())
    code, err = _check(capsys, csv, tmp_path / "audit.json")
    if code == 0:  # the linter lists skipped rows as blocking problems; loading errors stop at once
        pytest.fail(err)
    line = _one_line(err)
    assert code == 2 and culprit in line and fix in line, line


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_manifests_are_read(
    sep: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _csv(tmp_path / "spine", _rows(sep))
    code, err = _check(capsys, csv, tmp_path / "audit.json")
    assert code == 0, err
    assert json.loads((tmp_path / "audit.json").read_text())["n_images"] == 12


def test_symlink_outside_the_root_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    os.symlink(png(tmp_path / "elsewhere" / "secret.png", 5), root / "normal" / "P050_a.png")
    code, err = _check(capsys, root, tmp_path / "audit.json")
    line = _one_line(err)
    assert code == 2 and "P050_a.png" in line and "allow_outside_root" in line


# ----------------------------------------------------------------------------- silent wrong results
def _duplicate(tmp_path: Path, label: str, patient: str) -> Path:
    root = good_folder(tmp_path / "spine")
    copy = root / label / f"{patient}_copy.png"
    copy.write_bytes((root / "normal" / "P000_a.png").read_bytes())
    return root


@pytest.mark.parametrize(
    ("label", "patient", "kind"),
    [("normal", "P001", "duplicate across patients"), ("scoliosis", "P000", "duplicate across labels")],
)
def test_duplicates_across_patients_or_labels_stop(
    label: str, patient: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _duplicate(tmp_path, label, patient)
    code, err = _check(capsys, root, tmp_path / "audit.json", "--patient-regex", r"^(P\d+)_")
    line = _one_line(err)
    assert code == 2 and kind in line and "P000_a.png" in line and f"{patient}_copy.png" in line
    assert "allow_duplicates" in line


def test_duplicate_within_one_patient_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _duplicate(tmp_path, "normal", "P000")
    code, err = _check(capsys, root, tmp_path / "audit.json", "--patient-regex", r"^(P\d+)_")
    assert code == 0, err
    kinds = json.loads((tmp_path / "audit.json").read_text())["problem_counts"]
    assert kinds == {"duplicate": 1}


def test_duplicates_refused_by_prepare_data(tmp_path: Path) -> None:
    from sdc_bench.core.errors import DataError
    from sdc_bench.data.prepare import prepare_data
    from sdc_bench.data.spec import DataSpec

    root = _duplicate(tmp_path, "scoliosis", "P100")
    spec = DataSpec(source=str(root), size=16, patient_regex=r"^(P\d+)_")
    with pytest.raises(DataError, match=r"P000_a\.png and .*P100_copy\.png.*allow_duplicates=true"):
        prepare_data(spec, seed=0, progress=False)
    allowed = prepare_data(
        DataSpec(source=str(root), size=16, patient_regex=r"^(P\d+)_", allow_duplicates=True),
        seed=0,
        progress=False,
    )
    assert len(allowed.manifest) == 13


def test_tiny_image_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    png(root / "normal" / "P077_a.png", 9, size=(1, 1))
    code, err = _check(capsys, root, tmp_path / "audit.json")
    assert code == 0, err
    problems = json.loads((tmp_path / "audit.json").read_text())["problems"]
    assert [(p["kind"], Path(p["culprit"]).name) for p in problems] == [("tiny image", "P077_a.png")]


@pytest.mark.parametrize(
    ("patients", "folds", "fragment"),
    [(3, 5, "fewer than the 5 outer folds"), (3, 3, "fewer than the 4 inner folds"), (4, 4, "as few as 3")],
)
def test_folds_the_data_cannot_fill(
    patients: int, folds: int, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = good_folder(tmp_path / "spine", patients=patients)
    code, err = _check(capsys, root, tmp_path / "audit.json", "--folds", str(folds))
    line = _one_line(err)
    assert code == 2 and "class 'normal'" in line and fragment in line and "add patients" in line


def test_patient_in_two_classes_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    png(root / "scoliosis" / "P000_b.png", 999)
    code, err = _check(capsys, root, tmp_path / "audit.json", "--patient-regex", r"^(P\d+)_")
    line = _one_line(err)
    assert code == 2 and "patient 'P000'" in line and "fix the labels" in line


# ----------------------------------------------------------------------------- output and sources
def test_out_into_a_missing_folder_is_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    code, err = _check(capsys, root, tmp_path / "new" / "deeper" / "audit.json")
    assert code == 0, err
    assert (tmp_path / "new" / "deeper" / "audit.json").is_file()


def test_out_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    (tmp_path / "afile").write_text("x")
    code, err = _check(capsys, root, tmp_path / "afile" / "audit.json")
    line = _one_line(err)
    assert code == 2 and "--out" in line and "afile" in line


def test_missing_source_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(capsys, tmp_path / "nowhere", tmp_path / "audit.json")
    line = _one_line(err)
    assert code == 2 and "nowhere" in line and "class sub-folders" in line


def test_good_data_exit_zero_without_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "spine")
    code, err = _check(capsys, root, tmp_path / "audit.json")
    assert code == 0 and err == ""
    assert json.loads((tmp_path / "audit.json").read_text())["problems"] == []
