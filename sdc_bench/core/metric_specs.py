"""The metric registry: one :class:`MetricSpec` per metric, and the pure NumPy functions behind them.

Its one job: say, once for every floor, what each metric is (name, per-class or overall, display
labels, which direction is better, which interval it carries) and how it is computed. The report
engine (:mod:`sdc_bench.reports.metrics`) evaluates every registered metric, the metrics table
lists them in registry order, and the tables, figures, ``regress`` and the model card read their
labels and direction here. A new metric is one :func:`register_metric` call.

A metric's function takes a :class:`MetricInputs`: a block of ``B`` image weightings (all ones for
the plain metric, patient-draw counts for a bootstrap resample), the weighted confusion matrices
they give, and the per-image arrays (:class:`ScoredImages`). Per-class metrics return shape
``(B, n_classes)`` (one-vs-rest), overall ones ``(B,)``. Proportions also give their
``(successes, trials)`` counts, from which the value is the ratio and the Wilson interval is drawn.

This module imports only NumPy and the standard library (core is the ground floor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CLASS_METRICS",
    "ECE_BINS",
    "INTERVAL_METHODS",
    "METRICS",
    "OVERALL_METRICS",
    "SCOPES",
    "MetricInputs",
    "MetricRegistry",
    "MetricSpec",
    "ScoredImages",
    "balanced_accuracy",
    "balanced_accuracy_score",
    "confusion_matrices",
    "get_metric",
    "macro_average",
    "register_metric",
    "unregister_metric",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Scope = Literal["class", "overall"]
IntervalMethod = Literal["wilson", "bootstrap", "none"]
#: ``'class'``: one-vs-rest per class plus a macro average; ``'overall'``: one value per group.
SCOPES: tuple[str, ...] = get_args(Scope)
#: How a pooled row's interval is drawn: Wilson score (proportions; the counts of the spec),
#: patient-level percentile bootstrap, or none.
INTERVAL_METHODS: tuple[str, ...] = get_args(IntervalMethod)
#: Number of equal-width confidence bins of the expected calibration error.
ECE_BINS = 15


# --------------------------------------------------------------------------- numerics


def _ratio(numerator: ArrayLike, denominator: ArrayLike) -> FloatArray:
    """Element-wise ``numerator / denominator``, NaN where the denominator is 0."""
    top, bottom = np.broadcast_arrays(
        np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    )
    out = np.full(top.shape, np.nan)
    np.divide(top, bottom, out=out, where=bottom != 0)
    return out


def macro_average(values: ArrayLike, axis: int = -1) -> FloatArray:
    """Mean over the defined (non-NaN) entries; NaN, without a warning, where none is.

    >>> macro_average([[1.0, float("nan"), 0.5]]).tolist()
    [0.75]
    """
    array = np.asarray(values, dtype=np.float64)
    defined = ~np.isnan(array)
    return _ratio(np.where(defined, array, 0.0).sum(axis=axis), defined.sum(axis=axis))


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class ClassRanking:
    """One class's one-vs-rest ranking of the images, prepared once for the rank metrics (AUROC, AUPRC).

    The images are split into positives (of the class) and negatives, each in ascending score. Images of
    equal score form one level; for each positive, the counts of images in lower (and in lower or equal)
    levels locate it in the cumulative weight of the negatives and of the positives, so that a block of
    weightings needs one cumulative sum over the negatives and one over the positives, not passes over
    every image.

    Build it with :meth:`of`.
    """

    negatives: IntArray  # image indices of the negatives, ascending score
    positives: IntArray  # image indices of the positives, ascending score
    negatives_below: IntArray  # per positive: negatives in strictly lower levels
    negatives_up_to: IntArray  # per positive: negatives in lower or equal levels
    positives_below: IntArray  # per positive: positives in strictly lower levels
    ties: bool  # some positive shares its level with a negative

    @classmethod
    def of(cls, scores: FloatArray, positive: NDArray[np.bool_]) -> ClassRanking:
        """The ranking of images with ``scores`` (one class's probability) and ``positive`` (of that class)."""
        order = np.argsort(scores, kind="stable")
        sorted_scores, sorted_positive = scores[order], positive[order]
        starts = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
        level = np.cumsum(starts) - 1
        level_starts = np.flatnonzero(starts)
        level_ends = np.r_[level_starts[1:], len(order)]
        negatives_before = np.r_[0, np.cumsum(~sorted_positive)]  # negatives before each sorted position
        positives_before = np.r_[0, np.cumsum(sorted_positive)]
        positive_level = level[sorted_positive]
        below = negatives_before[level_starts[positive_level]]
        up_to = negatives_before[level_ends[positive_level]]
        return cls(
            negatives=order[~sorted_positive],
            positives=order[sorted_positive],
            negatives_below=below,
            negatives_up_to=up_to,
            positives_below=positives_before[level_starts[positive_level]],
            ties=bool(np.any(below != up_to)),
        )


@dataclass(frozen=True, eq=False)
class ScoredImages:
    """The per-image arrays of one set of predictions, prepared once for any number of weightings.

    Build it with :meth:`from_codes`; the class codes and probabilities are assumed checked.
    """

    y_true: IntArray
    y_pred: IntArray
    proba: FloatArray
    pairs: FloatArray  # (n_images, k * k): one-hot of (true, predicted)
    squared_error: FloatArray  # (n_images,): sum_k (p_ik - y_ik)^2
    bin_order: IntArray  # images sorted by calibration bin
    bin_starts: IntArray  # first sorted position of each occupied bin
    calibration_gap: FloatArray  # (correct - confidence), in bin order
    ranking: tuple[ClassRanking, ...]  # per class: the one-vs-rest ranking

    @property
    def n_images(self) -> int:
        return int(self.proba.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.proba.shape[1])

    @classmethod
    def from_codes(cls, y_true: IntArray, y_pred: IntArray, proba: FloatArray) -> ScoredImages:
        n_images, n_classes = proba.shape
        rows = np.arange(n_images)
        pairs = np.zeros((n_images, n_classes * n_classes))
        pairs[rows, y_true * n_classes + y_pred] = 1.0
        truth = np.zeros((n_images, n_classes))
        truth[rows, y_true] = 1.0
        confidence = proba.max(axis=1)
        correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
        inner_edges = np.linspace(0.0, 1.0, ECE_BINS + 1)[1:-1]
        bins = np.searchsorted(inner_edges, confidence, side="left")  # bin m holds (e_m, e_m+1]
        bin_order = np.argsort(bins, kind="stable")
        sorted_bins = bins[bin_order]
        ranking = [ClassRanking.of(proba[:, k], y_true == k) for k in range(n_classes)]
        return cls(
            y_true=y_true,
            y_pred=y_pred,
            proba=proba,
            pairs=pairs,
            squared_error=((proba - truth) ** 2).sum(axis=1),
            bin_order=bin_order,
            bin_starts=np.flatnonzero(np.r_[True, sorted_bins[1:] != sorted_bins[:-1]]),
            calibration_gap=(correct - confidence)[bin_order],
            ranking=tuple(ranking),
        )


@dataclass(frozen=True, eq=False)
class MetricInputs:
    """What a metric function is computed from: ``B`` weightings of one set of predictions.

    Attributes
    ----------
    confusion : ndarray of shape (B, n_classes, n_classes)
        Weighted confusion matrices, ``[weighting, true, predicted]``.
    weights : ndarray of shape (B, n_images), optional
        The image weights (absent when only confusion matrices are known).
    images : ScoredImages, optional
        The per-image arrays the weights apply to (absent likewise).
    """

    confusion: FloatArray
    weights: FloatArray | None = None
    images: ScoredImages | None = None

    @classmethod
    def weighted(cls, images: ScoredImages, weights: FloatArray) -> MetricInputs:
        """Inputs of the weightings ``weights`` (shape ``(B, n_images)``) of ``images``."""
        k = images.n_classes
        # Integer-valued weights and 0/1 entries: this product is exact in any summation order.
        confusion = (weights @ images.pairs).reshape(-1, k, k)
        return cls(confusion=confusion, weights=weights, images=images)

    def per_image(self) -> tuple[FloatArray, ScoredImages]:
        """The weights and per-image arrays; a metric that needs them raises here when they are absent."""
        if self.weights is None or self.images is None:
            raise ValueError("this metric needs per-image predictions, not only confusion matrices")
        return self.weights, self.images

    @cached_property
    def total(self) -> FloatArray:
        return self.confusion.sum(axis=(1, 2))

    @cached_property
    def tp(self) -> FloatArray:
        return np.diagonal(self.confusion, axis1=1, axis2=2)

    @cached_property
    def actual(self) -> FloatArray:
        return self.confusion.sum(axis=2)

    @cached_property
    def predicted(self) -> FloatArray:
        return self.confusion.sum(axis=1)

    @cached_property
    def fn(self) -> FloatArray:
        return self.actual - self.tp

    @cached_property
    def fp(self) -> FloatArray:
        return self.predicted - self.tp

    @cached_property
    def tn(self) -> FloatArray:
        return self.total[:, None] - self.tp - self.fn - self.fp

    @cached_property
    def ranked_auroc(self) -> tuple[FloatArray, tuple[RankedPositives, ...]]:
        """Weighted one-vs-rest AUROC per class and each class's ranked positives (AUPRC reuses them)."""
        return _ranked_auroc(self)

    @cached_property
    def ranking_curves(self) -> tuple[FloatArray, FloatArray]:
        """Weighted one-vs-rest AUROC and average precision per class (computed once for both metrics)."""
        return _ranking_curves(self)


def confusion_matrices(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> FloatArray:
    """The unweighted confusion matrix of class codes, shape ``(1, n_classes, n_classes)``."""
    true_codes = np.asarray(y_true, dtype=np.int64).ravel()
    pred_codes = np.asarray(y_pred, dtype=np.int64).ravel()
    counts = np.bincount(true_codes * n_classes + pred_codes, minlength=n_classes * n_classes)
    return counts.astype(np.float64).reshape(1, n_classes, n_classes)


# --------------------------------------------------------------------------- metric functions

Counts = tuple[FloatArray, FloatArray]


def _accuracy_counts(inputs: MetricInputs) -> Counts:
    return inputs.tp.sum(axis=1), inputs.total


def _sensitivity_counts(inputs: MetricInputs) -> Counts:
    return inputs.tp, inputs.actual


def _specificity_counts(inputs: MetricInputs) -> Counts:
    return inputs.tn, inputs.tn + inputs.fp


def _ppv_counts(inputs: MetricInputs) -> Counts:
    return inputs.tp, inputs.predicted


def _npv_counts(inputs: MetricInputs) -> Counts:
    return inputs.tn, inputs.tn + inputs.fn


def balanced_accuracy(inputs: MetricInputs) -> FloatArray:
    """Mean recall over the classes present in the truth (macro sensitivity), one value per weighting."""
    return macro_average(_ratio(*_sensitivity_counts(inputs)), axis=1)


def balanced_accuracy_score(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> float:
    """Balanced accuracy of class codes: mean recall over the classes present in ``y_true``; NaN if none.

    >>> balanced_accuracy_score([0, 0, 1, 1], [0, 1, 1, 1], 2)
    0.75
    """
    return float(balanced_accuracy(MetricInputs(confusion_matrices(y_true, y_pred, n_classes)))[0])


def _f1(inputs: MetricInputs) -> FloatArray:
    return _ratio(2.0 * inputs.tp, 2.0 * inputs.tp + inputs.fp + inputs.fn)


def _kappa(inputs: MetricInputs) -> FloatArray:
    accuracy = _ratio(*_accuracy_counts(inputs))
    chance = _ratio((inputs.actual * inputs.predicted).sum(axis=1), inputs.total**2)
    return _ratio(accuracy - chance, 1.0 - chance)


def _mcc(inputs: MetricInputs) -> FloatArray:
    """Gorodkin's multi-class MCC, written as scikit-learn does (0 when undefined)."""
    total, actual, predicted = inputs.total, inputs.actual, inputs.predicted
    cov_true_pred = inputs.tp.sum(axis=1) * total - (actual * predicted).sum(axis=1)
    cov_pred_pred = total**2 - (predicted * predicted).sum(axis=1)
    cov_true_true = total**2 - (actual * actual).sum(axis=1)
    scale = cov_pred_pred * cov_true_true
    return np.where(scale == 0, 0.0, cov_true_pred / np.sqrt(np.where(scale == 0, 1.0, scale)))


# Float-valued sums use NumPy reductions rather than BLAS: BLAS results can change with the
# thread count, and the metrics table must be byte-identical across hosts.
def _brier(inputs: MetricInputs) -> FloatArray:
    weights, images = inputs.per_image()
    return _ratio((weights * images.squared_error).sum(axis=1), inputs.total)


def _ece(inputs: MetricInputs) -> FloatArray:
    weights, images = inputs.per_image()
    gaps = np.add.reduceat(weights[:, images.bin_order] * images.calibration_gap, images.bin_starts, axis=1)
    return _ratio(np.abs(gaps).sum(axis=1), inputs.total)


@dataclass(frozen=True, eq=False)
class RankedPositives:
    """One class's positives under ``B`` weightings, as the rank metrics need them.

    Attributes
    ----------
    weights : ndarray of shape (B, n_positives)
        Each positive's weight, positives in ascending score.
    negatives_below : ndarray of shape (B, n_positives)
        Weight of the negatives in strictly lower score levels than each positive.
    total_negative : ndarray of shape (B,)
        Weight of all negatives.
    """

    weights: FloatArray
    negatives_below: FloatArray
    total_negative: FloatArray


def _class_auroc(weights: FloatArray, ranking: ClassRanking) -> tuple[FloatArray, RankedPositives]:
    """Weighted one-vs-rest AUROC of one class (ties count one half), and its positives for AUPRC."""
    negative_cumulative = np.zeros((weights.shape[0], len(ranking.negatives) + 1))
    np.cumsum(np.take(weights, ranking.negatives, axis=1), axis=1, out=negative_cumulative[:, 1:])
    positives = RankedPositives(
        weights=np.take(weights, ranking.positives, axis=1),
        negatives_below=np.take(negative_cumulative, ranking.negatives_below, axis=1),
        total_negative=negative_cumulative[:, -1],
    )
    below = positives.negatives_below
    if ranking.ties:
        below = below + 0.5 * (np.take(negative_cumulative, ranking.negatives_up_to, axis=1) - below)
    concordant = (positives.weights * below).sum(axis=1)
    total_positive = positives.weights.sum(axis=1)
    return _ratio(concordant, total_positive * positives.total_negative), positives


def _class_auprc(ranking: ClassRanking, positives: RankedPositives) -> FloatArray:
    """Weighted average precision of one class, ``sum_n (R_n - R_n-1) P_n`` over the distinct thresholds:
    each positive's weight times the precision at its score's threshold, over the positives' weight."""
    positive_cumulative = np.zeros((positives.weights.shape[0], positives.weights.shape[1] + 1))
    np.cumsum(positives.weights, axis=1, out=positive_cumulative[:, 1:])
    total_positive = positive_cumulative[:, -1]
    true_positives = total_positive[:, None] - np.take(positive_cumulative, ranking.positives_below, axis=1)
    called = true_positives + (positives.total_negative[:, None] - positives.negatives_below)
    precision = np.divide(true_positives, called, out=np.zeros_like(true_positives), where=called > 0)
    return _ratio((positives.weights * precision).sum(axis=1), total_positive)


def _ranked_auroc(inputs: MetricInputs) -> tuple[FloatArray, tuple[RankedPositives, ...]]:
    """Weighted one-vs-rest AUROC of every class, ``(B, n_classes)``, and each class's ranked positives.

    Per class, one cumulative sum of the negatives' weights in score order gives, for each positive, the
    weight of the negatives ranked below it. With integer weights (plain metrics, bootstrap draws) every
    sum here is exact, so the value does not depend on the summation order.
    """
    weights, images = inputs.per_image()
    auroc = np.empty((weights.shape[0], images.n_classes))
    ranked = []
    for class_code, ranking in enumerate(images.ranking):
        auroc[:, class_code], positives = _class_auroc(weights, ranking)
        ranked.append(positives)
    return auroc, tuple(ranked)


def _ranking_curves(inputs: MetricInputs) -> tuple[FloatArray, FloatArray]:
    """Weighted one-vs-rest AUROC and average precision of every class, shape ``(B, n_classes)`` each."""
    auroc, ranked = inputs.ranked_auroc
    images = inputs.per_image()[1]
    auprc = np.empty_like(auroc)
    for class_code, (ranking, positives) in enumerate(zip(images.ranking, ranked, strict=True)):
        auprc[:, class_code] = _class_auprc(ranking, positives)
    return auroc, auprc


def _auroc(inputs: MetricInputs) -> FloatArray:
    return inputs.ranked_auroc[0]


def _auprc(inputs: MetricInputs) -> FloatArray:
    return inputs.ranking_curves[1]


# --------------------------------------------------------------------------- spec and registry


@dataclass(frozen=True)
class MetricSpec:
    """Everything the project knows about one metric.

    Parameters
    ----------
    name : str
        The ``metric`` value of the metrics table (a Python identifier).
    scope : {'class', 'overall'}
        ``'class'``: one-vs-rest per class, plus a macro average (``class_name == 'macro'``);
        ``'overall'``: one value per group (``class_name == 'overall'``).
    label : str
        Display label of tables and figures, capitalised (``'AUROC'``, ``'Balanced accuracy'``);
        :meth:`title` adds ``' (macro)'`` to a macro average.
    higher_is_better : bool
        The direction ``regress`` checks and the tables' bold marks.
    interval : {'wilson', 'bootstrap', 'none'}
        Interval of a pooled row: Wilson score from ``counts`` (per-class rows of a per-class metric;
        its macro row is bootstrapped), patient-level percentile bootstrap, or none.
    compute : callable, optional
        ``MetricInputs -> ndarray``; ``(B, n_classes)`` for a per-class metric, ``(B,)`` overall.
        Defaults to ``successes / trials`` of ``counts`` (NaN where there are no trials).
    counts : callable, optional
        ``MetricInputs -> (successes, trials)`` of a proportion; required by a Wilson interval.
    description : str, optional
        The longer name a clinical reader sees in the model card; defaults to ``label``.
    proportion : bool, default=False
        A share of images or classes: the model card shows it as a percentage.
    headline : bool, default=False
        A column of the main results table (the macro average of a per-class metric), in registry order.
    """

    name: str
    scope: Scope
    label: str
    higher_is_better: bool
    interval: IntervalMethod
    compute: Callable[[MetricInputs], FloatArray] | None = field(default=None, repr=False)
    counts: Callable[[MetricInputs], Counts] | None = field(default=None, repr=False)
    description: str = ""
    proportion: bool = False
    headline: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"metric name {self.name!r} must be a Python identifier")
        if self.scope not in SCOPES:
            raise ValueError(f"metric {self.name!r}: scope {self.scope!r} is not one of {SCOPES}")
        if self.interval not in INTERVAL_METHODS:
            raise ValueError(
                f"metric {self.name!r}: interval {self.interval!r} is not one of {INTERVAL_METHODS}"
            )
        if not self.label:
            raise ValueError(f"metric {self.name!r} needs a display label")
        if self.compute is None and self.counts is None:
            raise ValueError(f"metric {self.name!r} needs a compute function or counts")
        if self.interval == "wilson" and self.counts is None:
            raise ValueError(f"metric {self.name!r}: a Wilson interval needs the counts of the proportion")

    def evaluate(self, inputs: MetricInputs) -> FloatArray:
        """The metric under every weighting of ``inputs``."""
        if self.compute is not None:
            return np.asarray(self.compute(inputs), dtype=np.float64)
        assert self.counts is not None  # checked in __post_init__
        return _ratio(*self.counts(inputs))

    def title(self, class_name: str = "macro") -> str:
        """Column title: the label, with ``' (macro)'`` for the macro average of a per-class metric.

        >>> get_metric("auroc").title(), get_metric("accuracy").title()
        ('AUROC (macro)', 'Accuracy')
        """
        return f"{self.label} (macro)" if self.scope == "class" and class_name == "macro" else self.label

    @property
    def reader_label(self) -> str:
        """The model card's name of the metric."""
        return self.description or self.label


class MetricRegistry(Mapping[str, MetricSpec]):
    """Registered metrics by name; iteration order is the row order of the metrics table."""

    def __init__(self) -> None:
        self._specs: dict[str, MetricSpec] = {}

    def __getitem__(self, name: str) -> MetricSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._specs))

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"MetricRegistry({', '.join(self._specs)})"

    def names(self, scope: Scope | None = None) -> tuple[str, ...]:
        """Registered names in order, all or those of one scope."""
        return tuple(n for n, spec in self._specs.items() if scope is None or spec.scope == scope)


class _ScopeNames(Sequence[str]):
    """A live, ordered view of the registered names of one scope."""

    def __init__(self, registry: MetricRegistry, scope: Scope) -> None:
        self._registry = registry
        self._scope: Scope = scope

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._registry.names(self._scope)[index]

    def __len__(self) -> int:
        return len(self._registry.names(self._scope))

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.names(self._scope))

    def __contains__(self, name: object) -> bool:
        return name in self._registry.names(self._scope)

    def __repr__(self) -> str:
        return repr(self._registry.names(self._scope))


#: Every registered metric by name, in the order rows appear in the metrics table.
METRICS = MetricRegistry()
#: Names of the metrics reported per class and as a macro average (a live view of :data:`METRICS`).
CLASS_METRICS: Sequence[str] = _ScopeNames(METRICS, "class")
#: Names of the metrics reported once per group, ``class_name == 'overall'`` (a live view).
OVERALL_METRICS: Sequence[str] = _ScopeNames(METRICS, "overall")


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to :data:`METRICS` (after every metric already there); its name must be new."""
    if spec.name in METRICS._specs:
        raise ValueError(f"a metric named {spec.name!r} is already registered")
    METRICS._specs[spec.name] = spec
    return spec


def unregister_metric(name: str) -> MetricSpec:
    """Remove a metric from :data:`METRICS` (for tests that register a throw-away one)."""
    return METRICS._specs.pop(name)


def get_metric(name: str) -> MetricSpec:
    """The spec of a registered metric.

    >>> get_metric("brier").higher_is_better
    False
    """
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"no metric named {name!r}; registered: {', '.join(METRICS)}") from None


for _spec in (
    MetricSpec(
        "accuracy",
        "overall",
        "Accuracy",
        True,
        "wilson",
        counts=_accuracy_counts,
        proportion=True,
        headline=True,
    ),
    MetricSpec(
        "balanced_accuracy",
        "overall",
        "Balanced accuracy",
        True,
        "bootstrap",
        compute=balanced_accuracy,
        description="Balanced accuracy (mean sensitivity over the classes)",
        proportion=True,
        headline=True,
    ),
    MetricSpec(
        "sensitivity", "class", "Sensitivity", True, "wilson", counts=_sensitivity_counts, proportion=True
    ),
    MetricSpec(
        "specificity",
        "class",
        "Specificity",
        True,
        "wilson",
        counts=_specificity_counts,
        proportion=True,
        headline=True,
    ),
    MetricSpec("ppv", "class", "PPV", True, "wilson", counts=_ppv_counts, proportion=True),
    MetricSpec("npv", "class", "NPV", True, "wilson", counts=_npv_counts, proportion=True),
    MetricSpec("f1", "class", "F1", True, "bootstrap", compute=_f1, description="F1 score"),
    MetricSpec("auroc", "class", "AUROC", True, "bootstrap", compute=_auroc, headline=True),
    MetricSpec("auprc", "class", "AUPRC", True, "bootstrap", compute=_auprc),
    MetricSpec(
        "kappa",
        "overall",
        "Kappa",
        True,
        "bootstrap",
        compute=_kappa,
        description="Cohen's kappa (agreement beyond chance; 1 = perfect)",
    ),
    MetricSpec(
        "mcc",
        "overall",
        "MCC",
        True,
        "bootstrap",
        compute=_mcc,
        description="Matthews correlation coefficient (1 = perfect, 0 = chance)",
    ),
    MetricSpec(
        "brier",
        "overall",
        "Brier score",
        False,
        "bootstrap",
        compute=_brier,
        description="Brier score (mean squared error of the probabilities; lower is better)",
    ),
    MetricSpec(
        "ece",
        "overall",
        "ECE",
        False,
        "bootstrap",
        compute=_ece,
        description="Expected calibration error (lower is better)",
    ),
):
    register_metric(_spec)
del _spec
