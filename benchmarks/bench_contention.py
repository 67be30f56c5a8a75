"""Fair under contention: a bare training step alone and beside one busy process, per OpenMP wait setting.

Run on an otherwise idle machine (``uptime`` load below ~0.5), about 3-5 minutes::

    python benchmarks/bench_contention.py                 # writes benchmarks/results/contention.md
    python benchmarks/bench_contention.py --seconds 4 --out /tmp/contention.md   # shorter, elsewhere

For every setting (the default wait, ``OMP_WAIT_POLICY=PASSIVE``, GNU OpenMP spin counts, and the one
``sdc-bench`` starts with, :data:`sdc_bench.core.openmp.WAIT_DEFAULTS`) a fresh Python process (OpenMP
reads its variables once, when torch loads) times a bare training step of ``tf_efficientnet_lite0``
(1 channel, 64 px, batch 32, SGD, fp32, one thread per usable core): first alone, then beside one busy
process (``python -c "while True: pass"``, started a second before). It reports images/s both ways,
``slowdown = alone / beside`` and ``idle cost = 1 - setting alone / default alone``. The bounds of
issue 26: slowdown at most ~2.2x (a fair share of 2 cores with one neighbour; 2.5x accepted) and idle cost
at most 5%. The last line names the setting with the smallest idle cost among those within the slowdown
bound: make it :data:`~sdc_bench.core.openmp.WAIT_DEFAULTS` if it is not already.

The rounds repeat the whole list (``--rounds``); each cell is the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdc_bench.core.openmp import WAIT_DEFAULTS, WAIT_VARIABLES, usable_cores  # noqa: E402
from sdc_bench.core.store import cpu_model  # noqa: E402

MODEL = "tf_efficientnet_lite0"
SIZE = 64
BATCH = 32
SLOWDOWN_BOUND = 2.5  # issue 26: a fair share of 2 cores is ~2.2x; 2.5x is its acceptance bound
IDLE_COST_BOUND = 0.05
_CANDIDATES: tuple[Mapping[str, str], ...] = (
    {},
    {"OMP_WAIT_POLICY": "PASSIVE"},
    {"GOMP_SPINCOUNT": "1000"},
    {"GOMP_SPINCOUNT": "10000"},
    {"GOMP_SPINCOUNT": "30000"},
    {"GOMP_SPINCOUNT": "100000"},
)
if not any(all(WAIT_DEFAULTS.get(k) == v for k, v in c.items()) for c in _CANDIDATES if c):
    _CANDIDATES = (*_CANDIDATES, WAIT_DEFAULTS)  # the CLI's own setting is always measured


def _label(variables: Mapping[str, str]) -> str:
    label = " ".join(f"{k}={v}" for k, v in variables.items()) or "default (no variable)"
    mine = variables and all(WAIT_DEFAULTS.get(k) == v for k, v in variables.items())
    return label + (" (sdc-bench default)" if mine else "")


#: (label, variables) of every setting measured; the default first (the idle-cost reference).
SETTINGS: tuple[tuple[str, Mapping[str, str]], ...] = tuple((_label(c), c) for c in _CANDIDATES)

_CHILD = """
import json, sys, time
import torch, timm
torch.manual_seed(0)
model = timm.create_model({model!r}, pretrained=False, num_classes=3, in_chans=1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
images, labels = torch.randn({batch}, 1, {size}, {size}), torch.randint(0, 3, ({batch},))
def step():
    optimizer.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
for _ in range(3):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < {seconds}:
    step(); steps += 1
elapsed = time.perf_counter() - start
print(json.dumps({{"images_per_s": steps * {batch} / elapsed, "threads": torch.get_num_threads()}}))
"""


def _environment(variables: Mapping[str, str], threads: int) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    environ.update(variables)
    environ["OMP_NUM_THREADS"] = str(threads)
    return environ


def _measure(variables: Mapping[str, str], *, busy: bool, seconds: float, threads: int) -> float:
    """Images/s of the bare step in a fresh process, alone or beside one busy process."""
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if neighbour is not None:
            time.sleep(1.0)  # let the scheduler see it running
        code = _CHILD.format(model=MODEL, batch=BATCH, size=SIZE, seconds=seconds)
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=_environment(variables, threads),
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return float(json.loads(result.stdout.strip().splitlines()[-1])["images_per_s"])


def _table(results: dict[str, tuple[float, float]]) -> tuple[str, str]:
    reference = results[SETTINGS[0][0]][0]
    lines = [
        "| setting | alone (img/s) | beside a busy process (img/s) | slowdown | idle cost | within bounds |",
        "|---|---|---|---|---|---|",
    ]
    fits: list[tuple[float, str]] = []
    for label, _ in SETTINGS:
        alone, beside = results[label]
        slowdown = alone / beside if beside > 0 else float("inf")
        idle_cost = 1.0 - alone / reference
        ok = slowdown <= SLOWDOWN_BOUND and idle_cost <= IDLE_COST_BOUND
        if slowdown <= SLOWDOWN_BOUND:
            fits.append((idle_cost, label))
        lines.append(
            f"| {label} | {alone:.1f} | {beside:.1f} | {slowdown:.2f}x | {idle_cost:+.1%} | {'yes' if ok else 'no'} |"
        )
    if fits:
        cost, best = min(fits)
        verdict = f"Best within the slowdown bound: **{best}** (idle cost {cost:+.1%})."
    else:
        verdict = f"No setting slowed by at most {SLOWDOWN_BOUND}x beside a busy process."
    return "\n".join(lines) + "\n", verdict


def _openmp_library() -> str:
    code = "import torch; print(torch.__config__.parallel_info())"
    info = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout
    return next((line.strip() for line in info.splitlines() if line.startswith("OpenMP")), "unknown")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per measurement")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole list; cells are medians")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "contention.md"))
    args = parser.parse_args(argv)
    threads = usable_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in SETTINGS}
    for _ in range(args.rounds):
        for label, variables in SETTINGS:
            alone = _measure(variables, busy=False, seconds=args.seconds, threads=threads)
            beside = _measure(variables, busy=True, seconds=args.seconds, threads=threads)
            samples[label].append((alone, beside))
            print(f"{label}: {alone:.1f} img/s alone, {beside:.1f} beside a busy process", flush=True)
    results = {
        label: (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs))
        for label, pairs in samples.items()
    }
    table, verdict = _table(results)
    header = (
        "# Training speed alone and beside one busy process, per OpenMP wait setting\n\n"
        f"`python benchmarks/bench_contention.py --seconds {args.seconds:g} --rounds {args.rounds}` on "
        f"{cpu_model()} ({threads} usable cores, {_openmp_library()}), Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}; 1-minute load average before the run: {load:.2f}.\n\n"
        f"A bare {MODEL} training step (1 channel, {SIZE} px, batch {BATCH}, SGD, fp32, {threads} threads), "
        "each measurement in a fresh process. slowdown = alone / beside; idle cost = 1 - setting alone / "
        f"default alone. Bounds (issue 26): slowdown <= {SLOWDOWN_BOUND}x, idle cost <= {IDLE_COST_BOUND:.0%}.\n\n"
    )
    text = header + table + "\n" + verdict + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
