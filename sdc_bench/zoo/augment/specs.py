"""The augmentation registry: every policy's :class:`AugmentationSpec`, without torch.

``sdc-bench list augmentations`` reads this module alone; each factory imports its policy classes
when it is called, so listing needs no torch. The public face is
:mod:`sdc_bench.zoo.augment`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sdc_bench.zoo.registry import Listed, Registry

if TYPE_CHECKING:
    from sdc_bench.zoo.augment.base import Augmentation

__all__ = ["AUGMENTATIONS", "AugmentationSpec"]


# --------------------------------------------------------------------------------------------------
# Registry: tiny factories, one per policy name.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AugmentationSpec(Listed):
    """A registered policy: its factory ``(strength, allow_hflip) -> Augmentation`` and what it does."""

    name: str
    description: str
    factory: Callable[..., Augmentation]
    mixes_labels: bool
    geometric: bool
    photometric: bool

    LISTED: ClassVar[tuple[str, ...]] = ("mixes_labels", "geometric", "photometric")


AUGMENTATIONS = Registry[AugmentationSpec]("augmentation", "augmentations")


def _policy(
    name: str, *, description: str, mixes_labels: bool, geometric: bool, photometric: bool
) -> Callable[[Callable[..., Augmentation]], Callable[..., Augmentation]]:
    """Decorator: register the factory below it as policy ``name`` (one :class:`AugmentationSpec`)."""

    def decorator(factory: Callable[..., Augmentation]) -> Callable[..., Augmentation]:
        AUGMENTATIONS.add(AugmentationSpec(name, description, factory, mixes_labels, geometric, photometric))
        return factory

    return decorator


@_policy(
    "none", description="no augmentation (identity)", mixes_labels=False, geometric=False, photometric=False
)
def _none(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.base import NoAugmentation

    return NoAugmentation(strength)


@_policy(
    "basic",
    description="small rotation, scale and shift per sample; horizontal flip only if allowed",
    mixes_labels=False,
    geometric=True,
    photometric=False,
)
def _basic(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import BasicAugmentation

    return BasicAugmentation(strength, allow_hflip=allow_hflip)


@_policy(
    "medical",
    description="gamma, contrast, CLAHE-like local contrast, Gaussian blur and noise per sample",
    mixes_labels=False,
    geometric=False,
    photometric=True,
)
def _medical(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import MedicalAugmentation

    return MedicalAugmentation(strength)


@_policy(
    "randaugment",
    description="RandAugment: 2 random ops per sample at magnitude 9/30 (grayscale op set)",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _randaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import RandAugment

    return RandAugment(strength)


@_policy(
    "trivialaugment",
    description="TrivialAugmentWide: 1 random op per sample at a random magnitude",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _trivialaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import TrivialAugmentWide

    return TrivialAugmentWide(strength)


@_policy(
    "augmix",
    description="AugMix: per-sample Dirichlet mix of 3 random op chains, blended with the original",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _augmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import AugMix

    return AugMix(strength)


@_policy(
    "mixup",
    description="Mixup (alpha 0.2): blend each image and its label with a random partner",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _mixup(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import Mixup

    return Mixup(strength)


@_policy(
    "cutmix",
    description="CutMix (alpha 1.0): paste a partner's box, labels mixed by pasted area",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _cutmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.policies import CutMix

    return CutMix(strength)


@_policy(
    "sdc_dl_advanced",
    description="SDC-DL advanced: basic geometric + medical photometric + random erasing",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _sdc_dl_advanced(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    from sdc_bench.zoo.augment.base import ComposeAugmentation
    from sdc_bench.zoo.augment.policies import BasicAugmentation, MedicalAugmentation, RandomErasing

    # every op keeps the diagnosis; what each simulates is beside it in zoo/augment/policies.py
    return ComposeAugmentation(
        [
            # positioning and magnification: rigid rotation (bounded at 15 degrees), isotropic scale, shift;
            # no flip (laterality, the side of a scoliosis convexity), no shear or anisotropic scale (they
            # change Cobb angles and vertebral height ratios, i.e. fake or hide a fracture)
            BasicAugmentation(strength, allow_hflip=allow_hflip),
            # the scanner: exposure (gamma), window/level (contrast), vendor processing, blur, noise
            MedicalAugmentation(strength),
            # occlusion: markers, leads, metal; may hide one abnormal level (see RandomErasing)
            RandomErasing(strength),
        ]
    )
