"""Saliency maps for a trained classifier: Grad-CAM on the backbone's last feature map, mapped back onto
the original image and written as overlay PNGs.

The target layer is registry metadata (``BackboneSpec.cam_layer``), the maps come from ``pytorch_grad_cam``
(the optional ``saliency`` extra, imported only when a map is asked for), and :func:`undo_letterbox`
inverts the cache's resize with the geometry of :mod:`sdc_bench.core.geometry`. :func:`cam_overlays` is
the one call ``predict --cam DIR`` and the report gallery make.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

import numpy as np
import torch
from PIL import Image
from torch import nn

from sdc_bench.core.errors import ConfigError
from sdc_bench.core.geometry import ResizeGeometry
from sdc_bench.core.store import _atomic_write
from sdc_bench.zoo.backbones import BACKBONES

__all__ = [
    "ClassIndex",
    "cam_maps",
    "cam_overlays",
    "overlay_names",
    "overlay_png",
    "target_layer",
    "undo_letterbox",
]

_IMAGE_SUFFIX = re.compile(r"\.(png|jpe?g|tiff?|bmp|dcm|dicom|nii|nii\.gz)$", re.IGNORECASE)


def _grad_cam() -> tuple[Any, Any]:
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as error:
        raise ConfigError(
            "saliency maps need the 'grad-cam' package; install it with pip install 'sdc-bench[saliency]'"
        ) from error
    return GradCAM, ClassifierOutputTarget


def target_layer(model: nn.Module, backbone_name: str) -> nn.Module:
    """The Grad-CAM target of ``model``: the submodule ``BackboneSpec.cam_layer`` names.

    The path is dotted attribute names; an integer part indexes a ``Sequential``/``ModuleList``, negative
    from the end (``blocks.-1``).
    """
    spec = BACKBONES.get(backbone_name)
    if not spec.cam_layer:
        raise ConfigError(
            f"backbone {spec.name!r} has no Grad-CAM layer; set cam_layer on its BackboneSpec in "
            "sdc_bench/zoo/backbones/specs.py"
        )
    module: nn.Module = model
    for part in spec.cam_layer.split("."):
        child: Any
        if part.lstrip("-").isdigit() and isinstance(module, (nn.Sequential, nn.ModuleList)):
            child = module[int(part)] if -len(module) <= int(part) < len(module) else None
        else:
            child = getattr(module, part, None)
        if not isinstance(child, nn.Module):
            raise ConfigError(
                f"cam_layer {spec.cam_layer!r} of backbone {spec.name!r} has no part {part!r} in "
                f"{type(model).__name__}; fix cam_layer on its BackboneSpec"
            )
        module = child
    return module


def _token_grid(prefix_tokens: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Grad-CAM wants (N, C, H, W); a transformer block gives (N, tokens, C): drop the class/distillation
    tokens and lay the patch tokens out on their square grid."""

    def reshape(activations: torch.Tensor) -> torch.Tensor:
        if activations.ndim != 3:
            return activations
        patches = activations[:, prefix_tokens:, :]
        side = math.isqrt(patches.shape[1])
        if side * side != patches.shape[1]:
            raise ValueError(f"{patches.shape[1]} patch tokens do not form a square grid")
        return patches.reshape(patches.shape[0], side, side, patches.shape[2]).permute(0, 3, 1, 2)

    return reshape


ClassIndex: TypeAlias = int | Sequence[int] | None
"""Which class a map explains: ``None`` each image's predicted class, an int that class for every image,
a sequence one class per image (e.g. an ensemble's predicted class)."""


def _class_indices(class_index: ClassIndex, count: int, num_classes: object) -> list[int] | None:
    if class_index is None:
        return None
    indices = [int(class_index)] * count if isinstance(class_index, int) else [int(c) for c in class_index]
    if len(indices) != count:
        raise ValueError(f"{len(indices)} class indices for {count} images; give one per image")
    for index in indices:
        if index < 0 or (isinstance(num_classes, int) and index >= num_classes):
            raise ConfigError(f"class_index={index} is not a class of this model ({num_classes} classes)")
    return indices


def cam_maps(
    model: nn.Module, images: torch.Tensor, target_layer: nn.Module, class_index: ClassIndex = None
) -> np.ndarray:
    """Grad-CAM maps of ``images`` (N, C, H, W, already normalised as the model expects).

    ``class_index`` is a :data:`ClassIndex`. Returns ``float32`` maps of shape (N, H, W), each scaled to
    ``[0, 1]`` (all zeros where the class has no positive evidence). The model is run in eval mode and
    put back in its former mode.
    """
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"cam_maps expects a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}")
    indices = _class_indices(class_index, images.shape[0], getattr(model, "num_classes", None))
    grad_cam, classifier_target = _grad_cam()
    targets = None if indices is None else [classifier_target(index) for index in indices]
    prefix_tokens = int(getattr(model, "num_prefix_tokens", 0))
    was_training = model.training
    try:
        with grad_cam(
            model=model, target_layers=[target_layer], reshape_transform=_token_grid(prefix_tokens)
        ) as cam:
            maps = cam(input_tensor=images, targets=targets)
    finally:
        model.train(was_training)
    return np.clip(np.nan_to_num(np.asarray(maps, dtype=np.float32)), 0.0, 1.0)


def _resize(image: np.ndarray, rows: int, columns: int) -> np.ndarray:
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F").resize(
        (columns, rows), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32)


def undo_letterbox(cam: np.ndarray, geometry: ResizeGeometry) -> np.ndarray:
    """Map a map on the model's ``target_rows`` x ``target_columns`` input back onto the original image.

    Crops the padding the letterbox added (or pads with 0 what ``center_crop`` cut off) and resizes to
    ``geometry.original_hw``. Returns ``float32`` of that shape, values in ``[0, 1]``.
    """
    cam = np.asarray(cam, dtype=np.float32)
    if cam.shape != geometry.target_hw:
        raise ValueError(f"map of shape {cam.shape} does not match the {geometry.target_hw} model input")
    # the resized original's frame; rows/columns the square does not cover stay 0
    frame = np.zeros((geometry.rows, geometry.columns), dtype=np.float32)
    row0, row1 = max(geometry.top, 0), min(geometry.top + geometry.rows, geometry.target_rows)
    col0, col1 = max(geometry.left, 0), min(geometry.left + geometry.columns, geometry.target_columns)
    frame[row0 - geometry.top : row1 - geometry.top, col0 - geometry.left : col1 - geometry.left] = cam[
        row0:row1, col0:col1
    ]
    return np.clip(_resize(frame, *geometry.original_hw), 0.0, 1.0)


def _unit_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    image = np.nan_to_num(image.astype(np.float32))
    low, high = float(image.min()), float(image.max())
    if low >= 0.0 and high <= 1.0:  # decoded images are already [0, 1]; keep their contrast
        return image
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def overlay_png(
    original_gray: np.ndarray,
    cam: np.ndarray,
    path: str | Path,
    *,
    alpha: float = 0.45,
    colormap: str = "inferno",
) -> Path:
    """Write the grey original with ``cam`` (same H x W, in ``[0, 1]``) blended on top as an RGB PNG.

    ``alpha`` is the heatmap's weight. The write is atomic (temp file + rename); returns the path.
    """
    from matplotlib import colormaps

    original_gray = np.asarray(original_gray)
    cam = np.asarray(cam, dtype=np.float32)
    if original_gray.ndim != 2 or cam.shape != original_gray.shape:
        raise ValueError(
            f"overlay needs a 2-D image and a map of its shape, got {original_gray.shape} and {cam.shape}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha={alpha} must be in [0, 1]")
    heat = colormaps[colormap](np.clip(cam, 0.0, 1.0))[..., :3]
    blend = (1.0 - alpha) * _unit_gray(original_gray)[..., None] + alpha * heat
    rgb = np.clip(np.rint(blend * 255.0), 0, 255).astype(np.uint8)
    path = Path(path)
    _atomic_write(path, lambda tmp: Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG"))
    return path


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def overlay_names(sample_ids: Sequence[str]) -> list[str]:
    """File names (without ``.png``) for the overlays of ``sample_ids``: the ids, made safe and unique.

    Folders of an id are kept (``spondylolisthesis/p01``), ``.``/``..`` parts and characters outside
    ``A-Z a-z 0-9 . _ -`` are dropped or replaced by ``_``, an image suffix (``.dcm``, ``.png``, ...) is
    removed, and a name met before gets ``~2``, ``~3``, ... appended.
    """
    names: list[str] = []
    seen: set[str] = set()
    for sample_id in sample_ids:
        parts = [_UNSAFE.sub("_", part) for part in str(sample_id).replace("\\", "/").split("/")]
        parts = [part for part in parts if part not in ("", ".", "..")] or ["image"]
        parts[-1] = _IMAGE_SUFFIX.sub("", parts[-1]) or "image"
        base = "/".join(parts)
        name, copy = base, 1
        while name.lower() in seen:  # case-insensitive file systems would merge "A" and "a"
            copy += 1
            name = f"{base}~{copy}"
        seen.add(name.lower())
        names.append(name)
    return names


def _overlay_path(out_dir: Path, name: str) -> Path:
    # sample ids may be nested paths ("spondylolisthesis/p01.png"): keep the layout, never leave out_dir
    relative = PurePosixPath(name.replace("\\", "/"))
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(f"overlay name {name!r} must be a relative path inside the output folder")
    return out_dir / f"{relative}.png"


def _mean_map(
    models: Sequence[nn.Module], layers: Sequence[nn.Module], images: torch.Tensor, class_index: ClassIndex
) -> np.ndarray:
    """The members' maps averaged, each image's mean rescaled to a peak of 1 (members' peaks differ)."""
    total = sum(cam_maps(m, images, layer, class_index) for m, layer in zip(models, layers, strict=True))
    mean = np.asarray(total, dtype=np.float32) / len(models)
    if len(models) == 1:
        return mean
    peaks = mean.reshape(len(mean), -1).max(axis=1)
    return mean / np.where(peaks > 0, peaks, 1.0)[:, None, None]


def cam_overlays(
    model: nn.Module | Sequence[nn.Module],
    backbone_name: str,
    images: torch.Tensor,
    originals: Sequence[np.ndarray],
    geometry: Sequence[ResizeGeometry],
    out_dir: str | Path,
    names: Sequence[str],
    class_index: ClassIndex = None,
    *,
    batch_size: int = 32,
) -> list[Path]:
    """Grad-CAM overlays of ``images`` on their ``originals``, one ``<out_dir>/<name>.png`` each.

    ``images`` is the model input (N, C, S, S), ``originals[i]`` the decoded 2-D image before the
    resize and ``geometry[i]`` how the resize placed it (``resize_geometry(originals[i].shape, S, mode)``).
    ``model`` may be several models of one backbone (an ensemble): their maps are averaged; give them the
    ensemble's predicted class per image as ``class_index``. Returns the written paths, in input order.
    """
    count = images.shape[0]
    if not len(originals) == len(geometry) == len(names) == count:
        raise ValueError(
            f"cam_overlays got {count} images, {len(originals)} originals, {len(geometry)} geometries "
            f"and {len(names)} names; give one of each per image"
        )
    if len(set(names)) != len(names):
        raise ConfigError("overlay names must be unique: two images would write the same PNG")
    out = Path(out_dir)
    paths = [_overlay_path(out, name) for name in names]
    models = [model] if isinstance(model, nn.Module) else list(model)
    layers = [target_layer(m, backbone_name) for m in models]
    per_image = None if class_index is None or isinstance(class_index, int) else list(class_index)
    for start in range(0, count, batch_size):
        chunk = class_index if per_image is None else per_image[start : start + batch_size]
        maps = _mean_map(models, layers, images[start : start + batch_size], chunk)
        for offset, square in enumerate(maps):
            index = start + offset
            overlay_png(originals[index], undo_letterbox(square, geometry[index]), paths[index])
    return paths
