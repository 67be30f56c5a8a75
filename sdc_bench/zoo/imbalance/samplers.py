"""Sampler strategies: which training indices an epoch visits, or which feature rows a baseline sees.

Private to :mod:`sdc_bench.zoo.imbalance`, which registers and re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from sdc_bench.zoo.imbalance.base import ImbalanceStrategy, check_choice, check_int, seed_from

__all__ = ["BalancedSampler", "RandomOversample", "RandomUndersample", "SmoteFeatures"]

_SAMPLING_STRATEGIES = ("auto", "minority", "not minority", "not majority", "all", "majority")


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
        check_choice(self.name, "sampling_strategy", self.sampling_strategy, _SAMPLING_STRATEGIES)

    def _sampler(self, seed: int) -> Any:
        raise NotImplementedError

    def sample_indices(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        labels = np.asarray(labels)
        if np.unique(labels).size < 2:
            return rng.permutation(labels.size).astype(np.int64)
        sampler = self._sampler(seed_from(rng))
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
        check_int(self.name, "k_neighbors", self.k_neighbors, 1)

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
