"""Classes come from the data: README's ``--data`` examples on a 2-class folder and a 4-class CSV, run through
the CLI with tiny data and shrinking ``--set`` overrides (the classical method, 16 px: seconds per run).

With ``--data``, a SynthSpine suite's class list (smoke's three sagittal classes) does not apply; a suite
written for a dataset pins its classes, and a disagreeing dataset is one line naming both lists and the fix.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.data.synthspine import SynthConfig, generate

# shrink the smoke suite to seconds: one fast method, 16 px inputs, no SynthSpine generation at all
SHRINK = ["--quiet", "--set", "methods=['classical']", "--set", "data.size=16"]


def _generated(tmp_path: Path, classes: tuple[str, ...], n_images: int = 64) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path / "generated"
    even = tuple(1 / len(classes) for _ in classes)  # every class has patients for the inner folds
    config = SynthConfig(
        n_images=n_images, seed=1, size=32, classes=classes, prevalence=even, modalities=("xray",)
    )
    return folder, generate(folder, config, progress=False)


def _class_folder(tmp_path: Path, classes: tuple[str, ...]) -> Path:
    """``my_images/normal/P001_a.png``, ...: one sub-folder per class, the patient in the file name."""
    generated, manifest = _generated(tmp_path, classes)
    folder = tmp_path / "my_images"
    patients = {p: f"P{i:03d}" for i, p in enumerate(dict.fromkeys(manifest["patient_id"]))}
    for row in manifest.itertuples():
        target = folder / str(row.label) / f"{patients[row.patient_id]}_{Path(str(row.path)).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(generated / str(row.path), target)
    return folder


def _csv(tmp_path: Path, classes: tuple[str, ...], n_images: int = 96) -> Path:
    """``my_manifest.csv`` with README's columns path,label,patient_id,modality."""
    generated, manifest = _generated(tmp_path, classes, n_images)
    table = manifest[["path", "label", "patient_id", "modality"]]
    path = generated / "my_manifest.csv"
    table.to_csv(path, index=False)
    return path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_readme_example_runs_on_a_two_class_folder(tmp_path: Path) -> None:
    """``sdc-bench run --suite smoke --data my_images/`` with ``normal/`` and ``scoliosis/``: the data's
    classes, said in the audit, run.json and the report's data section."""
    folder = _class_folder(tmp_path, ("normal", "scoliosis"))
    out = tmp_path / "run"
    assert main(["run", "--suite", "smoke", "--data", str(folder), "--out", str(out), *SHRINK]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["classes"] == ["normal", "scoliosis"]
    assert "data's own" in run["data"]["classes_note"]
    assert "data's own" in json.loads((out / "audit.json").read_text())["classes_note"]
    assert run["suite"]["data"]["classes"] == []  # smoke's SynthSpine classes were not applied
    assert "Classes are the data's own" in (out / "report.md").read_text()
    assert set(pd.read_parquet(out / "predictions.parquet")["y_true"]) == {"normal", "scoliosis"}


def test_readme_patient_regex_example_runs_on_the_folder(tmp_path: Path) -> None:
    folder = _class_folder(tmp_path, ("normal", "scoliosis"))
    out = tmp_path / "run"
    args = ["run", "--data", str(folder), "--patient-regex", r"^(P\d+)_", "--out", str(out), *SHRINK]
    assert main(args) == 0
    assert json.loads((out / "audit.json").read_text())["patient_from"] == "regex"


def test_readme_example_runs_on_a_four_class_csv(tmp_path: Path) -> None:
    classes = ("normal", "scoliosis", "spondylolisthesis", "vertebral_fracture")
    csv = _csv(tmp_path, classes, n_images=120)
    out = tmp_path / "run"
    assert main(["run", "--suite", "smoke", "--data", str(csv), "--out", str(out), *SHRINK]) == 0
    assert json.loads((out / "run.json").read_text())["data"]["classes"] == list(classes)


def test_skip_bad_on_a_three_class_csv_keeps_its_classes(tmp_path: Path) -> None:
    """The old failure: smoke's pinned classes skipped 'scoliosis' rows, then 'vertebral_fracture' had none."""
    classes = ("normal", "scoliosis", "spondylolisthesis")
    csv = _csv(tmp_path, classes)
    with csv.open("a") as handle:
        handle.write("missing.png,normal,P999,xray\n")  # a bad row for --skip-bad to skip
    out = tmp_path / "run"
    args = ["run", "--suite", "smoke", "--data", str(csv), "--out", str(out), "--skip-bad", *SHRINK]
    assert main(args) == 0
    assert json.loads((out / "run.json").read_text())["data"]["classes"] == list(classes)


def test_a_suites_pinned_classes_that_disagree_are_one_line_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fraiwan-3class pins its dataset's classes; a 2-class folder names both lists and the --set fix,
    and the fix runs."""
    folder = _class_folder(tmp_path, ("normal", "scoliosis"))
    args = ["run", "--suite", "fraiwan-3class", "--data", str(folder), *SHRINK, "--set", "train.device=cpu"]
    assert main([*args, "--out", str(tmp_path / "refused")]) == 2
    line = _one_line(capsys)
    assert "['normal', 'scoliosis']" in line and "['normal', 'scoliosis', 'spondylolisthesis']" in line
    assert """--set 'data.classes=["normal", "scoliosis"]'""" in line
    assert not (tmp_path / "refused").exists()
    out = tmp_path / "fixed"
    fix = ["--set", 'data.classes=["normal", "scoliosis"]']
    assert main([*args, *fix, "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["classes"] == ["normal", "scoliosis"] and "classes_note" not in run["data"]


def test_a_suites_pinned_classes_keep_their_order_on_matching_data(tmp_path: Path) -> None:
    """Pinned classes that the data match keep the suite's order (the class codes), not the name order."""
    folder = _class_folder(tmp_path, ("normal", "scoliosis", "spondylolisthesis"))
    suite = tmp_path / "my-dataset.toml"
    suite.write_text(
        'description = "a suite written for one dataset"\nmethods = ["classical"]\n'
        'backbones = ["tf_efficientnet_lite0"]\n[data]\nsource = "dataset:fraiwan/3class"\n'
        'classes = ["spondylolisthesis", "scoliosis", "normal"]\n[protocol]\nouter_folds = 2\n'
        '[train]\ndevice = "cpu"\n'
    )
    out = tmp_path / "run"
    assert main(["run", "--suite", str(suite), "--data", str(folder), "--out", str(out), *SHRINK]) == 0
    classes = json.loads((out / "run.json").read_text())["data"]["classes"]
    assert classes == ["spondylolisthesis", "scoliosis", "normal"]
