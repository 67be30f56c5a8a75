"""The ``cnn`` kind: a registered backbone trained end to end by the fit loop (:mod:`sdc_bench.benchmark.fit`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from sdc_bench.benchmark.faults import Faults
from sdc_bench.benchmark.fit import FitSettings, fit_cnn, plan_stages, predict_proba
from sdc_bench.benchmark.kinds._base import METHOD_KINDS, FitRequest, Fitted, MethodKind, refit_epochs
from sdc_bench.benchmark.suite import Suite
from sdc_bench.zoo.backbones import NO_WEIGHTS, create_backbone, plan_weight_sources
from sdc_bench.zoo.methods import Method
from sdc_bench.zoo.weights import WeightsFile

__all__ = ["FROZEN_EPOCH_COST", "RANDOM_STAND_IN", "CnnKind", "has_weights_here"]

#: The weights record of a pretrained backbone that started from random weights because none were here
#: (``train.random_weights_if_missing``, the rehearsal suite): its scores say nothing about pretraining.
RANDOM_STAND_IN = "random (no pretrained weights here)"

#: Cost of an epoch on a frozen backbone relative to a full training step: the backbone runs forward only
#: (no backward pass, about twice the forward's cost, and no optimizer step on its weights).
FROZEN_EPOCH_COST = 1 / 3


@functools.cache
def has_weights_here(
    backbone: str, weights_files: Sequence[WeightsFile] = (), weights_dir: Path | None = None
) -> bool:
    """Whether pretrained weights for ``backbone`` can be had now (a file, a folder, a package or the hub);
    asked once per process and backbone (the hub probe may wait on the network)."""
    return plan_weight_sources({backbone: True}, weights_files, weights_dir)[backbone] != NO_WEIGHTS


class CnnKind(MethodKind):
    """Backbone + head trained by the staged fit loop; the suite's backbones are its backbones."""

    name = "cnn"
    description = "a backbone trained end to end by the staged fit loop"
    has_throughput_backbone = True

    def with_faults(self, method: Method, faults: Faults) -> Method:
        if not (faults.no_pretrained or faults.no_augment):
            return method
        return replace(
            method,
            pretrained=method.pretrained and not faults.no_pretrained,
            augment="none" if faults.no_augment else method.augment,
        )

    def fit(self, request: FitRequest) -> Fitted:
        train_spec = request.suite.train
        stand_in = (
            request.method.pretrained
            and train_spec.random_weights_if_missing
            and not has_weights_here(request.backbone, tuple(request.weights_files), request.weights_dir)
        )
        built = create_backbone(
            request.backbone,
            num_classes=request.num_classes,
            in_chans=request.in_chans,
            pretrained=request.method.pretrained and not stand_in,
            img_size=request.img_size,
            grey_channels=True,
            weights_dir=request.weights_dir,
            weights_files=request.weights_files,
        )
        settings = FitSettings(
            batch_size=train_spec.batch_size,
            patience=train_spec.patience,
            device=request.device,
            max_epochs=train_spec.max_epochs or None,
            min_epochs=train_spec.min_epochs,
            progress=request.progress,
            label=request.label,
            precision=train_spec.precision,
            channels_last=train_spec.channels_last,
        )
        result = fit_cnn(
            built,
            request.method,
            request.params,
            request.train,
            request.val,
            seed=request.seed,
            settings=settings,
            on_epoch=request.on_epoch,
        )
        best = next((r for r in result.history if r.epoch == result.best_epoch), None)

        def predict(images: np.ndarray) -> np.ndarray:
            return predict_proba(built, images, settings=settings)

        location = built.weights_location
        return Fitted(
            predict,
            best.val_balanced_accuracy if best is not None else float("nan"),
            result.best_epoch,
            [asdict(r) for r in result.history],
            RANDOM_STAND_IN
            if stand_in
            else (f"{built.weights_source}:{location}" if location else built.weights_source),
            built,
        )

    def refit_params(
        self, method: Method, params: dict[str, Any], best_epoch: int, suite: Suite
    ) -> tuple[dict[str, Any], str]:
        """The whole head warm-up, then the fine-tuning epochs of :func:`refit_epochs`.

        ``best_epoch`` counts every stage of the best trial (the warm-up first); the warm-up is given in
        full and does not eat the fine-tuning budget. The fine-tuning epochs are the best trial's best
        fine-tuning epoch, floored at half its budget (``epochs``, capped by ``train.max_epochs``) and at
        the method's ``min_epochs`` (or ``train.min_epochs``, the larger).
        """
        cap = suite.train.max_epochs or None
        stages = plan_stages(method, params, cap)
        warmup = stages[0].epochs if len(stages) == 2 else 0
        minimum = max(method.min_epochs, suite.train.min_epochs)
        epochs, rule = refit_epochs(best_epoch - warmup, stages[-1].epochs, minimum, cap)
        return {**params, "epochs": epochs}, rule

    def cost_epochs(self, method: Method, suite: Suite) -> float | None:
        """Fine-tuning epochs (``epochs``, capped by ``train.max_epochs``) plus the head warm-up, if any;
        an epoch on a frozen backbone (the warm-up, a linear probe) costs :data:`FROZEN_EPOCH_COST` of one.

        The quick suite's dry run said 22 min for 11 min 48 s of run when every epoch counted in full.
        """
        params = method.params(suite.params.get(method.name, {}))
        stages = plan_stages(method, params, suite.train.max_epochs or None)
        return sum(s.epochs * (FROZEN_EPOCH_COST if s.head_only else 1.0) for s in stages)


METHOD_KINDS.add(CnnKind())
