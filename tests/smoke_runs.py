"""Full smoke-suite runs that several slow tests read, trained side by side (the session fixtures in
``conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["SMOKE_FAULTS", "train_smoke_runs"]

#: The faults the regression check must catch (``SDC_BENCH_INJECT_FAULT``), one smoke run each.
SMOKE_FAULTS = ("no_pretrained", "no_augment", "label_noise=0.3")


def train_smoke_runs(
    root: Path, jobs: dict[str, tuple[tuple[str, ...], str]], *common: str
) -> dict[str, Path]:
    """Smoke suite runs, throughput off, no kept models, one torch thread each and two at a time: on 2 cores
    two one-thread runs take about as long as one two-thread run (2 threads train only ~1.3x faster than 1
    at these sizes), so they train in about half the time. Nothing else runs meanwhile: a fixture returns
    only when every run is done.

    ``jobs`` maps a name to (extra ``run`` arguments, injected fault or ``''``); ``common`` are arguments
    for every run (e.g. ``--set`` overrides that shrink the suite; none: the full smoke suite, the one
    ``baselines/smoke.json`` describes). Returns name -> run folder.
    """

    def train(name: str) -> Path:
        args, fault = jobs[name]
        out = root / name
        command = [sys.executable, "-m", "sdc_bench", "run", "--suite", "smoke", "--out", str(out), "--quiet"]
        command += ["--no-models", "--set", "throughput.enabled=false", "--set", "train.threads=1"]
        command += [*common, *args]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SDC_BENCH_INJECT_FAULT": fault}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(train, jobs)))
