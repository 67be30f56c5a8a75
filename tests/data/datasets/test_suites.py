"""Suites per dataset task: each reads ``dataset:NAME/TASK``, and spider-degeneration runs end to end on a miniature."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.data.datasets import DATASETS, converted_folder, resolve_dataset_source
from tests.data.datasets.layouts import write_spider

TASKS = [(name, task.name) for name in DATASETS for task in DATASETS[name].tasks]


@pytest.mark.parametrize(("name", "task"), TASKS)
def test_every_task_has_a_quick_and_a_full_suite(name: str, task: str) -> None:
    from sdc_bench.benchmark.suite import load_suite

    dataset = DATASETS[name]
    for variant in (f"{name}-{task}", f"{name}-{task}-full"):
        suite = load_suite(variant)
        assert suite.data.source == f"dataset:{name}/{task}"
        assert suite.data.classes == dataset.task(task).classes
        assert suite.data.size == "auto"
        assert suite.data.slices == (3 if dataset.modality == "mri" else 1)
    assert load_suite(f"{name}-{task}-full").protocol.outer_folds == 5


def test_a_task_not_converted_yet_says_which_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SDC_BENCH_CACHE", str(tmp_path / "cache"))
    assert main(["run", "--suite", "vindr-abnormal", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "vindr-abnormal is not converted yet" in error and "\n" not in error
    assert "run `sdc-bench data get vindr --task abnormal --from YOUR_COPY` first" in error
    assert not (tmp_path / "run").exists()


def test_a_bad_dataset_source_names_the_form() -> None:
    from sdc_bench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="write dataset:NAME/TASK"):
        resolve_dataset_source("dataset:spider/degeneration/extra")
    with pytest.raises(ConfigError, match="has no task 'pfirrmann'"):
        resolve_dataset_source("dataset:spider/pfirrmann")


def test_spider_degeneration_quick_suite_runs_on_the_miniature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data get spider --task degeneration (into the cache), then run --suite spider-degeneration, 2.5D MetaImage."""
    pytest.importorskip("SimpleITK")
    cache = tmp_path / "cache"
    monkeypatch.setenv("SDC_BENCH_CACHE", str(cache))
    grades = {str(p): [(5 if p % 2 else 2, 0, 0)] for p in range(1, 17)}  # 8 severe, 8 mild patients
    copy = write_spider(tmp_path / "copy", grades)
    assert main(["data", "get", "spider", "--task", "degeneration", "--from", str(copy), "--quiet"]) == 0
    dataset = DATASETS["spider"]
    manifest_path = converted_folder(cache, dataset, dataset.task("degeneration")) / "manifest.csv"
    assert manifest_path.is_file()
    out = tmp_path / "run"
    shrink = ['methods=["classical"]', "data.size=16", "throughput.enabled=false"]
    code = main(
        ["run", "--suite", "spider-degeneration", "--out", str(out), "--quiet"]
        + [arg for item in shrink for arg in ("--set", item)]
    )
    assert code == 0
    assert set(pd.read_csv(out / "metrics.csv")["method"]) == {"classical"}
    run = json.loads((out / "run.json").read_text())
    assert (
        run["suite"]["data"]["slices"] == 3
        and run["suite"]["data"]["source"] == "dataset:spider/degeneration"
    )
    patient_of = dict(pd.read_csv(manifest_path, dtype=str).set_index("sample_id")["patient_id"])
    tested: list[str] = []
    for fold in json.loads((out / "splits.json").read_text())["folds"]:
        train = {patient_of[sample] for sample in fold["train"]}
        test = {patient_of[sample] for sample in fold["test"]}
        assert not train & test
        tested += sorted(test)
    assert sorted(tested) == sorted(grades)
