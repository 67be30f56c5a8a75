"""Optuna under the outer folds: storage by scale, seeded samplers, pruners, and one study per cell.

Storage by scale (SQLite, a JournalStorage file, PostgreSQL) is opened by :mod:`sdc_bench.core.optuna_storage`,
which the report shares to read the studies back.

Reproducibility across kills: trial *k* of a cell always samples with a seed derived from the cell seed
and *k* (the number of finished trials before it), and a study that holds an interrupted trial is
rebuilt from its finished trials before continuing, so a resumed search proposes exactly what an
uninterrupted one would have.
"""

from __future__ import annotations

import binascii
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna
from optuna.storages import (
    BaseStorage,
)
from optuna.trial import FrozenTrial, Trial, TrialState

from sdc_bench.benchmark.suite import OBJECTIVES, PRUNERS, SAMPLERS, SearchSpec
from sdc_bench.benchmark.trial_guard import TrialGuard
from sdc_bench.core.determinism import derive_seed
from sdc_bench.core.errors import ConfigError

__all__ = [
    "FINISHED",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "SearchOutcome",
    "make_pruner",
    "make_sampler",
    "search",
]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
optuna.logging.set_verbosity(optuna.logging.WARNING)
# heartbeats and stale-trial retry are "experimental" in Optuna since 2.8; they are what we rely on
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_sampler(spec: SearchSpec, seed: int) -> optuna.samplers.BaseSampler:
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=spec.n_startup_trials)


class _KeyedHyperbandPruner(optuna.pruners.HyperbandPruner):
    """Hyperband whose bracket of a trial depends on a stable key, not on the study's name.

    Optuna hashes ``study_name`` and the trial number to pick the bracket; our study names carry a
    per-run id, which would make pruning (and so results) differ between two runs with the same seed.
    """

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    def _get_bracket_id(self, study: optuna.study.Study, trial: FrozenTrial) -> int:
        if len(self._pruners) == 0:
            return 0
        assert self._n_brackets is not None
        n = binascii.crc32(f"{self._key}_{trial.number}".encode()) % self._total_trial_allocation_budget
        for bracket_id in range(self._n_brackets):
            n -= self._trial_allocation_budgets[bracket_id]
            if n < 0:
                return bracket_id
        raise AssertionError("unreachable: budgets sum to the total")


def make_pruner(spec: SearchSpec, max_epochs: int, key: str = "") -> optuna.pruners.BasePruner:
    """``key`` (the cell id) fixes Hyperband's bracket assignment independently of the run."""
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    return _KeyedHyperbandPruner(key, min_resource=1, max_resource=max(2, max_epochs), reduction_factor=3)


@dataclass(frozen=True)
class SearchOutcome:
    best_params: dict[str, Any]
    best_value: float
    best_epoch: int
    n_trials: int
    n_pruned: int
    epochs_trained: int  # epochs reported over all trials of the cell (no warm-up epochs): what pruning saves
    best_trial: int = -1
    # the best trial's per-epoch records (inner validation), as the objective stored them
    best_history: list[dict[str, Any]] = field(default_factory=list)


Objective = Callable[[Trial, dict[str, Any]], tuple[float, int]]  # (trial, params) -> (score, best_epoch)


def _rebuild_without_interrupted(
    storage: BaseStorage, name: str, direction: Literal["maximize", "minimize"]
) -> None:
    """Drop RUNNING/FAIL/WAITING trials left by a killed process, keeping finished ones in order."""
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=True)
    if all(t.state in FINISHED for t in trials):
        return
    keep = [t for t in trials if t.state in FINISHED]
    attrs = dict(study.user_attrs)
    optuna.delete_study(study_name=name, storage=storage)
    fresh = optuna.create_study(study_name=name, storage=storage, direction=direction)
    for key, value in attrs.items():
        fresh.set_user_attr(key, value)
    fresh.add_trials(keep)


def search(
    name: str,
    storage: BaseStorage,
    spec: SearchSpec,
    seed: int,
    max_epochs: int,
    suggest: Callable[[Trial], dict[str, Any]],
    objective: Objective,
    *,
    user_attrs: dict[str, Any] | None = None,
    exclusive: bool = True,
    first_trial: dict[str, Any] | None = None,
) -> SearchOutcome:
    """Run (or finish) the study ``name`` up to ``spec.n_trials`` finished trials and return its best.

    ``exclusive``: this process alone works on the study (true except for shared multi-worker studies),
    which allows the rebuild that makes resumed searches reproducible.
    ``first_trial``: parameters tried first (the method's defaults), so a search never ends below them.
    """
    direction: Literal["maximize"] = "maximize"
    try:
        if exclusive:
            _rebuild_without_interrupted(storage, name, direction)
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        study = optuna.create_study(
            study_name=name, storage=storage, direction=direction, load_if_exists=True
        )
    for key, value in (user_attrs or {}).items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    study.pruner = make_pruner(spec, max_epochs, key=name.rsplit("/", 1)[-1])
    if first_trial and not study.get_trials(deepcopy=False):
        study.enqueue_trial(first_trial, skip_if_exists=True)

    def run_trial(trial: Trial) -> float:
        params = suggest(trial)
        score, best_epoch = objective(trial, params)
        trial.set_user_attr("best_epoch", best_epoch)
        return score

    # a trial's error (a user's mistake, a Ctrl-C, a bug) fails the trial and is raised here as it was,
    # without Optuna's "Trial N failed" traceback in the log
    guard = TrialGuard()
    while True:
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        if finished >= spec.n_trials:
            break
        study.sampler = make_sampler(spec, derive_seed(seed, "trial", finished))
        with guard.quiet():
            study.optimize(guard.wrap(run_trial), n_trials=1, catch=guard.catch)
        guard.reraise()
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    complete = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and t.value is not None and not math.isnan(t.value)
    ]
    if not complete:
        raise ConfigError(
            f"study {name}: every trial was pruned or failed; raise search.n_trials or use pruner = 'none'"
        )
    best: FrozenTrial = max(complete, key=lambda t: (t.value, -t.number))
    epochs = sum(len(t.intermediate_values) for t in trials)
    return SearchOutcome(
        best_params=dict(best.params),
        best_value=float(best.value),  # type: ignore[arg-type]
        best_epoch=int(best.user_attrs.get("best_epoch", 0)),
        n_trials=len(trials),
        n_pruned=sum(t.state == TrialState.PRUNED for t in trials),
        epochs_trained=epochs,
        best_trial=best.number,
        best_history=list(best.user_attrs.get("history", [])),
    )
