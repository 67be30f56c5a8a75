"""The smoke regression check has power in both directions, on the committed baseline.

- It passes for runs that differ only in noise: another seed (other data, folds and initialisation) and
  one torch thread instead of the default. (CI's own smoke run checks "this machine, whatever its CPU".)
- It fails (exit 1) for real regressions injected through the ``SDC_BENCH_INJECT_FAULT`` test hook while
  the suite config stays the same: no pretrained weights, no augmentation, 30% of training labels shuffled.

Each case is one smoke run (about a minute on 2 cores): the throughput stage is off and only SDC-DL is
trained for the injected faults, so the check uses ``--skip-speed`` and ``--methods sdc_dl``.
``benchmarks/bench_regress_power.py`` measures the same cases with the distances to each band.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASELINE = Path(__file__).resolve().parents[2] / "baselines" / "smoke.json"
QUICK = ["--set", "throughput.enabled=false"]


def _sdc_bench(*args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SDC_BENCH_INJECT_FAULT": fault}
    return subprocess.run(
        [sys.executable, "-m", "sdc_bench", *args], env=env, capture_output=True, text=True, timeout=900
    )


def _smoke(out: Path, *args: str, fault: str = "") -> Path:
    done = _sdc_bench("run", "--suite", "smoke", "--out", str(out), "--quiet", *QUICK, *args, fault=fault)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.mark.parametrize("variant", ["another-seed", "one-thread"])
def test_noise_passes(tmp_path: Path, variant: str, request: pytest.FixtureRequest) -> None:
    # another seed: the session's seed-1 smoke run, which compare's seed test reads too
    run = (
        request.getfixturevalue("smoke_run_of_seed_1")
        if variant == "another-seed"
        else _smoke(tmp_path / "run", "--set", "train.threads=1")
    )
    checked = _sdc_bench("regress", str(run), "--baseline", str(BASELINE), "--skip-speed")
    assert checked.returncode == 0, checked.stdout
    assert "ok:" in checked.stdout and "regressed" not in checked.stdout


@pytest.mark.parametrize("fault", ["no_pretrained", "no_augment", "label_noise=0.3"])
def test_injected_regressions_fail(tmp_path: Path, fault: str) -> None:
    run = _smoke(tmp_path / "run", "--set", 'methods=["sdc_dl"]', fault=fault)
    checked = _sdc_bench(
        "regress", str(run), "--baseline", str(BASELINE), "--skip-speed", "--methods", "sdc_dl"
    )
    assert checked.returncode == 1, checked.stdout
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("REGRESSION:")
    # the environment difference comes first: the fault hook is named, so nobody blames the hardware
    head = "\n".join(lines[:6])
    assert "faults:" in head and fault.split("=")[0] in head
    regressed = [line for line in lines if line.startswith("sdc_dl") and " regressed" in line]
    assert regressed, checked.stdout
