"""The base of every augmentation policy: the :class:`Augmentation` contract, float conversion and
normalisation, the identity and composition. The policies are in :mod:`sdc_bench.zoo.augment.policies`,
their building blocks in :mod:`sdc_bench.zoo.augment.ops`; :mod:`sdc_bench.zoo.augment` is the public face.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sdc_bench.core.errors import ConfigError

__all__ = [
    "MAX_STRENGTH",
    "Augmentation",
    "ComposeAugmentation",
    "NoAugmentation",
    "check_positive",
    "check_strength",
    "normalize",
    "to_float",
]

MAX_STRENGTH = 2.0


# --------------------------------------------------------------------------------------------------
# Conversion and normalisation: the one place each happens.
# --------------------------------------------------------------------------------------------------


def to_float(images_uint8: Tensor) -> Tensor:
    """Convert a uint8 image batch to float32 in ``[0, 1]``.

    Parameters
    ----------
    images_uint8 : Tensor
        ``(B, C, H, W)`` tensor of dtype ``torch.uint8`` on any device.

    Returns
    -------
    Tensor
        float32 tensor of the same shape and device, ``images_uint8 / 255``.

    Examples
    --------
    >>> to_float(torch.tensor([[[[0, 255]]]], dtype=torch.uint8))
    tensor([[[[0., 1.]]]])
    """
    if images_uint8.dtype != torch.uint8:
        raise TypeError(f"to_float expects a uint8 tensor, got {images_uint8.dtype}")
    return images_uint8.to(torch.float32).div_(255.0)


def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Subtract a per-channel mean and divide by a per-channel standard deviation.

    Parameters
    ----------
    images : Tensor
        ``(B, C, H, W)`` float tensor, usually the output of an :class:`Augmentation`.
    mean, std : sequence of float
        One value (used for every channel) or ``C`` values. Every ``std`` must be positive.

    Returns
    -------
    Tensor
        ``(images - mean) / std`` with the dtype and device of ``images``.

    Examples
    --------
    >>> normalize(torch.full((1, 1, 2, 2), 0.5), mean=[0.5], std=[0.25]).sum().item()
    0.0
    """
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(
            f"normalize expects a (B, C, H, W) float tensor, got {tuple(images.shape)} {images.dtype}"
        )
    channels = images.shape[1]
    for name, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels):
            raise ConfigError(
                f"normalisation {name} has {len(values)} values but the images have {channels} channel(s); "
                f"give 1 or {channels} values"
            )
    if any(not math.isfinite(s) or s <= 0 for s in std):
        raise ConfigError(f"normalisation std must be positive and finite, got {list(std)}")
    mean_t = torch.as_tensor(list(mean), dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(list(std), dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean_t) / std_t


# --------------------------------------------------------------------------------------------------
# The contract, the identity and composition.
# --------------------------------------------------------------------------------------------------


def check_strength(strength: float) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise ConfigError(
            f"augmentation strength must be a number in [0, {MAX_STRENGTH:g}], got {strength!r}"
        )
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ConfigError(
            f"augmentation strength must be in [0, {MAX_STRENGTH:g}] (1 = published magnitudes), got {strength}"
        )
    return float(strength)


def check_positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"augmentation parameter {name} must be a positive number, got {value!r}")
    return float(value)


class Augmentation(nn.Module):
    """Batched, per-sample random augmentation on the training device.

    ``forward(images, targets, generator) -> (images, targets)``

    - ``images``: ``(B, C, H, W)`` float in ``[0, 1]`` on any device (1 or 3 channels).
    - ``targets``: ``(B, K)`` float soft/one-hot labels.
    - ``generator``: a ``torch.Generator`` on the images' device; it is the only source of randomness.

    Returns images of the same shape, dtype and device, clamped to ``[0, 1]``, and targets ``(B, K)``
    (changed only by policies with ``mixes_labels``). Subclasses implement :meth:`augment`, which
    receives float32 images; ``forward`` validates, handles ``strength == 0`` (identity) and casts back.

    Parameters
    ----------
    strength : float
        Scales every magnitude: 0 is the identity, 1 the published magnitudes, 2 at most.
    """

    mixes_labels: bool = False

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        self.strength = check_strength(strength)

    def forward(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        self._check_inputs(images, targets, generator)
        if self.strength == 0.0:
            return images, targets
        out_images, out_targets = self.augment(images.float(), targets, generator)
        return out_images.clamp(0.0, 1.0).to(images.dtype), out_targets

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Transform a validated float32 batch; override in subclasses."""
        raise NotImplementedError

    @staticmethod
    def _check_inputs(images: Tensor, targets: Tensor, generator: torch.Generator) -> None:
        if images.ndim != 4 or not images.is_floating_point():
            raise ValueError(
                f"augmentations expect (B, C, H, W) float images, got shape {tuple(images.shape)} {images.dtype}; "
                "convert uint8 with to_float() first"
            )
        if targets.ndim != 2 or targets.shape[0] != images.shape[0]:
            raise ValueError(
                f"augmentations expect (B, K) targets with B={images.shape[0]}, got shape {tuple(targets.shape)}"
            )
        if targets.device != images.device:
            raise ValueError(
                f"targets are on {targets.device} but the images are on {images.device}; move both together"
            )
        if generator.device.type != images.device.type:
            raise ValueError(
                f"the generator is on {generator.device} but the images are on {images.device}; "
                "pass torch.Generator(device=images.device)"
            )

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}"


class NoAugmentation(Augmentation):
    """Identity: returns the inputs unchanged."""

    def forward(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        self._check_inputs(images, targets, generator)
        return images, targets

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return images, targets


class ComposeAugmentation(Augmentation):
    """Apply several augmentations in order (each keeps its own strength).

    Parameters
    ----------
    augmentations : sequence of Augmentation
        Applied first to last; the composite mixes labels if any member does.
    """

    def __init__(self, augmentations: Sequence[Augmentation]) -> None:
        super().__init__(1.0)
        self.members = nn.ModuleList(augmentations)
        self.mixes_labels = any(member.mixes_labels for member in augmentations)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        for member in self.members:
            images, targets = member(images, targets, generator)
        return images, targets

    def extra_repr(self) -> str:
        return ""
