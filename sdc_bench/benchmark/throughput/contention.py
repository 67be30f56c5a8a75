"""Whether other work competed for the CPU while a throughput row was measured: load average and steal time.

A throughput figure measured beside a busy neighbour reads low (issue 26: 5 img/s against hundreds idle),
so each row says whether the machine was contended. Two signals, sampled around the measurement:

* the 1-minute load average (``/proc/loadavg``) minus this process's own use of the cores (its CPU
  seconds over the wall seconds of the measurement): the other processes' demand. It is too high when it
  exceeds the cores this process may use (:func:`sdc_bench.core.openmp.usable_cores`) minus the ones it
  uses itself, by more than :data:`LOAD_TOLERANCE`: some other runnable thread then waits for a core;
* CPU steal time (``/proc/stat``, the ``cpu`` line's 8th value) over the measurement: a hypervisor gave
  this virtual machine's cores to another guest. Above :data:`STEAL_LIMIT` percent it is contended.

Readings are injected as text so tests feed fake ``/proc`` files; where ``/proc`` is missing (macOS,
Windows) the load comes from :func:`os.getloadavg` and steal time is unknown (NaN), never a failure.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdc_bench.core.openmp import usable_cores

__all__ = [
    "LOAD_TOLERANCE",
    "STEAL_LIMIT",
    "Contention",
    "ContentionProbe",
    "CpuTimes",
    "parse_cpu_times",
    "parse_load_average",
]

STEAL_LIMIT = 3.0
"""Percent of CPU time stolen by the hypervisor over a measurement above which it counts as contended."""

LOAD_TOLERANCE = 0.5
"""Other processes' load (runnable threads) above the cores left free by more than this is contention."""


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time counters (``/proc/stat``'s ``cpu`` line, in clock ticks)."""

    total: int
    steal: int


def parse_cpu_times(text: str) -> CpuTimes | None:
    """The aggregate ``cpu`` line of ``/proc/stat`` text; ``None`` when it has none.

    ``total`` sums user, nice, system, idle, iowait, irq, softirq and steal (guest time is already
    counted in user time, so it is left out).

    Examples
    --------
    >>> parse_cpu_times("cpu  100 0 50 800 10 0 5 35 0 0\\ncpu0 50 0 25 400 5 0 2 18 0 0\\n")
    CpuTimes(total=1000, steal=35)
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(v) for v in fields[1:9]]
            values += [0] * (8 - len(values))  # kernels before 2.6.11 have no steal column
            return CpuTimes(total=sum(values), steal=values[7])
    return None


def parse_load_average(text: str) -> float:
    """The 1-minute load average of ``/proc/loadavg`` text (NaN when it cannot be parsed).

    Examples
    --------
    >>> parse_load_average("2.50 1.20 0.80 3/412 12345\\n")
    2.5
    """
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return math.nan


@dataclass(frozen=True)
class Contention:
    """What competed for the CPU over one measurement.

    Attributes
    ----------
    load_1min : float
        The 1-minute load average at the end (NaN when unknown).
    cores : int
        Cores this process may use.
    own_cores : float
        Cores this process used on average over the measurement (its CPU seconds / wall seconds).
    steal_percent : float
        CPU time stolen by the hypervisor over the measurement, in percent (NaN when unknown).
    """

    load_1min: float
    cores: int
    own_cores: float
    steal_percent: float

    @property
    def other_load(self) -> float:
        """The load of other processes: the load average less this process's own use (NaN when unknown)."""
        return max(0.0, self.load_1min - self.own_cores) if math.isfinite(self.load_1min) else math.nan

    @property
    def loaded(self) -> bool:
        """Whether other load exceeded the cores left free, or steal time exceeded :data:`STEAL_LIMIT`."""
        free = max(0.0, self.cores - self.own_cores)
        busy = math.isfinite(self.other_load) and self.other_load > free + LOAD_TOLERANCE
        return busy or (math.isfinite(self.steal_percent) and self.steal_percent > STEAL_LIMIT)

    def note(self) -> str:
        """One phrase for a table cell or a line of output: empty when not loaded.

        Examples
        --------
        >>> Contention(load_1min=3.2, cores=2, own_cores=1.9, steal_percent=0.0).note()
        'loaded: other load 1.3 on 2 cores (this process used 1.9)'
        >>> Contention(load_1min=1.0, cores=2, own_cores=1.0, steal_percent=7.5).note()
        'loaded: 7.5% CPU steal'
        """
        if not self.loaded:
            return ""
        parts = []
        free = max(0.0, self.cores - self.own_cores)
        if math.isfinite(self.other_load) and self.other_load > free + LOAD_TOLERANCE:
            parts.append(
                f"other load {self.other_load:.1f} on {self.cores} cores (this process used {self.own_cores:.1f})"
            )
        if math.isfinite(self.steal_percent) and self.steal_percent > STEAL_LIMIT:
            parts.append(f"{self.steal_percent:.1f}% CPU steal")
        return "loaded: " + "; ".join(parts)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _load_text() -> str | None:
    text = _read("/proc/loadavg")
    if text is None and hasattr(os, "getloadavg"):
        try:
            return f"{os.getloadavg()[0]}"
        except OSError:
            return None
    return text


def _process_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class ContentionProbe:
    """Samples the counters at :meth:`start` and :meth:`stop` and says what competed in between.

    Every reading is a callable, so a test feeds fake ``/proc/stat`` and ``/proc/loadavg`` text and clocks.
    """

    read_stat: Callable[[], str | None] = lambda: _read("/proc/stat")
    read_loadavg: Callable[[], str | None] = _load_text
    cpu_seconds: Callable[[], float] = _process_seconds
    wall_seconds: Callable[[], float] = time.perf_counter
    cores: Callable[[], int] = usable_cores
    _start: tuple[CpuTimes | None, float, float] | None = None

    def start(self) -> None:
        """Take the first sample."""
        stat = self.read_stat()
        self._start = (parse_cpu_times(stat) if stat else None, self.cpu_seconds(), self.wall_seconds())

    def stop(self) -> Contention:
        """Take the second sample; the contention between the two (:meth:`start` must have run)."""
        if self._start is None:
            raise RuntimeError("ContentionProbe.stop() before start()")
        first, cpu_start, wall_start = self._start
        stat = self.read_stat()
        last = parse_cpu_times(stat) if stat else None
        steal = math.nan
        if first is not None and last is not None and last.total > first.total:
            steal = 100.0 * (last.steal - first.steal) / (last.total - first.total)
        wall = self.wall_seconds() - wall_start
        own = (self.cpu_seconds() - cpu_start) / wall if wall > 0 else 0.0
        load = self.read_loadavg()
        return Contention(
            load_1min=parse_load_average(load) if load else math.nan,
            cores=self.cores(),
            own_cores=round(own, 2),
            steal_percent=round(steal, 2) if math.isfinite(steal) else math.nan,
        )
