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

This package's ``__init__`` is its public face; other packages import from here. Its modules:
:mod:`~sdc_bench.zoo.augment.specs` holds the torch-free registry (what ``sdc-bench list augmentations``
reads, so this face imports torch only when a torch-using name is first used),
:mod:`~sdc_bench.zoo.augment.base` the :class:`Augmentation` contract, conversion and normalisation,
:mod:`~sdc_bench.zoo.augment.policies` the policy classes, and :mod:`~sdc_bench.zoo.augment.ops` the
seeded draws and image ops they are built from.

Examples
--------
>>> import torch
>>> from sdc_bench.zoo.augment import build_augmentation, to_float
>>> policy = build_augmentation("basic", strength=0.5)
>>> images = to_float(torch.zeros(4, 1, 32, 32, dtype=torch.uint8))
>>> targets = torch.eye(2)[torch.tensor([0, 1, 0, 1])]
>>> out, out_targets = policy(images, targets, torch.Generator().manual_seed(0))
>>> out.shape, out_targets.shape
(torch.Size([4, 1, 32, 32]), torch.Size([4, 2]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdc_bench.zoo.augment.specs import AUGMENTATIONS, AugmentationSpec
from sdc_bench.zoo.registry import lazy_exports

if TYPE_CHECKING:
    from sdc_bench.zoo.augment.base import (
        Augmentation,
        ComposeAugmentation,
        NoAugmentation,
        normalize,
        to_float,
    )
    from sdc_bench.zoo.augment.policies import (
        AugMix,
        BasicAugmentation,
        CutMix,
        MedicalAugmentation,
        Mixup,
        RandAugment,
        RandomErasing,
        TrivialAugmentWide,
    )

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


__getattr__ = lazy_exports(
    __name__,
    {
        "base": ("Augmentation", "ComposeAugmentation", "NoAugmentation", "normalize", "to_float"),
        "policies": (
            "AugMix",
            "BasicAugmentation",
            "CutMix",
            "MedicalAugmentation",
            "Mixup",
            "RandAugment",
            "RandomErasing",
            "TrivialAugmentWide",
        ),
    },
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
    from sdc_bench.zoo.augment.base import check_strength

    check_strength(strength)
    return AUGMENTATIONS.get(name).factory(strength=strength, allow_hflip=allow_hflip)
