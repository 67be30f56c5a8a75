"""Methods: the recipes the benchmark compares (SDC-DL, its baselines and its ablations).

A method fixes how a backbone is trained (weights, augmentation, imbalance strategy, training stages) and
declares its hyperparameter defaults and Optuna search space beside its definition. Variants are small
``dataclasses.replace`` edits of SDC-DL, so an ablation differs from it in exactly one field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.imbalance import IMBALANCE
from sdc_bench.zoo.registry import Listed, Registry

__all__ = ["METHODS", "Method", "TrialLike", "cnn_search_space", "features_search_space"]


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` a search space uses (so this module does not import optuna)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...


SearchSpace = Callable[[TrialLike, "Method"], dict[str, Any]]


def _imbalance_tunables(method: Method) -> Any:
    return IMBALANCE.get(method.imbalance).tunables


def cnn_search_space(trial: TrialLike, method: Method) -> dict[str, Any]:
    """Learning rate, weight decay, epochs per stage, augmentation strength, backbone LR multiplier.

    A parameter the suite fixes (``[params.<method>]``) is not searched: the cell answers it with the
    suite's value, so a small search spends its trials on the rest.
    """
    params: dict[str, Any] = {
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "epochs": trial.suggest_int("epochs", 3, max(3, int(method.defaults["epochs"]) * 2)),
    }
    if method.staged:
        params["head_epochs"] = trial.suggest_int("head_epochs", 1, 4)
        params["backbone_lr_mult"] = trial.suggest_float("backbone_lr_mult", 0.03, 1.0, log=True)
    if method.augment != "none":
        params["aug_strength"] = trial.suggest_float("aug_strength", 0.25, 1.5)
    for tunable in _imbalance_tunables(method):  # e.g. focal_gamma of the focal loss
        params[tunable.param] = trial.suggest_float(tunable.param, tunable.low, tunable.high, log=tunable.log)
    return params


def features_search_space(trial: TrialLike, method: Method) -> dict[str, Any]:
    """Inverse regularisation strength of the logistic regression."""
    return {"C": trial.suggest_float("C", 1e-3, 10.0, log=True)}


@dataclass(frozen=True)
class Method(Listed):
    """A training recipe, independent of the backbone it is applied to.

    Parameters
    ----------
    name : registry name, used in tables.
    kind : names how the benchmark plans, fits and costs it: a kind registered in
        ``sdc_bench/benchmark/kinds/`` (``"cnn"``: trained end to end by the fit loop; ``"features"``:
        fixed features + scikit-learn, the extractor in ``defaults["features"]``). The zoo does not import
        the benchmark floor, so the method carries the name and the kind's module carries the behaviour.
    pretrained : start from ImageNet weights.
    augment : augmentation policy name (``sdc-bench list augmentations``).
    imbalance : imbalance strategy name (``sdc-bench list imbalance``).
    staged : stage 1 trains the head on a frozen backbone, stage 2 fine-tunes everything with a lower
        backbone learning rate (``backbone_lr_mult``) and a cosine schedule.
    freeze_backbone : train only the head, ever (linear probe).
    defaults : hyperparameters used without a search, and the base of every search.
    display_name : the name tables, figures and the report show (``run.json`` ``display_names``).
    min_epochs : the fewest fine-tuning epochs a refit without validation data may train (see
        ``sdc_bench/benchmark/kinds/cnn.py::refit_params``); 3 because a cosine schedule over fewer
        epochs never leaves its high-LR start and a fresh head has not settled (the report flags a final
        fit below 3 epochs as ``short_refit``).
    """

    name: str
    description: str
    kind: str = "cnn"
    pretrained: bool = True
    augment: str = "sdc_dl_advanced"
    imbalance: str = "weighted_ce"
    staged: bool = True
    freeze_backbone: bool = False
    role: str = "baseline"  # 'proposed' | 'baseline' | 'ablation'
    defaults: Mapping[str, Any] = field(
        default_factory=lambda: {
            # the fresh head's LR; the pretrained backbone trains at lr x backbone_lr_mult
            "lr": 3e-3,
            "weight_decay": 1e-4,  # light: a few hundred images, and augmentation regularises already
            "epochs": 8,  # fine-tuning epochs after the warm-up; early stopping picks the checkpoint
            "head_epochs": 2,  # enough for a fresh linear head to stop sending large gradients back
            "backbone_lr_mult": 0.5,  # pretrained features move slower than the head (discriminative LR)
            "aug_strength": 0.5,  # a moderate dose for the fixed recipe; the search explores 0.25-1.5
            "label_smoothing": 0.0,  # off: it shrinks the probabilities that calibration and log-loss read
        }
    )
    search_space: SearchSpace = cnn_search_space
    display_name: str = ""
    min_epochs: int = 3

    #: What ``sdc-bench list methods`` shows besides the name and description.
    LISTED: ClassVar[tuple[str, ...]] = (
        "display_name", "role", "kind", "pretrained", "augment", "imbalance", "staged",
    )  # fmt: skip

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``; unknown names are refused.

        Known names are the defaults' and those the imbalance strategy lets a method tune (e.g.
        ``focal_gamma``), which stay absent unless given: the strategy then uses its own default.
        """
        merged = dict(self.defaults)
        tunable = {t.param for t in _imbalance_tunables(self)}
        for key, value in (overrides or {}).items():
            if key not in merged and key not in tunable:
                raise ConfigError(
                    f"method {self.name!r} has no parameter {key!r}; known: {', '.join(sorted({*merged, *tunable}))}"
                )
            merged[key] = value
        return merged


METHODS = Registry[Method]("method", "methods")


SDC_DL = METHODS.add(
    Method(
        "sdc_dl",
        "SDC-DL: ImageNet-pretrained CNN, head warm-up then full fine-tune (discriminative LR, cosine), advanced augmentation",
        role="proposed",
        display_name="SDC-DL",
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="scratch",
        display_name="Scratch CNN",
        description="Same CNN trained from random initialisation, no augmentation, single stage",
        pretrained=False,
        augment="none",
        imbalance="none",
        staged=False,
        role="baseline",
        # no pretrained features to protect: a lower LR than fine-tuning's, more epochs to learn them
        defaults={**SDC_DL.defaults, "lr": 2e-3, "epochs": 10},
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="linear_probe",
        display_name="Linear probe",
        description="Linear classifier on frozen ImageNet features",
        augment="none",
        imbalance="none",
        staged=False,
        freeze_backbone=True,
        role="baseline",
        # a linear head on frozen features is convex and cheap: more epochs cost little
        defaults={**SDC_DL.defaults, "lr": 3e-3, "epochs": 10},
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="finetune_noaug",
        display_name="Fine-tune (no aug.)",
        description="Plain fine-tuning of the pretrained CNN, single stage, no augmentation",
        augment="none",
        imbalance="none",
        staged=False,
        role="baseline",
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="sdc_dl_no_staging",
        display_name="SDC-DL (no staging)",
        description="SDC-DL ablation: no head warm-up / discriminative LR",
        staged=False,
        role="ablation",
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="sdc_dl_no_aug",
        display_name="SDC-DL (no aug.)",
        description="SDC-DL ablation: no augmentation",
        augment="none",
        role="ablation",
    )
)
METHODS.add(
    replace(
        SDC_DL,
        name="sdc_dl_no_imbalance",
        display_name="SDC-DL (no imbalance)",
        description="SDC-DL ablation: no imbalance handling",
        imbalance="none",
        role="ablation",
    )
)


METHODS.add(
    Method(
        "classical",
        "Classical pipeline: HOG + intensity histogram features, class-weighted logistic regression",
        kind="features",
        display_name="Classical HOG+LR",
        pretrained=False,
        augment="none",
        imbalance="weighted_ce",
        staged=False,
        # C = 0.1: strong L2, since a few hundred images meet thousands of HOG features
        defaults={"features": "hog_hist", "C": 0.1, "max_iter": 2000},
        search_space=features_search_space,
    )
)
