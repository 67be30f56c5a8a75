"""Class-imbalance strategies: how a method reweights its loss, resamples its epochs or its features.

A strategy is an :class:`ImbalanceStrategy` with three hooks the training code calls:

- :meth:`~ImbalanceStrategy.loss` builds the training loss from the training fold's class counts;
- :meth:`~ImbalanceStrategy.sample_indices` picks the training indices visited in one epoch;
- :meth:`~ImbalanceStrategy.resample_features` rebalances a feature matrix (feature-based baselines).

The base class does nothing special (soft-target cross-entropy, every index once, features as they
are); each variant is a tiny subclass that overrides one hook (nnU-Net style). Strategies are resolved
by name from :data:`IMBALANCE` (``sdc-bench list imbalance``) or built with :func:`build_imbalance`.

Class counts of zero (a class absent from a training fold) are treated as one sample, so weights and
priors stay finite.

Examples
--------
>>> import numpy as np, torch
>>> strategy = build_imbalance("weighted_ce")
>>> criterion = strategy.loss(np.array([90, 10]))
>>> logits, targets = torch.zeros(2, 2), torch.eye(2)
>>> round(float(criterion(logits, targets)), 4)
0.6931
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo._imbalance_base import (
    ImbalanceStrategy,
    check_choice,
    check_counts,
    check_number,
    class_frequencies,
    mean_one,
)
from sdc_bench.zoo._imbalance_losses import FocalLoss, SoftTargetCrossEntropy
from sdc_bench.zoo._imbalance_samplers import (
    BalancedSampler,
    RandomOversample,
    RandomUndersample,
    SmoteFeatures,
)
from sdc_bench.zoo._registry import Listed, Registry

__all__ = [
    "IMBALANCE",
    "BalancedSampler",
    "EffectiveNumberCrossEntropy",
    "FocalLoss",
    "FocalStrategy",
    "ImbalanceSpec",
    "ImbalanceStrategy",
    "LogitAdjustedStrategy",
    "RandomOversample",
    "RandomUndersample",
    "SmoteFeatures",
    "SoftTargetCrossEntropy",
    "Tunable",
    "WeightedCrossEntropy",
    "build_imbalance",
    "class_frequencies",
]


# --------------------------------------------------------------------------------------------------
# Strategies.
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Registry: tiny keyword-only factories, one per strategy name.
# --------------------------------------------------------------------------------------------------

_Factory = Callable[..., ImbalanceStrategy]


@dataclass(frozen=True)
class Tunable:
    """A strategy parameter that a method searches: the method's name for it and the factory keyword it sets.

    Its default is the factory keyword's default (``sdc-bench list imbalance`` shows it), so it is
    declared once; a method that does not search it builds the strategy with that default.

    Parameters
    ----------
    param : the name among a method's parameters and in its Optuna study, e.g. ``focal_gamma``.
    keyword : the factory keyword it sets, e.g. ``gamma``.
    low, high, log : the search range (``trial.suggest_float(param, low, high, log=log)``).
    """

    param: str
    keyword: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class ImbalanceSpec(Listed):
    """A registered strategy: its keyword-only factory, the training hooks it uses, what a method may tune."""

    name: str
    description: str
    factory: _Factory
    hooks: tuple[str, ...]
    tunables: tuple[Tunable, ...] = ()

    LISTED: ClassVar[tuple[str, ...]] = ("hooks", "params")

    def __post_init__(self) -> None:
        for tunable in self.tunables:
            if tunable.keyword not in self.params:
                raise ValueError(
                    f"imbalance strategy {self.name!r} has no keyword {tunable.keyword!r} to tune"
                )

    @property
    def params(self) -> dict[str, Any]:
        """Parameter name -> default, read off the factory's signature (so the listing cannot drift)."""
        return {p.name: p.default for p in inspect.signature(self.factory).parameters.values()}

    def strategy_params(self, method_params: Mapping[str, Any]) -> dict[str, Any]:
        """The factory keywords that a method's parameters set (e.g. ``focal_gamma`` -> ``gamma``).

        >>> IMBALANCE.get("focal").strategy_params({"lr": 0.1, "focal_gamma": 1.5})
        {'gamma': 1.5}
        """
        return {t.keyword: method_params[t.param] for t in self.tunables if t.param in method_params}


IMBALANCE = Registry[ImbalanceSpec]("imbalance strategy", "imbalance")


def _strategy(
    name: str, *, description: str, hooks: tuple[str, ...], tunables: tuple[Tunable, ...] = ()
) -> Callable[[_Factory], _Factory]:
    """Decorator: register the factory below it as strategy ``name`` (one :class:`ImbalanceSpec`)."""

    def decorator(factory: _Factory) -> _Factory:
        IMBALANCE.add(ImbalanceSpec(name, description, factory, hooks, tunables))
        return factory

    return decorator


@_strategy("none", description="plain cross-entropy, natural sampling", hooks=())
def _none() -> ImbalanceStrategy:
    return ImbalanceStrategy()


@_strategy(
    "weighted_ce", description="cross-entropy with inverse-frequency class weights (mean 1)", hooks=("loss",)
)
def _weighted_ce() -> ImbalanceStrategy:
    return WeightedCrossEntropy()


@_strategy(
    "effective_number_ce",
    description="class-balanced cross-entropy by effective number of samples (Cui et al. 2019)",
    hooks=("loss",),
)
def _effective_number_ce(*, beta: float = 0.999) -> ImbalanceStrategy:
    return EffectiveNumberCrossEntropy(beta=beta)


@_strategy(
    "focal",
    description="focal loss (Lin et al. 2017), optional inverse-frequency alpha",
    hooks=("loss",),
    tunables=(Tunable("focal_gamma", "gamma", 0.5, 3.0),),
)
def _focal(*, gamma: float = 2.0, alpha: str = "none") -> ImbalanceStrategy:
    return FocalStrategy(gamma=gamma, alpha=alpha)


@_strategy(
    "logit_adjusted",
    description="logit-adjusted cross-entropy, tau * log(prior) added in training (Menon et al. 2021)",
    hooks=("loss",),
)
def _logit_adjusted(*, tau: float = 1.0) -> ImbalanceStrategy:
    return LogitAdjustedStrategy(tau=tau)


@_strategy(
    "balanced_sampler",
    description="class-balanced sampling with replacement, same epoch length",
    hooks=("sampler",),
)
def _balanced_sampler() -> ImbalanceStrategy:
    return BalancedSampler()


@_strategy(
    "random_oversample",
    description="random oversampling of minority indices each epoch (imbalanced-learn)",
    hooks=("sampler",),
)
def _random_oversample(*, sampling_strategy: str = "auto") -> ImbalanceStrategy:
    return RandomOversample(sampling_strategy=sampling_strategy)


@_strategy(
    "random_undersample",
    description="random undersampling of majority indices each epoch (imbalanced-learn)",
    hooks=("sampler",),
)
def _random_undersample(*, sampling_strategy: str = "auto") -> ImbalanceStrategy:
    return RandomUndersample(sampling_strategy=sampling_strategy)


@_strategy(
    "smote_features",
    description="SMOTE on feature vectors for feature-based baselines (imbalanced-learn)",
    hooks=("features",),
)
def _smote_features(*, k_neighbors: int = 5) -> ImbalanceStrategy:
    return SmoteFeatures(k_neighbors=k_neighbors)


def build_imbalance(name: str, **params: Any) -> ImbalanceStrategy:
    """Build the imbalance strategy registered as ``name`` with keyword ``params``.

    Parameters
    ----------
    name : str
        A name from :data:`IMBALANCE` (``sdc-bench list imbalance``).
    **params
        The strategy's parameters (see the registry's ``params`` metadata for names and defaults).

    Returns
    -------
    ImbalanceStrategy

    Raises
    ------
    UnknownNameError
        If ``name`` is not registered.
    ConfigError
        If a parameter is unknown or has a bad value; the message names it.

    Examples
    --------
    >>> build_imbalance("focal", gamma=1.0)
    FocalStrategy(gamma=1.0, alpha='none')
    """
    spec = IMBALANCE.get(name)
    known = list(spec.params)
    for key in params:
        if key not in known:
            allowed = ", ".join(known) if known else "none"
            raise ConfigError(
                f"imbalance strategy {name!r} has no parameter {key!r}; known parameters: {allowed}"
            )
    return spec.factory(**params)
