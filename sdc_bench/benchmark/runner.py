"""Runs a suite: data -> folds -> one fit per cell -> predictions -> metrics, tables, figures.

Each finished cell is written atomically to ``cells/``; ``--resume`` skips those, so a killed run loses at
most the cell in flight, and everything downstream is re-derived from the stored predictions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from sdc_bench.benchmark.determinism import deterministic, seed_everything
from sdc_bench.benchmark.fit import ArraySet, FitSettings, fit_cnn, predict_proba
from sdc_bench.benchmark.fit_features import fit_features
from sdc_bench.benchmark.plan import Cell, plan_cells
from sdc_bench.benchmark.store import RunStore, environment_info, git_revision, write_json, write_parquet
from sdc_bench.benchmark.suite import Suite
from sdc_bench.data.audit import audit_manifest
from sdc_bench.data.prepare import PreparedData, prepare_data
from sdc_bench.data.splits import (
    Fold,
    assert_patient_disjoint,
    inner_split,
    load_splits,
    outer_folds,
    save_splits,
)
from sdc_bench.errors import ConfigError
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.methods import METHODS

__all__ = ["RunOptions", "predictions_frame", "resolve_device", "run_suite"]


@dataclass(frozen=True)
class RunOptions:
    data: str | None = None  # overrides the suite's data source
    out: Path | None = None  # run folder; default reports/<suite>-<timestamp>
    reports_dir: Path = Path("reports")
    resume: Path | None = None
    progress: bool = True
    skip_bad: bool = False
    weights_dir: Path | None = None


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={requested!r} but no CUDA device is visible; use device='cpu' or 'auto'")
    return requested


def predictions_frame(
    run_id: str, cell: Cell, data: PreparedData, rows: np.ndarray, proba: np.ndarray, split: str = "test"
) -> pd.DataFrame:
    """The predictions contract (DESIGN.md): one row per image of the cell, one ``p_<class>`` per class."""
    manifest = data.manifest.iloc[rows]
    classes = np.asarray(data.classes)
    frame = pd.DataFrame(
        {
            "run_id": run_id,
            "method": cell.method,
            "backbone": cell.backbone,
            "augment": cell.augment,
            "imbalance": cell.imbalance,
            "seed": cell.seed,
            "outer_fold": cell.outer_fold,
            "split": split,
            "sample_id": manifest["sample_id"].to_numpy(),
            "patient_id": manifest["patient_id"].astype(str).to_numpy(),
            "y_true": manifest["label"].to_numpy(),
            "y_pred": classes[proba.argmax(axis=1)],
        }
    )
    for code, name in enumerate(data.classes):
        frame[f"p_{name}"] = proba[:, code]
    return frame


def _run_cell(
    cell: Cell, suite: Suite, data: PreparedData, fold: Fold, run_id: str, device: str, options: RunOptions
) -> tuple[pd.DataFrame, dict[str, Any]]:
    method = METHODS.get(cell.method)
    labels = data.labels()
    train_manifest = data.manifest.iloc[data.rows(fold.train)]
    fit_ids, val_ids = inner_split(train_manifest, suite.protocol.inner_val_fraction, cell.seed)
    assert_patient_disjoint(data.manifest, fit_ids, val_ids)
    assert_patient_disjoint(data.manifest, list(fold.train), list(fold.test))
    fit_rows, val_rows, test_rows = data.rows(fit_ids), data.rows(val_ids), data.rows(fold.test)

    seed_everything(cell.seed)
    params = method.params(suite.params.get(cell.method))
    fit_set = ArraySet(data.images[fit_rows], labels[fit_rows])
    val_set = ArraySet(data.images[val_rows], labels[val_rows])
    started = time.perf_counter()
    if method.kind == "features":
        feature_model = fit_features(method, params, fit_set, val_set, num_classes=len(data.classes), seed=cell.seed)
        proba = feature_model.predict_proba(data.images[test_rows])
        weights_source, weights_location, history, best_epoch = "none", "", [], 0
    else:
        built = create_backbone(
            cell.backbone,
            num_classes=len(data.classes),
            in_chans=1,
            pretrained=method.pretrained,
            img_size=suite.data.size,
            weights_dir=options.weights_dir,
        )
        settings = FitSettings(
            batch_size=suite.train.batch_size,
            patience=suite.train.patience,
            device=device,
            max_epochs=suite.train.max_epochs or None,
            progress=options.progress,
        )
        result = fit_cnn(built, method, params, fit_set, val_set, seed=cell.seed, settings=settings)
        proba = predict_proba(built, data.images[test_rows], device=device)
        weights_source, weights_location = built.weights_source, built.weights_location
        history, best_epoch = [asdict(r) for r in result.history], result.best_epoch
    info = {
        "cell": asdict(cell),
        "params": params,
        "weights_source": weights_source,
        "weights_location": weights_location,
        "n_fit": len(fit_rows),
        "n_val": len(val_rows),
        "n_test": len(test_rows),
        "fit_sample_ids": list(fit_ids),
        "val_sample_ids": list(val_ids),
        "best_epoch": best_epoch,
        "epochs_trained": len(history),
        "history": history,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return predictions_frame(run_id, cell, data, test_rows, proba), info


def run_suite(suite: Suite, options: RunOptions = RunOptions()) -> Path:
    """Run every cell of ``suite`` (skipping finished ones on resume) and write all derived reports."""
    from sdc_bench.reports.build import build_reports

    if options.resume is not None:
        root = Path(options.resume)
        if not (root / "run.json").is_file():
            raise ConfigError(f"--resume {root}: no run.json there; give the folder of an earlier run")
    else:
        root = Path(options.out) if options.out else RunStore.new_run_dir(options.reports_dir, suite.name)
        if root.exists() and any(root.iterdir()):
            raise ConfigError(f"--out {root} exists and is not empty; choose a new folder or pass --resume {root}")
    store = RunStore(root)
    run_id = root.name
    device = resolve_device(suite.train.device)
    started = time.time()
    # the data are checked before anything is written, so a bad source leaves no half run folder behind
    data = prepare_data(suite.data, seed=suite.seed, source=options.data, progress=options.progress, skip_bad=options.skip_bad)
    root.mkdir(parents=True, exist_ok=True)
    store.log_line(f"run {run_id}: suite {suite.name}, seed {suite.seed}, device {device}, data {data.origin}")
    audit = audit_manifest(data.manifest, n_folds=suite.protocol.outer_folds, progress=options.progress)
    audit.to_json(root / "audit.json")
    _write_data_artifacts(store, data, suite.seed)
    if store.splits_json.is_file():
        folds = load_splits(store.splits_json)
    else:
        folds = outer_folds(data.manifest, suite.protocol.outer_folds, suite.seed)
        save_splits(store.splits_json, folds, {"seed": suite.seed, "n_folds": suite.protocol.outer_folds, "fingerprint": data.fingerprint})
    manifest_payload: dict[str, Any] = {
        "run_id": run_id,
        "suite": suite.to_dict(),
        "seed": suite.seed,
        "data": {
            "origin": data.origin,
            "fingerprint": data.fingerprint,
            "n_images": len(data.manifest),
            "n_patients": int(data.manifest["patient_id"].nunique()),
            "classes": list(data.classes),
            "preprocess": asdict(data.preprocess),
        },
        "git_revision": git_revision(),
        "environment": environment_info(),
        "device": device,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "status": "running",
    }
    write_json(store.run_json, manifest_payload)

    cells = plan_cells(suite, len(folds))
    todo = [c for c in cells if not store.cell_done(c.cell_id)]
    if len(todo) < len(cells):
        store.log_line(f"resume: {len(cells) - len(todo)} of {len(cells)} cells already done")
    with deterministic(suite.train.deterministic and device == "cpu"):
        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=f"{suite.name} cells", unit="cell", disable=not options.progress)
        for cell in todo:
            frame, info = _run_cell(cell, suite, data, folds[cell.outer_fold], run_id, device, options)
            store.write_cell(cell.cell_id, frame, info)
            accuracy = float((frame["y_true"] == frame["y_pred"]).mean())
            line = f"{cell.cell_id}: accuracy {accuracy:.3f} on {len(frame)} images, {info['epochs_trained']} epochs, {info['seconds']:.1f}s"
            store.log_line(line)
            if options.progress:
                bar.write(line)
            bar.update(1)
        bar.close()

    predictions = store.collect_predictions([c.cell_id for c in cells])
    write_parquet(store.predictions, predictions)
    build_reports(root)
    manifest_payload.update(
        status="done",
        finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        seconds=round(time.time() - started, 1),
        weights={c.cell_id: _weights_of(store, c) for c in cells},
    )
    write_json(store.run_json, manifest_payload)
    store.log_line(f"done in {manifest_payload['seconds']}s")
    return root


def _write_data_artifacts(store: RunStore, data: PreparedData, seed: int, per_class: int = 6) -> None:
    """The run's own copy of the manifest (for the dataset-flow table) and a few images per class (sample grid)."""
    columns = [c for c in ("sample_id", "label", "patient_id", "modality", "view", "source", "site") if c in data.manifest]
    write_parquet(store.root / "manifest.parquet", data.manifest[columns].astype(str))
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [
            rng.choice(np.flatnonzero(data.manifest["label"].to_numpy() == name), size=min(per_class, int((data.manifest["label"] == name).sum())), replace=False)
            for name in data.classes
        ]
    )
    rows.sort()
    target = store.root / "samples.npz"
    tmp = store.root / ".samples.tmp.npz"
    np.savez_compressed(
        tmp,
        images=np.asarray(data.images[rows]),
        labels=data.manifest["label"].to_numpy()[rows].astype(str),
        sample_ids=data.manifest["sample_id"].to_numpy()[rows].astype(str),
        modality=data.manifest["modality"].to_numpy()[rows].astype(str),
    )
    tmp.replace(target)


def _weights_of(store: RunStore, cell: Cell) -> str:
    import json

    info = json.loads((store.cells_dir / f"{cell.cell_id}.json").read_text())
    return f"{info['weights_source']}:{info['weights_location']}" if info["weights_location"] else info["weights_source"]
