"""How a process's OpenMP threads wait and how many there are, set before torch loads.

Torch's CPU kernels run on OpenMP threads. Between parallel regions an idle thread *spins* for a while
before it sleeps; GNU OpenMP's default spin (300,000 pause instructions, several milliseconds on a
modern Xeon) is harmless on an idle machine and ruinous beside another busy process: the spinning
threads take the cores that process needs, and a thread descheduled mid-step holds up its siblings at
every barrier. Measured on 2 cores (issue 26), a bare lite0 training step ran at 76 img/s alone and 20
beside one busy process with the default, 55 and 41 with ``OMP_WAIT_POLICY=PASSIVE`` (never spin).
A short, bounded spin keeps most of the idle speed and sleeps before it hurts a neighbour.

:data:`WAIT_DEFAULTS` is the one place the default is chosen (``benchmarks/bench_contention.py``
measures the candidates); :func:`configure_openmp` applies it and the thread count in the CLI's
``main`` before any module that imports torch is loaded, since the OpenMP runtime reads these
variables once, when it starts. A value the user set always wins. Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

__all__ = [
    "THREAD_VARIABLE",
    "WAIT_DEFAULTS",
    "WAIT_VARIABLES",
    "configure_openmp",
    "usable_cores",
    "wait_setting",
]

#: The environment variables that set how idle OpenMP threads wait: the standard policy, GNU OpenMP's
#: spin count (torch's pip wheels ship libgomp) and Intel/LLVM OpenMP's block time (conda builds).
WAIT_VARIABLES: tuple[str, ...] = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

#: The wait setting ``sdc-bench`` starts with when the user set none of :data:`WAIT_VARIABLES`: the one
#: place to change it. A bounded spin: GNU OpenMP (torch's pip wheels) spins 10,000 pauses before it sleeps,
#: against 300,000 by default; Intel OpenMP (conda builds) blocks 1 ms against 200 ms. Measured idle on
#: 2 cores of an Intel Xeon with ``benchmarks/bench_contention.py`` (results/contention.md, medians of 2
#: rounds): the default spin ran 124 img/s alone and 12 beside one busy process (10x); 10,000 ran 124 and
#: 50 (2.5x, no idle cost); 1,000 ran 104 and 68 (1.5x, 16% idle cost); ``OMP_WAIT_POLICY=PASSIVE`` 98 and 73
#: (1.3x, 21% idle cost). 10,000 is the one setting within both accepted bounds (2.5x, 5%).
WAIT_DEFAULTS: Mapping[str, str] = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}

#: The variable that sets the OpenMP (and so torch's intra-op) thread count.
THREAD_VARIABLE = "OMP_NUM_THREADS"


def _cgroup_cores(root: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPU quota of this process's cgroup in cores (``cpu.max``, cgroup v2; inf when none)."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return math.inf
    if quota == "max":
        return math.inf
    try:
        return max(1.0, float(quota) / float(period))
    except (ValueError, ZeroDivisionError):
        return math.inf


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's ``--cpus``).

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity call
        cores = os.cpu_count() or 1
    quota = _cgroup_cores()
    return max(1, min(cores, math.ceil(quota) if math.isfinite(quota) else cores))


def configure_openmp(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set the default wait policy and thread count in ``environ``, leaving alone what the user set.

    The wait defaults (:data:`WAIT_DEFAULTS`) are applied only when none of :data:`WAIT_VARIABLES` is set
    (a user's own policy is taken whole, not mixed with ours); ``OMP_NUM_THREADS`` only when unset, to
    :func:`usable_cores`. Call it before torch is imported: the OpenMP runtime reads them when it loads.

    Parameters
    ----------
    environ : mutable mapping, optional
        The environment to change (default: ``os.environ``).

    Returns
    -------
    dict of str to str
        The variables this call set (empty when the user had set them all).

    Examples
    --------
    >>> configure_openmp({"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "4"})
    {}
    >>> sorted(configure_openmp({"OMP_NUM_THREADS": "4"})) == sorted(WAIT_DEFAULTS)
    True
    """
    target: MutableMapping[str, str] = os.environ if environ is None else environ
    added: dict[str, str] = {}
    if not any(target.get(name) for name in WAIT_VARIABLES):
        added.update(WAIT_DEFAULTS)
    if not target.get(THREAD_VARIABLE):
        added[THREAD_VARIABLE] = str(usable_cores())
    target.update(added)
    return added


def wait_setting(environ: Mapping[str, str] | None = None) -> str:
    """The OpenMP wait setting in effect, as ``NAME=VALUE`` pairs (``default`` when none is set).

    Examples
    --------
    >>> wait_setting({"OMP_WAIT_POLICY": "PASSIVE", "HOME": "/root"})
    'OMP_WAIT_POLICY=PASSIVE'
    >>> wait_setting({})
    'default'
    """
    source = os.environ if environ is None else environ
    pairs = [f"{name}={source[name]}" for name in WAIT_VARIABLES if source.get(name)]
    return " ".join(pairs) or "default"
