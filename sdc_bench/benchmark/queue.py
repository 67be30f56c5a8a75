"""Cells as a work queue on Optuna storage, so workers on one or many machines share a run.

Each cell is an enqueued trial of a coordination study (``__cells__``). A worker claims one by letting
Optuna pop a WAITING trial (an atomic state change in the storage), runs it inside ``study.optimize`` so
the RDB storage's heartbeat covers it, and marks it COMPLETE. When a worker dies, its claim's heartbeat
goes stale, the next worker fails it and ``RetryHeartbeatStaleTrialCallback`` re-enqueues the same cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.storages import BaseStorage
from optuna.trial import Trial, TrialState

from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.trial_guard import TrialGuard

__all__ = ["init_queue", "queue_counts", "queue_name", "work_queue"]

QUEUE_SUFFIX = "__cells__"


def queue_name(run_id: str) -> str:
    return f"{run_id}/{QUEUE_SUFFIX}"


class _QueueEmpty(Exception):
    """Optuna handed out a fresh trial: nothing is left to claim."""


def init_queue(
    storage: BaseStorage, run_id: str, cells: Sequence[Cell], done: Callable[[Cell], bool]
) -> None:
    """Enqueue every cell that is neither done nor already waiting or claimed.

    Idempotent, and on a resumed run it re-queues the cells of workers that failed.
    """
    study = optuna.create_study(study_name=queue_name(run_id), storage=storage, load_if_exists=True)
    live = {
        trial.system_attrs.get("fixed_params", trial.params).get("cell_index")
        for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
    }
    for index, cell in enumerate(cells):
        if not done(cell) and index not in live:
            study.enqueue_trial({"cell_index": index}, user_attrs={"cell_id": cell.cell_id})
    study.set_user_attr("n_cells", len(cells))


def queue_counts(storage: BaseStorage, run_id: str) -> dict[str, int]:
    study = optuna.load_study(study_name=queue_name(run_id), storage=storage)
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return counts


def work_queue(
    storage: BaseStorage, run_id: str, cells: Sequence[Cell], handle: Callable[[Cell], None]
) -> int:
    """Claim and run cells until none is waiting; returns how many this worker ran."""
    study = optuna.load_study(study_name=queue_name(run_id), storage=storage)
    ran = 0

    def claim(trial: Trial) -> float:
        nonlocal ran
        frozen = storage.get_trial(trial._trial_id)
        if "fixed_params" not in frozen.system_attrs and "cell_index" not in frozen.params:
            trial.set_user_attr("spurious", "queue was empty when claimed")
            raise _QueueEmpty
        index = trial.suggest_int("cell_index", 0, len(cells) - 1)
        handle(cells[index])
        ran += 1
        return 0.0

    # a cell's error (a user's mistake, a Ctrl-C) fails its claim and is raised here, without Optuna's traceback
    guard = TrialGuard(passthrough=(_QueueEmpty,))
    while True:
        optuna.storages.fail_stale_trials(study)  # re-queues cells of dead workers (heartbeat storages)
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return ran
        with guard.quiet():
            study.optimize(guard.wrap(claim), n_trials=1, catch=(_QueueEmpty, *guard.catch))
        guard.reraise()
