"""The base of every imbalance strategy: class statistics, parameter checks and :class:`ImbalanceStrategy`.

Private to :mod:`sdc_bench.zoo.imbalance`, which re-exports the public names; the variants live in
:mod:`sdc_bench.zoo.imbalance.reweighting` (loss reweighting) and :mod:`sdc_bench.zoo.imbalance.samplers`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from torch import nn

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.imbalance.losses import SoftTargetCrossEntropy

__all__ = [
    "ImbalanceStrategy",
    "check_choice",
    "check_counts",
    "check_int",
    "check_number",
    "class_frequencies",
    "mean_one",
    "seed_from",
]

# --------------------------------------------------------------------------------------------------
# Class statistics.
# --------------------------------------------------------------------------------------------------


def check_counts(class_counts: np.ndarray) -> np.ndarray:
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
    counts = check_counts(class_counts)
    return counts / counts.sum()


def mean_one(weights: np.ndarray) -> np.ndarray:
    return weights / weights.mean()


# --------------------------------------------------------------------------------------------------
# Parameter checks: fail up front, naming the parameter.
# --------------------------------------------------------------------------------------------------


def check_number(
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


def check_choice(strategy: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be one of {', '.join(choices)}; got {value!r}"
        )
    return str(value)


def check_int(strategy: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(
            f"imbalance strategy {strategy!r}: {name} must be an integer >= {low}, got {value!r}"
        )
    return value


def seed_from(rng: np.random.Generator) -> int:
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
        check_counts(class_counts)
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
