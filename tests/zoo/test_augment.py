"""Tests for sdc_bench.zoo.augment: every registered policy passes the conformance kit, then specifics."""

from __future__ import annotations

import pytest
import torch

from sdc_bench.core.errors import ConfigError, UnknownNameError
from sdc_bench.testing import check_augmentation
from sdc_bench.zoo.augment import (
    AUGMENTATIONS,
    Augmentation,
    BasicAugmentation,
    build_augmentation,
    normalize,
    to_float,
)

POLICIES = AUGMENTATIONS.names()
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _images(batch: int = 8, channels: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, size, size, generator=generator)


def _one_hot(batch: int = 8, classes: int = 8) -> torch.Tensor:
    return torch.eye(classes)[torch.arange(batch) % classes]


def _run(
    policy: Augmentation, images: torch.Tensor, targets: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator(device=images.device).manual_seed(seed)
    return policy(images, targets, generator)


# ---------------------------------------------------------------- conformance: every registered policy


def test_registry_holds_the_required_policies() -> None:
    required = {
        "none",
        "basic",
        "medical",
        "randaugment",
        "trivialaugment",
        "augmix",
        "mixup",
        "cutmix",
        "sdc_dl_advanced",
    }
    assert required <= set(POLICIES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", POLICIES)
def test_policy_conforms(name: str, device: str) -> None:
    """Shape, dtype, device, range, targets, per-sample draws from the generator only, strength 0 = identity:
    the kit's checks (sdc_bench.testing), which a plugin's policy passes too."""
    check_augmentation(name, device=device)


@pytest.mark.parametrize("name", POLICIES)
def test_generator_on_the_wrong_device_is_refused(name: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    with pytest.raises(ValueError, match="generator"):
        build_augmentation(name)(_images().cuda(), _one_hot().cuda(), torch.Generator())


# ---------------------------------------------------------------- specifics


def test_bad_strength_and_unknown_name_raise_clear_errors() -> None:
    with pytest.raises(ConfigError, match="strength"):
        build_augmentation("basic", strength=-0.1)
    with pytest.raises(ConfigError, match="strength"):
        build_augmentation("basic", strength=float("nan"))
    with pytest.raises(UnknownNameError, match="randaugment"):
        build_augmentation("randaugmnet")


def test_bad_inputs_are_refused() -> None:
    policy = build_augmentation("basic")
    generator = torch.Generator()
    with pytest.raises(ValueError, match="to_float"):
        policy(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), _one_hot(2, 2), generator)
    with pytest.raises(ValueError, match="targets"):
        policy(torch.zeros(2, 1, 8, 8), _one_hot(3, 2), generator)


@pytest.mark.parametrize("name", ["basic", "sdc_dl_advanced"])
def test_no_horizontal_flip_unless_allowed(name: str) -> None:
    # bright left half, dark right half: a mirror swaps them; small rotations/shifts do not
    images = torch.zeros(64, 1, 32, 32)
    images[..., :16] = 1.0
    targets = _one_hot(64, 2)

    def mirrored(allow_hflip: bool) -> torch.Tensor:
        out, _ = _run(build_augmentation(name, allow_hflip=allow_hflip), images, targets, seed=0)
        return out[..., :16].mean(dim=(1, 2, 3)) < out[..., 16:].mean(dim=(1, 2, 3))

    assert not mirrored(False).any()
    flips = mirrored(True)
    assert flips.any() and not flips.all()


def test_basic_warp_moves_content_by_small_amounts() -> None:
    images = torch.zeros(16, 1, 32, 32)
    images[..., 12:20, 12:20] = 1.0
    out, _ = _run(BasicAugmentation(1.0), images, _one_hot(16, 2), seed=0)
    rows = torch.arange(32.0).view(1, 1, 32, 1)
    centre_y = (out * rows).sum(dim=(1, 2, 3)) / out.sum(dim=(1, 2, 3))
    assert ((centre_y - 15.5).abs() <= 0.08 * 32 * 1.5 + 1).all()  # shift up to 8 % plus rotation/scale
    assert (centre_y - 15.5).abs().max() > 0.2


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixing_labels_follow_the_pixel_proportions(name: str) -> None:
    # image k is constant v_k, so a mixed image's mean must equal sum_k target_k * v_k
    values = torch.linspace(0.05, 0.95, 8)
    images = values.view(8, 1, 1, 1).expand(8, 1, 32, 32).contiguous()
    out, out_targets = _run(build_augmentation(name), images, _one_hot(), seed=5)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), out_targets @ values, atol=1e-5, rtol=0)
    assert (out_targets.max(dim=1).values < 1.0).any()  # something was actually mixed


def test_cutmix_pastes_a_partner_box() -> None:
    values = torch.linspace(0.05, 0.95, 8)
    images = values.view(8, 1, 1, 1).expand(8, 1, 32, 32).contiguous()
    out, out_targets = _run(build_augmentation("cutmix"), images, _one_hot(), seed=5)
    for index in range(8):
        present = torch.unique(out[index])
        assert len(present) <= 2  # own value and one partner's, nothing blended
        weights = out_targets[index][out_targets[index] > 0]
        assert len(weights) == len(present)


def test_mixup_strength_shrinks_the_partner_share() -> None:
    values = torch.linspace(0.05, 0.95, 8)
    images = values.view(8, 1, 1, 1).expand(8, 1, 4, 4).contiguous()
    _, full = _run(build_augmentation("mixup", strength=1.0), images, _one_hot(), seed=2)
    _, mild = _run(build_augmentation("mixup", strength=0.25), images, _one_hot(), seed=2)
    own = torch.arange(8)
    assert (mild[own, own] >= full[own, own] - 1e-6).all()


def test_medical_preserves_dark_and_bright_order_on_average() -> None:
    images = torch.zeros(8, 1, 32, 32)
    images[..., 16:, :] = 0.9
    images[..., :16, :] = 0.1
    out, _ = _run(build_augmentation("medical"), images, _one_hot(), seed=0)
    assert (out[..., 16:, :].mean(dim=(1, 2, 3)) > out[..., :16, :].mean(dim=(1, 2, 3))).all()


def test_to_float_and_normalize() -> None:
    raw = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    as_float = to_float(raw)
    assert as_float.dtype == torch.float32
    torch.testing.assert_close(as_float.flatten(), torch.tensor([0.0, 0.2, 1.0]))
    with pytest.raises(TypeError, match="uint8"):
        to_float(as_float)

    three = torch.full((2, 3, 4, 4), 0.5)
    out = normalize(three, mean=[0.5, 0.25, 0.0], std=[1.0, 0.5, 0.25])
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([0.0, 0.5, 2.0]))
    torch.testing.assert_close(normalize(three, mean=[0.5], std=[0.5]), torch.zeros_like(three))
    with pytest.raises(ConfigError, match="mean"):
        normalize(torch.zeros(1, 1, 2, 2), mean=[0.1, 0.2, 0.3], std=[1.0])
    with pytest.raises(ConfigError, match="std"):
        normalize(three, mean=[0.5], std=[0.0])


# ---------------------------------------------------------------- the RandAugment op set and samplers


def test_each_op_keeps_range_and_is_near_identity_at_magnitude_zero() -> None:
    from sdc_bench.zoo.augment.ops import _FULL_OPS, _RANDAUGMENT_RANGES

    images = _images(batch=4)
    zero = torch.zeros(4)
    for name, op in _FULL_OPS.items():
        out = op(images, torch.full((4,), 0.7), _RANDAUGMENT_RANGES).clamp(0, 1)
        assert out.shape == images.shape, name
        if name in ("autocontrast", "equalize"):
            continue  # no magnitude
        tolerance = 0.5 / 255 + 1e-6 if name == "posterize" else 1e-5
        torch.testing.assert_close(op(images, zero, _RANDAUGMENT_RANGES), images, atol=tolerance, rtol=0)


def test_apply_ops_routes_each_sample_to_the_op_it_drew() -> None:
    from sdc_bench.zoo.augment.ops import _FULL_OPS, _RANDAUGMENT_RANGES, _apply_ops

    ops = list(_FULL_OPS.values())
    images = _images(batch=len(ops) + 1)
    op_index = torch.cat([torch.arange(len(ops)), torch.tensor([-1])])
    magnitude = torch.linspace(-1, 1, len(ops) + 1)
    out = _apply_ops(images, op_index, magnitude, ops, _RANDAUGMENT_RANGES)
    for index, op in enumerate(ops):
        alone = op(images[index : index + 1], magnitude[index : index + 1], _RANDAUGMENT_RANGES).clamp(0, 1)
        torch.testing.assert_close(out[index : index + 1], alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(out[-1], images[-1])


def test_equalize_flattens_a_skewed_histogram() -> None:
    from sdc_bench.zoo.augment.ops import _equalize

    skewed = _images(batch=2, channels=3) ** 2  # mostly dark
    out = _equalize(skewed)
    assert skewed.mean() < 0.4
    torch.testing.assert_close(out.mean(dim=(2, 3)), torch.full((2, 3), 0.5), atol=0.05, rtol=0)
    flat = torch.full((1, 1, 8, 8), 0.3)
    torch.testing.assert_close(_equalize(flat), flat, atol=0.5 / 255, rtol=0)


@pytest.mark.parametrize(("height", "width", "kernel_size"), [(32, 32, 5), (40, 24, 3), (200, 160, 25)])
def test_box_mean_matches_average_pooling_with_replicate_borders(
    height: int, width: int, kernel_size: int
) -> None:
    import torch.nn.functional as F

    from sdc_bench.zoo.augment.ops import _box_mean

    images = torch.rand(3, 2, height, width, generator=torch.Generator().manual_seed(1))
    pad = kernel_size // 2
    expected = F.avg_pool2d(F.pad(images, (pad, pad, pad, pad), mode="replicate"), kernel_size, stride=1)
    out = _box_mean(images, kernel_size)
    assert out.shape == images.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_local_contrast_amplifies_faint_detail_up_to_the_clip_limit() -> None:
    from sdc_bench.zoo.augment.ops import _local_contrast

    # a ramp from dark to bright with faint stripes: the stripes' amplitude grows, capped by the clip limit
    ramp = torch.linspace(0.1, 0.9, 64).view(1, 1, 1, 64).expand(2, 1, 64, 64)
    stripes = 0.01 * torch.sign(torch.sin(torch.arange(64.0) * 1.5)).view(1, 1, 64, 1)
    images = ramp + stripes
    out = _local_contrast(images, torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(out[0], images[0], atol=1e-6, rtol=0)  # clip limit 1: no gain
    centre = (slice(None), slice(16, 48), slice(16, 48))
    amplitude_in = (images[1][centre] - ramp[1][centre]).abs().mean()
    amplitude_out = (out[1][centre] - _local_mean_of(out[1])[centre]).abs().mean()
    assert 1.5 * amplitude_in < amplitude_out <= 3.0 * amplitude_in + 1e-4


def _local_mean_of(image: torch.Tensor) -> torch.Tensor:
    from sdc_bench.zoo.augment.ops import _box_mean

    return _box_mean(image.unsqueeze(0), 9)[0]


@pytest.mark.parametrize("alpha", [0.2, 1.0, 3.0])
def test_beta_sampler_matches_its_moments(alpha: float) -> None:
    from sdc_bench.zoo.augment.ops import _sample_beta

    draws = _sample_beta(alpha, alpha, 20000, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert ((draws >= 0) & (draws <= 1)).all()
    expected_var = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    assert abs(draws.mean().item() - 0.5) < 0.02
    assert abs(draws.var().item() - expected_var) < 0.1 * expected_var
