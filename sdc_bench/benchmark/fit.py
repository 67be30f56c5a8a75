"""The training loop for CNN methods: staged fine-tuning with early stopping on inner validation loss.

Images arrive as cached uint8 arrays; conversion, augmentation and normalisation happen on the training
device in batches (see :mod:`sdc_bench.zoo.augment`), so no per-image Python work runs in the hot loop.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from sdc_bench.core.device import autocast
from sdc_bench.core.metric_specs import balanced_accuracy_score as balanced_accuracy
from sdc_bench.zoo.augment import build_augmentation, normalize, to_float
from sdc_bench.zoo.backbones import BuiltBackbone
from sdc_bench.zoo.imbalance import IMBALANCE, ImbalanceStrategy, build_imbalance
from sdc_bench.zoo.methods import Method

__all__ = [
    "ArraySet",
    "EpochRecord",
    "FitResult",
    "FitSettings",
    "Stage",
    "balanced_accuracy",
    "balanced_nll",
    "fit_cnn",
    "plan_stages",
    "predict_proba",
    "progress_postfix",
]


@dataclass(frozen=True)
class ArraySet:
    """Images (N, H, W) uint8 — a memory-mapped cache slice is fine — and integer labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")


@dataclass(frozen=True)
class FitSettings:
    """Settings of the loop that are not hyperparameters of the method."""

    batch_size: int = 32
    patience: int = 3
    device: str = "cpu"
    eval_batch_size: int = 128
    progress: bool = False
    # a cap on epochs per stage: the fine-tuning stage gets all of it, a head warm-up comes on top
    max_epochs: int | None = None
    # early stopping never stops the final stage before this many of its epochs (0: no floor)
    min_epochs: int = 0
    label: str = ""  # what the progress bar names: method, backbone, fold, trial or refit
    precision: str = "fp32"  # autocast dtype for forward passes: 'fp32' | 'bf16' | 'fp16'
    channels_last: bool = False

    def autocast(self) -> Any:
        """The autocast context of this precision on this device (a no-op for fp32)."""
        return autocast(self.device, self.precision)


@dataclass(frozen=True)
class EpochRecord:
    stage: str
    epoch: int  # counted over all stages, from 1
    train_loss: float
    val_loss: float
    val_balanced_accuracy: float


@dataclass
class FitResult:
    model: nn.Module
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


EpochCallback = Callable[[EpochRecord], None]


def _to_batch(images: np.ndarray, index: np.ndarray, device: torch.device) -> torch.Tensor:
    """Gather uint8 rows of the cache; on a GPU via pinned memory with an asynchronous copy."""
    batch = torch.from_numpy(np.ascontiguousarray(images[index]))
    if batch.ndim == 3:
        batch = batch.unsqueeze(1)
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch


def _frozen_backbone(model: nn.Module) -> list[nn.Parameter]:
    """Freeze all but the classifier; return the classifier's parameters."""
    head = list(model.get_classifier().parameters())  # type: ignore[operator]
    head_ids = {id(p) for p in head}
    for param in model.parameters():
        param.requires_grad_(id(param) in head_ids)
    return head


def _set_bn_eval_if_frozen(model: nn.Module) -> None:
    # frozen features must stay frozen: batch-norm statistics must not drift either
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.eval()


def predict_proba(
    built: BuiltBackbone,
    images: np.ndarray,
    *,
    batch_size: int = 128,
    device: str = "cpu",
    settings: FitSettings | None = None,
) -> np.ndarray:
    """Class probabilities (N, K) as float64 rows that sum to 1."""
    settings = settings or FitSettings(device=device)
    model = built.model
    dev = torch.device(settings.device)
    model.eval()
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            index = np.arange(start, min(start + batch_size, len(images)))
            x = normalize(to_float(_to_batch(images, index, dev)), built.mean, built.std)
            if settings.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with settings.autocast():
                logits = model(x).float()
            out.append(torch.softmax(logits, dim=1).double().cpu().numpy())
    proba = np.concatenate(out) if out else np.zeros((0, built.num_classes))
    return proba / proba.sum(axis=1, keepdims=True)


def _evaluate(built: BuiltBackbone, data: ArraySet, settings: FitSettings) -> tuple[float, float]:
    proba = predict_proba(built, data.images, batch_size=settings.eval_batch_size, settings=settings)
    return balanced_nll(data.labels, proba), balanced_accuracy(
        data.labels, proba.argmax(1), built.num_classes
    )


def balanced_nll(labels: np.ndarray, proba: np.ndarray) -> float:
    """Class-balanced validation loss: the mean over classes of each class's mean negative log-likelihood.

    Plain cross-entropy on an imbalanced validation set rewards confidence in the majority class and
    so fights class-weighted training; early stopping on this loss agrees with balanced accuracy.
    """
    nll = -np.log(proba[np.arange(len(proba)), labels] + 1e-12)
    return float(np.mean([nll[labels == k].mean() for k in np.unique(labels)]))


@dataclass(frozen=True)
class Stage:
    """One training stage: which parameters train, for how many epochs, at which learning rates."""

    name: str  # 'head' (classifier only), 'finetune' (after a head warm-up) or 'full'
    epochs: int
    head_only: bool  # freeze the backbone (and its batch-norm statistics)
    backbone_lr_mult: float = 1.0  # backbone LR = lr * this (the head keeps lr)
    cosine: bool = True  # anneal the LR to zero over the stage's steps; else keep it constant


def plan_stages(method: Method, params: Mapping[str, Any], max_epochs: int | None = None) -> list[Stage]:
    """The stages of ``method``'s recipe, each capped at ``max_epochs`` epochs.

    >>> from sdc_bench.zoo.methods import METHODS
    >>> [(s.name, s.epochs, s.cosine) for s in plan_stages(METHODS.get("sdc_dl"), {"epochs": 8, "head_epochs": 2})]
    [('head', 2, False), ('finetune', 8, True)]
    """

    def cap(epochs: Any) -> int:
        return min(int(epochs), max_epochs) if max_epochs else int(epochs)

    if method.staged and not method.freeze_backbone:
        # the head warm-up keeps a constant LR; fine-tuning anneals with a lower backbone LR
        return [
            Stage("head", cap(params.get("head_epochs", 1)), head_only=True, cosine=False),
            Stage("finetune", cap(params["epochs"]), False, float(params.get("backbone_lr_mult", 1.0))),
        ]
    name = "head" if method.freeze_backbone else "full"
    # a staged head-only recipe is a warm-up without its fine-tuning: constant LR as well
    cosine = not (name == "head" and method.staged)
    return [Stage(name, cap(params["epochs"]), method.freeze_backbone, cosine=cosine)]


def _optimizer(
    model: nn.Module, stage: Stage, params: Mapping[str, Any], steps_per_epoch: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """AdamW over the stage's trainable parameters, and its per-step cosine schedule (if any)."""
    lr = float(params["lr"])
    if stage.head_only:
        groups: list[dict[str, Any]] = [{"params": _frozen_backbone(model), "lr": lr}]
    else:
        for param in model.parameters():
            param.requires_grad_(True)
        head_ids = {id(p) for p in model.get_classifier().parameters()}  # type: ignore[operator]
        body = [p for p in model.parameters() if id(p) not in head_ids]
        head = [p for p in model.parameters() if id(p) in head_ids]
        groups = [{"params": body, "lr": lr * stage.backbone_lr_mult}, {"params": head, "lr": lr}]
    optimizer = torch.optim.AdamW(groups, weight_decay=float(params["weight_decay"]))
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=stage.epochs * steps_per_epoch)
        if stage.cosine
        else None
    )
    return optimizer, scheduler


@dataclass
class _EpochLoop:
    """What every training epoch of one fit shares."""

    built: BuiltBackbone
    train: ArraySet
    strategy: ImbalanceStrategy
    criterion: nn.Module
    augmentation: nn.Module
    generator: torch.Generator  # augmentation draws
    rng: np.random.Generator  # epoch orders
    settings: FitSettings
    smoothing: float

    @classmethod
    def build(
        cls,
        built: BuiltBackbone,
        method: Method,
        params: Mapping[str, Any],
        train: ArraySet,
        seed: int,
        settings: FitSettings,
    ) -> _EpochLoop:
        """Seeded generators, the augmentation, and the imbalance strategy's loss on the training counts."""
        device = torch.device(settings.device)
        generator = torch.Generator(device=device).manual_seed(seed)
        rng = np.random.default_rng(seed)
        strength = float(params.get("aug_strength", 1.0))
        augmentation = build_augmentation(method.augment, strength=strength).to(device)
        # the strategy's tunable parameters (e.g. focal_gamma -> gamma) come from the method's parameters
        strategy = build_imbalance(
            method.imbalance, **IMBALANCE.get(method.imbalance).strategy_params(params)
        )
        criterion = strategy.loss(np.bincount(train.labels, minlength=built.num_classes)).to(device)
        smoothing = float(params.get("label_smoothing", 0.0))
        return cls(built, train, strategy, criterion, augmentation, generator, rng, settings, smoothing)

    def steps_per_epoch(self) -> int:
        """Optimizer steps of one epoch (for the schedule), from a throw-away draw of the epoch's indices."""
        epoch_length = len(self.strategy.sample_indices(self.train.labels, np.random.default_rng(0)))
        return max(1, math.ceil(epoch_length / self.settings.batch_size))

    def epoch_order(self) -> np.ndarray:
        """The indices of one epoch (the strategy's draw), shuffled."""
        order = self.strategy.sample_indices(self.train.labels, self.rng)
        return order[self.rng.permutation(len(order))]

    def run(
        self,
        order: np.ndarray,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    ) -> float:
        """One pass over ``order`` in batches; returns the mean training loss."""
        model, settings, num_classes = self.built.model, self.settings, self.built.num_classes
        device = torch.device(settings.device)
        running = torch.zeros((), device=device)
        seen = 0
        for start in range(0, len(order), settings.batch_size):
            index = order[start : start + settings.batch_size]
            if len(index) < 2:  # a batch of one breaks batch norm; it is dropped
                continue
            x = to_float(_to_batch(self.train.images, index, device))
            y = torch.from_numpy(self.train.labels[index]).to(device, non_blocking=True)
            targets = F.one_hot(y, num_classes).float()
            if self.smoothing > 0:
                targets = targets * (1 - self.smoothing) + self.smoothing / num_classes
            x, targets = self.augmentation(x, targets, self.generator)
            x = normalize(x, self.built.mean, self.built.std)
            if settings.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with settings.autocast():
                logits = model(x)
            loss = self.criterion(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            running += loss.detach() * len(index)  # no host sync per step
            seen += len(index)
        return float(running) / max(seen, 1)


class _EarlyStopper:
    """Keeps the weights of the lowest validation loss; stops a stage after ``patience`` epochs without one.

    Head warm-up epochs never use up patience, and the final stage never stops before ``min_epochs`` of
    its epochs (a floor: a noisy first epoch on a small inner split must not end fine-tuning). Without
    validation data every epoch is the best one.
    """

    def __init__(self, patience: int, min_epochs: int = 0) -> None:
        self.patience = patience
        self.min_epochs = min_epochs
        self.stage_epochs = 0
        self.patience_left = patience
        self.best_loss = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0

    def start_stage(self, *, forget_best: bool) -> None:
        self.patience_left = self.patience
        self.stage_epochs = 0
        if forget_best:
            self.best_loss, self.best_state = math.inf, None

    def update(self, model: nn.Module, record: EpochRecord, validated: bool) -> None:
        self.stage_epochs += 1
        if not validated:
            self.best_epoch = record.epoch
        elif record.val_loss < self.best_loss - 1e-6:
            self.best_loss = record.val_loss
            self.best_state = copy.deepcopy(model.state_dict())
            self.best_epoch = record.epoch
            self.patience_left = self.patience
        elif record.stage != "head":
            self.patience_left -= 1

    @property
    def should_stop(self) -> bool:
        return self.patience_left <= 0 and self.stage_epochs >= self.min_epochs


def progress_postfix(record: EpochRecord, validated: bool) -> dict[str, str]:
    """What the progress bar shows after an epoch: the stage, and the validation scores or, in a refit
    without validation data, the training loss (not ``val_bacc=nan``)."""
    if not validated:
        return {"stage": record.stage, "train_loss": f"{record.train_loss:.3f}"}
    return {
        "stage": record.stage,
        "train_loss": f"{record.train_loss:.3f}",
        "val_loss": f"{record.val_loss:.3f}",
        "val_bacc": f"{record.val_balanced_accuracy:.3f}",
    }


def fit_cnn(
    built: BuiltBackbone,
    method: Method,
    params: Mapping[str, Any],
    train: ArraySet,
    val: ArraySet | None,
    *,
    seed: int,
    settings: FitSettings = FitSettings(),
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train ``built.model`` with ``method``'s recipe; keep the weights of the best validation loss.

    With ``val=None`` (a refit on all outer-training data with a searched epoch count) every epoch
    runs and the final weights are kept.

    Stages (:func:`plan_stages`): with ``method.staged``, ``head_epochs`` epochs train the classifier on a
    frozen backbone (a warm-up: its epochs are not checkpoint candidates), then ``epochs`` epochs fine-tune
    everything (backbone LR = ``lr * backbone_lr_mult``) under a per-step cosine schedule; otherwise one
    stage of ``epochs`` (head only when ``method.freeze_backbone``). ``on_epoch`` receives each epoch's
    record (Optuna reports and prunes through it; it may raise).
    """
    device = torch.device(settings.device)
    model = built.model.to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    loop = _EpochLoop.build(built, method, params, train, seed, settings)
    stages = plan_stages(method, params, settings.max_epochs)
    result = FitResult(model)
    stopper = _EarlyStopper(settings.patience, settings.min_epochs)
    bar = tqdm(
        total=sum(s.epochs for s in stages),
        desc=settings.label or method.name,
        unit="ep",
        disable=not settings.progress,
        leave=False,
    )
    for stage_index, stage in enumerate(stages):
        if stage.epochs <= 0:
            continue
        # the head warm-up prepares fine-tuning; checkpoints are chosen among the final stage's epochs
        stopper.start_stage(forget_best=0 < stage_index == len(stages) - 1)
        optimizer, scheduler = _optimizer(model, stage, params, loop.steps_per_epoch())
        bar.set_description(f"{settings.label or method.name} [{stage.name}]")
        for _ in range(stage.epochs):
            model.train()
            if stage.head_only:
                _set_bn_eval_if_frozen(model)
            train_loss = loop.run(loop.epoch_order(), optimizer, scheduler)
            val_loss, val_bacc = _evaluate(built, val, settings) if val is not None else (math.nan, math.nan)
            record = EpochRecord(stage.name, len(result.history) + 1, train_loss, val_loss, val_bacc)
            result.history.append(record)
            bar.update(1)
            bar.set_postfix(progress_postfix(record, validated=val is not None))
            stopper.update(model, record, validated=val is not None)
            result.best_epoch = stopper.best_epoch
            if on_epoch is not None:
                on_epoch(record)
            if stopper.should_stop:
                result.stopped_early = True
                break
    bar.close()
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    for param in model.parameters():
        param.requires_grad_(True)
    model.eval()
    return result
