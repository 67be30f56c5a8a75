"""The augmentation policies: per-sample geometric, photometric, automatic (RandAugment, TrivialAugment,
AugMix) and label-mixing (Mixup, CutMix) transforms on the :class:`~sdc_bench.zoo.augment.base.Augmentation`
contract. Registered by name in :mod:`sdc_bench.zoo.augment`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.augment.base import Augmentation, check_positive
from sdc_bench.zoo.augment.ops import (
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

__all__ = [
    "AugMix",
    "BasicAugmentation",
    "CutMix",
    "MedicalAugmentation",
    "Mixup",
    "RandAugment",
    "RandomErasing",
    "TrivialAugmentWide",
]


class BasicAugmentation(Augmentation):
    """Small geometric jitter: rotation, isotropic scale and translation (one affine warp per sample).

    At strength 1: rotation up to +-10 degrees, scale in [1/1.1, 1.1], shift up to 8 % of each side.
    Every op keeps the diagnosis: a rigid rotation and an isotropic scale keep every angle between
    endplates (the Cobb angle) and every ratio of vertebral heights (a fracture is a height loss), so
    they simulate patient positioning and magnification, not a different spine. Rotation is bounded at
    :attr:`max_safe_rotation_deg` whatever the strength: a spine tilted further is no positioning
    error a technologist lets through, and at large angles the image corners fill a large share.
    What this class must never do: shear or scale anisotropically (both change a Cobb angle and a
    vertebral height ratio, i.e. turn a normal vertebra into a wedge fracture or the reverse).
    Horizontal flips happen (probability 0.5) only with ``allow_hflip=True``: laterality matters (side
    markers, and the side of a scoliosis curve's convexity is part of its diagnosis), so it is off by
    default and no built-in method turns it on.

    Parameters
    ----------
    strength : float
        Magnitude scale (see :class:`Augmentation`).
    allow_hflip : bool
        Allow left-right mirroring.
    """

    max_rotation_deg = 10.0  # positioning: a patient standing or lying slightly rotated in plane
    max_safe_rotation_deg = 15.0  # the bound at any strength (strength 2 would ask for 20)
    max_scale = 0.1  # magnification: source-to-detector distance, patient size, MRI field of view
    max_shift = 0.08  # collimation and centring of the field

    def __init__(self, strength: float = 1.0, allow_hflip: bool = False) -> None:
        super().__init__(strength)
        self.allow_hflip = bool(allow_hflip)

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, _, height, width = images.shape
        device, s = images.device, self.strength
        angle = _symmetric(
            batch, min(self.max_rotation_deg * s, self.max_safe_rotation_deg), generator, device
        )
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
    None moves a pixel, so none can change an angle, a height ratio or a side: they simulate the
    scanner and its settings, not the anatomy (each op's comment says what).
    """

    def augment(self, images: Tensor, targets: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        batch, device, s = images.shape[0], images.device, self.strength
        x = images

        # exposure: tube voltage/current (kVp, mAs) and the detector's response curve; MRI receive gain
        apply = _per_sample(_coin(batch, 0.5, generator, device))
        gamma = _per_sample(_log_uniform_factor(batch, 0.5 * s, generator, device))
        x = torch.where(apply, x.clamp(0.0, 1.0) ** gamma, x)

        # window/level: how the site's viewer or PACS export mapped intensities to grey values
        apply = _per_sample(_coin(batch, 0.5, generator, device))
        factor = _log_uniform_factor(batch, 0.3 * s, generator, device)
        x = torch.where(apply, _blend(x, _per_sample_mean(x), factor), x).clamp(0.0, 1.0)

        # vendor post-processing: radiographs leave many scanners edge-enhanced / CLAHE-equalised
        apply = _per_sample(_coin(batch, 0.3, generator, device))
        clip_limit = 1.0 + 3.0 * s * torch.rand(batch, generator=generator, device=device)
        x = torch.where(apply, _local_contrast(x, clip_limit), x).clamp(0.0, 1.0)

        # resolution: focal-spot size, patient motion, a lower-resolution MRI matrix upsampled
        apply = _per_sample(_coin(batch, 0.2, generator, device))
        max_sigma = 0.1 + 1.0 * s
        sigma = _uniform(batch, 0.1, max_sigma, generator, device)
        x = torch.where(apply, _gaussian_blur(x, sigma, radius=math.ceil(3 * max_sigma)), x)

        # noise: quantum (photon) noise of a low-dose radiograph, thermal noise of a low-field MRI
        apply = _per_sample(_coin(batch, 0.3, generator, device))
        noise_std = _per_sample(_uniform(batch, 0.0, 0.04 * s, generator, device))
        noise = torch.randn(x.shape, generator=generator, device=device) * noise_std
        x = torch.where(apply, x + noise, x)
        return x, targets


class RandomErasing(Augmentation):
    """Erase one random rectangle per sample (p=0.5) and fill it with uniform noise (cutout).

    At strength 1 the box covers 2-25 % of the image with aspect ratio in [0.3, 3.3]. It simulates
    occlusion (a lead marker, a pacemaker lead, an arm over the film, a metal artefact) and keeps the
    model from leaning on one small region. Caveat: a box can cover the one abnormal level (a single
    fractured vertebra), so the label then describes pixels the model cannot see; SDC-DL runs it at
    ``aug_strength`` 0.5 by default (boxes up to 12.5 %) and the search range tops out at 1.5.
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
    The shears change Cobb angles and vertebral height ratios (see :class:`BasicAugmentation`), so no
    built-in method uses this policy; it is registered for comparison with natural-image practice.
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
    ``strength`` < 1 for milder versions. Same op set as :class:`RandAugment`. Not for diagnosis by
    geometry: shears change Cobb angles and vertebral height ratios, and a 135-degree rotation is no
    radiograph; it is registered for comparison with natural-image practice, and no method uses it.
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
        self.alpha = check_positive("alpha", alpha)

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
        self.alpha = check_positive("alpha", alpha)

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
        self.alpha = check_positive("alpha", alpha)

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
