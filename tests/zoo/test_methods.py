"""Conformance: every registered method trains on a tiny batch and lowers its training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdc_bench.benchmark.fit import ArraySet, FitSettings, fit_cnn
from sdc_bench.benchmark.fit_features import fit_features
from sdc_bench.core.errors import ConfigError
from sdc_bench.testing import check_method
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.imbalance import IMBALANCE
from sdc_bench.zoo.methods import METHODS, Method


def _tiny_data(n: int = 48, size: int = 32, seed: int = 0) -> ArraySet:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.integers(60, 120, size=(n, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):  # a learnable, non-trivial pattern per class
        if label == 1:
            images[i, :, size // 2 - 2 : size // 2 + 2] = 230
        elif label == 2:
            images[i, size // 2 - 2 : size // 2 + 2, :] = 230
    return ArraySet(images, labels)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_and_lowers_the_loss(name: str) -> None:
    method: Method = METHODS.get(name)
    data = _tiny_data()
    if method.kind == "features":
        model = fit_features(method, method.params(), data, data, num_classes=3, seed=0)
        proba = model.predict_proba(data.images)
        assert proba.shape == (48, 3)
        np.testing.assert_allclose(proba.sum(1), 1.0)
        assert model.val_balanced_accuracy > 0.9
        return
    torch.manual_seed(0)
    built = create_backbone("resnet10t", num_classes=3, in_chans=1, pretrained=False)
    params = method.params({"epochs": 2, "head_epochs": 1, "lr": 3e-3})
    result = fit_cnn(
        built, method, params, data, data, seed=0, settings=FitSettings(batch_size=16, patience=5)
    )
    losses = [r.train_loss for r in result.history]
    assert len(losses) == (3 if method.staged else 2)
    assert all(np.isfinite(losses))
    assert min(losses[1:]) < losses[0], losses
    if method.freeze_backbone:
        fresh = create_backbone("resnet10t", num_classes=3, in_chans=1, pretrained=False)
        # the probe moved only the classifier; the features are the initial ones
        torch.manual_seed(0)
        fresh = create_backbone("resnet10t", num_classes=3, in_chans=1, pretrained=False)
        assert torch.equal(fresh.model.layer1[0].conv1.weight, built.model.layer1[0].conv1.weight)


def test_search_spaces_are_declared_beside_each_method() -> None:
    import optuna

    for name in METHODS.names():
        method = METHODS.get(name)
        trial = optuna.trial.FixedTrial(
            {
                "lr": 1e-3,
                "weight_decay": 1e-4,
                "epochs": 4,
                "head_epochs": 2,
                "backbone_lr_mult": 0.3,
                "aug_strength": 1.0,
                "focal_gamma": 2.0,
                "C": 1.0,
            }
        )
        params = method.search_space(trial, method)
        tunable = {t.param for t in IMBALANCE.get(method.imbalance).tunables}
        assert params and set(params) <= set(method.defaults) | tunable, name
        method.params(params)  # every searched value is a known parameter


def test_the_imbalance_strategy_declares_what_a_method_tunes() -> None:
    from dataclasses import replace

    import optuna

    focal = replace(METHODS.get("sdc_dl"), name="sdc_dl_focal", imbalance="focal")
    trial = optuna.trial.FixedTrial(
        {"lr": 1e-3, "weight_decay": 1e-4, "epochs": 4, "head_epochs": 2, "backbone_lr_mult": 0.3}
        | {"aug_strength": 1.0, "focal_gamma": 1.5}
    )
    params = focal.params(focal.search_space(trial, focal))
    assert params["focal_gamma"] == 1.5
    assert IMBALANCE.get("focal").strategy_params(params) == {"gamma": 1.5}
    assert "focal_gamma" not in focal.params()  # absent unless searched or set: the strategy's default holds
    with pytest.raises(ConfigError, match="focal_gamma"):
        METHODS.get("sdc_dl").params({"focal_gamma": 1.0})  # weighted_ce has nothing to tune


def test_ablations_differ_from_sdc_dl_in_one_field() -> None:
    from dataclasses import fields

    sdc = METHODS.get("sdc_dl")
    for name in ("sdc_dl_no_staging", "sdc_dl_no_aug", "sdc_dl_no_imbalance"):
        ablation = METHODS.get(name)
        changed = [
            f.name
            for f in fields(Method)
            if f.name not in {"name", "description", "role", "display_name"}
            and getattr(sdc, f.name) != getattr(ablation, f.name)
        ]
        assert len(changed) == 1, (name, changed)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_conforms(name: str) -> None:
    """Registered kind, augmentation and imbalance strategy, defaults and a search trial accepted, one epoch
    on tiny data gives probabilities: the kit's checks (sdc_bench.testing), which plugins pass too."""
    check_method(name)
