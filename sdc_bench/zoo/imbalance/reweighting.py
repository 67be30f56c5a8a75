"""The loss-reweighting imbalance strategies: each a tiny :class:`ImbalanceStrategy` subclass that
overrides :meth:`~ImbalanceStrategy.loss`. Registered by name in :mod:`sdc_bench.zoo.imbalance.specs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from sdc_bench.zoo.imbalance.base import (
    ImbalanceStrategy,
    check_choice,
    check_counts,
    check_number,
    class_frequencies,
    mean_one,
)
from sdc_bench.zoo.imbalance.losses import FocalLoss, SoftTargetCrossEntropy

__all__ = ["EffectiveNumberCrossEntropy", "FocalStrategy", "LogitAdjustedStrategy", "WeightedCrossEntropy"]


@dataclass(frozen=True)
class WeightedCrossEntropy(ImbalanceStrategy):
    """Cross-entropy with inverse-frequency class weights, normalised to mean 1."""

    name: ClassVar[str] = "weighted_ce"
    hooks: ClassVar[tuple[str, ...]] = ("loss",)

    def class_weights(self, class_counts: np.ndarray) -> np.ndarray:
        """``(K,)`` weights ``1 / n_k``, scaled to mean 1."""
        return mean_one(1.0 / check_counts(class_counts))

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        weights = torch.as_tensor(self.class_weights(class_counts), dtype=torch.float32)
        return SoftTargetCrossEntropy(class_weights=weights)


@dataclass(frozen=True)
class EffectiveNumberCrossEntropy(WeightedCrossEntropy):
    """Class-balanced cross-entropy (Cui et al. 2019): weights ``(1 - beta) / (1 - beta^n_k)``, mean 1.

    Parameters
    ----------
    beta : float
        In ``[0, 1)``; 0 gives equal weights, values near 1 approach inverse frequency.
    """

    name: ClassVar[str] = "effective_number_ce"
    beta: float = 0.999

    def __post_init__(self) -> None:
        check_number(self.name, "beta", self.beta, 0.0, 1.0, closed_high=False)

    def class_weights(self, class_counts: np.ndarray) -> np.ndarray:
        counts = check_counts(class_counts)
        effective_number = -np.expm1(counts * np.log(self.beta)) if self.beta > 0 else np.ones_like(counts)
        return mean_one((1.0 - self.beta) / effective_number)


@dataclass(frozen=True)
class FocalStrategy(ImbalanceStrategy):
    """Focal loss; ``alpha="inverse_frequency"`` adds inverse-frequency class weights (mean 1).

    Parameters
    ----------
    gamma : float
        Focusing parameter in ``[0, 10]``.
    alpha : {"none", "inverse_frequency"}
        Per-class weighting.
    """

    name: ClassVar[str] = "focal"
    hooks: ClassVar[tuple[str, ...]] = ("loss",)
    gamma: float = 2.0
    alpha: str = "none"

    def __post_init__(self) -> None:
        check_number(self.name, "gamma", self.gamma, 0.0, 10.0)
        check_choice(self.name, "alpha", self.alpha, ("none", "inverse_frequency"))

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        counts = check_counts(class_counts)
        alpha = None
        if self.alpha == "inverse_frequency":
            alpha = torch.as_tensor(mean_one(1.0 / counts), dtype=torch.float32)
        return FocalLoss(gamma=self.gamma, alpha=alpha)


@dataclass(frozen=True)
class LogitAdjustedStrategy(ImbalanceStrategy):
    """Logit-adjusted loss (Menon et al. 2021): cross-entropy on ``logits + tau * log(prior)``.

    Only the training loss sees the offsets; predictions use the raw logits, which are then
    calibrated for a balanced error.

    Parameters
    ----------
    tau : float
        Adjustment temperature in ``[0, 10]`` (1 is the paper's default).
    """

    name: ClassVar[str] = "logit_adjusted"
    hooks: ClassVar[tuple[str, ...]] = ("loss",)
    tau: float = 1.0

    def __post_init__(self) -> None:
        check_number(self.name, "tau", self.tau, 0.0, 10.0)

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        offsets = self.tau * np.log(class_frequencies(class_counts))
        return SoftTargetCrossEntropy(logit_offsets=torch.as_tensor(offsets, dtype=torch.float32))
