"""The sweep: nested search that never sees test patients, SIGKILL + resume, workers on Journal and PostgreSQL."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.optuna_storage import open_storage, storage_url

SEARCH_SUITE = """
description = "test: tiny run with a pruned search"
seed = 11
methods = ["sdc_dl", "classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 96
classes = ["normal", "scoliosis", "spondylolisthesis"]
prevalence = [0.4, 0.3, 0.3]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2

[train]
batch_size = 16
max_epochs = 2
device = "cpu"

[search]
n_trials = 3
n_startup_trials = 2
pruner = "hyperband"

[params.sdc_dl]
head_epochs = 1
epochs = 1
"""


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "search.toml"
    path.write_text(SEARCH_SUITE)
    return path


@pytest.fixture(scope="module")
def reference_run(suite_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "reference"
    assert main(["run", "--suite", str(suite_file), "--out", str(out), "--quiet"]) == 0
    return out


def _studies(run_dir: Path, url: str | None = None) -> dict[str, optuna.Study]:
    storage = open_storage(url or storage_url(None, run_dir))
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    return {
        n.split("/", 1)[1]: optuna.load_study(study_name=n, storage=storage)
        for n in names
        if n.startswith(f"{run_id}/")
    }


def _predictions(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run_dir / "predictions.parquet").drop(columns="run_id")
    return frame.sort_values(["method", "backbone", "outer_fold", "sample_id"]).reset_index(drop=True)


def test_no_test_patient_is_ever_in_a_cells_study(reference_run: Path) -> None:
    splits = json.loads((reference_run / "splits.json").read_text())["folds"]
    manifest = pd.read_parquet(reference_run / "manifest.parquet").set_index("sample_id")
    studies = _studies(reference_run)
    cell_studies = {k: v for k, v in studies.items() if not k.startswith("__")}
    assert len(cell_studies) == 4  # 2 methods x 2 folds
    for cell_id, study in cell_studies.items():
        fold = splits[study.user_attrs["outer_fold"]]
        searched = study.user_attrs["fit_sample_ids"] + study.user_attrs["val_sample_ids"]
        test_patients = set(manifest.loc[fold["test"], "patient_id"])
        assert not set(manifest.loc[searched, "patient_id"]) & test_patients, cell_id
        assert set(searched) <= set(fold["train"])
        finished = [
            t
            for t in study.trials
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        ]
        assert len(finished) == 3


def test_cnn_trials_report_every_epoch_and_search_is_recorded(reference_run: Path) -> None:
    studies = _studies(reference_run)
    sdc = [s for k, s in studies.items() if k.startswith("sdc_dl")]
    for study in sdc:
        for trial in study.trials:
            assert trial.intermediate_values, "no trial.report per epoch"
            assert set(trial.params) >= {"lr", "weight_decay"}
            # the suite fixes epochs and head_epochs ([params.sdc_dl]): the search does not touch them
            assert not set(trial.params) & {"epochs", "head_epochs"}
    info = json.loads(
        (reference_run / "cells" / "sdc_dl__tf_efficientnet_lite0__seed11__fold0.json").read_text()
    )
    assert info["search"]["n_trials"] == 3
    assert info["params"]["lr"] == pytest.approx(info["search"]["best_params"]["lr"])
    # epochs = 1 is below the method's minimum of 3, and max_epochs = 2 caps that
    assert info["refit_epochs_rule"] == "min_epochs" and info["params"]["epochs"] == 2
    assert [r["stage"] for r in info["history"]] == ["head", "finetune", "finetune"]
    # the refit has no validation split; the best trial's curve is kept for the learning-curve figure
    assert all(math.isnan(r["val_loss"]) for r in info["history"])
    best = studies["sdc_dl__tf_efficientnet_lite0__seed11__fold0"].trials[info["search"]["best_trial"]]
    curve = info["search"]["best_history"]
    # trials report fine-tuning epochs from 1; the head warm-up is in the curve but not judged
    tuned = [r for r in curve if r["stage"] != "head"]
    assert list(range(1, len(tuned) + 1)) == sorted(best.intermediate_values)
    assert [r["val_balanced_accuracy"] for r in tuned] == list(best.intermediate_values.values())
    assert all(math.isfinite(r["val_loss"]) for r in curve)


def _run_subprocess(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sdc_bench", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_sweep_then_resume_matches_an_uninterrupted_run(
    reference_run: Path, suite_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    process = _run_subprocess(["run", "--suite", str(suite_file), "--out", str(out), "--quiet"], tmp_path)
    # kill in the middle of a search: after the first cell, once a trial of the next one has finished
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        cells = list((out / "cells").glob("*.parquet")) if (out / "cells").exists() else []
        if cells and (out / "optuna.db").exists():
            studies = _studies(out) if (out / "run.json").exists() else {}
            running = [
                s
                for k, s in studies.items()
                if not (out / "cells" / f"{k}.parquet").exists() and len(s.trials) >= 2
            ]
            if running:
                break
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.parquet")}
    assert 0 < len(done_before) < 4
    assert not (out / "predictions.parquet").exists()

    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    for name, mtime in done_before.items():
        assert (out / "cells" / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    resumed, reference = _predictions(out), _predictions(reference_run)
    assert len(resumed) == len(reference) == 2 * 96  # no row lost or duplicated
    pd.testing.assert_frame_equal(resumed, reference)
    assert (out / "metrics.csv").read_bytes() == (reference_run / "metrics.csv").read_bytes()


def _assert_every_cell_once(run_dir: Path, url: str) -> None:
    studies = _studies(run_dir, url)
    queue = studies["__cells__"]
    claims = [t for t in queue.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["cell_index"] for t in claims) == [0, 1, 2, 3]
    log = (run_dir / "log.txt").read_text()
    for cell_id in ("sdc_dl__tf_efficientnet_lite0__seed11__fold0", "classical__hog_hist__seed11__fold1"):
        assert log.count(f"{cell_id}: accuracy") == 1
    for name, study in studies.items():
        if not name.startswith("__"):
            finished = [t for t in study.trials if t.state.is_finished()]
            assert len(finished) == 3, name
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    assert not predictions.duplicated(["method", "backbone", "sample_id"]).any()
    assert len(predictions) == 2 * 96


def test_two_workers_share_a_journal_storage(suite_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "journal"
    assert main(["run", "--suite", str(suite_file), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    url = storage_url(str(out / "optuna-journal.log"), out)
    _assert_every_cell_once(out, url)
    workers = {json.loads(p.read_text())["worker"] for p in (out / "cells").glob("*.json")}
    assert len(workers) == 2, workers  # both processes did cells


def _postgres_url() -> str | None:
    url = os.environ.get("SDC_BENCH_TEST_POSTGRES")
    if url:
        return url
    script = Path(__file__).resolve().parents[2] / ".ci" / "postgres.sh"
    try:
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (
        result.stdout.strip().splitlines()[-1] if result.returncode == 0 and result.stdout.strip() else None
    )


@pytest.fixture(scope="module")
def postgres_url() -> str:
    pytest.importorskip("psycopg", reason="install the postgres extra")
    url = _postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL: .ci/postgres.sh could not start a server")
        pytest.skip("no local PostgreSQL server could be started (.ci/postgres.sh failed)")
    return url


@pytest.mark.postgres
def test_two_workers_on_postgresql(suite_file: Path, tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url
    out = tmp_path / "pg"
    assert (
        main(
            [
                "run",
                "--suite",
                str(suite_file),
                "--out",
                str(out),
                "--storage",
                url,
                "--workers",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    _assert_every_cell_once(out, url)


def test_two_runs_with_one_seed_search_and_predict_alike(
    reference_run: Path, suite_file: Path, tmp_path: Path
) -> None:
    """Runs get distinct ids (they may share a database), yet the same seed gives the same search."""
    again = tmp_path / "again"
    assert main(["run", "--suite", str(suite_file), "--out", str(again), "--quiet"]) == 0
    first, second = _studies(reference_run), _studies(again)
    for name, study in first.items():
        assert [t.state for t in study.trials] == [t.state for t in second[name].trials], name
        assert [t.params for t in study.trials] == [t.params for t in second[name].trials], name
    pd.testing.assert_frame_equal(_predictions(again), _predictions(reference_run))


def test_queue_requeues_the_cells_of_failed_workers(tmp_path: Path) -> None:
    from sdc_bench.benchmark.plan import Cell
    from sdc_bench.benchmark.queue import init_queue, queue_counts, queue_name

    storage = open_storage(storage_url(str(tmp_path / "q.log"), tmp_path))
    cells = [Cell("sdc_dl", "b", fold, fold, "a", "i") for fold in range(3)]
    init_queue(storage, "run", cells, lambda cell: False)
    init_queue(storage, "run", cells, lambda cell: False)  # idempotent
    assert queue_counts(storage, "run")["waiting"] == 3
    study = optuna.load_study(study_name=queue_name("run"), storage=storage)
    claim = study.ask()
    claim.suggest_int("cell_index", 0, 2)
    study.tell(claim, state=optuna.trial.TrialState.FAIL)  # a worker died with an error in its cell
    assert queue_counts(storage, "run")["waiting"] == 2
    init_queue(storage, "run", cells, lambda cell: False)  # resume: the failed cell goes back in the queue
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sorted(t.system_attrs["fixed_params"]["cell_index"] for t in waiting) == [0, 1, 2]
    init_queue(storage, "run", cells, lambda cell: False)  # waiting cells are not queued twice
    assert queue_counts(storage, "run")["waiting"] == 3


_CLAIM_AND_HANG = """
import pathlib, sys, time
from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.queue import work_queue
from sdc_bench.core.optuna_storage import open_storage

marker, url, run_id = sys.argv[1:4]
cells = [Cell("sdc_dl", "b", fold, fold, "a", "i") for fold in range(3)]

def hang(cell):
    pathlib.Path(marker).write_text(cell.cell_id)
    time.sleep(600)

work_queue(open_storage(url), run_id, cells, hang)
"""


@pytest.mark.postgres
def test_a_killed_workers_cell_is_requeued_by_its_heartbeat(tmp_path: Path, postgres_url: str) -> None:
    """SIGKILL a worker holding a cell: once its heartbeat is stale another worker runs that cell."""
    import uuid

    from sdc_bench.benchmark.plan import Cell
    from sdc_bench.benchmark.queue import init_queue, queue_counts, queue_name, work_queue

    run_id = f"killed-worker-{uuid.uuid4().hex[:8]}"  # the test database outlives test runs
    storage = open_storage(postgres_url)
    cells = [Cell("sdc_dl", "b", fold, fold, "a", "i") for fold in range(3)]
    init_queue(storage, run_id, cells, lambda cell: False)
    marker = tmp_path / "claimed"
    worker = subprocess.Popen(
        [sys.executable, "-c", _CLAIM_AND_HANG, str(marker), postgres_url, run_id], stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while not marker.exists() and worker.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), worker.stderr.read().decode() if worker.poll() is not None else "no claim"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    killed = marker.read_text()
    assert queue_counts(storage, run_id)["running"] == 1

    # the run's own loop: keep working until every cell is done (the dead claim goes stale after 20 s)
    handled: list[str] = []
    started = time.time()
    while len(handled) < len(cells) and time.time() - started < 90:
        work_queue(storage, run_id, cells, lambda cell: handled.append(cell.cell_id))
        time.sleep(1.0)
    waited = time.time() - started
    assert sorted(handled) == sorted(c.cell_id for c in cells)  # each cell exactly once here
    assert handled[-1] == killed  # the others first; the dead worker's cell after its grace period
    assert waited >= 15, f"the claim was taken back after {waited:.0f} s, before its heartbeat went stale"
    counts = queue_counts(storage, run_id)
    assert (counts["complete"], counts["fail"], counts["running"], counts["waiting"]) == (3, 1, 0, 0)
    queue = optuna.load_study(study_name=queue_name(run_id), storage=storage)
    retried = [
        t
        for t in queue.trials
        if t.state == optuna.trial.TrialState.COMPLETE and "failed_trial" in t.system_attrs
    ]
    assert len(retried) == 1 and cells[retried[0].params["cell_index"]].cell_id == killed
