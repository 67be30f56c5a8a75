"""Measure every registered backbone's parameters and GFLOPs and write (or check) the committed table
:mod:`sdc_bench.zoo.backbones.stats` that ``sdc-bench list backbones`` shows.

Run: ``python benchmarks/backbone_stats.py --write`` after adding a backbone (about 10 s, CPU, offline);
``python benchmarks/backbone_stats.py`` alone checks the table and exits 1 on drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sdc_bench.zoo.backbones import BACKBONE_STATS, BACKBONES, measure_stats

_TABLE = Path(__file__).resolve().parents[1] / "sdc_bench" / "zoo" / "backbones" / "stats.py"
_MARKER = "BACKBONE_STATS: dict[str, tuple[float, float]] = {"


def measured() -> dict[str, tuple[float, float]]:
    return {spec.name: measure_stats(spec) for spec in BACKBONES.specs()}


def render(stats: dict[str, tuple[float, float]]) -> str:
    """The table file's text: its docstring kept, the dict rewritten one backbone per line."""
    head = _TABLE.read_text().split(_MARKER)[0]
    rows = "".join(f'    "{name}": ({p!r}, {g!r}),\n' for name, (p, g) in sorted(stats.items()))
    return f"{head}{_MARKER}\n{rows}}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the committed table")
    args = parser.parse_args(argv)
    stats = measured()
    if args.write:
        _TABLE.write_text(render(stats))
        print(f"wrote {len(stats)} backbones to {_TABLE}")
        return 0
    drift = {n: (BACKBONE_STATS.get(n), s) for n, s in stats.items() if BACKBONE_STATS.get(n) != s}
    for name, (committed, now) in drift.items():
        print(f"{name}: committed {committed}, measured {now}")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
