"""Augmentation policies: batched, per-sample random image transforms that run on the training device.

Every policy is an :class:`Augmentation` module called as ``policy(images, targets, generator)`` on a
batch of float images in ``[0, 1]`` (use :func:`to_float` once on the uint8 tensor cache, then
:func:`normalize` after augmenting). Each sample draws its own random parameters (torchvision's v2
transforms draw one set per batch), and every draw uses only the ``generator`` passed in, so a run
repeats under a seed and the global torch RNG is never touched. The generator must live on the same
device as the images: pass ``torch.Generator(device=images.device)``.

Policies are resolved by name from :data:`AUGMENTATIONS` (``sdc-bench list augmentations``) or built
with :func:`build_augmentation`; ``strength`` scales every magnitude (0 switches the policy off, 1 is
the published magnitude, at most 2).

This module is the public face and holds the registry; the :class:`Augmentation` contract, conversion
and normalisation live in :mod:`sdc_bench.zoo._augment_base`, the policy classes in
:mod:`sdc_bench.zoo._augment_policies`, and the seeded draws and image ops they are built from in
:mod:`sdc_bench.zoo._augment_ops`.

Examples
--------
>>> import torch
>>> policy = build_augmentation("basic", strength=0.5)
>>> images = to_float(torch.zeros(4, 1, 32, 32, dtype=torch.uint8))
>>> targets = torch.eye(2)[torch.tensor([0, 1, 0, 1])]
>>> out, out_targets = policy(images, targets, torch.Generator().manual_seed(0))
>>> out.shape, out_targets.shape
(torch.Size([4, 1, 32, 32]), torch.Size([4, 2]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from sdc_bench.zoo._augment_base import (
    Augmentation,
    ComposeAugmentation,
    NoAugmentation,
    check_strength,
    normalize,
    to_float,
)
from sdc_bench.zoo._augment_policies import (
    AugMix,
    BasicAugmentation,
    CutMix,
    MedicalAugmentation,
    Mixup,
    RandAugment,
    RandomErasing,
    TrivialAugmentWide,
)
from sdc_bench.zoo._registry import Listed, Registry

__all__ = [
    "AUGMENTATIONS",
    "AugMix",
    "Augmentation",
    "AugmentationSpec",
    "BasicAugmentation",
    "ComposeAugmentation",
    "CutMix",
    "MedicalAugmentation",
    "Mixup",
    "NoAugmentation",
    "RandAugment",
    "RandomErasing",
    "TrivialAugmentWide",
    "build_augmentation",
    "normalize",
    "to_float",
]


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
    return NoAugmentation(strength)


@_policy(
    "basic",
    description="small rotation, scale and shift per sample; horizontal flip only if allowed",
    mixes_labels=False,
    geometric=True,
    photometric=False,
)
def _basic(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return BasicAugmentation(strength, allow_hflip=allow_hflip)


@_policy(
    "medical",
    description="gamma, contrast, CLAHE-like local contrast, Gaussian blur and noise per sample",
    mixes_labels=False,
    geometric=False,
    photometric=True,
)
def _medical(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return MedicalAugmentation(strength)


@_policy(
    "randaugment",
    description="RandAugment: 2 random ops per sample at magnitude 9/30 (grayscale op set)",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _randaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return RandAugment(strength)


@_policy(
    "trivialaugment",
    description="TrivialAugmentWide: 1 random op per sample at a random magnitude",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _trivialaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return TrivialAugmentWide(strength)


@_policy(
    "augmix",
    description="AugMix: per-sample Dirichlet mix of 3 random op chains, blended with the original",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _augmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return AugMix(strength)


@_policy(
    "mixup",
    description="Mixup (alpha 0.2): blend each image and its label with a random partner",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _mixup(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return Mixup(strength)


@_policy(
    "cutmix",
    description="CutMix (alpha 1.0): paste a partner's box, labels mixed by pasted area",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _cutmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return CutMix(strength)


@_policy(
    "sdc_dl_advanced",
    description="SDC-DL advanced: basic geometric + medical photometric + random erasing",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _sdc_dl_advanced(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    # every op keeps the diagnosis; what each simulates is beside it in zoo/_augment_policies.py
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


def build_augmentation(name: str, *, strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    """Build the augmentation policy registered as ``name``.

    Parameters
    ----------
    name : str
        A name from :data:`AUGMENTATIONS` (``sdc-bench list augmentations``).
    strength : float
        Magnitude scale in ``[0, 2]``: 0 is the identity, 1 the published magnitudes.
    allow_hflip : bool
        Allow horizontal flips (policies without flips ignore it).

    Returns
    -------
    Augmentation

    Raises
    ------
    UnknownNameError
        If ``name`` is not registered.
    ConfigError
        If ``strength`` is out of range.

    Examples
    --------
    >>> build_augmentation("cutmix").mixes_labels
    True
    """
    check_strength(strength)
    return AUGMENTATIONS.get(name).factory(strength=strength, allow_hflip=allow_hflip)
