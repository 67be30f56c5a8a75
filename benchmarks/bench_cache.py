"""Images/s of one training epoch read from the tensor cache vs a torchvision ImageFolder pipeline.

Run: ``pytest benchmarks/bench_cache.py --benchmark-only`` (add ``-s`` to see the ratio line).

Both sides deliver the same 1,000 PNG images (256x256, two class folders) as
shuffled batches of 32 grayscale 128x128 tensors: the cache as ``uint8`` rows of a
memmap (decoded once, beforehand; the build time is reported in ``extra_info`` but
not timed), the baseline as ``ImageFolder`` + ``Grayscale, Resize(128), ToTensor``
through a ``DataLoader`` with 2 workers, which decodes every image every epoch.
The target is a ratio of at least 5x.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from sdc_bench.data.cache import TensorCache, build_cache
from sdc_bench.data.decode import Preprocess
from sdc_bench.data.sources import load_source

N_IMAGES = 1000
SOURCE_SIZE = 256
SIZE = 128
BATCH = 32
TARGET_RATIO = 5.0
_images_per_s: dict[str, float] = {}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 simple 256x256 grayscale PNGs (gradient + a bright disc) in two class folders."""
    root = tmp_path_factory.mktemp("bench-images")
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:SOURCE_SIZE, 0:SOURCE_SIZE]
    for index in range(N_IMAGES):
        label = "scoliosis" if index % 2 else "normal"
        centre = rng.integers(40, SOURCE_SIZE - 40, size=2)
        disc = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 < 30**2
        pixels = ((rows + columns * (index % 7)) % 256).astype(np.uint8) // 2
        pixels[disc] = 230
        (root / label).mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / label / f"P{index:04d}.png")
    return root


@pytest.fixture(scope="module")
def cache(image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TensorCache, float]:
    manifest = load_source(image_folder, patient_regex=r"^(P\d+)")
    start = time.perf_counter()
    built = build_cache(
        manifest, Preprocess(size=SIZE, resize="resize"), tmp_path_factory.mktemp("cache"), progress=False
    )
    return built, time.perf_counter() - start


def _cache_epoch(cache: TensorCache, seed: int) -> int:
    order = np.random.default_rng(seed).permutation(len(cache))
    delivered = 0
    for start in range(0, len(order), BATCH):
        # Sorted rows within a batch read the memmap front to back; order inside a batch does not matter to SGD.
        rows = np.sort(order[start : start + BATCH])
        batch = torch.from_numpy(cache.images[rows])
        delivered += batch.shape[0]
    return delivered


def _folder_epoch(loader: DataLoader[Any]) -> int:
    delivered = 0
    for batch, _ in loader:
        delivered += batch.shape[0]
    return delivered


def test_imagefolder_epoch(benchmark: Any, image_folder: Path) -> None:
    dataset = datasets.ImageFolder(
        str(image_folder),
        transform=transforms.Compose(
            [transforms.Grayscale(), transforms.Resize(SIZE), transforms.ToTensor()]
        ),
    )
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=2)
    delivered = benchmark.pedantic(_folder_epoch, args=(loader,), rounds=3, iterations=1, warmup_rounds=1)
    assert delivered == N_IMAGES
    _images_per_s["imagefolder"] = N_IMAGES / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = _images_per_s["imagefolder"]


def test_cache_epoch(benchmark: Any, cache: tuple[TensorCache, float]) -> None:
    tensor_cache, build_s = cache
    seeds = iter(range(10_000))
    delivered = benchmark.pedantic(
        lambda: _cache_epoch(tensor_cache, next(seeds)), rounds=20, iterations=1, warmup_rounds=2
    )
    assert delivered == N_IMAGES
    _images_per_s["cache"] = N_IMAGES / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = _images_per_s["cache"]
    benchmark.extra_info["build_s"] = build_s
    if "imagefolder" in _images_per_s:
        ratio = _images_per_s["cache"] / _images_per_s["imagefolder"]
        benchmark.extra_info["ratio_vs_imagefolder"] = ratio
        print(
            f"\ncache {_images_per_s['cache']:.0f} images/s vs ImageFolder {_images_per_s['imagefolder']:.0f} "
            f"images/s: {ratio:.1f}x (target >= {TARGET_RATIO:g}x); one-time cache build {build_s:.1f} s"
        )
        assert ratio >= TARGET_RATIO, f"tensor cache only {ratio:.1f}x faster than ImageFolder"
