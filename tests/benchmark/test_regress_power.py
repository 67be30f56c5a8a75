"""The smoke regression check has power in both directions, on the committed baseline.

- It passes for runs that differ only in noise: another seed (other data, folds and initialisation) and
  one torch thread instead of the default. (CI's own smoke run checks "this machine, whatever its CPU".)
- It fails (exit 1) for real regressions injected through the ``SDC_BENCH_INJECT_FAULT`` test hook while
  the suite config stays the same: no pretrained weights, no augmentation, 30% of training labels shuffled.

Each case is one full smoke run, throughput off, one torch thread, trained two at a time by the session
fixtures in ``tests/conftest.py`` (the seed runs are shared with compare's seed test); only SDC-DL is
trained for the injected faults, so the check uses ``--skip-speed`` and ``--methods sdc_dl``.
``benchmarks/bench_regress_power.py`` measures the same cases with the distances to each band.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.smoke_runs import SMOKE_FAULTS

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).resolve().parents[2] / "baselines" / "smoke.json"


def _regress(run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdc_bench", "regress", str(run), "--baseline", str(BASELINE), *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("variant", ["one-thread", "another-seed"])
def test_noise_passes(variant: str, smoke_runs_of_seeds_0_and_1: tuple[Path, Path]) -> None:
    # one thread: the seed-0 run, which differs from the default only in the thread count; another seed:
    # the seed-1 run (other data order, folds and initialisation), one thread as well
    run = smoke_runs_of_seeds_0_and_1[0 if variant == "one-thread" else 1]
    checked = _regress(run, "--skip-speed")
    assert checked.returncode == 0, checked.stdout
    assert "ok:" in checked.stdout and "regressed" not in checked.stdout


@pytest.mark.parametrize("fault", SMOKE_FAULTS)
def test_injected_regressions_fail(fault: str, faulted_smoke_runs: dict[str, Path]) -> None:
    checked = _regress(faulted_smoke_runs[fault], "--skip-speed", "--methods", "sdc_dl")
    assert checked.returncode == 1, checked.stdout
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("REGRESSION:")
    # the environment difference comes first: the fault hook is named, so nobody blames the hardware
    head = "\n".join(lines[:6])
    assert "faults:" in head and fault.split("=")[0] in head
    regressed = [line for line in lines if line.startswith("sdc_dl") and " regressed" in line]
    assert regressed, checked.stdout
