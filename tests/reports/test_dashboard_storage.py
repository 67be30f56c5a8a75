"""optuna-dashboard can read every Optuna storage a run writes (README: "Compare, publish, watch").

The dashboard opens ``sqlite:///RUN/optuna.db`` with :class:`optuna.storages.RDBStorage`, a journal file
(``RUN/optuna-journal.log``) with :class:`optuna.storages.JournalStorage` over a
:class:`~optuna.storages.journal.JournalFileBackend`, and a PostgreSQL URL with ``RDBStorage``; then it
lists the studies and loads each with :func:`optuna.load_study`. A study is written here the way a run
writes it (:func:`~sdc_bench.core.optuna_storage.open_storage` with the run's storage URL) and read back
the dashboard's way, so a change of storage layout cannot silently break watching a search live.
optuna-dashboard itself is the optional extra ``[dashboard]``; it is not needed for this test.
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from sdc_bench.core.optuna_storage import DEFAULT_STORAGE_FILE, close_storage, open_storage, storage_url

STUDY = "smoke/sdc_dl__tf_efficientnet_lite0__s0__f0"


def _write_study(url: str, name: str = STUDY) -> None:
    """Three trials with learning curves, one pruned, as a run's search leaves them."""
    storage = open_storage(url)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    for number in range(3):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)})
        for epoch in range(1, 3):
            trial.report(0.5 + 0.1 * number + 0.01 * epoch, epoch)
        if number == 2:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, 0.6 + 0.1 * number)
    close_storage(storage)


def _read_like_the_dashboard(storage: optuna.storages.BaseStorage, name: str = STUDY) -> None:
    summaries = optuna.get_all_study_summaries(storage)
    assert name in [s.study_name for s in summaries]
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert trials[1].intermediate_values == {1: pytest.approx(0.61), 2: pytest.approx(0.62)}
    assert study.best_value == pytest.approx(0.7) and "lr" in study.best_params


def test_the_dashboard_reads_a_runs_sqlite_storage(tmp_path: Path) -> None:
    url = storage_url(None, tmp_path)  # no --storage: optuna.db in the run folder
    assert url == f"sqlite:///{tmp_path / DEFAULT_STORAGE_FILE}"
    _write_study(url)
    storage = RDBStorage(url)  # what `optuna-dashboard sqlite:///RUN/optuna.db` opens
    _read_like_the_dashboard(storage)
    storage.engine.dispose()


def test_the_dashboard_reads_a_runs_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "optuna-journal.log"
    _write_study(storage_url(str(path), tmp_path))  # --workers N / --storage RUN/optuna-journal.log
    _read_like_the_dashboard(
        JournalStorage(JournalFileBackend(str(path)))
    )  # `optuna-dashboard RUN/optuna-journal.log`


def test_the_dashboard_reads_a_runs_postgresql_storage() -> None:
    url = os.environ.get("SDC_BENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("set SDC_BENCH_TEST_POSTGRES=postgresql://USER@HOST/DB to test a PostgreSQL storage")
    pytest.importorskip("psycopg", reason="install the postgres extra")
    name = f"dashboard-test/{os.getpid()}"
    _write_study(url, name)
    storage = RDBStorage(url)
    try:
        _read_like_the_dashboard(storage, name)
    finally:
        optuna.delete_study(study_name=name, storage=storage)
        storage.engine.dispose()
