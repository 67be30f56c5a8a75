"""Classification metrics with 95% intervals, computed only from the predictions table.

The one public face of the metrics concept. Which metrics exist, their labels, direction
and interval method are the registry :data:`METRICS` of :class:`MetricSpec` entries
(defined on the ground floor, :mod:`sdc_bench.core.metric_specs`, so ``regress`` and the
model card read it too; re-exported here); a new metric is one :func:`register_metric`
call. This package turns the predictions contract (one row per image per cell, one
``p_<class>`` probability column per class) into a tidy metrics table: point estimates
per configuration, per split and per outer fold, with Wilson intervals for proportions
and patient-level bootstrap intervals for everything else. Inside it, ``_engine`` holds
the array-level evaluator, bootstrap and intervals, ``_table`` the metrics table and its
summaries; other packages import only this face. The table is validated first by
:mod:`sdc_bench.reports.predictions_table`.

Definitions
-----------
Class ``k`` is treated one-vs-rest for the per-class metrics:

- sensitivity (recall) ``TP / (TP + FN)``, specificity ``TN / (TN + FP)``,
  PPV (precision) ``TP / (TP + FP)``, NPV ``TN / (TN + FN)``,
  F1 ``2 TP / (2 TP + FP + FN)``;
- AUROC: probability that a random image of class ``k`` scores higher on ``p_k`` than a
  random image of another class (ties count one half);
- AUPRC: average precision, ``sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds
  (the step-wise definition scikit-learn uses, no interpolation).

A per-class value whose denominator is empty (for example sensitivity of a class absent
from ``y_true``) is NaN, and a macro average is the mean over the classes whose value is
defined. Balanced accuracy is therefore the macro sensitivity. Overall metrics are
accuracy, balanced accuracy, Cohen's kappa (NaN when chance agreement is 1), the
multi-class Matthews correlation (Gorodkin; 0 when undefined, as in scikit-learn), the
multi-class Brier score ``mean_i sum_k (p_ik - y_ik)^2`` (range 0-2, Brier 1950) and the
top-label expected calibration error: the confidence of an image is its largest
probability, it is correct when that class is ``y_true``, images fall into 15
equal-width bins ``((m-1)/15, m/15]`` and ``ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|``
(Guo et al. 2017).

Repeated cross-validation
-------------------------
The ``seed`` column of the predictions is the protocol seed: one repetition of the
whole cross-validation (its own outer folds). With one seed the table has ``'pooled'``
and ``'fold'`` rows as always. With several, each seed gets a ``'seed'`` block (its own
pooled out-of-fold metrics, computed exactly like a single-seed pooled block) and the
``'pooled'`` block pools every repetition: the stacked predictions (each image once per
seed) give the point estimate, and since stacked repetitions of one image are not
independent trials, all of its intervals come from the patient-level bootstrap (a drawn
patient brings its images of every repetition); its ``seed`` is -1 ("all"). Tables
written before the column meant the protocol seed (it held each cell's derived seed, one
per outer fold) are read as a single repetition with ``seed`` -1.

Intervals
---------
Accuracy and per-class sensitivity, specificity, PPV and NPV carry Wilson score
intervals (images taken as independent trials). Every other metric of a pooled row
carries a percentile interval from a patient-level bootstrap: patients are drawn with
replacement and all images of a drawn patient come along. A resample is a vector of
per-image weights, so every metric is computed for a block of resamples at once:
confusion matrices, Brier and ECE as weighted sums, AUROC and AUPRC from weighted
cumulative sums over the once-sorted scores.
"""

from __future__ import annotations

from sdc_bench.core.metric_specs import (
    CLASS_METRICS,
    ECE_BINS,
    INTERVAL_METHODS,
    METRICS,
    OVERALL_METRICS,
    SCOPES,
    MetricInputs,
    MetricSpec,
    balanced_accuracy,
    balanced_accuracy_score,
    confusion_matrices,
    get_metric,
    macro_average,
    register_metric,
    unregister_metric,
)
from sdc_bench.reports.metrics._engine import (
    ClassificationMetrics,
    FloatArray,
    IntArray,
    MetricEvaluator,
    keyed_rng,
    patient_bootstrap,
    patient_resample_weights,
    percentile_interval,
    point_metrics,
    wilson_interval,
)
from sdc_bench.reports.metrics._table import compute_metrics, soft_vote, summarize_folds, summarize_seeds

__all__ = [
    "CLASS_METRICS",
    "ECE_BINS",
    "INTERVAL_METHODS",
    "METRICS",
    "OVERALL_METRICS",
    "SCOPES",
    "ClassificationMetrics",
    "FloatArray",
    "IntArray",
    "MetricEvaluator",
    "MetricInputs",
    "MetricSpec",
    "balanced_accuracy",
    "balanced_accuracy_score",
    "compute_metrics",
    "confusion_matrices",
    "get_metric",
    "keyed_rng",
    "macro_average",
    "patient_bootstrap",
    "patient_resample_weights",
    "percentile_interval",
    "point_metrics",
    "register_metric",
    "soft_vote",
    "summarize_folds",
    "summarize_seeds",
    "unregister_metric",
    "wilson_interval",
]
