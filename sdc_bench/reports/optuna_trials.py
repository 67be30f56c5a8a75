"""Reads the trials and hyperparameter importances of every Optuna study in a storage.

A storage is named by a run folder (its storage as ``run.json`` records it), a storage file or a
storage URL; study names are cell ids (:func:`sdc_bench.core.contracts.parse_cell_id`), which give
each trial its method, backbone, protocol seed and outer fold.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from sdc_bench.core.contracts import parse_cell_id
from sdc_bench.core.optuna_storage import close_storage, open_storage, storage_url
from sdc_bench.reports.loaders import run_storage_url

__all__ = ["load_optuna_importances", "load_optuna_trials"]

_log = logging.getLogger(__name__)
_IMPORTANCE_COLUMNS = ["study", "method", "backbone", "outer_fold", "param", "importance"]


def _study_key(name: str) -> tuple[str, str, int, int]:
    """``[<run_id>/]<cell_id>`` -> (method, backbone, protocol seed, outer fold); other names -> (name, '', -1, 0)."""
    key = parse_cell_id(name)
    if key is None:
        return name, "", -1, 0
    return key.method, key.backbone, key.repeat_seed, key.outer_fold


def _storage_url(storage: str | Path) -> str:
    """A run folder, a storage file (``.log``: journal, else SQLite) or a storage URL -> a storage URL."""
    if isinstance(storage, str) and ("://" in storage or storage.startswith("journal:")):
        return storage
    path = Path(storage)
    if path.is_dir():
        return run_storage_url(path)
    return storage_url(str(path), path.parent) if path.suffix == ".log" else f"sqlite:///{path.resolve()}"


def load_optuna_trials(storage: str | Path) -> pd.DataFrame:
    """One row per trial of every study in an Optuna storage.

    Parameters
    ----------
    storage : str or Path
        A run folder (its storage as ``run.json`` names it), an ``optuna.db`` SQLite file, a
        JournalStorage ``.log`` file, or a storage URL (``sqlite:///``, ``journal:``, ``postgresql://``).

    Returns
    -------
    pandas.DataFrame
        ``study``, ``method``, ``backbone``, ``seed`` (protocol seed; -1 in older runs),
        ``outer_fold``, ``number``, ``state``,
        ``value``, ``last_intermediate`` (last reported value, for pruned trials),
        ``n_intermediate`` and one ``param_<name>`` column per parameter.
    """
    import optuna

    opened = open_storage(_storage_url(storage), create=False)
    records = []
    try:
        # Names only: get_all_study_summaries would read every study's trials to count them.
        for name in sorted(optuna.get_all_study_names(opened)):
            method, backbone, repeat, fold = _study_key(name)
            study = optuna.load_study(study_name=name, storage=opened)
            for trial in study.get_trials(deepcopy=False):
                steps = sorted(trial.intermediate_values)
                records.append(
                    {
                        "study": name,
                        "method": method,
                        "backbone": backbone,
                        "seed": repeat,
                        "outer_fold": fold,
                        "number": trial.number,
                        "state": trial.state.name,
                        "value": trial.value if trial.value is not None else math.nan,
                        "last_intermediate": trial.intermediate_values[steps[-1]] if steps else math.nan,
                        "n_intermediate": len(steps),
                        **{f"param_{k}": v for k, v in sorted(trial.params.items())},
                    }
                )
    finally:
        close_storage(opened)
    return pd.DataFrame.from_records(records)


def load_optuna_importances(
    storage: str | Path, *, seed: int = 0, n_trees: int = 16, studies: Collection[str] | None = None
) -> pd.DataFrame:
    """Hyperparameter importances of every study (fANOVA, seeded, so the same on every build).

    ``storage`` is what :func:`load_optuna_trials` takes; ``studies`` (names), when given, the only studies
    evaluated (a full suite has 320, each fANOVA fit costs about as much as drawing a figure).

    Studies with fewer than two complete trials or no varying parameter are skipped.

    Returns
    -------
    pandas.DataFrame
        ``study``, ``method``, ``backbone``, ``outer_fold``, ``param``, ``importance``.
    """
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    opened = open_storage(_storage_url(storage), create=False)
    records = []
    try:
        # Names only: get_all_study_summaries would read every study's trials to count them.
        for name in sorted(optuna.get_all_study_names(opened)):
            if studies is not None and name not in studies:
                continue
            study = optuna.load_study(study_name=name, storage=opened)
            complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if len(complete) < 2:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    importances = get_param_importances(
                        study, evaluator=FanovaImportanceEvaluator(n_trees=n_trees, seed=seed)
                    )
            except (ValueError, RuntimeError) as error:  # e.g. a single-valued search space
                _log.info("no importances for %s: %s", name, error)
                continue
            method, backbone, _, fold = _study_key(name)
            records += [
                {
                    "study": name,
                    "method": method,
                    "backbone": backbone,
                    "outer_fold": fold,
                    "param": p,
                    "importance": float(v),
                }
                for p, v in sorted(importances.items())
            ]
    finally:
        close_storage(opened)
    return pd.DataFrame.from_records(records, columns=_IMPORTANCE_COLUMNS)
