"""A synthetic run folder, shaped like a finished ``sdc-bench run``, for the report tests.

Every artifact the report builder reads is written (``predictions.parquet``, ``run.json``,
``splits.json``, ``manifest.parquet``, ``samples.npz``, ``audit.json``, ``cells/*.json``) plus
the optional ones (``throughput.csv``, ``optuna.db``, an external split), so every table and
figure has something to show, through :class:`~sdc_bench.core.store.RunStore` and the store's atomic
writers, the one writer of the run-folder format. Nothing is trained: each method has a fixed "skill" that sets
how often its simulated classifier is right, so the ordering of methods is known in advance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import format_cell_id
from sdc_bench.core.optuna_storage import DEFAULT_STORAGE_FILE
from sdc_bench.core.run_manifest import FORMAT_VERSION, FORMAT_VERSION_KEY, RunManifest
from sdc_bench.core.store import RunStore, write_json, write_parquet, write_throughput_table

__all__ = ["SyntheticRun", "make_synthetic_run"]

_CLASSES = ("normal", "scoliosis", "spondylolisthesis", "disc_degeneration", "fracture")
_PREVALENCE = (0.34, 0.24, 0.18, 0.14, 0.10)
# Logit margin of the true class; higher means a better classifier.
_SKILL = {
    "sdc_dl": 2.6,
    "sdc_dl_no_staging": 2.3,
    "sdc_dl_no_aug": 2.0,
    "sdc_dl_no_imbalance": 2.4,
    "finetune_noaug": 1.7,
    "linear_probe": 1.3,
    "scratch": 0.6,
    "classical": 0.9,
}
_RECIPE = {  # method -> (augment, imbalance)
    "sdc_dl": ("sdc_dl_advanced", "weighted_ce"),
    "sdc_dl_no_staging": ("sdc_dl_advanced", "weighted_ce"),
    "sdc_dl_no_aug": ("none", "weighted_ce"),
    "sdc_dl_no_imbalance": ("sdc_dl_advanced", "none"),
    "finetune_noaug": ("none", "none"),
    "linear_probe": ("none", "none"),
    "scratch": ("none", "none"),
    "classical": ("none", "weighted_ce"),
}
_BACKBONE_SPEED = {"resnet18": (2400.0, 11.7, 1.8), "tf_efficientnet_lite0": (3100.0, 4.7, 0.4)}


@dataclass(frozen=True)
class SyntheticRun:
    """What to put in a synthetic run folder.

    Parameters
    ----------
    methods : sequence of str
        Method names, the proposed one (the reference of every comparison) first; ``classical`` runs on
        its own feature "backbone" ``hog_hist``.
    backbones : sequence of str
        CNN backbones every other method runs on.
    n_folds : int
        Outer folds.
    n_patients : int
        Patients of the internal dataset (1 to 3 images each).
    n_classes : int
        Classes (at most 5).
    external : bool
        Add an ``external:site_b`` split predicted by every fold model.
    throughput : bool
        Write ``throughput.csv``.
    optuna : bool
        Write ``optuna.db`` with one small study per cell.
    n_trials : int
        Trials per Optuna study.
    seed : int
        Seed of everything random.
    """

    methods: Sequence[str] = (
        "sdc_dl",
        "scratch",
        "linear_probe",
        "classical",
        "sdc_dl_no_aug",
        "sdc_dl_no_imbalance",
    )
    backbones: Sequence[str] = ("resnet18", "tf_efficientnet_lite0")
    n_folds: int = 3
    n_patients: int = 90
    n_classes: int = 5
    external: bool = True
    throughput: bool = True
    optuna: bool = True
    n_trials: int = 6
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _configurations(spec: SyntheticRun) -> list[tuple[str, str, str, str]]:
    configurations = []
    for method in spec.methods:
        augment, imbalance = _RECIPE.get(method, ("none", "none"))
        backbones = ["hog_hist"] if method == "classical" else list(spec.backbones)
        configurations += [(method, backbone, augment, imbalance) for backbone in backbones]
    return configurations


def _patients(spec: SyntheticRun, rng: np.random.Generator) -> pd.DataFrame:
    classes = _CLASSES[: spec.n_classes]
    prevalence = np.asarray(_PREVALENCE[: spec.n_classes])
    prevalence = prevalence / prevalence.sum()
    # every class gets at least n_folds patients, so each test fold sees every class
    counts = np.maximum(np.round(prevalence * spec.n_patients).astype(int), spec.n_folds)
    labels = np.repeat(np.arange(spec.n_classes), counts)
    rng.shuffle(labels)
    rows = []
    for index, label in enumerate(labels):
        for image in range(int(rng.integers(1, 4))):
            rows.append(
                {
                    "sample_id": f"p{index:04d}_{image}",
                    "label": classes[label],
                    "patient_id": f"p{index:04d}",
                    "modality": "xray" if index % 4 else "mri",
                    "view": "ap" if image % 2 == 0 else "lat",
                    "source": "synthetic",
                }
            )
    return pd.DataFrame(rows)


def _folds(manifest: pd.DataFrame, n_folds: int) -> list[list[str]]:
    """Patients dealt round-robin within each class: a stratified, patient-grouped split."""
    patients = manifest.drop_duplicates("patient_id")[["patient_id", "label"]]
    fold_of: dict[str, int] = {}
    for _, group in patients.groupby("label", sort=True):
        for position, patient in enumerate(group["patient_id"]):
            fold_of[str(patient)] = position % n_folds
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    for sample, patient in zip(manifest["sample_id"], manifest["patient_id"]):
        folds[fold_of[str(patient)]].append(str(sample))
    return folds


def _predict(
    labels: np.ndarray, skill: float, n_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(0.0, 1.0, size=(len(labels), n_classes))
    logits[np.arange(len(labels)), labels] += skill
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    proba = np.round(proba, 6)
    proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
    proba = np.clip(proba, 0.0, 1.0)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba.argmax(axis=1), proba


def _prediction_rows(
    spec: SyntheticRun,
    configuration: tuple[str, str, str, str],
    fold: int,
    split: str,
    samples: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    classes = list(_CLASSES[: spec.n_classes])
    method, backbone, augment, imbalance = configuration
    labels = samples["label"].map({name: code for code, name in enumerate(classes)}).to_numpy()
    skill = _SKILL.get(method, 1.0) + (0.2 if backbone == "resnet18" else 0.0)
    if split != "test":
        skill -= 1.2  # a domain shift
    predicted, proba = _predict(labels, skill, len(classes), rng)
    frame = pd.DataFrame(
        {
            "run_id": "synthetic",
            "method": method,
            "backbone": backbone,
            "augment": augment,
            "imbalance": imbalance,
            "seed": spec.seed,
            "outer_fold": fold,
            "split": split,
            "sample_id": samples["sample_id"].to_numpy(),
            "patient_id": samples["patient_id"].to_numpy(),
            "y_true": samples["label"].to_numpy(),
            "y_pred": [classes[code] for code in predicted],
        }
    )
    for code, name in enumerate(classes):
        frame[f"p_{name}"] = proba[:, code]
    return frame


def _sample_images(manifest: pd.DataFrame, rng: np.random.Generator, per_class: int = 4) -> dict[str, Any]:
    size = 64
    yy, xx = np.mgrid[0:size, 0:size] / size
    images, labels, sample_ids, modalities = [], [], [], []
    for code, (label, group) in enumerate(manifest.groupby("label", sort=True)):
        for _, row in group.head(per_class).iterrows():
            spine = np.exp(-(((xx - 0.5 - 0.08 * np.sin(yy * (2 + code) * np.pi)) / 0.07) ** 2))
            image = 0.25 + 0.6 * spine + 0.1 * rng.normal(size=(size, size))
            images.append(np.clip(image * 255, 0, 255).astype(np.uint8))
            labels.append(label)
            sample_ids.append(row["sample_id"])
            modalities.append(row["modality"])
    return {
        "images": np.stack(images),
        "labels": np.asarray(labels),
        "sample_ids": np.asarray(sample_ids),
        "modality": np.asarray(modalities),
    }


def _audit(manifest: pd.DataFrame, n_folds: int) -> dict[str, Any]:
    patients = manifest.drop_duplicates("patient_id")
    per_patient = manifest.groupby("patient_id").size()
    return {
        "n_images": len(manifest),
        "n_patients": int(manifest["patient_id"].nunique()),
        "classes": sorted(manifest["label"].unique()),
        "images_per_class": {k: int(v) for k, v in manifest["label"].value_counts().sort_index().items()},
        "patients_per_class": {k: int(v) for k, v in patients["label"].value_counts().sort_index().items()},
        "images_per_modality": {
            k: int(v) for k, v in manifest["modality"].value_counts().sort_index().items()
        },
        "images_per_patient": {
            "min": float(per_patient.min()),
            "median": float(per_patient.median()),
            "mean": float(per_patient.mean()),
            "max": float(per_patient.max()),
        },
        "duplicate_groups": [],
        "unreadable": [],
        "small_classes": {},
        "n_folds": n_folds,
        "patient_from": "column",
        "fingerprint": "0123456789abcdef",
        "warnings": ["synthetic data: 2 images have an unusual aspect ratio (kept)"],
    }


def _throughput(backbones: Sequence[str]) -> pd.DataFrame:
    rows = []
    for backbone in backbones:
        speed, params_m, gflops = _BACKBONE_SPEED.get(backbone, (1000.0, 10.0, 1.0))
        for device, device_name, factor in (("cpu", "x86_64", 0.02), ("cuda", "NVIDIA H200", 1.0)):
            for precision in ("fp32", "fp16") if device == "cuda" else ("fp32",):
                for batch_size in (1, 32):
                    for mode in ("infer", "train"):
                        rate = speed * factor * (1.8 if precision == "fp16" else 1.0)
                        rate *= (1.0 if batch_size == 32 else 0.25) * (1.0 if mode == "infer" else 0.3)
                        rows.append(
                            {
                                "backbone": backbone,
                                "device": device,
                                "device_name": device_name,
                                "precision": precision,
                                "channels_last": device == "cuda",
                                "compiled": False,
                                "batch_size": batch_size,
                                "img_size": 224,
                                "mode": mode,
                                "images_per_s": round(rate, 1),
                                "latency_ms_p50": round(1000.0 * batch_size / rate, 3),
                                "latency_ms_p95": round(1100.0 * batch_size / rate, 3),
                                "peak_mem_mb": round(200 + 12 * batch_size * params_m, 1),
                                "params_m": params_m,
                                "gflops": gflops,
                                "status": "ok",
                                "error": "",
                            }
                        )
        failed = {
            **rows[-1],
            "batch_size": 4096,
            "images_per_s": float("nan"),
            "status": "failed",
            "error": "OOM",
        }
        rows.append(failed)
    return pd.DataFrame(rows)


def _optuna_db(path: Path, cells: list[tuple[str, str, int]], spec: SyntheticRun) -> None:
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
        "weight_decay": optuna.distributions.FloatDistribution(1e-6, 1e-3, log=True),
        "aug_strength": optuna.distributions.FloatDistribution(0.0, 1.0),
        "backbone_lr_mult": optuna.distributions.FloatDistribution(0.1, 1.0),
    }
    for index, (method, backbone, fold) in enumerate(cells):
        rng = np.random.default_rng([spec.seed, index])
        study = optuna.create_study(
            storage=storage,
            study_name=f"synthetic/{format_cell_id(method, backbone, spec.seed, fold)}",
            direction="maximize",
        )
        trials = []
        for number in range(spec.n_trials):
            params = {
                "lr": float(10 ** rng.uniform(-4, -2)),
                "weight_decay": float(10 ** rng.uniform(-6, -3)),
                "aug_strength": float(rng.uniform()),
                "backbone_lr_mult": float(rng.uniform(0.1, 1.0)),
            }
            # lr near 1e-3 is best, so the importances have something to find
            final = 0.85 - 0.12 * abs(np.log10(params["lr"]) + 3.0) + 0.03 * rng.normal()
            epochs = 4
            curve = {epoch: float(final - 0.25 / epoch) for epoch in range(1, epochs + 1)}
            pruned = number >= 3 and final < 0.7
            if pruned:
                curve = {epoch: value for epoch, value in curve.items() if epoch <= 2}
            trials.append(
                optuna.trial.create_trial(
                    params=params,
                    distributions=distributions,
                    value=None if pruned else float(final),
                    intermediate_values=curve,
                    state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
                )
            )
        study.add_trials(trials)
    storage.remove_session()
    storage.engine.dispose()


def _external_patients(spec: SyntheticRun, rng: np.random.Generator) -> pd.DataFrame:
    """The ``site_b`` dataset: a third as many patients, ids prefixed so they never meet the internal ones."""
    external = _patients(
        SyntheticRun(n_patients=max(spec.n_patients // 3, 15), n_classes=spec.n_classes), rng
    )
    return external.assign(
        sample_id="ext_" + external["sample_id"], patient_id="ext_" + external["patient_id"], source="site_b"
    )


def _history(method: str) -> list[dict[str, Any]]:
    """Per-epoch learning curve of a cell (none for the classical baseline, which has no epochs)."""
    return [
        {
            "stage": "head" if epoch <= 2 else "full",
            "epoch": epoch,
            "train_loss": round(1.5 / epoch, 4),
            "val_loss": round(1.2 / epoch + 0.6 / _SKILL.get(method, 1.0), 4),
            "val_balanced_accuracy": round(min(0.95, 0.4 + 0.1 * epoch * _SKILL.get(method, 1.0)), 4),
        }
        for epoch in range(1, 7 if method != "classical" else 1)
    ]


def _cell_info(
    spec: SyntheticRun, configuration: tuple[str, str, str, str], fold: int, n_train: int, n_test: int
) -> dict[str, Any]:
    """The ``cells/<cell_id>.json`` record of one cell."""
    method, backbone, augment, imbalance = configuration
    history = _history(method)
    return {
        "cell": {
            "method": method,
            "backbone": backbone,
            "outer_fold": fold,
            "seed": spec.seed + fold,
            "augment": augment,
            "imbalance": imbalance,
            "repeat_seed": spec.seed,
        },
        "params": {"lr": 0.001, "weight_decay": 0.0001, "epochs": 6},
        "n_fit": int(n_train * 0.75),
        "n_val": n_train - int(n_train * 0.75),
        "n_test": n_test,
        "search": {"n_trials": spec.n_trials, "n_pruned": 1, "best_value": 0.85} if spec.optuna else {},
        "best_epoch": len(history),
        "epochs_trained": len(history),
        "history": history,
        "seconds": round(1.0 + fold * 0.1, 2),
    }


def _write_cells(
    store: RunStore,
    spec: SyntheticRun,
    manifest: pd.DataFrame,
    external: pd.DataFrame,
    folds: list[list[str]],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, list[tuple[str, str, int]]]:
    """Write every cell record; return the predictions of all cells and the (method, backbone, fold) cells."""
    by_id = manifest.set_index("sample_id", drop=False)
    frames, cells = [], []
    for configuration in _configurations(spec):
        method, backbone = configuration[:2]
        for fold, test_ids in enumerate(folds):
            frames.append(_prediction_rows(spec, configuration, fold, "test", by_id.loc[test_ids], rng))
            if spec.external:
                frames.append(_prediction_rows(spec, configuration, fold, "external:site_b", external, rng))
            cells.append((method, backbone, fold))
            info = _cell_info(spec, configuration, fold, len(manifest) - len(test_ids), len(test_ids))
            write_json(store.cells_dir / f"{format_cell_id(method, backbone, spec.seed, fold)}.json", info)
    return pd.concat(frames, ignore_index=True), cells


def _splits(spec: SyntheticRun, folds: list[list[str]]) -> dict[str, Any]:
    """The ``splits.json`` payload of the round-robin folds."""
    return {
        "seed": spec.seed,
        "n_folds": spec.n_folds,
        "fingerprint": "0123456789abcdef",
        "folds": [
            {
                "outer_fold": fold,
                "train": [s for other, ids in enumerate(folds) if other != fold for s in ids],
                "test": test_ids,
            }
            for fold, test_ids in enumerate(folds)
        ],
    }


def _run_manifest(spec: SyntheticRun, manifest: pd.DataFrame) -> RunManifest:
    """The ``run.json`` manifest of a finished synthetic run."""
    classes = list(_CLASSES[: spec.n_classes])
    search = {
        "n_trials": spec.n_trials, "sampler": "TPESampler", "n_startup_trials": 4, "pruner": "MedianPruner",
        "objective": "balanced_accuracy",
    }  # fmt: skip
    run: dict[str, Any] = {
        FORMAT_VERSION_KEY: FORMAT_VERSION,
        "run_id": "synthetic",
        "suite": {
            "name": "synthetic",
            "description": "synthetic run folder for report tests",
            "seed": spec.seed,
            "methods": list(spec.methods),
            "backbones": list(spec.backbones),
            "data": {
                "source": "synthspine",
                "n_images": len(manifest),
                "classes": classes,
                "patient_regex": None,
                "columns": {},
                "allow_outside_root": False,
            },
            "protocol": {"outer_folds": spec.n_folds, "inner_val_fraction": 0.25},
            "train": {"batch_size": 32, "patience": 3, "max_epochs": 6, "device": "cpu"},
            "throughput": {"reference_backbone": "resnet18"},
        },
        "seed": spec.seed,
        "seeds": [spec.seed],
        "proposed_method": spec.methods[0],
        "display_names": {},
        "keep_models": True,
        "source": None,
        "storage": None,
        "data": {
            "origin": "synthspine",
            "fingerprint": "0123456789abcdef",
            "n_images": len(manifest),
            "n_patients": int(manifest["patient_id"].nunique()),
            "classes": classes,
            "preprocess": {"size": 64, "resize": "letterbox"},
            "size_hw": [64, 64],
            "slices": 1,
        },
        "search": search,
        "git_revision": "0000000000000000000000000000000000000000",
        "environment": {
            "python": "3.11.7",
            "platform": "Linux-x86_64",
            "host": "synthetic",
            "cpu_count": 2,
            "cpu_model": "synthetic CPU",
            "torch_threads": 2,
            "cuda": None,
            "device": "x86_64",
            "packages": {"torch": "2.5.0", "optuna": "5.0.0", "numpy": "2.1.0"},
        },
        "faults": {},
        "device": "cpu",
        "started_utc": "2026-01-01T00:00:00Z",
        "finished_utc": "2026-01-01T00:10:00Z",
        "seconds": 600.0,
        "status": "done",
        "skip_bad": False,
        **spec.extra,
    }
    run["search"] = {**search, **run["search"]}  # extra may set a part of the search
    return RunManifest.from_json(run, "synthetic run.json")


def make_synthetic_run(root: str | Path, spec: SyntheticRun | None = None) -> Path:
    """Write a synthetic, finished run folder at ``root`` and return its path.

    Parameters
    ----------
    root : str or Path
        Folder to create (may exist; files in it are overwritten).
    spec : SyntheticRun, optional
        What to generate; the default exercises every table and figure.

    Returns
    -------
    Path
        ``root``.

    Examples
    --------
    >>> run = make_synthetic_run(tmp_path / "run")  # doctest: +SKIP
    >>> build_reports(run, n_bootstrap=100)  # doctest: +SKIP
    """
    spec = spec or SyntheticRun()
    store = RunStore(Path(root))
    # the draws happen in this order (patients, external patients, cells, sample images): keep it
    rng = np.random.default_rng(spec.seed)
    manifest = _patients(spec, rng)
    folds = _folds(manifest, spec.n_folds)
    external = _external_patients(spec, rng)
    predictions, cells = _write_cells(store, spec, manifest, external, folds, rng)
    write_parquet(store.predictions, predictions)
    write_parquet(store.root / "manifest.parquet", manifest)
    write_json(store.splits_json, _splits(spec, folds))
    write_json(store.root / "audit.json", _audit(manifest, spec.n_folds))
    np.savez_compressed(store.root / "samples.npz", **_sample_images(manifest, rng))  # type: ignore[arg-type]
    run = _run_manifest(spec, manifest)
    if spec.optuna:
        db = store.root / DEFAULT_STORAGE_FILE
        db.unlink(missing_ok=True)
        _optuna_db(db, cells, spec)
    store.write_manifest(run)
    if spec.throughput:
        write_throughput_table(_throughput(list(spec.backbones)), store.root / "throughput.csv")
    return store.root
