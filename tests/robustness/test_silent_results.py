"""No silent results: inputs that used to give a wrong result without a word, or an unhelpful message.

Each case runs the CLI as a user would and asserts the contract of ``tests/robustness/``: exit 2, one line
on stderr naming the culprit and the fix, nothing lost; or, where the input is legitimate, exit 0 with
a short warning. Runs that must train use the classical method on a few 32 px images.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.store import RunStore
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
    base = [
        "data",
        "check",
        str(csv),
        "--out",
        str(audit),
        "--quiet",
        "--folds",
        "2",
        "--set",
        "data.allow_duplicates=true",
    ]
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
def test_a_run_prints_the_audits_warnings(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = good_folder(tmp_path / "data", patients=4)
    png(root / "normal" / "P099_a.png", 77, size=(1, 1))
    assert (
        main(["run", "--suite", str(suite), "--data", str(root), "--out", str(tmp_path / "run"), "--quiet"])
        == 0
    )
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


# ----------------------------------------------------------------------------- 4, 5, 6, 13: run.json
TINY_SYNTH = """
description = "robustness: tiny synthetic run"
seed = 3
methods = ["classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 48
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 3
inner_val_fraction = 0.5

[train]
device = "cpu"

[throughput]
enabled = false
"""


@pytest.fixture(scope="module")
def synth_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "synth.toml"
    path.write_text(TINY_SYNTH)
    return path


@pytest.fixture(scope="module")
def finished(synth_suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "finished"
    assert main(["run", "--suite", str(synth_suite), "--out", str(out), "--quiet"]) == 0
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    return copy


def test_a_run_json_edited_by_hand_is_refused(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(finished, tmp_path)
    payload = json.loads((copy / "run.json").read_text())
    payload["data"]["classes"] = ["scoliosis", "normal"]
    (copy / "run.json").write_text(json.dumps(payload, indent=2))
    before = (copy / "run.json").read_bytes()
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert str(copy / "run.json") in line and "edited" in line and "restore" in line
    assert (copy / "run.json").read_bytes() == before
    assert main(["report", str(copy)]) == 2
    assert "edited" in _one_line(capsys)


def test_the_runners_own_updates_keep_run_json_valid(finished: Path) -> None:
    payload = json.loads((finished / "run.json").read_text())
    assert payload["status"] == "done" and payload["content_sha256"]
    assert RunStore(finished).read_manifest().status == "done"


def _made_with(run: Path, versions: dict[str, str]) -> None:
    store = RunStore(run)
    store.update_manifest(
        lambda m: m.replace(
            environment=replace(m.environment, packages={**m.environment.packages, **versions}),
            status="interrupted",
        )
    )


@pytest.mark.parametrize("package", ["sdc-bench", "torch"])
def test_resume_of_a_run_made_with_another_version_is_refused(
    package: str, finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(finished, tmp_path)
    _made_with(copy, {package: "0.0.1"})
    before = (copy / "run.json").read_bytes()
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert f"{package} 0.0.1" in line and f"{package} {metadata.version(package)}" in line
    assert "start a new run" in line
    assert (copy / "run.json").read_bytes() == before  # the version record is not overwritten


def test_resume_of_an_older_versions_run_says_which_version_not_the_data(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older sdc-bench fingerprinted the same data differently: the version is the culprit."""
    copy = _copy(finished, tmp_path)
    _made_with(copy, {"sdc-bench": "0.0.1"})
    RunStore(copy).update_manifest(lambda m: m.replace(data=replace(m.data, fingerprint="0123456789abcdef")))
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "sdc-bench 0.0.1" in line and "data changed" not in line and "--out" in line


def test_resume_of_an_older_run_folder_format_names_the_version(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _copy(finished, tmp_path)
    payload = json.loads((copy / "run.json").read_text())
    payload.pop("content_sha256")
    payload["format_version"] = 0
    (copy / "run.json").write_text(json.dumps(payload))
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "format version 0" in line and "sdc-bench version that made it" in line


_KILL_AT_SECOND_CELL = """
import os, signal, sys
import sdc_bench.benchmark.runner as runner
real, calls = runner.run_cell, [0]
def run_cell(cell, ctx):
    calls[0] += 1
    if calls[0] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(cell, ctx)
runner.run_cell = run_cell
from sdc_bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_segments_keep_every_sitting_after_kills_and_a_resume(
    synth_suite: Path, finished: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for args in (["--suite", str(synth_suite), "--out", str(out)], ["--resume", str(out)]):
        result = subprocess.run(
            [sys.executable, "-c", _KILL_AT_SECOND_CELL, "run", *args, "--quiet"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == -signal.SIGKILL, result.stderr
    assert len(list((out / "cells").glob("*.parquet"))) == 2
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    payload = json.loads((out / "run.json").read_text())
    assert [s["status"] for s in payload["segments"]] == ["killed", "killed", "done"]
    assert all(s["seconds"] > 0 for s in payload["segments"])
    assert payload["seconds"] == pytest.approx(sum(s["seconds"] for s in payload["segments"]), abs=0.11)
    expected = pd.read_parquet(finished / "predictions.parquet").drop(columns="run_id")
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "predictions.parquet").drop(columns="run_id"), expected
    )


# ----------------------------------------------------------------------------- 1: a DICOM series with missing slices
def _series_with_a_gap(root: Path) -> tuple[Path, Path]:
    """Eight MRI series of 9 slices at 4 mm; in one, the slices at -4, 0 and 4 mm are gone, so its middle
    three slices left are at -8, 8 and 12 mm."""
    import pydicom

    from sdc_bench.data.synthspine import write_mri_series

    write_mri_series(
        root,
        n_patients=12,
        series_per_patient=1,
        slices=9,
        size=32,
        classes=("normal", "scoliosis"),
        prevalence=(0.5, 0.5),
    )
    series = sorted(p for p in root.glob("*/*") if p.is_dir())[0]
    for file in series.iterdir():
        if float(pydicom.dcmread(file, stop_before_pixels=True).ImagePositionPatient[0]) in (-4.0, 0.0, 4.0):
            file.unlink()
    return root, series


def test_a_series_with_missing_slices_stops_a_run_and_data_check(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, series = _series_with_a_gap(tmp_path / "mri")
    three = ["--set", "data.slices=3"]
    assert _run(suite, root, tmp_path / "run", *three) == 2
    line = _one_line(capsys)
    assert series.name in line and "16 mm" in line and "4 mm spacing" in line and "missing" in line
    assert "data.allow_slice_gaps=true" in line
    assert not (tmp_path / "run").exists()
    check = ["data", "check", str(root), "--out", str(tmp_path / "audit.json"), "--quiet", "--folds", "2"]
    assert main([*check, *three]) == 2
    line = _one_line(capsys)
    assert "slice gap" in line and series.name in line
    main(check)  # one slice per input: no gap to speak of
    assert "slice gap" not in capsys.readouterr().err


def test_allowed_slice_gaps_are_a_note_in_the_audit_and_the_report(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, series = _series_with_a_gap(tmp_path / "mri")
    args = ["--set", "data.slices=3", "--set", "data.allow_slice_gaps=true", "--set", "search.n_trials=0"]
    args += ["--set", "train.early_stopping=false"]  # no inner split of the few patients
    assert _run(suite, root, tmp_path / "run", *args) == 0, capsys.readouterr().err
    warnings = json.loads((tmp_path / "run" / "audit.json").read_text())["warnings"]
    assert any("allow_slice_gaps" in w and series.name in w for w in warnings), warnings
    assert "allow_slice_gaps" in (tmp_path / "run" / "report.md").read_text()


# ----------------------------------------------------------------------------- 12: refusing costs little
_REFUSE_WITHOUT_TORCH = """
import sys
from sdc_bench.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))  # this image's peak
print("torch" in sys.modules, int(peak.split()[1]) // 1024)
sys.exit(code)
"""


@pytest.mark.parametrize("header", ["filename,diagnosis", "path,label,patient_id"])
def test_a_bad_csv_is_refused_before_torch_is_imported(header: str, tmp_path: Path) -> None:
    """A bad header, or rows whose files are missing: one line in about a second and ~120 MB, not 1 GB."""
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header}\na.png,normal,P1\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _REFUSE_WITHOUT_TORCH,
            "run",
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "run"),
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(bad) in result.stderr
    imported, megabytes = result.stdout.split()
    assert imported == "False" and int(megabytes) < 300, result.stdout


# ----------------------------------------------------------------------------- 9: weights files
class _Whole:
    """A pickled object where a state dict belongs (a whole model saved with torch.save(model, PATH))."""

    def __init__(self) -> None:
        self.weights = [1.0, 2.0]


def _pickled(path: Path) -> None:
    import torch

    torch.save({"model": _Whole()}, path)


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x80\x04garbage, not a checkpoint" * 10)


@pytest.mark.parametrize("make", [_pickled, _garbage], ids=["pickled object", "corrupt"])
def test_a_bad_torch_weights_file_is_one_line_with_a_fix_and_no_warning(
    make: object, synth_suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import warnings

    path = tmp_path / "weights.pth"
    make(path)  # type: ignore[operator]
    args = [
        "run",
        "--suite",
        str(synth_suite),
        "--dry-run",
        "--weights-file",
        f"tf_efficientnet_lite0={path}",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(args) == 2
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    line = _one_line(capsys)
    assert str(path) in line and "torch.save(model.state_dict(), PATH)" in line
