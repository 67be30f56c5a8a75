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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sdc_bench.errors import ConfigError
from sdc_bench.zoo._registry import Registry

__all__ = [
    "AUGMENTATIONS",
    "AugMix",
    "Augmentation",
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
# Random draws: every one goes through the caller's generator, one value per sample.
# --------------------------------------------------------------------------------------------------


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _symmetric(n: int, limit: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """Uniform in ``[-limit, limit]``."""
    return _uniform(n, -limit, limit, generator, device)


def _log_uniform_factor(n: int, spread: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """Multiplicative factor in ``[1 / (1 + spread), 1 + spread]``, symmetric on a log scale."""
    return torch.exp(_symmetric(n, math.log1p(spread), generator, device))


def _coin(n: int, p: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """Boolean ``(n,)`` tensor, each entry True with probability ``p``."""
    return torch.rand(n, generator=generator, device=device) < p


def _signs(n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    return torch.randint(0, 2, (n,), generator=generator, device=device).float() * 2.0 - 1.0


def _sample_gamma(concentration: float, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """Gamma(concentration, 1) draws by Marsaglia-Tsang rejection (torch's own sampler ignores generators)."""
    boosted = concentration < 1.0
    shape = concentration + 1.0 if boosted else concentration
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    result = torch.full((n,), shape, device=device)
    pending = torch.ones(n, dtype=torch.bool, device=device)
    for _ in range(64):  # acceptance is above 95 % per round; 64 rounds leave no realistic failure
        x = torch.randn(n, generator=generator, device=device)
        u = torch.rand(n, generator=generator, device=device)
        v = (1.0 + c * x) ** 3
        safe_v = v.clamp_min(1e-12)
        accepted = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * safe_v + d * torch.log(safe_v))
        result = torch.where(pending & accepted, d * safe_v, result)
        pending = pending & ~accepted
        if not bool(pending.any()):
            break
    if boosted:
        result = result * torch.rand(n, generator=generator, device=device) ** (1.0 / concentration)
    return result


def _sample_beta(
    alpha: float, beta: float, n: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    if alpha == 1.0 and beta == 1.0:
        return torch.rand(n, generator=generator, device=device)
    x = _sample_gamma(alpha, n, generator, device)
    y = _sample_gamma(beta, n, generator, device)
    total = x + y
    return torch.where(total > 0, x / total.clamp_min(1e-30), torch.full_like(total, 0.5))


def _sample_dirichlet(
    alpha: float, k: int, n: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``(n, k)`` Dirichlet(alpha, ..., alpha) draws."""
    draws = torch.stack([_sample_gamma(alpha, n, generator, device) for _ in range(k)], dim=1)
    total = draws.sum(dim=1, keepdim=True)
    return torch.where(total > 0, draws / total.clamp_min(1e-30), torch.full_like(draws, 1.0 / k))


def _per_sample(values: Tensor) -> Tensor:
    """Reshape a ``(B,)`` parameter to broadcast over ``(B, C, H, W)``."""
    return values.view(-1, 1, 1, 1)


def _rectangle_mask(
    height: int, width: int, top: Tensor, left: Tensor, box_h: Tensor, box_w: Tensor
) -> Tensor:
    """``(B, 1, H, W)`` boolean mask of one axis-aligned box per sample (integer tensors of shape ``(B,)``)."""
    rows = torch.arange(height, device=top.device).view(1, 1, height, 1)
    cols = torch.arange(width, device=top.device).view(1, 1, 1, width)
    inside_rows = (rows >= _per_sample(top)) & (rows < _per_sample(top + box_h))
    inside_cols = (cols >= _per_sample(left)) & (cols < _per_sample(left + box_w))
    return inside_rows & inside_cols


# --------------------------------------------------------------------------------------------------
# Geometric warps: per-sample 3x3 matrices in centred pixel coordinates, one grid_sample per batch.
# --------------------------------------------------------------------------------------------------


def _eye(n: int, device: torch.device) -> Tensor:
    return torch.eye(3, device=device).expand(n, 3, 3).clone()


def _rotation(angle_deg: Tensor) -> Tensor:
    radians = torch.deg2rad(angle_deg)
    matrix = _eye(len(angle_deg), angle_deg.device)
    cos, sin = torch.cos(radians), torch.sin(radians)
    matrix[:, 0, 0], matrix[:, 0, 1] = cos, -sin
    matrix[:, 1, 0], matrix[:, 1, 1] = sin, cos
    return matrix


def _shear(shear_x: Tensor, shear_y: Tensor) -> Tensor:
    matrix = _eye(len(shear_x), shear_x.device)
    matrix[:, 0, 1] = shear_x
    matrix[:, 1, 0] = shear_y
    return matrix


def _translation(shift_x: Tensor, shift_y: Tensor) -> Tensor:
    matrix = _eye(len(shift_x), shift_x.device)
    matrix[:, 0, 2] = shift_x
    matrix[:, 1, 2] = shift_y
    return matrix


def _scaling(scale_x: Tensor, scale_y: Tensor) -> Tensor:
    matrix = _eye(len(scale_x), scale_x.device)
    matrix[:, 0, 0] = scale_x
    matrix[:, 1, 1] = scale_y
    return matrix


def _warp(images: Tensor, forward: Tensor) -> Tensor:
    """Apply per-sample affine maps given in centred pixel coordinates (input -> output), zero fill.

    Working in pixels keeps rotations and shears angle-true on non-square images; the matrices are
    converted to ``affine_grid``'s normalised output -> input convention here.
    """
    _, _, height, width = images.shape
    to_pixels = torch.diag(torch.tensor([width / 2.0, height / 2.0, 1.0], device=images.device))
    to_normalised = torch.diag(torch.tensor([2.0 / width, 2.0 / height, 1.0], device=images.device))
    normalised_forward = to_normalised @ forward.float() @ to_pixels
    theta = torch.linalg.inv(normalised_forward)[:, :2, :].to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# --------------------------------------------------------------------------------------------------
# Photometric helpers (batched; per-sample parameters of shape (B,)).
# --------------------------------------------------------------------------------------------------


def _per_sample_mean(images: Tensor) -> Tensor:
    return images.mean(dim=(1, 2, 3), keepdim=True)


def _blend(images: Tensor, degenerate: Tensor, factor: Tensor) -> Tensor:
    """PIL ImageEnhance convention: factor 1 keeps the image, 0 gives ``degenerate``, >1 extrapolates."""
    factor = _per_sample(factor)
    return factor * images + (1.0 - factor) * degenerate


def _smooth3x3(images: Tensor) -> Tensor:
    """PIL's SMOOTH filter (the degenerate image of ImageEnhance.Sharpness), replicate borders."""
    channels = images.shape[1]
    kernel = torch.ones(3, 3, device=images.device, dtype=images.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(channels, 1, 3, 3)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels)


def _box_mean(images: Tensor, kernel_size: int) -> Tensor:
    """Mean over a ``kernel_size`` square window (odd size), replicate borders.

    Separable running sums: O(H*W) whatever the window, where a stride-1 ``avg_pool2d`` is
    O(H*W*k^2) and took ~30 ms per 32x128x128 batch on a 2-core CPU (about 1.5 ms this way).
    In float32 it agrees with ``avg_pool2d`` to ~1e-6 on [0, 1] images up to 1024 px.
    """
    pad = kernel_size // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    sums = F.pad(padded.cumsum(dim=3), (1, 0))
    rows = sums[..., kernel_size:] - sums[..., :-kernel_size]
    sums = F.pad(rows.cumsum(dim=2), (0, 0, 1, 0))
    window = sums[:, :, kernel_size:, :] - sums[:, :, :-kernel_size, :]
    return window / (kernel_size * kernel_size)


def _gaussian_blur(images: Tensor, sigma: Tensor, radius: int) -> Tensor:
    """Separable Gaussian blur with one sigma per sample (grouped convolution over B*C planes)."""
    batch, channels, height, width = images.shape
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2.0 * sigma.view(-1, 1).to(images.dtype) ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(channels, dim=0)
    planes = images.reshape(1, batch * channels, height, width)
    size = 2 * radius + 1
    planes = F.conv2d(
        F.pad(planes, (radius, radius, 0, 0), mode="replicate"),
        kernel.view(-1, 1, 1, size),
        groups=batch * channels,
    )
    planes = F.conv2d(
        F.pad(planes, (0, 0, radius, radius), mode="replicate"),
        kernel.view(-1, 1, size, 1),
        groups=batch * channels,
    )
    return planes.view(batch, channels, height, width)


def _local_contrast(images: Tensor, clip_limit: Tensor) -> Tensor:
    """Approximate CLAHE as a local contrast stretch (not tile histograms).

    Deviations from a box-filtered local mean (window ~1/8 of the shorter side) are amplified by
    ``global std / local std``, capped per sample at ``clip_limit``; the cap plays the role of CLAHE's
    clip limit, bounding the gain in flat regions so noise is not blown up.
    """
    _, _, height, width = images.shape
    kernel_size = max(3, (min(height, width) // 8) | 1)
    local_mean = _box_mean(images, kernel_size)
    local_var = (_box_mean(images * images, kernel_size) - local_mean * local_mean).clamp_min(0.0)
    global_std = images.std(dim=(2, 3), keepdim=True)
    gain = (global_std / (local_var.sqrt() + 1e-3)).clamp_min(1.0)
    gain = torch.minimum(gain, _per_sample(clip_limit))
    return local_mean + (images - local_mean) * gain


def _autocontrast(images: Tensor) -> Tensor:
    low = images.amin(dim=(2, 3), keepdim=True)
    high = images.amax(dim=(2, 3), keepdim=True)
    spread = high - low
    flat = spread <= 1e-6
    scale = torch.where(flat, torch.ones_like(spread), 1.0 / spread.clamp_min(1e-6))
    return torch.where(flat, images, (images - low) * scale)


def _equalize(images: Tensor) -> Tensor:
    """Per-channel histogram equalisation on 256 levels, batched with sort + searchsorted (deterministic)."""
    batch, channels, height, width = images.shape
    levels = (images * 255.0).round().clamp(0, 255).reshape(batch * channels, height * width)
    ordered = levels.sort(dim=1).values.contiguous()
    grid = (
        torch.arange(256, device=images.device, dtype=levels.dtype).expand(batch * channels, 256).contiguous()
    )
    cdf = torch.searchsorted(ordered, grid, right=True).to(images.dtype)  # pixels <= level
    cdf_min = cdf.gather(1, ordered[:, :1].long())  # pixels at the darkest level present
    denominator = height * width - cdf_min
    lut = torch.where(
        denominator > 0, (cdf - cdf_min) / denominator.clamp_min(1.0), grid.to(images.dtype) / 255.0
    )
    return lut.gather(1, levels.long()).view(batch, channels, height, width)


# --------------------------------------------------------------------------------------------------
# The RandAugment / TrivialAugment / AugMix op set. Each op maps a sub-batch and a signed magnitude
# in [-1, 1] per sample to the transformed sub-batch; unsigned ops use the absolute value.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpRanges:
    """Magnitude of each op at magnitude 1 (the top bin of the published policy)."""

    rotate_deg: float
    shear: float
    translate: float  # fraction of the image side (torchvision uses pixels; fractions survive resizing)
    enhance: float  # max |factor - 1| for brightness, contrast, sharpness
    posterize_bits: tuple[int, int]  # bits kept at magnitude 0 and at magnitude 1
    solarize: float  # threshold drop from 1 at magnitude 1


_RANDAUGMENT_RANGES = _OpRanges(30.0, 0.3, 150.0 / 331.0, 0.9, (8, 4), 1.0)
_TRIVIAL_WIDE_RANGES = _OpRanges(135.0, 0.99, 32.0 / 224.0, 0.99, (8, 2), 1.0)
_AUGMIX_RANGES = _OpRanges(30.0, 0.3, 1.0 / 3.0, 0.9, (4, 0), 1.0)

_Op = Callable[[Tensor, Tensor, _OpRanges], Tensor]


def _op_identity(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return images


def _op_rotate(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _warp(images, _rotation(magnitude * ranges.rotate_deg))


def _op_shear_x(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _warp(images, _shear(magnitude * ranges.shear, torch.zeros_like(magnitude)))


def _op_shear_y(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _warp(images, _shear(torch.zeros_like(magnitude), magnitude * ranges.shear))


def _op_translate_x(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    shift = magnitude * ranges.translate * images.shape[-1]
    return _warp(images, _translation(shift, torch.zeros_like(shift)))


def _op_translate_y(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    shift = magnitude * ranges.translate * images.shape[-2]
    return _warp(images, _translation(torch.zeros_like(shift), shift))


def _op_brightness(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _blend(images, torch.zeros_like(images), 1.0 + magnitude * ranges.enhance)


def _op_contrast(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _blend(images, _per_sample_mean(images), 1.0 + magnitude * ranges.enhance)


def _op_sharpness(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _blend(images, _smooth3x3(images), 1.0 + magnitude * ranges.enhance)


def _op_posterize(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    bits_at_zero, bits_at_one = ranges.posterize_bits
    bits = (bits_at_zero - magnitude.abs() * (bits_at_zero - bits_at_one)).round()
    step = _per_sample(2.0 ** (8.0 - bits))
    levels = (images * 255.0).round()
    return torch.floor(levels / step) * step / 255.0


def _op_solarize(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    threshold = _per_sample(1.0 - magnitude.abs() * ranges.solarize)
    # strict '>' so magnitude 0 is the identity (torchvision's '>=' inverts pure white at threshold 1)
    return torch.where(images > threshold, 1.0 - images, images)


def _op_autocontrast(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _autocontrast(images)


def _op_equalize(images: Tensor, magnitude: Tensor, ranges: _OpRanges) -> Tensor:
    return _equalize(images)


# No colour op: the inputs are grayscale (3-channel input is replicated grayscale).
_FULL_OPS: dict[str, _Op] = {
    "identity": _op_identity,
    "rotate": _op_rotate,
    "shear_x": _op_shear_x,
    "shear_y": _op_shear_y,
    "translate_x": _op_translate_x,
    "translate_y": _op_translate_y,
    "brightness": _op_brightness,
    "contrast": _op_contrast,
    "sharpness": _op_sharpness,
    "posterize": _op_posterize,
    "solarize": _op_solarize,
    "autocontrast": _op_autocontrast,
    "equalize": _op_equalize,
}
# AugMix leaves out brightness/contrast/sharpness/colour: they overlap the corruptions it is tested on.
_AUGMIX_OPS: dict[str, _Op] = {
    name: _FULL_OPS[name]
    for name in (
        "autocontrast",
        "equalize",
        "posterize",
        "rotate",
        "solarize",
        "shear_x",
        "shear_y",
        "translate_x",
        "translate_y",
    )
}


def _apply_ops(
    images: Tensor, op_index: Tensor, magnitude: Tensor, ops: Sequence[_Op], ranges: _OpRanges
) -> Tensor:
    """Apply op ``ops[op_index[i]]`` to sample ``i`` (computed per op on the sub-batch that drew it).

    Samples whose index is outside ``range(len(ops))`` (e.g. -1) are left unchanged.
    """
    result = images.clone()
    for index, op in enumerate(ops):
        chosen = (op_index == index).nonzero(as_tuple=True)[0]
        if chosen.numel() == 0 or op is _op_identity:
            continue
        transformed = op(images.index_select(0, chosen), magnitude.index_select(0, chosen), ranges)
        result.index_copy_(0, chosen, transformed.clamp(0.0, 1.0).to(result.dtype))
    return result


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

AUGMENTATIONS: Registry[Callable[..., Augmentation]] = Registry("augmentation")


@AUGMENTATIONS.register(
    "none", description="no augmentation (identity)", mixes_labels=False, geometric=False, photometric=False
)
def _none(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return NoAugmentation(strength)


@AUGMENTATIONS.register(
    "basic",
    description="small rotation, scale and shift per sample; horizontal flip only if allowed",
    mixes_labels=False,
    geometric=True,
    photometric=False,
)
def _basic(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return BasicAugmentation(strength, allow_hflip=allow_hflip)


@AUGMENTATIONS.register(
    "medical",
    description="gamma, contrast, CLAHE-like local contrast, Gaussian blur and noise per sample",
    mixes_labels=False,
    geometric=False,
    photometric=True,
)
def _medical(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return MedicalAugmentation(strength)


@AUGMENTATIONS.register(
    "randaugment",
    description="RandAugment: 2 random ops per sample at magnitude 9/30 (grayscale op set)",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _randaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return RandAugment(strength)


@AUGMENTATIONS.register(
    "trivialaugment",
    description="TrivialAugmentWide: 1 random op per sample at a random magnitude",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _trivialaugment(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return TrivialAugmentWide(strength)


@AUGMENTATIONS.register(
    "augmix",
    description="AugMix: per-sample Dirichlet mix of 3 random op chains, blended with the original",
    mixes_labels=False,
    geometric=True,
    photometric=True,
)
def _augmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return AugMix(strength)


@AUGMENTATIONS.register(
    "mixup",
    description="Mixup (alpha 0.2): blend each image and its label with a random partner",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _mixup(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return Mixup(strength)


@AUGMENTATIONS.register(
    "cutmix",
    description="CutMix (alpha 1.0): paste a partner's box, labels mixed by pasted area",
    mixes_labels=True,
    geometric=False,
    photometric=False,
)
def _cutmix(strength: float = 1.0, allow_hflip: bool = False) -> Augmentation:
    return CutMix(strength)


@AUGMENTATIONS.register(
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
    factory = AUGMENTATIONS.get(name)
    return factory(strength=strength, allow_hflip=allow_hflip)
