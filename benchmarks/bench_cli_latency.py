"""How long the command line takes before it does any work: ``sdc-bench --help``, each listing and a dry
run of the full suite, each in a fresh subprocess (imports included, as a user waits for them).

Run: ``pytest benchmarks/bench_cli_latency.py --benchmark-only`` on an idle machine (add ``-s`` to see the
times). Targets: ``--help`` and every ``sdc-bench list X`` under 1 s; ``run --suite full --dry-run`` under
30 s, on a machine without a GPU (the full suite then estimates its CUDA cost from GFLOPs instead of
measuring on the CPU). The
subprocess hides CUDA (``CUDA_VISIBLE_DEVICES=""``) and goes offline (``HF_HUB_OFFLINE=1``) so the
numbers do not depend on what the machine has.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

HELP_BUDGET_S = 1.0
DRY_RUN_BUDGET_S = 30.0
_ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}


def _run(*args: str, ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sdc_bench", *args], capture_output=True, text=True, env=_ENV)
    seconds = time.perf_counter() - started
    assert out.returncode in ok, f"exit {out.returncode}: {out.stderr[-500:]}"
    return seconds, out.stdout


def test_help_latency(benchmark: Any) -> None:
    seconds = benchmark.pedantic(lambda: _run("--help")[0], rounds=5, iterations=1)
    best = benchmark.stats.stats.min
    benchmark.extra_info["seconds_min"] = round(best, 3)
    print(f"sdc-bench --help: {best:.2f} s (budget {HELP_BUDGET_S} s; last {seconds:.2f} s)")
    assert best < HELP_BUDGET_S


@pytest.mark.parametrize(
    "registry", ["backbones", "augmentations", "imbalance", "methods", "features", "suites"]
)
def test_list_latency(benchmark: Any, registry: str) -> None:
    benchmark.pedantic(lambda: _run("list", registry)[0], rounds=3, iterations=1)
    best = benchmark.stats.stats.min
    benchmark.extra_info["seconds_min"] = round(best, 3)
    print(f"sdc-bench list {registry}: {best:.2f} s (budget {HELP_BUDGET_S} s)")
    assert best < HELP_BUDGET_S


def test_full_dry_run_latency(benchmark: Any) -> None:
    outputs: list[str] = []

    def dry_run() -> float:
        # exit 2 is the dry run doing its job: it lists each backbone's weight source, then stops, with
        # the fix, on the first pretrained backbone that has none here (only the Lite0 package is offline)
        seconds, stdout = _run("run", "--suite", "full", "--dry-run", ok=(0, 2))
        outputs.append(stdout)
        return seconds

    benchmark.pedantic(dry_run, rounds=2, iterations=1)
    best = benchmark.stats.stats.min
    benchmark.extra_info["seconds_min"] = round(best, 2)
    estimate = next(line for line in outputs[-1].splitlines() if line.startswith("estimated cost"))
    print(f"sdc-bench run --suite full --dry-run: {best:.1f} s (budget {DRY_RUN_BUDGET_S} s)\n{estimate}")
    assert "estimated from GFLOPs for cuda" in estimate
    assert best < DRY_RUN_BUDGET_S
