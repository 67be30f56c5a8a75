"""Training-path speed: sdc-bench's loop against a naive loop and against a bare model step.

Run: ``pytest benchmarks/bench_training.py --benchmark-only -s`` on an otherwise idle machine.

1. One training epoch of SDC-DL's fine-tuning stage (EfficientNet-Lite0, ImageNet weights, 1-channel
   input, AdamW, SDC-DL augmentation) on 1,000 SynthSpine images at 128 px, through ``fit_cnn`` (cached
   uint8 tensors, batched per-sample augmentation on the training device, channels_last) against a naive
   loop: torchvision ``ImageFolder`` + PIL transforms (RandomAffine, ToTensor, Normalize) in a
   ``DataLoader`` with 2 workers, same model and optimiser. Target: at least 1.5x.
2. sdc-bench's training-step images/s against the bare model step (a fixed random batch already on the
   device, forward + loss + backward + step, same model settings, no data loading, no augmentation).
   Target: at least 0.85.

The targets are for this project's 2-core CPU. On a GPU machine set ``SDC_BENCH_BENCH_DEVICE=cuda`` (all
three loops then run there under bf16 autocast, the naive loader with pinned memory) and optionally
``SDC_BENCH_BENCH_BATCH``; ``benchmarks/gpu_session.py`` does this. The ratios are reported there, not asserted.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from sdc_bench.benchmark.fit import ArraySet, FitSettings, fit_cnn
from sdc_bench.data.cache import build_cache
from sdc_bench.data.decode import Preprocess
from sdc_bench.data.sources import load_source
from sdc_bench.data.synthspine import SynthConfig, generate
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.methods import METHODS

N_IMAGES = 1000
SIZE = 128
BATCH = int(os.environ.get("SDC_BENCH_BENCH_BATCH", "32"))
DEVICE = os.environ.get("SDC_BENCH_BENCH_DEVICE", "cpu")
ON_GPU = DEVICE.startswith("cuda")
PRECISION = "bf16" if ON_GPU else "fp32"
STEPS = min(16, N_IMAGES // BATCH)  # batches in the step comparison
TARGETS_APPLY = DEVICE == "cpu" and BATCH == 32  # the targets are set for this setting only
BACKBONE = "tf_efficientnet_lite0"
_results: dict[str, float] = {}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1,000 SynthSpine PNGs (256 px) as a manifest and as ImageFolder class folders."""
    root = tmp_path_factory.mktemp("synth")
    manifest = generate(root, SynthConfig(n_images=N_IMAGES, seed=0, size=256), progress=False)
    folders = tmp_path_factory.mktemp("folders")
    for row in manifest.itertuples():
        target = folders / row.label / Path(row.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(root / row.path)
    return root / "manifest.csv", folders


@pytest.fixture(scope="module")
def arrays(dataset: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> ArraySet:
    manifest = load_source(dataset[0])
    cache = build_cache(
        manifest, Preprocess(size=SIZE, resize="resize"), tmp_path_factory.mktemp("cache"), progress=False
    )
    classes = sorted(manifest["label"].unique())
    labels = manifest["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return ArraySet(cache.images[cache.indices(manifest["sample_id"].tolist())], labels)


def _model(num_classes: int = 5) -> Any:
    torch.manual_seed(0)
    return create_backbone(BACKBONE, num_classes=num_classes, in_chans=1, pretrained=True)


def _target(value: str) -> str:
    where = f"{DEVICE}, batch {BATCH}"
    return f"target >= {value}" if TARGETS_APPLY else f"{where}: the target is for cpu, batch 32"


def _sync() -> None:
    if ON_GPU:
        torch.cuda.synchronize()


def _autocast() -> Any:
    return torch.autocast("cuda", dtype=torch.bfloat16) if ON_GPU else contextlib.nullcontext()


def _settings(**kwargs: Any) -> FitSettings:
    return FitSettings(batch_size=BATCH, channels_last=True, device=DEVICE, precision=PRECISION, **kwargs)


def _one_epoch_params() -> dict[str, Any]:
    method = METHODS.get("sdc_dl_no_staging")  # SDC-DL's fine-tuning stage: the whole network trains
    return method.params({"epochs": 1})


def test_sdc_bench_epoch(benchmark: Any, arrays: ArraySet) -> None:
    method = METHODS.get("sdc_dl_no_staging")
    settings = _settings(patience=10)

    def epoch() -> None:
        fit_cnn(_model(), method, _one_epoch_params(), arrays, None, seed=0, settings=settings)
        _sync()

    epoch()  # warm-up: allocator, kernels
    started = time.perf_counter()
    benchmark.pedantic(epoch, rounds=2, iterations=1)
    _results["sdc_bench_epoch_s"] = benchmark.stats.stats.median
    print(
        f"\nsdc-bench epoch: {N_IMAGES / benchmark.stats.stats.median:.1f} images/s ({time.perf_counter() - started:.1f}s)"
    )


def test_naive_epoch(benchmark: Any, dataset: tuple[Path, Path]) -> None:
    transform = transforms.Compose(
        [
            transforms.Grayscale(),
            transforms.Resize((SIZE, SIZE)),
            transforms.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1)),
            transforms.ToTensor(),
            transforms.Normalize([0.5], [0.5]),
        ]
    )
    loader = DataLoader(
        datasets.ImageFolder(str(dataset[1]), transform=transform),
        batch_size=BATCH,
        shuffle=True,
        num_workers=2,
        drop_last=False,
        pin_memory=ON_GPU,
    )

    def epoch() -> None:
        model = _model().model.train().to(DEVICE)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        for images, labels in loader:
            images, labels = images.to(DEVICE, non_blocking=True), labels.to(DEVICE, non_blocking=True)
            with _autocast():
                logits = model(images)
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync()

    epoch()
    benchmark.pedantic(epoch, rounds=2, iterations=1)
    _results["naive_epoch_s"] = benchmark.stats.stats.median
    ratio = _results["naive_epoch_s"] / _results["sdc_bench_epoch_s"]
    print(
        f"\nnaive epoch: {N_IMAGES / benchmark.stats.stats.median:.1f} images/s; sdc-bench / naive = {ratio:.2f}x ({_target('1.5x')})"
    )
    benchmark.extra_info["speedup"] = ratio
    if TARGETS_APPLY:
        assert ratio >= 1.5


def test_train_step_vs_bare_step(benchmark: Any, arrays: ArraySet) -> None:
    """Per-step speed inside fit_cnn (data gather + augmentation + step) against the bare model step."""
    built = _model()
    model = built.model.train().to(DEVICE, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(BATCH, 1, SIZE, SIZE, device=DEVICE).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (BATCH,), device=DEVICE)

    def bare_steps(n: int = STEPS) -> None:
        for _ in range(n):
            with _autocast():
                logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync()

    bare_steps(2)
    benchmark.pedantic(bare_steps, rounds=3, iterations=1)
    bare_images_per_s = STEPS * BATCH / benchmark.stats.stats.median
    # fit_cnn on exactly STEPS batches, no validation, so its time is its training steps
    subset = ArraySet(arrays.images[: STEPS * BATCH], arrays.labels[: STEPS * BATCH])
    method = METHODS.get("sdc_dl_no_staging")
    settings = _settings()
    fit_cnn(_model(), method, _one_epoch_params(), subset, None, seed=0, settings=settings)
    timings = []
    for _ in range(3):
        candidate = _model()
        _sync()
        started = time.perf_counter()
        fit_cnn(candidate, method, _one_epoch_params(), subset, None, seed=0, settings=settings)
        _sync()
        timings.append(time.perf_counter() - started)
    loop_images_per_s = STEPS * BATCH / float(np.median(timings))
    ratio = loop_images_per_s / bare_images_per_s
    print(
        f"\nbare step {bare_images_per_s:.1f} images/s, sdc-bench loop {loop_images_per_s:.1f} images/s: ratio {ratio:.3f} ({_target('0.85')})"
    )
    benchmark.extra_info["ratio_to_bare_step"] = ratio
    if TARGETS_APPLY:
        assert ratio >= 0.85
