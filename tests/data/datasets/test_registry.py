"""Every registered dataset declares what `list datasets` and DATASET.md need, and `list datasets` shows it."""

from __future__ import annotations

import json

import pytest

from sdc_bench.cli import main
from sdc_bench.core.errors import ConfigError
from sdc_bench.data.datasets import DATASETS, Dataset


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_declares_licence_citation_tasks_and_how_to_get_it(name: str) -> None:
    dataset: Dataset = DATASETS[name]
    assert dataset.name == name and dataset.title and dataset.licence and dataset.homepage
    assert dataset.citation.strip().startswith("@") and dataset.citation.strip().endswith("}")
    assert dataset.modality in ("xray", "mri", "ct")
    assert dataset.tasks and len({t.name for t in dataset.tasks}) == len(dataset.tasks)
    for task in dataset.tasks:
        assert len(task.classes) >= 2 and task.unit in ("patient", "study", "image")
        assert set(task.documented_counts) <= set(task.classes)
        assert not task.documented_counts or task.counts_source
    assert dataset.downloadable or dataset.how_to_get


def test_list_datasets_shows_licence_status_and_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "datasets", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(DATASETS)
    assert rows["spider"]["licence"] == "CC BY 4.0"
    assert "spider-degeneration" in rows["spider"]["tasks"]
    assert main(["list", "datasets"]) == 0
    assert "spider" in capsys.readouterr().out


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'spyder'; known: .*spider"):
        DATASETS["spyder"]
