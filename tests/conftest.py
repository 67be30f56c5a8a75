"""Test-wide settings: offline hub, a private cache folder, few threads, deterministic CPU kernels."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # generated datasets and tensor caches never touch the user's ~/.cache during tests
    os.environ["SDC_BENCH_CACHE"] = str(tmp_path_factory.mktemp("sdc-cache"))
