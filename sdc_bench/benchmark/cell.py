"""One cell: (optional) Optuna search on the outer-training patients, refit, predict the outer-test fold.

The search sees only the cell's inner split of its outer-training samples; the outer-test samples reach
nothing but the final ``predict``. The inner sample ids are stored on the study and in the cell record,
so the separation can be checked afterwards.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from sdc_bench.benchmark.faults import active_faults, shuffle_labels
from sdc_bench.benchmark.fit import ArraySet, FitSettings, fit_cnn, predict_proba
from sdc_bench.benchmark.fit_features import fit_features
from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.suite import Suite
from sdc_bench.benchmark.sweep import search
from sdc_bench.core.contracts import OOF_SPLIT, PREDICTION_COLUMNS, probability_column
from sdc_bench.core.determinism import derive_seed, seed_everything
from sdc_bench.core.storage import open_storage
from sdc_bench.data.prepare import PreparedData
from sdc_bench.data.splits import Fold, assert_patient_disjoint, inner_split
from sdc_bench.zoo.backbones import create_backbone
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

    def fold_of(self, cell: Cell) -> Fold:
        """The outer fold of a cell, from its protocol seed's folds (``folds`` without repetitions)."""
        if self.folds_by_seed is not None and cell.repeat_seed in self.folds_by_seed:
            return self.folds_by_seed[cell.repeat_seed][cell.outer_fold]
        return self.folds[cell.outer_fold]


def predictions_frame(
    run_id: str, cell: Cell, data: PreparedData, rows: np.ndarray, proba: np.ndarray, split: str = OOF_SPLIT
) -> pd.DataFrame:
    """The predictions contract (DESIGN.md): one row per image of the cell, one ``p_<class>`` per class.

    ``seed`` is the cell's protocol seed (which repetition of the cross-validation), shared by every cell
    of that repetition, so tables pair methods by (seed, outer_fold, sample_id); the cell's own derived
    seed is in its ``cells/<cell_id>.json`` record.
    """
    manifest = data.manifest.iloc[rows]
    classes = np.asarray(data.classes)
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
        "y_pred": classes[proba.argmax(axis=1)],
    }
    # the contract's column order, and a contract column this frame lacks fails here, not in a report
    frame = pd.DataFrame({column: values[column] for column in PREDICTION_COLUMNS})
    for code, name in enumerate(data.classes):
        frame[probability_column(name)] = proba[:, code]
    return frame


def _max_search_epochs(method: Method, suite: Suite) -> int:
    epochs = 2 * int(method.defaults.get("epochs", 1)) + (4 if method.staged else 0)
    return min(epochs, suite.train.max_epochs) if suite.train.max_epochs else epochs


class _Trainer:
    """Fits one parameter set of a method; used by the search's trials and by the final refit."""

    def __init__(self, cell: Cell, method: Method, ctx: CellContext) -> None:
        self.cell, self.method, self.ctx = cell, method, ctx
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
    ) -> tuple[Any, float, int, list[dict[str, Any]]]:
        """Returns (predictor, inner-validation balanced accuracy, best epoch, history)."""
        ctx, method = self.ctx, self.method
        faults = active_faults()
        if method.kind == "cnn" and (faults.no_pretrained or faults.no_augment):
            method = replace(
                method,
                pretrained=method.pretrained and not faults.no_pretrained,
                augment="none" if faults.no_augment else method.augment,
            )
        if faults.label_noise:
            train = ArraySet(train.images, shuffle_labels(train.labels, faults.label_noise, seed))
        seed_everything(seed)
        if method.kind == "features":
            model = fit_features(
                method,
                params,
                train,
                val if val is not None else train,
                num_classes=len(ctx.data.classes),
                seed=seed,
            )
            return model.predict_proba, model.val_balanced_accuracy, 0, []
        built = create_backbone(
            self.cell.backbone,
            num_classes=len(ctx.data.classes),
            in_chans=ctx.data.slices,
            pretrained=method.pretrained,
            img_size=ctx.data.preprocess.size,
            grey_channels=True,
            weights_dir=ctx.weights_dir,
            weights_files=ctx.weights_files,
        )
        settings = FitSettings(
            batch_size=ctx.suite.train.batch_size,
            patience=ctx.suite.train.patience,
            device=ctx.device,
            max_epochs=ctx.suite.train.max_epochs or None,
            progress=ctx.progress,
            precision=ctx.suite.train.precision,
            channels_last=ctx.suite.train.channels_last,
        )

        def report(record: Any) -> None:
            if trial is None:
                return
            trial.report(record.val_balanced_accuracy, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = fit_cnn(built, method, params, train, val, seed=seed, settings=settings, on_epoch=report)
        best = next((r for r in result.history if r.epoch == result.best_epoch), None)
        score = best.val_balanced_accuracy if best is not None else float("nan")

        def predictor(images: np.ndarray) -> np.ndarray:
            return predict_proba(built, images, settings=settings)

        weights = (
            f"{built.weights_source}:{built.weights_location}"
            if built.weights_location
            else built.weights_source
        )
        predictor.weights = weights  # type: ignore[attr-defined]
        return predictor, score, result.best_epoch, [asdict(r) for r in result.history]


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


def _searched_defaults(method: Method, params: dict[str, Any]) -> dict[str, Any]:
    """The method's defaults for the searched parameters, clipped into the search ranges (trial 0)."""
    recorder = _RangeRecorder()
    method.search_space(recorder, method)
    first: dict[str, Any] = {}
    for name, (low, high, integer) in recorder.ranges.items():
        if isinstance(params.get(name), int | float):
            value = min(max(params[name], low), high)
            first[name] = int(value) if integer else float(value)
    return first


def _refit_params(method: Method, params: dict[str, Any], best_epoch: int) -> dict[str, Any]:
    """Epoch counts for a refit without validation: the searched trial's best epoch, split over stages."""
    if method.kind == "features" or best_epoch <= 0:
        return params
    refit = dict(params)
    if method.staged and not method.freeze_backbone:
        head = min(int(params.get("head_epochs", 1)), best_epoch)
        refit["head_epochs"], refit["epochs"] = head, best_epoch - head
    else:
        refit["epochs"] = best_epoch
    return refit


def run_cell(cell: Cell, ctx: CellContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Search (if the suite asks for trials), refit on the outer-training fold, predict the outer-test fold."""
    suite, data = ctx.suite, ctx.data
    method = METHODS.get(cell.method)
    fold = ctx.fold_of(cell)
    train_manifest = data.manifest.iloc[data.rows(fold.train)]
    fit_ids, val_ids = inner_split(train_manifest, suite.protocol.inner_val_fraction, cell.seed)
    assert_patient_disjoint(data.manifest, fit_ids, val_ids)
    assert_patient_disjoint(data.manifest, list(fold.train), list(fold.test))
    fit_rows, val_rows, test_rows = data.rows(fit_ids), data.rows(val_ids), data.rows(fold.test)
    trainer = _Trainer(cell, method, ctx)
    fit_set, val_set = trainer.arrays(fit_rows), trainer.arrays(val_rows)
    overrides = dict(suite.params.get(cell.method, {}))
    started = time.perf_counter()
    search_info: dict[str, Any] = {}

    if suite.search.n_trials > 0:

        def objective(trial: optuna.Trial, params: dict[str, Any]) -> tuple[float, int]:
            _, score, best_epoch, history = trainer.fit(
                params, fit_set, val_set, derive_seed(cell.seed, "trial", trial.number), trial
            )
            trial.set_user_attr("history", history)  # the learning curve of a searched cell
            return score, best_epoch

        outcome = search(
            study_name(ctx.run_id, cell.cell_id),
            open_storage(ctx.storage_url),
            suite.search,
            cell.seed,
            _max_search_epochs(method, suite),
            suggest=lambda trial: method.params({**overrides, **method.search_space(trial, method)}),
            objective=objective,
            user_attrs={
                "fit_sample_ids": list(fit_ids),
                "val_sample_ids": list(val_ids),
                "outer_fold": cell.outer_fold,
            },
            first_trial=_searched_defaults(method, method.params(overrides)),
        )
        params = _refit_params(
            method, method.params({**overrides, **outcome.best_params}), outcome.best_epoch
        )
        search_info = asdict(outcome)
        # the refit sees all outer-training patients, for the searched number of epochs
        predictor, _, best_epoch, history = trainer.fit(
            params, trainer.arrays(data.rows(fold.train)), None, cell.seed
        )
    elif suite.train.early_stopping:
        params = method.params(overrides)
        predictor, _, best_epoch, history = trainer.fit(params, fit_set, val_set, cell.seed)
    else:
        # a fixed recipe: every outer-training patient, the method's epochs, the final weights
        params = method.params(overrides)
        fit_ids, val_ids = list(fold.train), []
        fit_rows, val_rows = data.rows(fit_ids), data.rows(val_ids)
        predictor, _, best_epoch, history = trainer.fit(params, trainer.arrays(fit_rows), None, cell.seed)
    proba = predictor(data.images[test_rows])
    frames = [predictions_frame(ctx.run_id, cell, data, test_rows, proba)]
    for name, external in (ctx.external or {}).items():
        rows = np.arange(len(external.manifest))
        frames.append(
            predictions_frame(
                ctx.run_id, cell, external, rows, predictor(external.images), split=f"external:{name}"
            )
        )
    info = {
        "cell": asdict(cell),
        "params": params,
        "weights": getattr(predictor, "weights", "none"),
        "n_fit": len(fit_rows),
        "n_val": len(val_rows),
        "n_test": len(test_rows),
        "fit_sample_ids": list(fit_ids),
        "val_sample_ids": list(val_ids),
        "search": search_info,
        "best_epoch": best_epoch,
        "epochs_trained": len(history),
        "history": history,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return pd.concat(frames, ignore_index=True), info
