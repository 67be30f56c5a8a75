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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo._augment_ops import (
    _AUGMIX_OPS,
    _AUGMIX_RANGES,
    _FULL_OPS,
    _RANDAUGMENT_RANGES,
    _TRIVIAL_WIDE_RANGES,
    _apply_ops,
    _blend,
    _coin,
    _gaussian_blur,
    _local_contrast,
    _log_uniform_factor,
    _per_sample,
    _per_sample_mean,
    _rectangle_mask,
    _rotation,
    _sample_beta,
    _sample_dirichlet,
    _scaling,
    _signs,
    _symmetric,
    _translation,
    _uniform,
    _warp,
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
# Policies.
# --------------------------------------------------------------------------------------------------


def _check_strength(strength: float) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength):
        raise ConfigError(
            f"augmentation strength must be a number in [0, {MAX_STRENGTH:g}], got {strength!r}"
        )
    if not 0.0 <= strength <= MAX_STRENGTH:
        raise ConfigError(
            f"augmentation strength must be in [0, {MAX_STRENGTH:g}] (1 = published magnitudes), got {strength}"
        )
    return float(strength)


def _check_positive(name: str, value: float) -> float:
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
        self.strength = _check_strength(strength)

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


class BasicAugmentation(Augmentation):
    """Small geometric jitter: rotation, isotropic scale and translation (one affine warp per sample).

    At strength 1: rotation up to +-10 degrees, scale in [1/1.1, 1.1], shift up to 8 % of each side.
    Horizontal flips happen (probability 0.5) only with ``allow_hflip=True``: laterality matters on
    AP films and side markers, so it is off by default.

    Parameters
    ----------
    strength : float
        Magnitude scale (see :class:`Augmentation`).
    allow_hflip : bool
        Allow left-right mirroring.
    """

    max_rotation_deg = 10.0
    max_scale = 0.1
    max_shift = 0.08

    def __init__(self, strength: float = 1.0, allow_hflip: bool = False) -> None:
        super().__init__(strength)
        self.allow_hflip = bool(allow_hflip)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, _, height, width = images.shape
        device, s = images.device, self.strength
        angle = _symmetric(batch, self.max_rotation_deg * s, generator, device)
        scale = _log_uniform_factor(batch, self.max_scale * s, generator, device)
        shift_x = _symmetric(batch, self.max_shift * s, generator, device) * width
        shift_y = _symmetric(batch, self.max_shift * s, generator, device) * height
        mirror = torch.ones(batch, device=device)
        if self.allow_hflip:
            mirror = torch.where(_coin(batch, 0.5, generator, device), -mirror, mirror)
        forward = _translation(shift_x, shift_y) @ _rotation(angle) @ _scaling(scale * mirror, scale)
        return _warp(images, forward), targets

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}, allow_hflip={self.allow_hflip}"


class MedicalAugmentation(Augmentation):
    """Photometric changes typical of radiograph/MRI acquisition, each applied per sample by chance.

    In order: gamma (p=0.5, gamma in [1/1.5, 1.5]), contrast about the image mean (p=0.5, factor in
    [1/1.3, 1.3]), CLAHE-like local contrast (p=0.3; approximated by a local contrast stretch with a
    per-sample clip limit up to 4, see ``_local_contrast``), Gaussian blur (p=0.2, sigma in [0.1, 1.1]
    pixels), Gaussian noise (p=0.3, std up to 0.04). Ranges are at strength 1; strength scales them.
    """

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device, s = images.shape[0], images.device, self.strength
        x = images

        apply = _per_sample(_coin(batch, 0.5, generator, device))
        gamma = _per_sample(_log_uniform_factor(batch, 0.5 * s, generator, device))
        x = torch.where(apply, x.clamp(0.0, 1.0) ** gamma, x)

        apply = _per_sample(_coin(batch, 0.5, generator, device))
        factor = _log_uniform_factor(batch, 0.3 * s, generator, device)
        x = torch.where(apply, _blend(x, _per_sample_mean(x), factor), x).clamp(0.0, 1.0)

        apply = _per_sample(_coin(batch, 0.3, generator, device))
        clip_limit = 1.0 + 3.0 * s * torch.rand(batch, generator=generator, device=device)
        x = torch.where(apply, _local_contrast(x, clip_limit), x).clamp(0.0, 1.0)

        apply = _per_sample(_coin(batch, 0.2, generator, device))
        max_sigma = 0.1 + 1.0 * s
        sigma = _uniform(batch, 0.1, max_sigma, generator, device)
        x = torch.where(apply, _gaussian_blur(x, sigma, radius=math.ceil(3 * max_sigma)), x)

        apply = _per_sample(_coin(batch, 0.3, generator, device))
        noise_std = _per_sample(_uniform(batch, 0.0, 0.04 * s, generator, device))
        noise = torch.randn(x.shape, generator=generator, device=device) * noise_std
        x = torch.where(apply, x + noise, x)
        return x, targets


class RandomErasing(Augmentation):
    """Erase one random rectangle per sample (p=0.5) and fill it with uniform noise (cutout).

    At strength 1 the box covers 2-25 % of the image with aspect ratio in [0.3, 3.3].
    """

    probability = 0.5

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, _, height, width = images.shape
        device, s = images.device, self.strength
        apply = _coin(batch, self.probability, generator, device)
        area = _uniform(batch, 0.02 * s, min(0.25 * s, 0.5), generator, device)
        aspect = torch.exp(_uniform(batch, math.log(0.3), math.log(3.3), generator, device))
        box_h = (torch.sqrt(area * aspect) * height).round().clamp(1, height).long()
        box_w = (torch.sqrt(area / aspect) * width).round().clamp(1, width).long()
        top = (torch.rand(batch, generator=generator, device=device) * (height - box_h + 1)).floor().long()
        left = (torch.rand(batch, generator=generator, device=device) * (width - box_w + 1)).floor().long()
        fill = torch.rand(images.shape, generator=generator, device=device)
        mask = _rectangle_mask(height, width, top, left, box_h, box_w) & _per_sample(apply)
        return torch.where(mask, fill, images), targets


class RandAugment(Augmentation):
    """RandAugment (Cubuk et al. 2020): ``num_ops`` random ops per sample at a shared magnitude.

    Each sample draws its own ops, signs and a magnitude ``N(magnitude, magnitude_std)`` bins
    (timm's ``mstd``), out of ``num_magnitude_bins``; torchvision's ranges, translation as a
    fraction of the side. Op set: identity, rotate, shear x/y, translate x/y, brightness, contrast,
    sharpness, posterize, solarize, autocontrast, equalize (no colour op: inputs are grayscale).
    """

    ops = _FULL_OPS
    ranges = _RANDAUGMENT_RANGES

    def __init__(
        self,
        strength: float = 1.0,
        *,
        num_ops: int = 2,
        magnitude: float = 9.0,
        num_magnitude_bins: int = 31,
        magnitude_std: float = 0.5,
    ) -> None:
        super().__init__(strength)
        if not isinstance(num_ops, int) or num_ops < 1:
            raise ConfigError(f"RandAugment num_ops must be a positive integer, got {num_ops!r}")
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ConfigError(
                f"RandAugment num_magnitude_bins must be an integer >= 2, got {num_magnitude_bins!r}"
            )
        if not 0 <= magnitude <= num_magnitude_bins - 1:
            raise ConfigError(
                f"RandAugment magnitude must be in [0, {num_magnitude_bins - 1}] (num_magnitude_bins - 1), got {magnitude}"
            )
        if not magnitude_std >= 0:
            raise ConfigError(f"RandAugment magnitude_std must be >= 0, got {magnitude_std}")
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self.num_magnitude_bins = num_magnitude_bins
        self.magnitude_std = float(magnitude_std)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device = images.shape[0], images.device
        ops = list(self.ops.values())
        top_bin = self.num_magnitude_bins - 1
        for _ in range(self.num_ops):
            op_index = torch.randint(0, len(ops), (batch,), generator=generator, device=device)
            bins = self.magnitude + self.magnitude_std * torch.randn(
                batch, generator=generator, device=device
            )
            magnitude = (bins.clamp(0, top_bin) / top_bin * self.strength).clamp(0.0, 1.0)
            signed = magnitude * _signs(batch, generator, device)
            images = _apply_ops(images, op_index, signed, ops, self.ranges)
        return images, targets

    def extra_repr(self) -> str:
        return (
            f"strength={self.strength:g}, num_ops={self.num_ops}, magnitude={self.magnitude:g}, "
            f"num_magnitude_bins={self.num_magnitude_bins}, magnitude_std={self.magnitude_std:g}"
        )


class TrivialAugmentWide(Augmentation):
    """TrivialAugment (Müller & Hutter 2021), wide ranges: one op per sample at a uniform random magnitude.

    The wide ranges include rotations up to 135 degrees and shears up to 0.99, as published; use
    ``strength`` < 1 for milder versions. Same op set as :class:`RandAugment`.
    """

    ops = _FULL_OPS
    ranges = _TRIVIAL_WIDE_RANGES
    num_magnitude_bins = 31

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device = images.shape[0], images.device
        ops = list(self.ops.values())
        op_index = torch.randint(0, len(ops), (batch,), generator=generator, device=device)
        bins = torch.randint(0, self.num_magnitude_bins, (batch,), generator=generator, device=device)
        magnitude = (bins.float() / (self.num_magnitude_bins - 1) * self.strength).clamp(0.0, 1.0)
        signed = magnitude * _signs(batch, generator, device)
        return _apply_ops(images, op_index, signed, ops, self.ranges), targets


class AugMix(Augmentation):
    """AugMix (Hendrycks et al. 2020) image mixing, per sample; the Jensen-Shannon consistency loss is not included.

    Each sample mixes ``width`` chains of 1-3 random ops (or ``depth``) with Dirichlet(``alpha``)
    weights, then blends with the original by ``m ~ Beta(alpha, alpha)``. Op magnitudes are uniform
    in ``[0, severity / 10]`` times ``strength``.
    """

    ops = _AUGMIX_OPS
    ranges = _AUGMIX_RANGES

    def __init__(
        self, strength: float = 1.0, *, severity: int = 3, width: int = 3, depth: int = -1, alpha: float = 1.0
    ) -> None:
        super().__init__(strength)
        if not isinstance(severity, int) or not 1 <= severity <= 10:
            raise ConfigError(f"AugMix severity must be an integer in [1, 10], got {severity!r}")
        if not isinstance(width, int) or width < 1:
            raise ConfigError(f"AugMix width must be a positive integer, got {width!r}")
        if not isinstance(depth, int) or depth == 0 or depth < -1:
            raise ConfigError(f"AugMix depth must be a positive integer or -1 (random 1-3), got {depth!r}")
        self.severity = severity
        self.width = width
        self.depth = depth
        self.alpha = _check_positive("alpha", alpha)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device = images.shape[0], images.device
        ops = list(self.ops.values())
        weights = _sample_dirichlet(self.alpha, self.width, batch, generator, device)
        keep = _per_sample(_sample_beta(self.alpha, self.alpha, batch, generator, device))
        max_depth = 3 if self.depth < 0 else self.depth
        mixed = torch.zeros_like(images)
        for chain_index in range(self.width):
            if self.depth < 0:
                depth = torch.randint(1, 4, (batch,), generator=generator, device=device)
            else:
                depth = torch.full((batch,), self.depth, device=device)
            chain = images
            for step in range(max_depth):
                op_index = torch.randint(0, len(ops), (batch,), generator=generator, device=device)
                op_index = torch.where(step < depth, op_index, torch.full_like(op_index, -1))
                magnitude = _uniform(batch, 0.0, self.severity / 10.0, generator, device) * self.strength
                signed = magnitude.clamp(0.0, 1.0) * _signs(batch, generator, device)
                chain = _apply_ops(chain, op_index, signed, ops, self.ranges)
            mixed = mixed + _per_sample(weights[:, chain_index]) * chain
        return keep * images + (1.0 - keep) * mixed, targets

    def extra_repr(self) -> str:
        return (
            f"strength={self.strength:g}, severity={self.severity}, width={self.width}, "
            f"depth={self.depth}, alpha={self.alpha:g}"
        )


class Mixup(Augmentation):
    """Mixup (Zhang et al. 2018) with one ``lambda ~ Beta(alpha, alpha)`` per sample.

    Sample ``i`` becomes ``lam_i * x_i + (1 - lam_i) * x_j`` for a random partner ``j`` (a permutation
    of the batch), and its target is mixed with the same ``lam_i``. ``strength`` shrinks the partner's
    share: ``lam = 1 - strength * (1 - lam)``.
    """

    mixes_labels = True

    def __init__(self, strength: float = 1.0, *, alpha: float = 0.2) -> None:
        super().__init__(strength)
        self.alpha = _check_positive("alpha", alpha)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device = images.shape[0], images.device
        lam = _sample_beta(self.alpha, self.alpha, batch, generator, device)
        lam = (1.0 - self.strength * (1.0 - lam)).clamp(0.0, 1.0)
        partner = torch.randperm(batch, generator=generator, device=device)
        mixed_images = _blend(images, images[partner], lam)
        lam_t = lam.to(targets.dtype).view(-1, 1)
        mixed_targets = lam_t * targets + (1.0 - lam_t) * targets[partner]
        return mixed_images, mixed_targets

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}, alpha={self.alpha:g}"


class CutMix(Augmentation):
    """CutMix (Yun et al. 2019) with one box per sample.

    Sample ``i`` gets a box from a random partner ``j``; the box side is ``sqrt(1 - lam)`` of the image
    (``lam ~ Beta(alpha, alpha)``, partner share scaled by ``strength``), clipped at the border, and
    the target is mixed by the exact pasted pixel fraction.
    """

    mixes_labels = True

    def __init__(self, strength: float = 1.0, *, alpha: float = 1.0) -> None:
        super().__init__(strength)
        self.alpha = _check_positive("alpha", alpha)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, _, height, width = images.shape
        device = images.device
        lam = _sample_beta(self.alpha, self.alpha, batch, generator, device)
        side = torch.sqrt((self.strength * (1.0 - lam)).clamp(0.0, 1.0))
        cut_h = (side * height).floor().long()
        cut_w = (side * width).floor().long()
        centre_y = torch.randint(0, height, (batch,), generator=generator, device=device)
        centre_x = torch.randint(0, width, (batch,), generator=generator, device=device)
        top = (centre_y - cut_h // 2).clamp(0, height)
        bottom = (centre_y + cut_h // 2).clamp(0, height)
        left = (centre_x - cut_w // 2).clamp(0, width)
        right = (centre_x + cut_w // 2).clamp(0, width)
        partner = torch.randperm(batch, generator=generator, device=device)
        mask = _rectangle_mask(height, width, top, left, bottom - top, right - left)
        mixed_images = torch.where(mask, images[partner], images)
        pasted = ((bottom - top) * (right - left)).to(targets.dtype) / float(height * width)
        keep = (1.0 - pasted).view(-1, 1)
        mixed_targets = keep * targets + (1.0 - keep) * targets[partner]
        return mixed_images, mixed_targets

    def extra_repr(self) -> str:
        return f"strength={self.strength:g}, alpha={self.alpha:g}"


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
    return ComposeAugmentation(
        [
            BasicAugmentation(strength, allow_hflip=allow_hflip),
            MedicalAugmentation(strength),
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
    _check_strength(strength)
    return AUGMENTATIONS.get(name).factory(strength=strength, allow_hflip=allow_hflip)
