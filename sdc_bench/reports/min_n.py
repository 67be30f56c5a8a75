"""The smallest sample each figure, interval and test of the report needs, declared once.

A part of the report below its minimum draws its honest small-n form (fold dots joined per fold
instead of a box) or is skipped, and the report prints :func:`shortfall` in its place. The
thresholds are conventions, not laws: a box plot summarises a distribution only with a handful
of points, a t-test on k - 1 = 1 degree of freedom has a critical value of 12.7, Friedman's
chi-square and the Nemenyi critical difference are large-sample approximations over blocks (with
8 methods on 2 folds the critical difference spans the whole rank axis), and fANOVA fits a random
forest to the trials of a study.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIN_N", "MinN", "shortfall"]


@dataclass(frozen=True)
class MinN:
    """The least ``minimum`` of ``unit`` a report part (``what``) needs to be drawn or run."""

    what: str
    minimum: int
    unit: str


#: Every declared minimum, by the name the report parts use.
MIN_N: dict[str, MinN] = {
    "fold_box": MinN("a box plot of per-fold scores", 5, "outer folds"),
    "corrected_ttest": MinN("the corrected resampled t-test", 5, "outer folds (x seeds)"),
    "friedman": MinN("a Friedman test with its critical-difference diagram", 5, "outer folds (x seeds)"),
    "roc_band": MinN("a patient-bootstrap band around a ROC curve", 20, "patients"),
    "fanova": MinN("fANOVA hyperparameter importances", 10, "complete trials per study"),
    "pareto": MinN("an accuracy/throughput Pareto front", 2, "distinct measured backbones"),
    "cross_validation": MinN("a cross-validation estimate of spread over folds", 5, "outer folds"),
    "search": MinN("a hyperparameter search that explores its space", 10, "trials per cell"),
}


def shortfall(name: str, n: int) -> str | None:
    """Why the part ``name`` is not drawn as designed at ``n``, or None when ``n`` is enough.

    >>> shortfall("fold_box", 2)
    'a box plot of per-fold scores needs at least 5 outer folds; this run has 2'
    >>> shortfall("fold_box", 5) is None
    True
    """
    need = MIN_N[name]
    if n >= need.minimum:
        return None
    return f"{need.what} needs at least {need.minimum} {need.unit}; this run has {n}"
