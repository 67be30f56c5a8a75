"""Benchmark: SynthSpine generation of 1,000 images at 256 px, PNG writing included.

Outside ``tests/`` on purpose, so the normal test run skips it.  Run with::

    OMP_NUM_THREADS=1 pytest benchmarks/bench_synthspine.py --benchmark-only

The requirement it guards: 1,000 images at 256 x 256 in no more than 30 s on a two-core machine.
"""

from __future__ import annotations

import shutil
from itertools import count
from pathlib import Path

import pytest

from sdc_bench.data.synthspine import SynthConfig, generate, generate_arrays

N_IMAGES = 1000
SIZE = 256
BUDGET_S = 30.0


@pytest.fixture
def out_root(tmp_path: Path) -> Path:
    return tmp_path


def test_generate_1000_png_at_256px(benchmark, out_root: Path) -> None:  # type: ignore[no-untyped-def]
    runs = count()
    config = SynthConfig(n_images=N_IMAGES, size=SIZE, seed=0)

    def run() -> int:
        folder = out_root / f"run{next(runs)}"
        manifest = generate(folder, config, progress=False)
        shutil.rmtree(folder)
        return len(manifest)

    assert benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0) == N_IMAGES
    assert benchmark.stats.stats.max <= BUDGET_S


def test_generate_arrays_1000_at_256px(benchmark) -> None:  # type: ignore[no-untyped-def]
    config = SynthConfig(n_images=N_IMAGES, size=SIZE, seed=1)
    images, _ = benchmark.pedantic(generate_arrays, args=(config,), rounds=1, iterations=1)
    assert images.shape == (N_IMAGES, SIZE, SIZE)
