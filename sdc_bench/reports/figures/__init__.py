"""Paper figures from stored results, in the house style of :mod:`sdc_bench.reports.style`.

Every function draws one figure from stored artifacts (the metrics table, the predictions
table, the throughput table, Optuna trials, cell records, sample images), writes
``<stem>.pdf`` and ``<stem>.png`` and returns the paths, or returns ``[]`` when its input
holds nothing to draw. A method has the same colour and a backbone the same marker in
every figure: pass the run-wide ``palette`` (method -> colour, see
:func:`~sdc_bench.reports.style.method_palette`) and ``markers`` (backbone -> marker).
"""

from __future__ import annotations

from sdc_bench.reports.figures._common import seed_pooling_note
from sdc_bench.reports.figures.predictions import (
    confusion_matrices,
    reliability_diagrams,
    roc_curves,
)
from sdc_bench.reports.figures.runs import (
    learning_curves,
    optuna_history,
    param_importances,
    pareto_front,
    pareto_points,
    sample_grid,
)
from sdc_bench.reports.figures.scores import (
    critical_difference,
    external_validation,
    fold_scores,
    method_comparison,
    per_class_sensitivity_specificity,
)

__all__ = [
    "confusion_matrices",
    "critical_difference",
    "external_validation",
    "fold_scores",
    "learning_curves",
    "method_comparison",
    "optuna_history",
    "param_importances",
    "pareto_front",
    "pareto_points",
    "per_class_sensitivity_specificity",
    "reliability_diagrams",
    "roc_curves",
    "sample_grid",
    "seed_pooling_note",
]
