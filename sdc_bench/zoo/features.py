"""Hand-crafted image features for the classical baseline: batched HOG plus an intensity histogram.

The HOG follows Dalal & Triggs (2005): centred gradients, unsigned orientations in ``bins`` bins with
linear interpolation between neighbouring bins, ``cell`` x ``cell`` pixel cells, 2x2-cell blocks with
L2-Hys normalisation. It runs on whole batches with numpy array operations (no per-image Python loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.registry import Listed, Registry

__all__ = ["FEATURES", "FeatureSpec", "hog", "hog_histogram", "intensity_histogram"]

FeatureExtractor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FeatureSpec(Listed):
    """A registered extractor: uint8 images (N, H, W) -> float32 feature vectors (N, D)."""

    name: str
    description: str
    extract: FeatureExtractor


FEATURES = Registry[FeatureSpec]("feature extractor", "features")


def hog(images: np.ndarray, *, cell: int = 8, bins: int = 9, eps: float = 1e-6) -> np.ndarray:
    """HOG descriptors of uint8 images (N, H, W) -> float32 (N, n_blocks * 4 * bins)."""
    if images.ndim != 3:
        raise ConfigError(f"hog expects images of shape (N, H, W), got {images.shape}")
    n, height, width = images.shape
    cells_y, cells_x = height // cell, width // cell
    if cells_y < 2 or cells_x < 2:
        raise ConfigError(f"images of {height}x{width} px are too small for HOG cells of {cell} px")
    x = images[:, : cells_y * cell, : cells_x * cell].astype(np.float32) / 255.0
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    gy[:, 1:-1, :] = x[:, 2:, :] - x[:, :-2, :]
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi) / np.pi * bins  # in [0, bins)
    lower = np.floor(angle - 0.5).astype(np.int64)  # bin centres at k + 0.5
    upper_weight = angle - 0.5 - lower
    lower_bin, upper_bin = np.mod(lower, bins), np.mod(lower + 1, bins)
    hist = np.zeros((n, cells_y, cells_x, bins), dtype=np.float32)
    cell_index = (np.arange(cells_y * cell) // cell)[:, None] * cells_x + (np.arange(cells_x * cell) // cell)[
        None, :
    ]
    flat = hist.reshape(n, cells_y * cells_x * bins)
    for bin_index, weight in ((lower_bin, 1.0 - upper_weight), (upper_bin, upper_weight)):
        target = (cell_index[None] * bins + bin_index).reshape(n, -1)
        values = (magnitude * weight).reshape(n, -1)
        for row in range(n):  # one bincount per image: vectorised over its pixels
            flat[row] += np.bincount(target[row], weights=values[row], minlength=flat.shape[1]).astype(
                np.float32
            )
    blocks = np.concatenate(
        [hist[:, :-1, :-1], hist[:, 1:, :-1], hist[:, :-1, 1:], hist[:, 1:, 1:]], axis=-1
    )  # (n, cells_y-1, cells_x-1, 4*bins)
    blocks = blocks / np.sqrt((blocks**2).sum(-1, keepdims=True) + eps**2)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks**2).sum(-1, keepdims=True) + eps**2)
    return blocks.reshape(n, -1).astype(np.float32)


def intensity_histogram(images: np.ndarray, *, bins: int = 32) -> np.ndarray:
    """Normalised grey-level histograms (N, bins)."""
    codes = (images.reshape(len(images), -1).astype(np.int64) * bins) // 256
    counts = np.stack([np.bincount(row, minlength=bins) for row in codes]).astype(np.float32)
    return counts / counts.sum(1, keepdims=True)


def hog_histogram(images: np.ndarray) -> np.ndarray:
    """HOG and intensity histogram side by side: shape and texture, and grey levels."""
    return np.concatenate([hog(images), intensity_histogram(images)], axis=1)


FEATURES.add(
    FeatureSpec("hog_hist", "HOG (8 px cells, 9 bins, L2-Hys) + 32-bin intensity histogram", hog_histogram)
)
