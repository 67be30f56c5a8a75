"""Statistical comparisons of methods, computed only from the predictions table.

The one job of this package is to say whether one configuration is better than another
and by how much: paired tests (exact McNemar on pooled out-of-fold predictions, the
Nadeau-Bengio corrected resampled t-test on per-fold scores, a patient-level paired
bootstrap) and Holm's step-down correction within each test family
(:mod:`~sdc_bench.reports.stats.paired`), the comparison of every configuration with a
reference (:mod:`~sdc_bench.reports.stats.reference`), and the Friedman test with Nemenyi
post-hoc comparisons for many methods over many blocks (Demšar 2006,
:mod:`~sdc_bench.reports.stats.friedman`). Maintained implementations (statsmodels, SciPy)
do the arithmetic wherever they exist.
"""

from __future__ import annotations

from sdc_bench.reports.stats.friedman import FriedmanResult, friedman_nemenyi
from sdc_bench.reports.stats.paired import (
    TestResult,
    corrected_resampled_ttest,
    holm,
    mcnemar_exact,
    paired_bootstrap_auroc,
)
from sdc_bench.reports.stats.reference import COMPARISON_COLUMNS, compare_to_reference

__all__ = [
    "COMPARISON_COLUMNS",
    "FriedmanResult",
    "TestResult",
    "compare_to_reference",
    "corrected_resampled_ttest",
    "friedman_nemenyi",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap_auroc",
]
