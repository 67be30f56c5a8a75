"""Paper tables from stored results, written as CSV, Markdown and LaTeX (booktabs).

Each ``*_table`` function returns a :class:`pandas.DataFrame` of display strings (estimates
with 95% intervals, counts, names); emphasis travels in ``DataFrame.attrs`` so one table
renders the same way in every format:

- ``attrs["bold"]``: ``[(row, column), ...]`` cells to set in bold (best value);
- ``attrs["marks"]``: ``[(row, column, mark), ...]`` significance marks after a cell;
- ``attrs["notes"]``: footnotes printed under the table;
- ``attrs["group"]``: a column whose change of value starts a new block (a ``\\midrule``).

The renderers of :mod:`sdc_bench.reports.render` honour these attributes. The tables live by
family: results (:mod:`~sdc_bench.reports.tables.results`), grouped results
(:mod:`~sdc_bench.reports.tables.groups`), data and run (:mod:`~sdc_bench.reports.tables.runs`).
"""

from __future__ import annotations

from sdc_bench.reports.tables._format import HEADLINE, SEED_SPREAD, SIGNIFICANCE_TESTS
from sdc_bench.reports.tables.groups import ablation_table, external_table, imbalance_table
from sdc_bench.reports.tables.results import (
    comparisons_table,
    fold_summary_table,
    main_table,
    per_backbone_table,
    per_class_table,
)
from sdc_bench.reports.tables.runs import (
    dataset_flow_counts,
    dataset_flow_table,
    search_table,
    selected_params_table,
    throughput_table,
)

__all__ = [
    "HEADLINE",
    "SEED_SPREAD",
    "SIGNIFICANCE_TESTS",
    "ablation_table",
    "comparisons_table",
    "dataset_flow_counts",
    "dataset_flow_table",
    "external_table",
    "fold_summary_table",
    "imbalance_table",
    "main_table",
    "per_backbone_table",
    "per_class_table",
    "search_table",
    "selected_params_table",
    "throughput_table",
]
