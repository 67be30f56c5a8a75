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

This package's ``__init__`` is its public face; other packages import from here. Its modules:
:mod:`~sdc_bench.zoo.imbalance.specs` holds the torch-free registry (what ``sdc-bench list imbalance`` and
the methods registry read, so this face imports torch only when a torch-using name is first used),
:mod:`~sdc_bench.zoo.imbalance.base` the :class:`ImbalanceStrategy` base and class statistics,
:mod:`~sdc_bench.zoo.imbalance.losses` the loss modules, :mod:`~sdc_bench.zoo.imbalance.reweighting` the
loss-reweighting strategies and :mod:`~sdc_bench.zoo.imbalance.samplers` the resampling ones.

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

from typing import TYPE_CHECKING, Any

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.imbalance.specs import IMBALANCE, ImbalanceSpec, Tunable
from sdc_bench.zoo.registry import lazy_exports

if TYPE_CHECKING:
    from sdc_bench.zoo.imbalance.base import ImbalanceStrategy, class_frequencies
    from sdc_bench.zoo.imbalance.losses import FocalLoss, SoftTargetCrossEntropy
    from sdc_bench.zoo.imbalance.reweighting import (
        EffectiveNumberCrossEntropy,
        FocalStrategy,
        LogitAdjustedStrategy,
        WeightedCrossEntropy,
    )
    from sdc_bench.zoo.imbalance.samplers import (
        BalancedSampler,
        RandomOversample,
        RandomUndersample,
        SmoteFeatures,
    )

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


__getattr__ = lazy_exports(
    __name__,
    {
        "base": ("ImbalanceStrategy", "class_frequencies"),
        "losses": ("FocalLoss", "SoftTargetCrossEntropy"),
        "reweighting": (
            "EffectiveNumberCrossEntropy",
            "FocalStrategy",
            "LogitAdjustedStrategy",
            "WeightedCrossEntropy",
        ),
        "samplers": ("BalancedSampler", "RandomOversample", "RandomUndersample", "SmoteFeatures"),
    },
)


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
