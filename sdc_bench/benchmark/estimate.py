"""A cost estimate for ``sdc-bench run --dry-run``: training images x the speed of the suite's target device.

The target is the suite's ``train.device`` (``auto``: CUDA when one is visible, else the CPU). When that
device is here, a few training steps per backbone measure its speed; otherwise (a GPU suite planned on a
laptop) the speed is estimated from each backbone's forward GFLOPs, counted once per backbone on the
``meta`` device (no memory, no arithmetic: a fraction of a second) with torch's own flop counter, and a
small table of GPU profiles (:data:`GPU_PROFILES`). The estimate says which of the two it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sdc_bench.benchmark.kinds import kind_of
from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.suite import Suite
from sdc_bench.benchmark.throughput.table import peak_tflops
from sdc_bench.zoo.backbones import count_gflops, create_backbone
from sdc_bench.zoo.methods import METHODS

__all__ = [
    "GPU_PROFILES",
    "GpuProfile",
    "estimate_cost",
    "forward_gflops",
    "measure_train_speed",
    "target_device",
]

Progress = Callable[[str], None]

# FLOPs of one training step relative to the forward pass: forward + backward (~2x forward)
_TRAIN_FLOPS_FACTOR = 3
# validation passes, data handling and the optimizer step on top of the timed forward/backward
_OVERHEAD = 1.3


@dataclass(frozen=True)
class GpuProfile:
    """A GPU class for estimates without that GPU: its dense peak and the fraction small CNNs reach."""

    name: str
    peaks: dict[str, float]  # dense TFLOP/s by precision key ('tf32' for fp32 convolutions, 'bf16', 'fp16')
    # small CNNs at batch 32-64 reach ~10% of peak: ResNet-50 training on an A100 runs ~800 img/s in
    # fp32/TF32, i.e. 8.2 GFLOPs x 3 x 800 = 20 TFLOP/s of 156; depthwise convolutions and batch norm
    # (EfficientNet, MobileNet) are memory-bound and do no better
    utilisation: float = 0.10

    def images_per_s(self, gflops: float, precision: str) -> float:
        """Training images/s of a backbone of ``gflops`` forward GFLOPs per image."""
        key = "tf32" if precision == "fp32" else precision  # cuDNN runs fp32 convolutions as TF32 by default
        flops = self.peaks.get(key, self.peaks["tf32"]) * 1e12 * self.utilisation
        return flops / (_TRAIN_FLOPS_FACTOR * gflops * 1e9)


#: Profiles an estimate without a GPU uses; the first is the headline, the others are given beside it.
GPU_PROFILES: tuple[GpuProfile, ...] = (
    # a workstation GPU of the RTX 3090 / A5000 class, where most users of a full suite start
    GpuProfile("generic GPU", {"tf32": 35.0, "bf16": 71.0, "fp16": 71.0}),
    GpuProfile("A100", {k: peak_tflops("A100", k) for k in ("tf32", "bf16", "fp16")}),
    GpuProfile("H100", {k: peak_tflops("H100", k) for k in ("tf32", "bf16", "fp16")}),
)


def target_device(suite: Suite) -> tuple[str, bool]:
    """The device type the suite trains on (``cpu`` or ``cuda``) and whether it is present here."""
    requested = suite.train.device
    cuda_here = torch.cuda.is_available()
    if requested == "auto":
        return ("cuda" if cuda_here else "cpu"), True
    kind = requested.split(":", 1)[0]
    return kind, kind != "cuda" or cuda_here


def measure_train_speed(
    backbone: str,
    size: int | tuple[int, int],
    batch_size: int,
    device: str,
    steps: int = 3,
    in_chans: int = 1,
) -> float:
    """Training images/s of ``backbone`` at ``size`` (a side or rows x columns) with ``in_chans`` channels
    (one warm-up step, then ``steps`` timed steps)."""
    rows, columns = (size, size) if isinstance(size, int) else size
    built = create_backbone(backbone, num_classes=5, in_chans=in_chans, img_size=size)
    model = built.model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.rand(batch_size, in_chans, rows, columns, device=device)
    y = torch.randint(0, 5, (batch_size,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch_size * steps / (time.perf_counter() - started)


def forward_gflops(backbone: str, size: int | tuple[int, int], in_chans: int = 1) -> float:
    """Forward GFLOPs of one image (a side or rows x columns, ``in_chans`` channels), counted on the
    ``meta`` device (no compute, no memory)."""
    with torch.device("meta"):
        model = create_backbone(backbone, num_classes=5, in_chans=in_chans, img_size=size).model
    return count_gflops(model, in_chans, size)


def _input(suite: Suite) -> tuple[int | tuple[int, int], int, str]:
    """The suite's model input for the estimate: size (``auto``: a square of its pixel budget), channels,
    and how to say it."""
    size = suite.data.size
    shape: int | tuple[int, int] = suite.data.pixel_side if isinstance(size, str) else size
    if not isinstance(shape, int):
        shape = (int(shape[0]), int(shape[1]))
    text = f"{shape} px" if isinstance(shape, int) else f"{shape[0]}x{shape[1]} px"
    slices = int(suite.data.slices)
    return shape, slices, text if slices == 1 else f"{text} x {slices} slices"


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def _images_per_backbone(suite: Suite, cells: list[Cell]) -> dict[str, float]:
    """Training images each backbone processes over all cells (searches, refits); untrained kinds: none."""
    n_train = suite.data.n_images * (1 - 1 / suite.protocol.outer_folds)
    n_fit = n_train * (1 - suite.protocol.inner_val_fraction)
    trials = suite.search.n_trials
    pruning = 0.6 if suite.search.pruner != "none" and trials > 2 else 1.0
    images: dict[str, float] = {}
    for cell in cells:
        method = METHODS.get(cell.method)
        epochs = kind_of(method).cost_epochs(method, suite)
        if epochs is None:  # nothing trained by gradient steps (e.g. fixed features)
            continue
        final = epochs * (n_train if trials or not suite.train.early_stopping else n_fit)
        images[cell.backbone] = images.get(cell.backbone, 0.0) + trials * epochs * n_fit * pruning + final
    return images


def estimate_cost(suite: Suite, cells: list[Cell], progress: Progress | None = None) -> str:
    """Estimated training images and wall time of ``cells`` on the suite's target device.

    Measured there when the device is present, else estimated from GFLOPs and :data:`GPU_PROFILES`;
    the returned line says which. ``progress`` receives a line per backbone before its work.
    """
    device, present = target_device(suite)
    images = _images_per_backbone(suite, cells)
    total = sum(images.values())
    head = f"estimated cost: {total:,.0f} training images"
    if not images:
        return f"{head}; nothing is trained by gradient steps"
    say = progress or (lambda _line: None)
    if present:
        speeds: dict[str, float] = {}
        batch = suite.train.batch_size if device == "cuda" else min(suite.train.batch_size, 8)
        shape, slices, _ = _input(suite)
        for i, backbone in enumerate(images, 1):
            say(f"measuring {backbone} on {device} ({i}/{len(images)})")
            speeds[backbone] = measure_train_speed(backbone, shape, batch, device, steps=2, in_chans=slices)
        seconds = sum(n / speeds[b] * _OVERHEAD for b, n in images.items())
        rates = ", ".join(f"{b} {s:.0f} img/s" for b, s in speeds.items())
        return (
            f"{head}, about {_duration(seconds)} of training measured on {device} ({rates}); "
            "data generation and reports not included"
        )
    gflops: dict[str, float] = {}
    shape, slices, text = _input(suite)
    for i, backbone in enumerate(images, 1):
        say(f"counting GFLOPs of {backbone} at {text} ({i}/{len(images)})")
        gflops[backbone] = forward_gflops(backbone, shape, in_chans=slices)
    precision = suite.train.precision

    def hours(profile: GpuProfile) -> float:
        return sum(n / profile.images_per_s(gflops[b], precision) * _OVERHEAD for b, n in images.items())

    first, *others = GPU_PROFILES
    key = "tf32" if precision == "fp32" else precision
    profile_text = f"{first.name}, {first.peaks.get(key, math.nan):g} TFLOP/s {key} at {first.utilisation:.0%} utilisation"
    beside = ", ".join(f"{p.name}: {_duration(hours(p))}" for p in others)
    per_image = ", ".join(f"{b} {g:.2f}" for b, g in gflops.items())
    return (
        f"{head}, about {_duration(hours(first))} of training, estimated from GFLOPs for {device} "
        f"(no {device} device here; profile: {profile_text}; {beside}); forward GFLOPs per image: {per_image}; "
        "data generation and reports not included"
    )
