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
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from torch import Tensor, nn

from sdc_bench.core.errors import ConfigError
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
    "WeightedCrossEntropy",
    "build_imbalance",
    "class_frequencies",
]


# --------------------------------------------------------------------------------------------------
# Class statistics.
# --------------------------------------------------------------------------------------------------


def _check_counts(class_counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError(
            f"class_counts must be a 1-D array with one count per class (>= 2), got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"class_counts must be finite and non-negative, got {counts.tolist()}")
    return np.maximum(counts, 1.0)  # an absent class counts as one sample: finite weights and priors


def class_frequencies(class_counts: np.ndarray) -> np.ndarray:
    """Class priors ``n_k / sum(n)`` (absent classes counted as one sample).

    Parameters
    ----------
    class_counts : np.ndarray
        ``(K,)`` number of training samples per class.

    Returns
    -------
    np.ndarray
        ``(K,)`` float64 priors summing to 1.

    Examples
    --------
    >>> class_frequencies(np.array([3, 1])).tolist()
    [0.75, 0.25]
    """
    counts = _check_counts(class_counts)
    return counts / counts.sum()


def _mean_one(weights: np.ndarray) -> np.ndarray:
    return weights / weights.mean()


# --------------------------------------------------------------------------------------------------
# Loss modules: logits (B, K), soft or one-hot float targets (B, K) -> scalar.
# --------------------------------------------------------------------------------------------------


def _check_logits_targets(logits: Tensor, targets: Tensor) -> None:
    if logits.ndim != 2 or targets.shape != logits.shape:
        raise ValueError(
            f"losses expect logits and targets of the same (B, K) shape, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}; one-hot encode integer labels first"
        )


class SoftTargetCrossEntropy(nn.Module):
    """Cross-entropy for soft or one-hot targets, optionally class-weighted and with logit offsets.

    ``loss_i = -sum_k w_k t_ik log softmax(z_i + offset)_k``, averaged as PyTorch does for weighted
    cross-entropy: divided by ``sum_i sum_k w_k t_ik`` (the batch size when unweighted), so on one-hot
    targets it equals ``F.cross_entropy(z + offset, y, weight=w)``.

    Parameters
    ----------
    class_weights : Tensor, optional
        ``(K,)`` per-class weights.
    logit_offsets : Tensor, optional
        ``(K,)`` added to the logits before the softmax (training loss only; logit adjustment).
    """

    def __init__(self, class_weights: Tensor | None = None, logit_offsets: Tensor | None = None) -> None:
        super().__init__()
        self.class_weights: Tensor | None
        self.logit_offsets: Tensor | None
        self.register_buffer("class_weights", class_weights)
        self.register_buffer("logit_offsets", logit_offsets)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_logits_targets(logits, targets)
        if self.logit_offsets is not None:
            logits = logits + self.logit_offsets.to(logits.device, logits.dtype)
        log_probs = F.log_softmax(logits, dim=1)
        targets = targets.to(log_probs.dtype)
        if self.class_weights is None:
            return -(targets * log_probs).sum(dim=1).mean()
        weighted = targets * self.class_weights.to(log_probs.device, log_probs.dtype)
        return -(weighted * log_probs).sum() / weighted.sum().clamp_min(torch.finfo(log_probs.dtype).tiny)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) for soft or one-hot targets, averaged over the batch.

    ``loss_i = -sum_k a_k t_ik (1 - p_ik)^gamma log p_ik``; with ``gamma = 0`` and no ``alpha`` this is
    the cross-entropy.

    Parameters
    ----------
    gamma : float
        Focusing parameter (>= 0).
    alpha : Tensor, optional
        ``(K,)`` per-class weights.
    """

    def __init__(self, gamma: float = 2.0, alpha: Tensor | None = None) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.alpha: Tensor | None
        self.register_buffer("alpha", alpha)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_logits_targets(logits, targets)
        log_probs = F.log_softmax(logits, dim=1)
        modulating = (1.0 - log_probs.exp()).clamp_min(0.0) ** self.gamma
        per_class = targets.to(log_probs.dtype) * modulating * log_probs
        if self.alpha is not None:
            per_class = per_class * self.alpha.to(log_probs.device, log_probs.dtype)
        return -per_class.sum(dim=1).mean()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma:g}"


# --------------------------------------------------------------------------------------------------
# Parameter checks: fail up front, naming the parameter.
# --------------------------------------------------------------------------------------------------


def _check_number(
    strategy: str, name: str, value: Any, low: float, high: float, *, closed_high: bool = True
) -> float:
    bracket = "]" if closed_high else ")"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be a number in [{low:g}, {high:g}{bracket}, got {value!r}"
        )
    inside = low <= value <= high if closed_high else low <= value < high
    if not inside:
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be in [{low:g}, {high:g}{bracket}, got {value!r}"
        )
    return float(value)


def _check_choice(strategy: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be one of {', '.join(choices)}; got {value!r}"
        )
    return str(value)


def _check_int(strategy: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be an integer >= {low}, got {value!r}"
        )
    return value


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


_SAMPLING_STRATEGIES = ("auto", "minority", "not minority", "not majority", "all", "majority")


# --------------------------------------------------------------------------------------------------
# Strategies.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImbalanceStrategy:
    """Base strategy: plain soft-target cross-entropy, every training index once, features unchanged.

    Subclasses override one hook and list it in ``hooks``.
    """

    name: ClassVar[str] = "none"
    hooks: ClassVar[tuple[str, ...]] = ()

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        """Loss module: ``loss(logits (B, K), targets (B, K) soft/one-hot float) -> scalar``.

        Parameters
        ----------
        class_counts : np.ndarray
            ``(K,)`` training samples per class (of the fold being trained).
        """
        _check_counts(class_counts)
        return SoftTargetCrossEntropy()

    def sample_indices(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of the training set to visit in one epoch (may repeat or drop samples).

        Parameters
        ----------
        labels : np.ndarray
            ``(N,)`` training labels (integers or class names).
        rng : np.random.Generator
            The only source of randomness.

        Returns
        -------
        np.ndarray
            1-D int64 indices into ``labels``.
        """
        return np.arange(len(labels), dtype=np.int64)

    def resample_features(
        self, features: np.ndarray, labels: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rebalance a ``(N, D)`` feature matrix and its ``(N,)`` labels (feature-based baselines)."""
        return features, labels


@dataclass(frozen=True)
class WeightedCrossEntropy(ImbalanceStrategy):
    """Cross-entropy with inverse-frequency class weights, normalised to mean 1."""

    name: ClassVar[str] = "weighted_ce"
    hooks: ClassVar[tuple[str, ...]] = ("loss",)

    def class_weights(self, class_counts: np.ndarray) -> np.ndarray:
        """``(K,)`` weights ``1 / n_k``, scaled to mean 1."""
        return _mean_one(1.0 / _check_counts(class_counts))

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
        _check_number(self.name, "beta", self.beta, 0.0, 1.0, closed_high=False)

    def class_weights(self, class_counts: np.ndarray) -> np.ndarray:
        counts = _check_counts(class_counts)
        effective_number = -np.expm1(counts * np.log(self.beta)) if self.beta > 0 else np.ones_like(counts)
        return _mean_one((1.0 - self.beta) / effective_number)


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
        _check_number(self.name, "gamma", self.gamma, 0.0, 10.0)
        _check_choice(self.name, "alpha", self.alpha, ("none", "inverse_frequency"))

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        counts = _check_counts(class_counts)
        alpha = None
        if self.alpha == "inverse_frequency":
            alpha = torch.as_tensor(_mean_one(1.0 / counts), dtype=torch.float32)
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
        _check_number(self.name, "tau", self.tau, 0.0, 10.0)

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        offsets = self.tau * np.log(class_frequencies(class_counts))
        return SoftTargetCrossEntropy(logit_offsets=torch.as_tensor(offsets, dtype=torch.float32))


@dataclass(frozen=True)
class BalancedSampler(ImbalanceStrategy):
    """Each epoch draws ``N`` indices with replacement, with probability inverse to the class frequency."""

    name: ClassVar[str] = "balanced_sampler"
    hooks: ClassVar[tuple[str, ...]] = ("sampler",)

    def sample_indices(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.size == 0:
            return np.arange(0, dtype=np.int64)
        _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[codes.reshape(-1)]
        return rng.choice(labels.size, size=labels.size, replace=True, p=weights / weights.sum()).astype(
            np.int64
        )


@dataclass(frozen=True)
class _ImblearnIndexSampler(ImbalanceStrategy):
    """Resample the index array with an imbalanced-learn sampler (``sample_indices_``), in random order."""

    hooks: ClassVar[tuple[str, ...]] = ("sampler",)
    sampling_strategy: str = "auto"

    def __post_init__(self) -> None:
        _check_choice(self.name, "sampling_strategy", self.sampling_strategy, _SAMPLING_STRATEGIES)

    def _sampler(self, seed: int) -> Any:
        raise NotImplementedError

    def sample_indices(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        labels = np.asarray(labels)
        if np.unique(labels).size < 2:
            return rng.permutation(labels.size).astype(np.int64)
        sampler = self._sampler(_seed_from(rng))
        sampler.fit_resample(np.arange(labels.size).reshape(-1, 1), labels)
        return rng.permutation(np.asarray(sampler.sample_indices_, dtype=np.int64))


@dataclass(frozen=True)
class RandomOversample(_ImblearnIndexSampler):
    """Duplicate minority-class indices at random until classes balance (imbalanced-learn)."""

    name: ClassVar[str] = "random_oversample"

    def _sampler(self, seed: int) -> Any:
        return RandomOverSampler(sampling_strategy=self.sampling_strategy, random_state=seed)


@dataclass(frozen=True)
class RandomUndersample(_ImblearnIndexSampler):
    """Drop majority-class indices at random each epoch until classes balance (imbalanced-learn)."""

    name: ClassVar[str] = "random_undersample"

    def _sampler(self, seed: int) -> Any:
        return RandomUnderSampler(sampling_strategy=self.sampling_strategy, random_state=seed)


@dataclass(frozen=True)
class SmoteFeatures(ImbalanceStrategy):
    """SMOTE on feature vectors (imbalanced-learn); ``k_neighbors`` shrinks to fit the smallest class.

    A smallest class with a single sample cannot be interpolated, so it is duplicated instead
    (random oversampling).

    Parameters
    ----------
    k_neighbors : int
        Neighbours used for interpolation (upper bound; at most smallest class size - 1).
    """

    name: ClassVar[str] = "smote_features"
    hooks: ClassVar[tuple[str, ...]] = ("features",)
    k_neighbors: int = 5

    def __post_init__(self) -> None:
        _check_int(self.name, "k_neighbors", self.k_neighbors, 1)

    def resample_features(
        self, features: np.ndarray, labels: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        features, labels = np.asarray(features), np.asarray(labels)
        if features.ndim != 2 or features.shape[0] != labels.shape[0]:
            raise ValueError(
                f"resample_features expects (N, D) features and (N,) labels, got {features.shape} and {labels.shape}"
            )
        _, counts = np.unique(labels, return_counts=True)
        if counts.size < 2:
            return features, labels
        k_neighbors = min(self.k_neighbors, int(counts.min()) - 1)
        sampler: Any
        if k_neighbors < 1:
            sampler = RandomOverSampler(random_state=seed)
        else:
            sampler = SMOTE(k_neighbors=k_neighbors, random_state=seed)
        resampled_features, resampled_labels = sampler.fit_resample(features, labels)
        return np.asarray(resampled_features), np.asarray(resampled_labels)


# --------------------------------------------------------------------------------------------------
# Registry: tiny keyword-only factories, one per strategy name.
# --------------------------------------------------------------------------------------------------

_Factory = Callable[..., ImbalanceStrategy]


@dataclass(frozen=True)
class ImbalanceSpec(Listed):
    """A registered strategy: its keyword-only factory and the training hooks it uses."""

    name: str
    description: str
    factory: _Factory
    hooks: tuple[str, ...]

    LISTED: ClassVar[tuple[str, ...]] = ("hooks", "params")

    @property
    def params(self) -> dict[str, Any]:
        """Parameter name -> default, read off the factory's signature (so the listing cannot drift)."""
        return {p.name: p.default for p in inspect.signature(self.factory).parameters.values()}


IMBALANCE = Registry[ImbalanceSpec]("imbalance strategy", "imbalance")


def _strategy(name: str, *, description: str, hooks: tuple[str, ...]) -> Callable[[_Factory], _Factory]:
    """Decorator: register the factory below it as strategy ``name`` (one :class:`ImbalanceSpec`)."""

    def decorator(factory: _Factory) -> _Factory:
        IMBALANCE.add(ImbalanceSpec(name, description, factory, hooks))
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
    "focal", description="focal loss (Lin et al. 2017), optional inverse-frequency alpha", hooks=("loss",)
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
