from __future__ import annotations

import numpy as np
import pytest

from sdc_bench.core.errors import ConfigError
from sdc_bench.zoo.features import hog, hog_histogram, intensity_histogram


def test_hog_sees_edge_orientation() -> None:
    vertical = np.zeros((1, 32, 32), np.uint8)
    vertical[:, :, 16:] = 255
    horizontal = vertical.transpose(0, 2, 1).copy()
    hv, hh = hog(vertical).reshape(-1, 9), hog(horizontal).reshape(-1, 9)
    # a vertical edge has horizontal gradients (orientation ~0 rad: bins 0 and 8); a horizontal one ~pi/2 (bin 4)
    assert hv[:, [0, 8]].sum() > 5 * hv[:, 4].sum()
    assert hh[:, 4].sum() > 5 * hh[:, [0, 8]].sum()


def test_hog_blocks_are_l2_hys_normalised() -> None:
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32), dtype=np.uint8)
    blocks = hog(images).reshape(4, -1, 36)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=-1), 1.0, atol=1e-3)
    # the Hys clip at 0.2 before renormalising keeps any one bin from dominating a block
    assert blocks.max() < 0.3


def test_batched_equals_one_by_one() -> None:
    images = np.random.default_rng(1).integers(0, 256, (5, 40, 48), dtype=np.uint8)
    batched = hog_histogram(images)
    single = np.concatenate([hog_histogram(images[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(batched, single, rtol=1e-6)


def test_histogram_and_size_checks() -> None:
    images = np.full((2, 16, 16), 255, np.uint8)
    hist = intensity_histogram(images, bins=8)
    assert hist[:, -1].tolist() == [1.0, 1.0]
    with pytest.raises(ConfigError, match="too small"):
        hog(np.zeros((1, 8, 8), np.uint8))
