"""``export --refit-all``: one model of a method refit on every patient of a run, with the folds' choices.

The hyperparameters are the median over the outer folds' kept models of each selected numeric value
(epoch counts included, rounded for integers; the most common value for anything else), so the refit
trains as long as the folds' refits did. The run's data are prepared again exactly as the run did, and
their fingerprint must match the run's.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sdc_bench.benchmark.fit import ArraySet, FitSettings, fit_cnn
from sdc_bench.benchmark.runner import load_run_suite
from sdc_bench.benchmark.suite import data_seed
from sdc_bench.core.determinism import derive_seed, seed_everything
from sdc_bench.core.errors import ModelError
from sdc_bench.data.prepare import prepare_data
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.methods import METHODS
from sdc_bench.zoo.model_files import backbone_record

__all__ = ["median_params", "refit_all"]


def median_params(per_fold: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One parameter set from several: the median of numbers (an int stays an int), else the most common.

    >>> median_params([{"lr": 0.1, "epochs": 3}, {"lr": 0.3, "epochs": 4}, {"lr": 0.2, "epochs": 8}])
    {'lr': 0.2, 'epochs': 4}
    """
    merged: dict[str, Any] = {}
    for name in dict.fromkeys(key for params in per_fold for key in params):
        values = [params[name] for params in per_fold if name in params]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            middle = statistics.median(numbers)
            merged[name] = round(middle) if all(isinstance(v, int) for v in numbers) else float(middle)
        else:  # compared as JSON text, so lists and None count too
            counts = Counter(json.dumps(v, sort_keys=True) for v in values)
            merged[name] = json.loads(counts.most_common(1)[0][0])
    return merged


def refit_all(
    run_dir: Path, metas: Sequence[dict[str, Any]], *, progress: bool = False
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``metas``' method on every image of the run; returns (model, kept-model meta)."""
    suite, manifest = load_run_suite(run_dir)
    first = metas[0]
    method = METHODS.get(first["method"]["name"])
    data = prepare_data(suite.data, seed=data_seed(suite), source=manifest.source, progress=progress)
    if data.fingerprint != manifest.data.fingerprint:
        raise ModelError(
            f"{run_dir}: the run's data changed since it ran (fingerprint differs); cannot refit on them"
        )
    params = median_params([meta["method"]["params"] for meta in metas])
    built = create_backbone(
        first["backbone"]["name"],
        num_classes=len(data.classes),
        in_chans=int(first["backbone"]["in_chans"]),
        pretrained=method.pretrained,
        img_size=data.preprocess.size,
        grey_channels=True,
    )
    seed = derive_seed(suite.seed, "refit_all", method.name, first["backbone"]["name"])
    seed_everything(seed)
    settings = FitSettings(
        batch_size=suite.train.batch_size,
        patience=suite.train.patience,
        device="cuda" if torch.cuda.is_available() and suite.train.device != "cpu" else "cpu",
        max_epochs=suite.train.max_epochs or None,
        progress=progress,
    )
    result = fit_cnn(
        built, method, params, ArraySet(data.images, data.labels()), None, seed=seed, settings=settings
    )
    meta = {
        key: value
        for key, value in first.items()
        if key not in ("format", "format_version", "weights_sha256", "cell_id")
    }
    meta["backbone"] = backbone_record(built, data.preprocess.size)
    meta["method"] = {
        **first["method"],
        "params": params,
        "best_epoch": result.best_epoch,
        "epochs_trained": len(result.history),
    }
    meta["cell"] = {"outer_fold": None, "repeat_seed": None, "seed": seed}
    meta["refit"] = {
        "rule": "median over the outer folds' selected hyperparameters and epoch counts",
        "from_cells": [m["cell_id"] for m in metas],
        "per_fold_params": [m["method"]["params"] for m in metas],
        "n_images": len(data.manifest),
        "n_patients": int(data.manifest["patient_id"].nunique()),
    }
    return built.model.cpu().eval(), meta
