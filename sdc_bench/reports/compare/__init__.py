"""Compare two or more runs from their stored artifacts: ``sdc-bench compare RUN_A RUN_B ... --out DIR``.

The one public face of the comparison report. It says first what differs between the runs (config keys,
seeds, data fingerprint, code revision, package versions, CPU/GPU: the facts of
:mod:`sdc_bench.core.run_facts`, which ``regress`` explains its verdicts with). On the same data (same
fingerprint and tested samples) it gives paired differences per configuration and metric with a paired
patient bootstrap interval and McNemar, Holm-adjusted (``_paired``); on different data, side-by-side
tables with each run's intervals and a rank-agreement slope chart (``_side_by_side``). Runs whose classes
differ are refused unless ``class_map`` maps them (``_runs``); ``_build`` writes the report.
"""

from __future__ import annotations

from sdc_bench.reports.compare._build import Comparison, compare_runs
from sdc_bench.reports.compare._runs import parse_class_map

__all__ = ["Comparison", "compare_runs", "parse_class_map"]
