"""The imbalance registry: every strategy's :class:`ImbalanceSpec`, without torch.

``sdc-bench list imbalance`` reads this module alone; each factory imports its strategy class when it
is called, so listing needs neither torch nor imbalanced-learn. The public face is
:mod:`sdc_bench.zoo.imbalance`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sdc_bench.zoo.registry import Listed, Registry

if TYPE_CHECKING:
    from sdc_bench.zoo.imbalance.base import ImbalanceStrategy

__all__ = ["IMBALANCE", "ImbalanceSpec", "Tunable"]


# --------------------------------------------------------------------------------------------------
# Registry: tiny keyword-only factories, one per strategy name.
# --------------------------------------------------------------------------------------------------

_Factory = Callable[..., "ImbalanceStrategy"]


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
    from sdc_bench.zoo.imbalance.base import ImbalanceStrategy

    return ImbalanceStrategy()


@_strategy(
    "weighted_ce", description="cross-entropy with inverse-frequency class weights (mean 1)", hooks=("loss",)
)
def _weighted_ce() -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.reweighting import WeightedCrossEntropy

    return WeightedCrossEntropy()


@_strategy(
    "effective_number_ce",
    description="class-balanced cross-entropy by effective number of samples (Cui et al. 2019)",
    hooks=("loss",),
)
def _effective_number_ce(*, beta: float = 0.999) -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.reweighting import EffectiveNumberCrossEntropy

    return EffectiveNumberCrossEntropy(beta=beta)


@_strategy(
    "focal",
    description="focal loss (Lin et al. 2017), optional inverse-frequency alpha",
    hooks=("loss",),
    tunables=(Tunable("focal_gamma", "gamma", 0.5, 3.0),),
)
def _focal(*, gamma: float = 2.0, alpha: str = "none") -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.reweighting import FocalStrategy

    return FocalStrategy(gamma=gamma, alpha=alpha)


@_strategy(
    "logit_adjusted",
    description="logit-adjusted cross-entropy, tau * log(prior) added in training (Menon et al. 2021)",
    hooks=("loss",),
)
def _logit_adjusted(*, tau: float = 1.0) -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.reweighting import LogitAdjustedStrategy

    return LogitAdjustedStrategy(tau=tau)


@_strategy(
    "balanced_sampler",
    description="class-balanced sampling with replacement, same epoch length",
    hooks=("sampler",),
)
def _balanced_sampler() -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.samplers import BalancedSampler

    return BalancedSampler()


@_strategy(
    "random_oversample",
    description="random oversampling of minority indices each epoch (imbalanced-learn)",
    hooks=("sampler",),
)
def _random_oversample(*, sampling_strategy: str = "auto") -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.samplers import RandomOversample

    return RandomOversample(sampling_strategy=sampling_strategy)


@_strategy(
    "random_undersample",
    description="random undersampling of majority indices each epoch (imbalanced-learn)",
    hooks=("sampler",),
)
def _random_undersample(*, sampling_strategy: str = "auto") -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.samplers import RandomUndersample

    return RandomUndersample(sampling_strategy=sampling_strategy)


@_strategy(
    "smote_features",
    description="SMOTE on feature vectors for feature-based baselines (imbalanced-learn)",
    hooks=("features",),
)
def _smote_features(*, k_neighbors: int = 5) -> ImbalanceStrategy:
    from sdc_bench.zoo.imbalance.samplers import SmoteFeatures

    return SmoteFeatures(k_neighbors=k_neighbors)
