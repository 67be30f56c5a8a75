"""SPIDER: a 4-patient miniature in the published layout converts to the expected manifests, and runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from tests.data.datasets.layouts import SPIDER_FOUR, write_spider

pytest.importorskip("SimpleITK")


@pytest.fixture(scope="module")
def spider_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_spider(tmp_path_factory.mktemp("spider"))


def _get(copy: Path, out: Path, task: str) -> pd.DataFrame:
    assert (
        main(["data", "get", "spider", "--task", task, "--out", str(out), "--from", str(copy), "--quiet"])
        == 0
    )
    return pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)


def test_degeneration_manifest_is_exact_and_patient_4_dropped(spider_copy: Path, tmp_path: Path) -> None:
    manifest = _get(spider_copy, tmp_path / "d", "degeneration")
    expected = pd.DataFrame(
        {
            "sample_id": [
                f"images/{p}_{s}.mha"
                for p, s in [
                    ("1", "t1"),
                    ("1", "t2"),
                    ("1", "t2_SPACE"),
                    ("2", "t1"),
                    ("2", "t2"),
                    ("4", "t1"),
                    ("4", "t2"),
                ]
            ],
            "label": ["severe"] * 3 + ["mild"] * 2 + ["severe"] * 2,
            "patient_id": ["1", "1", "1", "2", "2", "4", "4"],
            "modality": ["mri"] * 7,
            "view": ["sagittal"] * 7,
            "sequence": ["t1", "t2", "t2_SPACE", "t1", "t2", "t1", "t2"],
        }
    )
    expected.insert(1, "path", "images/" + expected["sample_id"])
    pd.testing.assert_frame_equal(manifest, expected)
    assert all((tmp_path / "d" / path).is_file() for path in manifest["path"])
    card = (tmp_path / "d" / "DATASET.md").read_text()
    assert "CC BY 4.0" in card and "@article{vandergraaf2024spider" in card
    assert "- 1 patient(s): max Pfirrmann grade 4 (between the classes of this task): 3" in card
    assert "| severe | 2 | - |" in card and "| mild | 1 | - |" in card
    audit = json.loads((tmp_path / "d" / "audit.json").read_text())
    assert audit["dataset"]["converted_counts"] == {"mild": 1, "severe": 2}
    assert audit["dataset"]["dropped"] == {"max Pfirrmann grade 4 (between the classes of this task)": ["3"]}
    assert audit["formats"] == {"MetaImage": 7}


@pytest.mark.parametrize(
    ("task", "labels"),
    [
        ("spondylolisthesis", {"1": "spondylolisthesis", "2": "none", "3": "none", "4": "spondylolisthesis"}),
        ("spider-modic", {"1": "none", "2": "modic", "3": "none", "4": "modic"}),
    ],
)
def test_patient_tasks_label_every_patient(
    spider_copy: Path, tmp_path: Path, task: str, labels: dict
) -> None:
    manifest = _get(spider_copy, tmp_path / "d", task)
    assert manifest.groupby("patient_id")["label"].agg(set).to_dict() == {p: {v} for p, v in labels.items()}


def test_missing_gradings_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = write_spider(tmp_path / "copy", {"1": SPIDER_FOUR["1"]})
    (copy / "radiological_gradings.csv").unlink()
    assert (
        main(["data", "get", "spider", "--task", "modic", "--out", str(tmp_path / "d"), "--from", str(copy)])
        == 2
    )
    error = capsys.readouterr().err.strip()
    assert "radiological_gradings.csv: missing from the SPIDER copy" in error and "\n" not in error


def test_unknown_task_names_the_tasks(
    spider_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "get", "spider", "--out", str(tmp_path / "d"), "--from", str(spider_copy)]) == 2
    assert "choose one with --task (degeneration, spondylolisthesis, modic)" in capsys.readouterr().err


def test_get_then_run_quick_end_to_end_on_metaimage(tmp_path: Path) -> None:
    """The acceptance: data get spider --task degeneration, then run --suite quick on its manifest."""
    grades = {str(p): [(5 if p % 2 else 2, 0, 0)] for p in range(1, 17)}  # 8 severe, 8 mild patients
    copy = write_spider(tmp_path / "copy", grades)
    data = tmp_path / "d"
    assert (
        main(
            [
                "data",
                "get",
                "spider",
                "--task",
                "degeneration",
                "--out",
                str(data),
                "--from",
                str(copy),
                "--quiet",
            ]
        )
        == 0
    )
    out = tmp_path / "run"
    shrink = ['methods=["classical"]', "data.size=16", "protocol.outer_folds=2", "throughput.enabled=false"]
    code = main(
        [
            "run",
            "--suite",
            "quick",
            "--data",
            str(data / "manifest.csv"),
            "--out",
            str(out),
            "--quiet",
            *(arg for item in shrink for arg in ("--set", item)),
        ]
    )
    assert code == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["method"]) == {"classical"}
    patient_of = dict(pd.read_csv(data / "manifest.csv", dtype=str).set_index("sample_id")["patient_id"])
    tested: list[str] = []
    for fold in json.loads((out / "splits.json").read_text())["folds"]:
        train = {patient_of[sample] for sample in fold["train"]}
        test = {patient_of[sample] for sample in fold["test"]}
        assert not train & test, f"fold {fold['outer_fold']}: a patient in train and test"
        tested += sorted(test)
    assert sorted(tested) == sorted(grades), "every patient tested exactly once"
