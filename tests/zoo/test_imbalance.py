"""Tests for sdc_bench.zoo.imbalance: a conformance suite every registered strategy passes, then specifics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdc_bench.core.errors import ConfigError, UnknownNameError
from sdc_bench.testing import check_imbalance
from sdc_bench.zoo.imbalance import (
    IMBALANCE,
    EffectiveNumberCrossEntropy,
    SoftTargetCrossEntropy,
    build_imbalance,
    class_frequencies,
)

STRATEGIES = IMBALANCE.names()
COUNTS = np.array([90, 10])
LABELS_90_10 = np.array([0] * 90 + [1] * 10)


def _logits(batch: int = 6, classes: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, classes, generator=torch.Generator().manual_seed(seed)).requires_grad_(True)


def _soft_targets(batch: int = 6, classes: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.softmax(torch.randn(batch, classes, generator=torch.Generator().manual_seed(seed)), dim=1)


def _hard(batch: int = 6, classes: int = 3) -> torch.Tensor:
    return torch.arange(batch) % classes


def _minority_fraction(labels: np.ndarray, indices: np.ndarray) -> float:
    return float(np.mean(labels[indices] == 1))


# ---------------------------------------------------------------- conformance: every registered strategy


def test_registry_holds_the_required_strategies() -> None:
    required = {
        "none",
        "weighted_ce",
        "effective_number_ce",
        "focal",
        "balanced_sampler",
        "random_oversample",
        "random_undersample",
        "logit_adjusted",
        "smote_features",
    }
    assert required <= set(STRATEGIES)


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_conforms(name: str) -> None:
    """Registry metadata, a finite differentiable loss (also with a class missing), valid reproducible
    sample indices, resampled features: the kit's checks (sdc_bench.testing), which plugins pass too."""
    check_imbalance(name)


# ---------------------------------------------------------------- losses


def test_none_is_plain_cross_entropy() -> None:
    logits, hard = _logits(), _hard()
    loss = build_imbalance("none").loss(np.array([50, 30, 5]))(logits, F.one_hot(hard, 3).float())
    torch.testing.assert_close(loss, F.cross_entropy(logits, hard))


def test_soft_target_cross_entropy_matches_torch_on_probabilities() -> None:
    logits, targets = _logits(), _soft_targets()
    torch.testing.assert_close(SoftTargetCrossEntropy()(logits, targets), F.cross_entropy(logits, targets))


def test_weighted_ce_equals_torch_weighted_cross_entropy() -> None:
    counts = np.array([50, 30, 5])
    inverse = 1.0 / counts
    weights = torch.tensor(inverse / inverse.mean(), dtype=torch.float32)
    logits, hard = _logits(batch=9), _hard(batch=9)
    loss = build_imbalance("weighted_ce").loss(counts)(logits, F.one_hot(hard, 3).float())
    torch.testing.assert_close(loss, F.cross_entropy(logits, hard, weight=weights))


def test_weighted_ce_weights_are_inverse_frequency_with_mean_one() -> None:
    weights = build_imbalance("weighted_ce").class_weights(COUNTS)  # type: ignore[attr-defined]
    np.testing.assert_allclose(weights, [0.2, 1.8])


def test_effective_number_weights_span_equal_to_inverse_frequency() -> None:
    np.testing.assert_allclose(EffectiveNumberCrossEntropy(beta=0.0).class_weights(COUNTS), [1.0, 1.0])
    np.testing.assert_allclose(
        EffectiveNumberCrossEntropy(beta=1 - 1e-9).class_weights(COUNTS), [0.2, 1.8], rtol=1e-4
    )
    beta = 0.99
    expected = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    np.testing.assert_allclose(
        EffectiveNumberCrossEntropy(beta=beta).class_weights(COUNTS), expected / expected.mean()
    )
    counts = np.array([50, 30, 5])
    logits, hard = _logits(), _hard()
    weights = EffectiveNumberCrossEntropy(beta=beta).class_weights(counts)
    loss = build_imbalance("effective_number_ce", beta=beta).loss(counts)(logits, F.one_hot(hard, 3).float())
    torch.testing.assert_close(
        loss, F.cross_entropy(logits, hard, weight=torch.tensor(weights, dtype=torch.float32))
    )


@pytest.mark.parametrize("target_kind", ["soft", "one_hot"])
def test_focal_with_gamma_zero_is_cross_entropy(target_kind: str) -> None:
    logits = _logits()
    targets = _soft_targets() if target_kind == "soft" else F.one_hot(_hard(), 3).float()
    focal = build_imbalance("focal", gamma=0.0).loss(np.array([50, 30, 5]))(logits, targets)
    torch.testing.assert_close(focal, F.cross_entropy(logits, targets))


def test_focal_down_weights_easy_examples() -> None:
    logits = torch.tensor([[4.0, 0.0], [0.5, 0.0]])  # first confident and right, second barely right
    targets = torch.eye(2)[[0, 0]]
    ce = F.cross_entropy(logits, targets, reduction="none")
    per_sample = [
        build_imbalance("focal", gamma=2.0).loss(COUNTS)(logits[i : i + 1], targets[i : i + 1])
        for i in (0, 1)
    ]
    assert per_sample[0] / ce[0] < per_sample[1] / ce[1] < 1.0


def test_focal_alpha_weights_the_minority_class() -> None:
    logits, targets = torch.zeros(1, 2), torch.tensor([[0.0, 1.0]])
    plain = build_imbalance("focal", gamma=1.0).loss(COUNTS)(logits, targets)
    weighted = build_imbalance("focal", gamma=1.0, alpha="inverse_frequency").loss(COUNTS)(logits, targets)
    torch.testing.assert_close(weighted, plain * 1.8)


@pytest.mark.parametrize("tau", [0.0, 1.0, 2.5])
def test_logit_adjusted_equals_cross_entropy_on_adjusted_logits(tau: float) -> None:
    counts = np.array([50, 30, 5])
    logits, hard = _logits(), _hard()
    offsets = torch.tensor(tau * np.log(counts / counts.sum()), dtype=torch.float32)
    loss = build_imbalance("logit_adjusted", tau=tau).loss(counts)(logits, F.one_hot(hard, 3).float())
    torch.testing.assert_close(loss, F.cross_entropy(logits + offsets, hard))


def test_losses_follow_the_logits_device_and_refuse_bad_shapes() -> None:
    criterion = build_imbalance("weighted_ce").loss(COUNTS)
    with pytest.raises(ValueError, match="one-hot"):
        criterion(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="class_counts"):
        build_imbalance("weighted_ce").loss(np.array([-1, 3]))


def test_class_frequencies_sum_to_one() -> None:
    np.testing.assert_allclose(class_frequencies(COUNTS), [0.9, 0.1])


# ---------------------------------------------------------------- samplers and features


@pytest.mark.parametrize("name", ["balanced_sampler", "random_oversample", "random_undersample"])
def test_samplers_shift_the_class_balance(name: str) -> None:
    indices = build_imbalance(name).sample_indices(LABELS_90_10, np.random.default_rng(0))
    assert _minority_fraction(LABELS_90_10, indices) > 0.35


@pytest.mark.parametrize("name", ["balanced_sampler", "random_oversample", "random_undersample"])
def test_samplers_differ_between_epochs(name: str) -> None:
    rng = np.random.default_rng(0)
    strategy = build_imbalance(name)
    first, second = strategy.sample_indices(LABELS_90_10, rng), strategy.sample_indices(LABELS_90_10, rng)
    assert not np.array_equal(first, second)


def test_sampler_epoch_lengths() -> None:
    rng = np.random.default_rng(0)
    assert build_imbalance("balanced_sampler").sample_indices(LABELS_90_10, rng).size == 100
    oversampled = build_imbalance("random_oversample").sample_indices(LABELS_90_10, rng)
    assert oversampled.size == 180 and set(range(100)) <= set(oversampled.tolist())  # every sample kept
    undersampled = build_imbalance("random_undersample").sample_indices(LABELS_90_10, rng)
    assert undersampled.size == 20 and len(set(undersampled.tolist())) == 20  # no duplicates


def test_default_strategy_visits_every_index_once() -> None:
    indices = build_imbalance("none").sample_indices(LABELS_90_10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(indices), np.arange(100))


def test_samplers_cope_with_a_single_class() -> None:
    labels = np.zeros(7, dtype=int)
    for name in ("balanced_sampler", "random_oversample", "random_undersample"):
        indices = build_imbalance(name).sample_indices(labels, np.random.default_rng(0))
        assert indices.size == 7 and indices.max() < 7


def test_smote_features_balances_classes_and_keeps_the_feature_dimension() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 7))
    resampled, labels = build_imbalance("smote_features").resample_features(features, LABELS_90_10, seed=0)
    assert resampled.shape == (180, 7)
    np.testing.assert_array_equal(np.bincount(labels), [90, 90])
    np.testing.assert_array_equal(resampled[:100], features)  # originals kept, synthetic appended


def test_smote_features_adapts_k_to_a_tiny_minority() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(23, 4))
    for minority in (3, 1):
        labels = np.array([0] * (23 - minority) + [1] * minority)
        resampled, new_labels = build_imbalance("smote_features", k_neighbors=5).resample_features(
            features, labels, seed=0
        )
        assert resampled.shape[1] == 4
        np.testing.assert_array_equal(np.bincount(new_labels), [23 - minority, 23 - minority])


# ---------------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    ("name", "params", "parameter"),
    [
        ("effective_number_ce", {"beta": 1.0}, "beta"),
        ("effective_number_ce", {"beta": -0.1}, "beta"),
        ("focal", {"gamma": -1.0}, "gamma"),
        ("focal", {"gamma": "2"}, "gamma"),
        ("focal", {"alpha": "balanced"}, "alpha"),
        ("logit_adjusted", {"tau": float("inf")}, "tau"),
        ("random_oversample", {"sampling_strategy": "everything"}, "sampling_strategy"),
        ("random_undersample", {"sampling_strategy": 0.5}, "sampling_strategy"),
        ("smote_features", {"k_neighbors": 0}, "k_neighbors"),
        ("smote_features", {"k_neighbors": 2.5}, "k_neighbors"),
        ("weighted_ce", {"beta": 0.9}, "beta"),
    ],
)
def test_bad_parameters_raise_config_error_naming_them(
    name: str, params: dict[str, object], parameter: str
) -> None:
    with pytest.raises(ConfigError, match=parameter):
        build_imbalance(name, **params)


def test_unknown_strategy_suggests_a_close_name() -> None:
    with pytest.raises(UnknownNameError, match="focal"):
        build_imbalance("focall")
