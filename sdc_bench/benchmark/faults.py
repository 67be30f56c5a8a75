"""Injected faults: a test hook that breaks one part of the training path while the config stays the same.

A regression check earns trust only if it fires on real regressions. ``SDC_BENCH_INJECT_FAULT`` simulates
code that broke silently (the suite, the plan and every table still say "pretrained, augmented"), so the
tests and ``benchmarks/bench_regress_power.py`` can show that ``sdc-bench regress`` catches it:

- ``no_pretrained``: CNN methods start from random weights;
- ``no_augment``: the augmentation policy is replaced by none;
- ``label_noise=F``: a fraction F of each training set's labels is shuffled among those images.

Faults are comma-separated (``no_augment,label_noise=0.3``); an active fault is written to ``run.json``
and ``log.txt`` so that no injected result is mistaken for a real one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from sdc_bench.core.errors import ConfigError

__all__ = ["FAULT_ENV", "Faults", "active_faults", "shuffle_labels"]

FAULT_ENV = "SDC_BENCH_INJECT_FAULT"


@dataclass(frozen=True)
class Faults:
    no_pretrained: bool = False
    no_augment: bool = False
    label_noise: float = 0.0

    def describe(self) -> dict[str, object]:
        """The active faults only (empty when none is)."""
        return {k: v for k, v in asdict(self).items() if v}


def active_faults(value: str | None = None) -> Faults:
    """Parse ``$SDC_BENCH_INJECT_FAULT`` (or ``value``); unknown names are refused, naming the known ones."""
    text = os.environ.get(FAULT_ENV, "") if value is None else value
    flags: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        if name in {"no_pretrained", "no_augment"} and not raw:
            flags[name] = True
        elif name == "label_noise" and raw:
            try:
                fraction = float(raw)
            except ValueError:
                fraction = -1.0
            if not 0.0 < fraction <= 1.0:
                raise ConfigError(f"{FAULT_ENV}: label_noise takes a fraction in (0, 1], got {raw!r}")
            flags[name] = fraction
        else:
            raise ConfigError(
                f"{FAULT_ENV}: unknown fault {part!r}; known: no_pretrained, no_augment, label_noise=F"
            )
    return Faults(**flags)  # type: ignore[arg-type]


def shuffle_labels(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A copy of ``labels`` in which ``fraction`` of the entries are permuted among themselves.

    >>> shuffle_labels(np.arange(10), 0.0, seed=0).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    >>> int((shuffle_labels(np.arange(10), 1.0, seed=0) != np.arange(10)).sum()) > 5
    True
    """
    rng = np.random.default_rng(seed)
    noisy = np.array(labels, copy=True)
    picked = rng.choice(len(noisy), size=round(fraction * len(noisy)), replace=False)
    noisy[picked] = noisy[rng.permutation(picked)]
    return noisy
