"""Test-wide settings: offline hub, a private cache folder, few threads, deterministic CPU kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # generated datasets and tensor caches never touch the user's ~/.cache during tests
    os.environ["SDC_BENCH_CACHE"] = str(tmp_path_factory.mktemp("sdc-cache"))


@pytest.fixture(scope="session")
def smoke_run_of_seed_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full smoke suite (the one ``baselines/smoke.json`` describes) at protocol seed 1, throughput off,
    trained once per session: the regression check's noise test and compare's seed test both read it (about
    two minutes of CI each time it is trained)."""
    out = tmp_path_factory.mktemp("smoke-seed1") / "run"
    command = [sys.executable, "-m", "sdc_bench", "run", "--suite", "smoke", "--out", str(out), "--seed", "1"]
    command += ["--set", "throughput.enabled=false", "--quiet", "--no-models"]
    done = subprocess.run(command, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out
