"""The report reads the Optuna storage run.json names, not only ``optuna.db``: a run that searched in a
JournalStorage file (several local workers) reports its search too."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from sdc_bench.core.contracts import format_cell_id
from sdc_bench.core.run_manifest import RunManifest, example_payload
from sdc_bench.core.store import RunStore
from sdc_bench.reports.build import build_reports
from sdc_bench.reports.loaders import run_storage_url
from sdc_bench.reports.optuna_trials import load_optuna_trials
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

JOURNAL = "optuna-journal.log"


def _journal_study(path: Path, n_trials: int = 3) -> None:
    """A small study in a JournalStorage file, named like a cell's study."""
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(
        storage=storage,
        study_name=f"run-1/{format_cell_id('sdc_dl', 'resnet18', 0, 1)}",
        direction="maximize",
    )
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-2, log=True), n_trials=n_trials)


def _run_folder(root: Path, storage: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    manifest = RunManifest.from_json({**example_payload(), "run_id": "run-1", "storage": storage})
    RunStore(root).write_manifest(manifest)
    return root


@pytest.mark.parametrize("spec", ["{root}/optuna-journal.log", "journal:{root}/optuna-journal.log"])
def test_trials_come_from_the_journal_run_json_names(tmp_path: Path, spec: str) -> None:
    root = _run_folder(tmp_path / "run", spec.format(root=tmp_path / "run"))
    _journal_study(root / JOURNAL)
    assert run_storage_url(root) == f"journal:{(root / JOURNAL).resolve()}"
    trials = load_optuna_trials(root)
    assert len(trials) == 3 and set(trials["state"]) == {"COMPLETE"}
    assert (trials["method"].iloc[0], trials["backbone"].iloc[0], trials["outer_fold"].iloc[0]) == (
        "sdc_dl",
        "resnet18",
        1,
    )
    assert trials.equals(load_optuna_trials(root / JOURNAL))


def test_a_moved_run_folder_finds_its_journal_by_name(tmp_path: Path) -> None:
    """run.json keeps the path the run was given; after a move the file is looked up in the run folder."""
    _run_folder(tmp_path / "before", str(tmp_path / "before" / JOURNAL))
    _journal_study(tmp_path / "before" / JOURNAL, n_trials=2)
    moved = Path(shutil.move(tmp_path / "before", tmp_path / "after"))
    assert run_storage_url(moved) == f"journal:{(moved / JOURNAL).resolve()}"
    assert len(load_optuna_trials(moved)) == 2


def test_default_storage_is_optuna_db_in_the_run_folder(tmp_path: Path) -> None:
    root = _run_folder(tmp_path / "run", None)
    assert run_storage_url(root) == f"sqlite:///{(root / 'optuna.db').resolve()}"


def test_the_report_shows_a_journal_search(tmp_path: Path) -> None:
    root = make_synthetic_run(
        tmp_path / "run",
        SyntheticRun(
            methods=("sdc_dl", "scratch"),
            backbones=("resnet18",),
            n_folds=2,
            n_patients=30,
            external=False,
            throughput=False,
            optuna=False,
            extra={"storage": str(tmp_path / "run" / JOURNAL)},
        ),
    )
    _journal_study(root / JOURNAL)
    build_reports(root, n_bootstrap=20, seed=0, draw_figures=False)
    search = pd.read_csv(root / "tables" / "search.csv")
    assert not search.empty
    assert "Skipped: no `optuna.db`" not in (root / "report.md").read_text()
