"""Compare two or more runs from their stored artifacts: ``sdc-bench compare RUN_A RUN_B ... --out DIR``.

The one public face of the comparison report. It says first what differs between the runs (config keys,
seeds, data fingerprint, code revision, package versions, CPU/GPU: the facts of
:mod:`sdc_bench.core.run_facts`, which ``regress`` explains its verdicts with). On the same data (same
fingerprint and tested samples) it gives paired differences per configuration and metric with a paired
patient bootstrap interval and McNemar, Holm-adjusted (``_paired``), and judges each difference against
the spread between training seeds: from the runs' protocol seeds or a baseline's bands and SDs
(``_seed_spread``; the report leads with it when the runs differ only in seed, and says in one line when
the spread is unknown). Where that spread is known, the paired intervals add it, so they cover patients
and training seeds, not only the two trained models; on different data, side-by-side
tables with each run's intervals and a rank-agreement slope chart (``_side_by_side``). Runs whose classes
differ are refused unless ``class_map`` maps them (``_runs``); ``_build`` writes the report.
"""

from __future__ import annotations

from sdc_bench.reports.compare._build import Comparison, compare_runs
from sdc_bench.reports.compare._runs import parse_class_map
from sdc_bench.reports.compare._seed_spread import SEED_SPREAD_COLUMNS, BaselineBands

__all__ = ["SEED_SPREAD_COLUMNS", "BaselineBands", "Comparison", "compare_runs", "parse_class_map"]
