"""No silent results: inputs that used to give a wrong result without a word, or an unhelpful message.

Each case runs the CLI as a user would and asserts the contract of ``tests/robustness/``: exit 2, one line
on stderr naming the culprit and the fix, nothing lost; or, where the input is legitimate, exit 0 with
a short warning. Runs that must train use the classical method on a few 32 px images.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdc_bench.cli import main
from tests.robustness._fixtures import good_folder, png

CLASSICAL = """
description = "robustness: classical on a user's data"
seed = 3
methods = ["classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.5

[train]
device = "cpu"

[throughput]
enabled = false
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "classical.toml"
    path.write_text(CLASSICAL)
    return path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("sdc-bench: warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    assert lines[0].startswith("sdc-bench: error: "), err
    return lines[0]


def _csv(root: Path, rows: list[tuple[str, str, str]], header: str = "path,label,patient_id") -> Path:
    """A manifest CSV beside PNGs it names: one row per (file, label, patient); files are made distinct."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [header]
    for number, (name, label, patient) in enumerate(rows, start=1):
        if not (root / name).exists():
            png(root / name, number * 11)
        lines.append(f"{name},{label},{patient}")
    path = root / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(suite: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["run", "--suite", str(suite), "--data", str(data), "--out", str(out), "--quiet", *extra])


# ----------------------------------------------------------------------------- 9: --seed abc
def test_a_bad_integer_option_is_one_line_not_argparse_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "abc"]) == 2
    line = _one_line(capsys)
    assert "--seed" in line and "'abc'" in line and "sdc-bench run --help" in line


# ----------------------------------------------------------------------------- 2: labels differing in case
def _case_labels(root: Path) -> Path:
    rows = [(f"n{i}.png", "Normal" if i < 3 else "normal", f"N{i}") for i in range(10)]
    rows += [(f"s{i}.png", "scoliosis", f"S{i}") for i in range(10)]
    return _csv(root, rows)


def test_labels_that_differ_only_in_case_stop_data_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _case_labels(tmp_path / "data")
    assert main(["data", "check", str(csv), "--out", str(tmp_path / "audit.json"), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "'normal' (7 image(s))" in line and "'Normal' (3 image(s))" in line
    assert "data.label_map" in line


def test_labels_that_differ_only_in_case_stop_a_run(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _case_labels(tmp_path / "data")
    assert _run(suite, csv, tmp_path / "run") == 2
    line = _one_line(capsys)
    assert "'Normal'" in line and "'normal'" in line and "data.label_map" in line
    assert not (tmp_path / "run").exists()


def test_a_label_map_merges_the_spellings_on_purpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _case_labels(tmp_path / "data")
    audit = tmp_path / "audit.json"
    args = ["data", "check", str(csv), "--out", str(audit), "--quiet", "--folds", "2"]
    assert main([*args, "--set", 'data.label_map={Normal = "normal"}']) == 0, capsys.readouterr().err
    assert json.loads(audit.read_text())["images_per_class"] == {"normal": 10, "scoliosis": 10}


# ----------------------------------------------------------------------------- 7: one class
def _one_class(root: Path) -> Path:
    return _csv(root, [(f"n{i}.png", "normal", f"N{i}") for i in range(6)])


def test_a_one_class_csv_stops_data_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = _one_class(tmp_path / "data")
    assert main(["data", "check", str(csv), "--out", str(tmp_path / "audit.json"), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "one class" in line and "'normal'" in line and "another class" in line


def test_a_one_class_csv_stops_a_classical_run(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _one_class(tmp_path / "data")
    assert _run(suite, csv, tmp_path / "run") == 2
    line = _one_line(capsys)
    assert "one class" in line and "'normal'" in line and "another class" in line
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- 9: manifest messages
def test_a_missing_label_column_suggests_the_command_line_flag(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _csv(tmp_path / "data", [("a.png", "normal", "P1")], header="path,diagnosis,patient_id")
    assert _run(suite, csv, tmp_path / "run") == 2
    line = _one_line(capsys)
    assert "--columns label=" in line and "ColumnMap" not in line


def test_a_large_manifest_of_few_files_names_the_first_rows_and_a_count(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    for k in range(160):
        png(root / f"f{k}.png", k)
    lines = ["path,label,patient_id"]
    lines += [f"f{row % 160}.png,{'normal' if row % 2 else 'scoliosis'},P{row}" for row in range(100_000)]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    assert _run(suite, root / "manifest.csv", tmp_path / "run") == 2
    line = _one_line(capsys)
    assert len(line) <= 400, line
    assert "'f0.png'" in line and "more row(s)" in line and "sample_id" in line


# ----------------------------------------------------------------------------- 11: a modality outside the list
def _with_pet(root: Path) -> Path:
    rows = [(f"n{i}.png", "normal", f"N{i}", "xray") for i in range(10)]
    rows += [(f"s{i}.png", "scoliosis", f"S{i}", "xray") for i in range(10)]
    rows.append(("pet.png", "normal", "N9", "PET"))
    root.mkdir(parents=True, exist_ok=True)
    for number, (name, *_rest) in enumerate(rows, start=1):
        png(root / name, number * 13)
    (root / "manifest.csv").write_text(
        "path,label,patient_id,modality\n" + "".join(",".join(row) + "\n" for row in rows)
    )
    return root / "manifest.csv"


def test_a_modality_outside_the_list_is_skipped_under_skip_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _with_pet(tmp_path / "data")
    audit = tmp_path / "audit.json"
    base = ["data", "check", str(csv), "--out", str(audit), "--quiet", "--folds", "2", "--set", "data.allow_duplicates=true"]
    assert main(base) == 2
    line = _one_line(capsys)
    assert "'PET'" in line and "--skip-bad" in line
    assert main([*base, "--skip-bad"]) == 0
    skipped = json.loads(audit.read_text())["skipped"]
    assert [Path(path).name for path, _reason in skipped] == ["pet.png"]


# ----------------------------------------------------------------------------- 10: a fixed recipe
def test_a_fixed_recipe_makes_no_inner_split(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [(f"n{i}.png", "normal", f"N{i}") for i in range(6)]
    rows += [(f"s{i}.png", "scoliosis", f"S{i}") for i in range(3)]
    csv = _csv(tmp_path / "data", rows)
    tight = ["--set", "protocol.inner_val_fraction=0.25"]  # 4 inner folds: 1 or 2 scoliosis patients per fold
    assert _run(suite, csv, tmp_path / "searched", *tight, "--set", "search.n_trials=1") == 2
    line = _one_line(capsys)
    assert "protocol.inner_val_fraction" in line and "search.n_trials = 0" in line
    fixed = ["--set", "search.n_trials=0", "--set", "train.early_stopping=false"]
    assert _run(suite, csv, tmp_path / "fixed", *tight, *fixed) == 0, capsys.readouterr().err
    cells = list((tmp_path / "fixed" / "cells").glob("*.json"))
    assert cells and all(json.loads(c.read_text())["n_val"] == 0 for c in cells)


# ----------------------------------------------------------------------------- 3: the run says what the audit found
def test_a_run_prints_the_audits_warnings(suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = good_folder(tmp_path / "data", patients=4)
    png(root / "normal" / "P099_a.png", 77, size=(1, 1))
    assert main(["run", "--suite", str(suite), "--data", str(root), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("sdc-bench: warning:")]
    assert len(warnings) == 1, err
    assert "tiny image" in warnings[0] and "P099_a.png" in warnings[0] and "audit.json" in warnings[0]
    assert len(warnings[0]) <= 300


# ----------------------------------------------------------------------------- 8: a truncated predictions file
def test_a_truncated_predictions_file_is_one_line_for_report(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = good_folder(tmp_path / "data", patients=4)
    out = tmp_path / "run"
    assert main(["run", "--suite", str(suite), "--data", str(root), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    predictions = out / "predictions.parquet"
    predictions.write_bytes(predictions.read_bytes()[: predictions.stat().st_size // 2])
    assert main(["report", str(out)]) == 2
    line = _one_line(capsys)
    assert str(predictions) in line and "--resume" in line
    assert main(["run", "--resume", str(out), "--quiet"]) == 0  # the fix it gives works: nothing is lost
    assert main(["report", str(out)]) == 0
