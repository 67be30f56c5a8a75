"""One cell: (optional) Optuna search on the outer-training patients, refit, predict the outer-test fold.

The search sees only the cell's inner split of its outer-training samples; the outer-test samples reach
nothing but the final ``predict``. The inner sample ids are stored on the study and in the cell record,
so the separation can be checked afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from sdc_bench.benchmark.faults import active_faults, shuffle_labels
from sdc_bench.benchmark.fit import ArraySet, EpochRecord
from sdc_bench.benchmark.keep import keep_cell_model
from sdc_bench.benchmark.kinds import FitRequest, Fitted, MethodKind, kind_of
from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.suite import Suite
from sdc_bench.benchmark.sweep import search
from sdc_bench.core.contracts import OOF_SPLIT, PREDICTION_COLUMNS, probability_column
from sdc_bench.core.decision import OperatingPoint, apply_decision, choose_threshold
from sdc_bench.core.determinism import derive_seed, seed_everything
from sdc_bench.core.optuna_storage import open_storage
from sdc_bench.core.store import RunStore
from sdc_bench.data.prepare import PreparedData
from sdc_bench.data.splits import Fold, assert_patient_disjoint, inner_split
from sdc_bench.zoo.methods import METHODS, Method
from sdc_bench.zoo.weights import WeightsFile

__all__ = ["CellContext", "predictions_frame", "run_cell", "study_name"]


def study_name(run_id: str, cell_id: str) -> str:
    """Optuna study of a cell; prefixed by the run so runs can share one database."""
    return f"{run_id}/{cell_id}"


@dataclass(frozen=True)
class CellContext:
    """What every cell of a run shares."""

    suite: Suite
    data: PreparedData
    folds: list[Fold]
    run_id: str
    device: str
    storage_url: str
    progress: bool = False
    weights_dir: Path | None = None
    weights_files: tuple[WeightsFile, ...] = ()  # --weights-file entries, one per backbone
    external: dict[str, PreparedData] | None = (
        None  # external validation sets, predicted by every final model
    )
    folds_by_seed: dict[int, list[Fold]] | None = None  # protocol seed -> its outer folds (repeated CV)
    keep_models: RunStore | None = None  # whose models/ keeps each final model; None: --no-models

    def fold_of(self, cell: Cell) -> Fold:
        """The outer fold of a cell, from its protocol seed's folds (``folds`` without repetitions)."""
        if self.folds_by_seed is not None and cell.repeat_seed in self.folds_by_seed:
            return self.folds_by_seed[cell.repeat_seed][cell.outer_fold]
        return self.folds[cell.outer_fold]


def predictions_frame(
    run_id: str,
    cell: Cell,
    data: PreparedData,
    rows: np.ndarray,
    proba: np.ndarray,
    split: str = OOF_SPLIT,
    point: OperatingPoint | None = None,
) -> pd.DataFrame:
    """The predictions contract (DESIGN.md): one row per image of the cell, one ``p_<class>`` per class.

    ``seed`` is the cell's protocol seed (which repetition of the cross-validation), shared by every cell
    of that repetition, so tables pair methods by (seed, outer_fold, sample_id); the cell's own derived
    seed is in its ``cells/<cell_id>.json`` record. ``y_pred`` follows the cell's decision rule ``point``
    (argmax when None or argmax); the probabilities do not depend on it.
    """
    manifest = data.manifest.iloc[rows]
    classes = np.asarray(data.classes)
    predicted = (
        classes[proba.argmax(axis=1)]
        if point is None or point.threshold is None
        else apply_decision(proba, data.classes, point)
    )
    values = {
        "run_id": run_id,
        "method": cell.method,
        "backbone": cell.backbone,
        "augment": cell.augment,
        "imbalance": cell.imbalance,
        "seed": cell.repeat_seed,
        "outer_fold": cell.outer_fold,
        "split": split,
        "sample_id": manifest["sample_id"].to_numpy(),
        "patient_id": manifest["patient_id"].astype(str).to_numpy(),
        "y_true": manifest["label"].to_numpy(),
        "y_pred": predicted,
    }
    # the contract's column order, and a contract column this frame lacks fails here, not in a report
    frame = pd.DataFrame({column: values[column] for column in PREDICTION_COLUMNS})
    for code, name in enumerate(data.classes):
        frame[probability_column(name)] = proba[:, code]
    return frame


class _Fitter:
    """Fits one parameter set of a cell's method through its kind: for the search's trials and the refit."""

    def __init__(self, cell: Cell, method: Method, ctx: CellContext) -> None:
        self.cell, self.ctx = cell, ctx
        self.kind: MethodKind = kind_of(method)
        self.method = method
        self.labels = ctx.data.labels()

    def arrays(self, rows: np.ndarray) -> ArraySet:
        return ArraySet(self.ctx.data.images[rows], self.labels[rows])

    def fit(
        self,
        params: dict[str, Any],
        train: ArraySet,
        val: ArraySet | None,
        seed: int,
        trial: optuna.Trial | None = None,
        stage: str = "fit",
    ) -> Fitted:
        """Fit ``params``; ``stage`` names the fit on the progress bar (``trial N``, ``refit``, ``fit``)."""
        ctx, faults = self.ctx, active_faults()
        method = self.kind.with_faults(self.method, faults)
        if faults.label_noise:
            train = ArraySet(train.images, shuffle_labels(train.labels, faults.label_noise, seed))
        seed_everything(seed)
        request = FitRequest(
            method=method,
            backbone=self.cell.backbone,
            params=params,
            train=train,
            val=val,
            seed=seed,
            num_classes=len(ctx.data.classes),
            in_chans=ctx.data.slices,
            img_size=ctx.data.preprocess.size,
            suite=ctx.suite,
            device=ctx.device,
            progress=ctx.progress,
            weights_dir=ctx.weights_dir,
            weights_files=ctx.weights_files,
            on_epoch=None if trial is None else _pruning_reporter(trial, _has_warmup(method)),
            label=f"{self.cell.method}/{self.cell.backbone} fold {self.cell.outer_fold} {stage}",
        )
        return self.kind.fit(request)


def _has_warmup(method: Method) -> bool:
    """A head warm-up stage precedes fine-tuning (see :func:`sdc_bench.benchmark.fit.plan_stages`)."""
    return method.staged and not method.freeze_backbone


def _pruning_reporter(trial: optuna.Trial, warmup: bool) -> Callable[[EpochRecord], None]:
    """Report each fine-tuning epoch's inner-validation score to the trial; stop it when the pruner says so.

    Head warm-up epochs are not reported: a frozen backbone scores low by design, and a pruner that
    compared trials on those epochs would prune the staged recipe before it fine-tunes. Steps count
    fine-tuning epochs from 1, so they meet the horizon of ``MethodKind.max_search_epochs``.
    """
    warmup_epochs = 0

    def report(record: EpochRecord) -> None:
        nonlocal warmup_epochs
        if warmup and record.stage == "head":
            warmup_epochs += 1
            return
        trial.report(record.val_balanced_accuracy, record.epoch - warmup_epochs)
        if trial.should_prune():
            raise optuna.TrialPruned()

    return report


class _FixedTrial:
    """A trial whose parameters named in ``fixed`` (the suite's ``[params.<method>]``) are not searched."""

    def __init__(self, trial: Any, fixed: dict[str, Any]) -> None:
        self.trial, self.fixed = trial, fixed

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        if name in self.fixed:
            return float(self.fixed[name])
        return float(self.trial.suggest_float(name, low, high, log=log))

    def suggest_int(self, name: str, low: int, high: int) -> int:
        if name in self.fixed:
            return int(self.fixed[name])
        return int(self.trial.suggest_int(name, low, high))


class _RangeRecorder:
    """A stand-in trial that records the range of each parameter a search space suggests."""

    def __init__(self) -> None:
        self.ranges: dict[str, tuple[float, float, bool]] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.ranges[name] = (low, high, False)
        return low

    def suggest_int(self, name: str, low: int, high: int) -> int:
        self.ranges[name] = (low, high, True)
        return low


def _searched_defaults(method: Method, params: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    """The method's defaults for the searched parameters, clipped into the search ranges (trial 0)."""
    recorder = _RangeRecorder()
    method.search_space(_FixedTrial(recorder, fixed), method)
    first: dict[str, Any] = {}
    for name, (low, high, integer) in recorder.ranges.items():
        if isinstance(params.get(name), int | float):
            value = min(max(params[name], low), high)
            first[name] = int(value) if integer else float(value)
    return first


@dataclass(frozen=True)
class _Split:
    """The sample ids a cell fits and validates on, and the rows of its outer-test fold."""

    fit_ids: list[str]
    val_ids: list[str]
    test_rows: np.ndarray


def _inner_split(cell: Cell, ctx: CellContext) -> _Split:
    """The cell's inner split of its outer-training patients (patient-disjoint, checked)."""
    data, fold = ctx.data, ctx.fold_of(cell)
    train_manifest = data.manifest.iloc[data.rows(fold.train)]
    fit_ids, val_ids = inner_split(train_manifest, ctx.suite.protocol.inner_val_fraction, cell.seed)
    assert_patient_disjoint(data.manifest, fit_ids, val_ids)
    assert_patient_disjoint(data.manifest, list(fold.train), list(fold.test))
    return _Split(fit_ids, val_ids, data.rows(fold.test))


def _outer_only(cell: Cell, ctx: CellContext) -> _Split:
    """A fixed recipe's split: every outer-training patient fits, none validates (patient-disjoint, checked)."""
    data, fold = ctx.data, ctx.fold_of(cell)
    assert_patient_disjoint(data.manifest, list(fold.train), list(fold.test))
    return _Split(list(fold.train), [], data.rows(fold.test))


def _search_and_refit(
    cell: Cell, ctx: CellContext, fitter: _Fitter, split: _Split, overrides: dict[str, Any]
) -> tuple[dict[str, Any], Fitted, dict[str, Any]]:
    """Optuna on the inner split, then a refit on every outer-training patient: (params, fitted, search info)."""
    method, data = fitter.method, ctx.data
    fit_set, val_set = fitter.arrays(data.rows(split.fit_ids)), fitter.arrays(data.rows(split.val_ids))

    def objective(trial: optuna.Trial, params: dict[str, Any]) -> tuple[float, int]:
        seed = derive_seed(cell.seed, "trial", trial.number)
        fitted = fitter.fit(params, fit_set, val_set, seed, trial, f"trial {trial.number}")
        trial.set_user_attr("history", fitted.history)  # the learning curve of a searched cell
        return fitted.score, fitted.best_epoch

    outcome = search(
        study_name(ctx.run_id, cell.cell_id),
        open_storage(ctx.storage_url),
        ctx.suite.search,
        cell.seed,
        fitter.kind.max_search_epochs(method, ctx.suite),
        suggest=lambda trial: method.params(
            {**overrides, **method.search_space(_FixedTrial(trial, overrides), method)}
        ),
        objective=objective,
        user_attrs={
            "fit_sample_ids": list(split.fit_ids),
            "val_sample_ids": list(split.val_ids),
            "outer_fold": cell.outer_fold,
        },
        first_trial=_searched_defaults(method, method.params(overrides), overrides),
    )
    best_params = method.params({**overrides, **outcome.best_params})
    params, rule = fitter.kind.refit_params(method, best_params, outcome.best_epoch, ctx.suite)
    # the refit sees all outer-training patients, for the epochs the kind's refit rule chose
    train_rows = data.rows(ctx.fold_of(cell).train)
    fitted = fitter.fit(params, fitter.arrays(train_rows), None, cell.seed, stage="refit")
    return params, fitted, {**asdict(outcome), "refit_epochs_rule": rule}


def _all_predictions(
    ctx: CellContext, cell: Cell, fitted: Fitted, test_rows: np.ndarray, point: OperatingPoint
) -> pd.DataFrame:
    """The outer-test fold's predictions, then those of every external set, labelled by the cell's rule."""
    proba = fitted.predict(ctx.data.images[test_rows])
    frames = [predictions_frame(ctx.run_id, cell, ctx.data, test_rows, proba, point=point)]
    for name, external in (ctx.external or {}).items():
        rows = np.arange(len(external.manifest))
        frames.append(
            predictions_frame(
                ctx.run_id,
                cell,
                external,
                rows,
                fitted.predict(external.images),
                split=f"external:{name}",
                point=point,
            )
        )
    return pd.concat(frames, ignore_index=True)


def _operating_point(
    cell: Cell,
    ctx: CellContext,
    fitter: _Fitter,
    inner: _Split | None,
    params: dict[str, Any],
    fitted: Fitted,
    fitted_on_inner: bool,
) -> tuple[OperatingPoint, list[str]]:
    """The cell's decision rule, and the inner sample ids it was chosen on (none for argmax).

    ``inner_threshold`` is chosen on predictions of the inner split's validation patients by a model that
    saw neither them nor the outer-test fold: the final model itself when it was fitted on the inner
    split's fit part (early stopping, no search); otherwise (a search's refit, a fixed recipe) one more fit
    of the final parameters on the fit part. The outer-test fold reaches nothing here.
    """
    if ctx.suite.protocol.decision != "inner_threshold":
        return OperatingPoint(), []
    assert inner is not None, "run_cell makes the inner split whenever the decision is chosen on it"
    data = ctx.data
    model = fitted
    if not fitted_on_inner:
        seed = derive_seed(cell.seed, "inner_threshold")
        model = fitter.fit(params, fitter.arrays(data.rows(inner.fit_ids)), None, seed, stage="inner fit")
    rows = data.rows(inner.val_ids)
    frame = predictions_frame(ctx.run_id, cell, data, rows, model.predict(data.images[rows]), split="inner")
    return choose_threshold(frame, data.classes), list(inner.val_ids)


def run_cell(cell: Cell, ctx: CellContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Search (if the suite asks for trials), refit on the outer-training fold, predict the outer-test fold."""
    suite, data = ctx.suite, ctx.data
    method = METHODS.get(cell.method)
    # a fixed recipe (no trials, no early stopping) uses no inner split, so it makes none, unless its
    # decision threshold is chosen on one (protocol.decision = "inner_threshold")
    needs_inner = (
        suite.search.n_trials > 0
        or suite.train.early_stopping
        or suite.protocol.decision == "inner_threshold"
    )
    inner = _inner_split(cell, ctx) if needs_inner else None
    split = inner if inner is not None else _outer_only(cell, ctx)
    fitter = _Fitter(cell, method, ctx)
    overrides = dict(suite.params.get(cell.method, {}))
    started = time.perf_counter()
    search_info: dict[str, Any] = {}
    # which rule set the final fit's epochs (kinds/_base.py REFIT_RULES; 'early_stopping' / 'fixed' here)
    rule = "early_stopping" if suite.train.early_stopping else "fixed"
    if suite.search.n_trials > 0:
        params, fitted, search_info = _search_and_refit(cell, ctx, fitter, split, overrides)
        rule = search_info["refit_epochs_rule"]
    elif suite.train.early_stopping:
        params = method.params(overrides)
        fit_set = fitter.arrays(data.rows(split.fit_ids))
        fitted = fitter.fit(params, fit_set, fitter.arrays(data.rows(split.val_ids)), cell.seed)
    else:
        # a fixed recipe: every outer-training patient, the method's epochs, the final weights
        params = method.params(overrides)
        split = _outer_only(cell, ctx)
        fitted = fitter.fit(params, fitter.arrays(data.rows(split.fit_ids)), None, cell.seed)
    fitted_on_inner = suite.search.n_trials == 0 and suite.train.early_stopping
    point, inner_ids = _operating_point(cell, ctx, fitter, inner, params, fitted, fitted_on_inner)
    frame = _all_predictions(ctx, cell, fitted, split.test_rows, point)
    info = {
        "cell": asdict(cell),
        "params": params,
        "weights": fitted.weights,
        "n_fit": len(split.fit_ids),
        "n_val": len(split.val_ids),
        "n_test": len(split.test_rows),
        "fit_sample_ids": list(split.fit_ids),
        "val_sample_ids": list(split.val_ids),
        "search": search_info,
        "best_epoch": fitted.best_epoch,
        "epochs_trained": len(fitted.history),
        "refit_epochs_rule": rule,
        # the decision rule of y_pred (core/decision.py) and the inner samples a threshold was chosen on
        "decision": {**point.to_record(), "inner_sample_ids": inner_ids},
        "history": fitted.history,
        "seconds": round(time.perf_counter() - started, 2),
    }
    keep_cell_model(ctx.keep_models, ctx, cell, fitted, info)  # before the result files mark it done
    return frame, info
