"""Test-wide settings: offline hub, a private cache folder, few threads, deterministic CPU kernels."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest
import torch

from tests.smoke_runs import SMOKE_FAULTS, train_smoke_runs

torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # generated datasets and tensor caches never touch the user's ~/.cache during tests
    os.environ["SDC_BENCH_CACHE"] = str(tmp_path_factory.mktemp("sdc-cache"))


@pytest.fixture(scope="session")
def smoke_runs_of_seeds_0_and_1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The full smoke suite at protocol seeds 0 and 1, one thread each, trained side by side once per
    session: the regression check's noise tests (another seed; one thread) and compare's seed test read them."""
    jobs = {f"seed{seed}": (("--seed", str(seed)), "") for seed in (0, 1)}
    runs = train_smoke_runs(tmp_path_factory.mktemp("smoke-seeds"), jobs)
    return runs["seed0"], runs["seed1"]


@pytest.fixture(scope="session")
def faulted_smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SDC-DL alone on the full smoke suite with each of :data:`SMOKE_FAULTS` injected, one thread each,
    two at a time: fault -> run folder (the regression check must fail on each)."""
    jobs = {fault: (("--set", 'methods=["sdc_dl"]'), fault) for fault in SMOKE_FAULTS}
    return train_smoke_runs(tmp_path_factory.mktemp("smoke-faults"), jobs)
