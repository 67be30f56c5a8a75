"""Saliency maps: every backbone's Grad-CAM layer resolves, undo_letterbox inverts the cache's resize exactly,
a model trained to find a lesion points at it, and overlays keep the original image's geometry."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from sdc_bench.core.determinism import deterministic, seed_everything
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.geometry import GEOMETRY_MODES, resize_geometry
from sdc_bench.data.decode import RESIZE_MODES, resize_image
from sdc_bench.zoo.backbones import BACKBONES, create_backbone
from sdc_bench.zoo.saliency import (
    cam_maps,
    cam_overlays,
    overlay_names,
    overlay_png,
    target_layer,
    undo_letterbox,
)

# the optional 'saliency' extra is part of the 'test' extra, so CI runs these
needs_grad_cam = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam (extra 'saliency') is not installed",
)


@needs_grad_cam
@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_has_a_working_cam_layer(name: str) -> None:
    torch.manual_seed(0)
    size = 32 if BACKBONES.get(name).fixed_size else 64  # a ViT's input size is a build argument
    model = create_backbone(name, num_classes=2, in_chans=1, pretrained=False, img_size=size).model
    layer = target_layer(model, name)
    assert layer is not model
    maps = cam_maps(model, torch.rand(2, 1, size, size), layer)
    assert maps.shape == (2, size, size) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0


def test_target_layer_names_the_missing_part() -> None:
    with pytest.raises(ConfigError, match="layer4"):
        target_layer(nn.Sequential(nn.Conv2d(1, 1, 1)), "resnet18")


def test_geometry_modes_and_letterbox_box_match_the_cache() -> None:
    assert GEOMETRY_MODES == RESIZE_MODES
    for shape in [(100, 50), (50, 100), (37, 91), (64, 64), (1, 300), (301, 2)]:
        geometry = resize_geometry(shape, 48, "letterbox")
        filled = resize_image(np.ones(shape, np.float32), 48, "letterbox") > 0
        rows, columns = np.nonzero(filled)
        assert (rows.min(), columns.min()) == (geometry.top, geometry.left)
        assert (rows.max() + 1 - rows.min(), columns.max() + 1 - columns.min()) == (
            geometry.rows,
            geometry.columns,
        )


@pytest.mark.parametrize("mode", ["letterbox", "resize", "center_crop"])
@pytest.mark.parametrize("shape", [(90, 40), (40, 90)], ids=["tall", "wide"])
def test_undo_letterbox_maps_a_rectangle_back_onto_itself(shape: tuple[int, int], mode: str) -> None:
    original = np.zeros(shape, np.float32)
    top, left = shape[0] // 3, shape[1] // 3  # inside the centre crop too
    original[top : top + shape[0] // 3, left : left + shape[1] // 3] = 1.0
    square = resize_image(original, 64, mode)
    back = undo_letterbox(square, resize_geometry(shape, 64, mode))
    assert back.shape == shape
    inside, truth = back > 0.5, original > 0.5
    assert (inside & truth).sum() / (inside | truth).sum() > 0.9


def _lesion_images(count: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[tuple[float, ...]]]:
    """Grey noise, tall and wide in turn; every other pair gets a bright disc (the lesion, class 1)."""
    images, lesions = [], []
    for index in range(count):
        shape = (64, 48) if index % 2 else (48, 64)
        image = 0.25 + 0.08 * rng.standard_normal(shape)
        lesion: tuple[float, ...] = ()
        if index % 4 < 2:
            radius = rng.uniform(3.0, 4.5)
            row = rng.uniform(radius + 1, shape[0] - radius - 1)
            column = rng.uniform(radius + 1, shape[1] - radius - 1)
            grid_rows, grid_columns = np.mgrid[: shape[0], : shape[1]]
            image += 0.6 * (((grid_rows - row) ** 2 + (grid_columns - column) ** 2) <= radius**2)
            lesion = (row, column, radius)
        images.append(np.clip(image, 0.0, 1.0).astype(np.float32))
        lesions.append(lesion)
    return images, lesions


def _lesion_finder() -> nn.Module:
    # timm's ResNet, tiny, at stride 4 (no stem pool, dilated late stages) so its layer4 map is 16 x 16
    model = ResNet(
        BasicBlock, [1, 1, 1, 1], channels=(16, 32, 32, 32), in_chans=1, num_classes=2, output_stride=8
    )
    model.maxpool = nn.Identity()
    return model


@pytest.mark.slow
@needs_grad_cam
def test_cam_of_a_trained_lesion_finder_points_at_the_lesion() -> None:
    seed_everything(0)
    rng = np.random.default_rng(0)
    originals, lesions = _lesion_images(260, rng)
    inputs = torch.from_numpy(np.stack([resize_image(image, 64) for image in originals]))[:, None]
    inputs = (inputs - 0.3) / 0.2
    labels = torch.tensor([int(bool(lesion)) for lesion in lesions])
    train, held_out = slice(0, 200), slice(200, 260)
    model = _lesion_finder()
    epochs, batch = 6, 32
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 5e-3, total_steps=epochs * -(-200 // batch))
    with deterministic():
        for _ in range(epochs):
            model.train()
            for step in torch.randperm(200).split(batch):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(inputs[train][step]), labels[train][step]).backward()
                optimizer.step()
                schedule.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(inputs[held_out]).argmax(1) == labels[held_out]).float().mean().item()
        assert accuracy > 0.9, accuracy
        positives = [index for index in range(200, 260) if lesions[index]]
        maps = cam_maps(model, inputs[positives], target_layer(model, "resnet18"), class_index=1)
    hits = 0
    for square, index in zip(maps, positives):
        on_original = undo_letterbox(square, resize_geometry(originals[index].shape, 64))
        row, column = np.unravel_index(on_original.argmax(), on_original.shape)
        lesion_row, lesion_column, radius = lesions[index]
        hits += np.hypot(row - lesion_row, column - lesion_column) <= radius + 4  # the disc, dilated 4 px
    assert hits >= 0.8 * len(positives), f"{hits} of {len(positives)} maps peak on the lesion"


@needs_grad_cam
def test_overlays_keep_the_original_geometry(tmp_path) -> None:
    torch.manual_seed(0)
    model = create_backbone("resnet18", num_classes=2, in_chans=1, pretrained=False).model
    model.train()
    rng = np.random.default_rng(1)
    originals = [rng.integers(0, 255, (50, 30), dtype=np.uint8), rng.random((20, 70)).astype(np.float32)]
    geometry = [resize_geometry(image.shape, 64) for image in originals]
    images = torch.from_numpy(np.stack([resize_image(image.astype(np.float32), 64) for image in originals]))
    paths = cam_overlays(
        model, "resnet18", images[:, None], originals, geometry, tmp_path, ["spine/a", "b"], 1
    )
    assert paths == [tmp_path / "spine" / "a.png", tmp_path / "b.png"]
    for path, original in zip(paths, originals):
        with Image.open(path) as png:
            assert png.mode == "RGB" and png.size == (original.shape[1], original.shape[0])
    assert model.training  # cam_maps puts the model back in its former mode
    assert not list(tmp_path.rglob("*.tmp"))


def test_overlay_png_blends_the_heatmap_over_the_grey_image(tmp_path) -> None:
    gray = np.zeros((4, 6), np.uint8)
    cam = np.zeros((4, 6), np.float32)
    cam[0, 0] = 1.0
    path = overlay_png(gray, cam, tmp_path / "o.png", alpha=1.0)
    with Image.open(path) as png:
        pixels = np.asarray(png)
    assert pixels.shape == (4, 6, 3)
    assert pixels[0, 0].sum() > pixels[3, 5].sum()  # inferno: hot is bright, cold is near black
    with pytest.raises(ValueError, match="shape"):
        overlay_png(gray, cam[:2], tmp_path / "bad.png")


def test_overlay_names_stay_inside_the_output_folder(tmp_path) -> None:
    model = create_backbone("resnet18", num_classes=2, in_chans=1).model
    image = np.zeros((8, 8), np.float32)
    with pytest.raises(ConfigError, match="relative path"):
        cam_overlays(
            model,
            "resnet18",
            torch.zeros(1, 1, 8, 8),
            [image],
            [resize_geometry((8, 8), 8)],
            tmp_path,
            ["../x"],
        )


def test_overlay_names_are_safe_unique_and_drop_the_image_suffix() -> None:
    names = overlay_names(
        ["spine/p01.png", "spine/p01.dcm", "../x y.nii.gz", "SPINE/P01", "", "c:\\d\\e.jpg"]
    )
    assert names == ["spine/p01", "spine/p01~2", "x_y", "SPINE/P01~3", "image", "c_/d/e"]


@needs_grad_cam
def test_an_ensembles_maps_are_averaged_for_one_class_per_image(tmp_path) -> None:
    torch.manual_seed(0)
    models = [create_backbone("resnet18", num_classes=3, in_chans=1).model.eval() for _ in range(2)]
    images = torch.rand(2, 1, 32, 32)
    layers = [target_layer(model, "resnet18") for model in models]
    classes = [2, 0]
    single = [cam_maps(model, images, layer, classes) for model, layer in zip(models, layers)]
    assert np.allclose(single[0][1], cam_maps(models[0], images[1:], layers[0], 0)[0], atol=1e-6)
    originals = [np.zeros((32, 32), np.float32)] * 2
    geometry = [resize_geometry((32, 32), 32)] * 2
    paths = cam_overlays(models, "resnet18", images, originals, geometry, tmp_path, ["a", "b"], classes)
    assert [p.name for p in paths] == ["a.png", "b.png"]
    with pytest.raises(ValueError, match="one per image"):
        cam_maps(models[0], images, layers[0], [1])
