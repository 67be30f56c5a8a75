"""A cost estimate for ``sdc-bench run --dry-run``: images to process x a measured training speed."""

from __future__ import annotations

import time

import torch

from sdc_bench.benchmark.kinds import kind_of
from sdc_bench.benchmark.plan import Cell
from sdc_bench.benchmark.suite import Suite
from sdc_bench.core.device import resolve_device
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.methods import METHODS

__all__ = ["estimate_cost", "measure_train_speed"]


def measure_train_speed(backbone: str, size: int, batch_size: int, device: str, steps: int = 3) -> float:
    """Training images/s of ``backbone`` (one warm-up step, then ``steps`` timed steps)."""
    built = create_backbone(backbone, num_classes=5, in_chans=1, img_size=size)
    model = built.model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.rand(batch_size, 1, size, size, device=device)
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


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def estimate_cost(suite: Suite, cells: list[Cell], device: str | None = None) -> str:
    """Estimated training images and wall time of a suite, from a short measurement per backbone."""
    device = device or str(resolve_device(suite.train.device, "train.device"))
    n_images = suite.data.n_images
    n_train = n_images * (1 - 1 / suite.protocol.outer_folds)
    n_fit = n_train * (1 - suite.protocol.inner_val_fraction)
    speeds: dict[str, float] = {}
    total_images = 0.0
    seconds = 0.0
    pruning = 0.6 if suite.search.pruner != "none" and suite.search.n_trials > 2 else 1.0
    for cell in cells:
        method = METHODS.get(cell.method)
        epochs = kind_of(method).cost_epochs(method, suite)
        if epochs is None:  # nothing trained by gradient steps (e.g. fixed features)
            continue
        images = suite.search.n_trials * epochs * n_fit * pruning + epochs * (
            n_train if suite.search.n_trials else n_fit
        )
        if cell.backbone not in speeds:
            speeds[cell.backbone] = measure_train_speed(
                cell.backbone, suite.data.pixel_side, min(suite.train.batch_size, 8), device, steps=2
            )
        total_images += images
        seconds += images / speeds[cell.backbone] * 1.3  # validation passes and data handling
    rates = ", ".join(f"{name} {speed:.0f} img/s" for name, speed in speeds.items())
    return (
        f"estimated cost: {total_images:,.0f} training images ({rates} measured on {device}), "
        f"about {_duration(seconds)} of training (data generation and reports not included)"
    )
