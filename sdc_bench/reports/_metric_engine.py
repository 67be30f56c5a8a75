"""The array-level engine behind :mod:`sdc_bench.reports.metrics`.

Its one job: every metric of one set of predictions (class codes and probabilities as
arrays), under any number of image weightings at once, plus the interval machinery that
uses it: Wilson intervals, patient-level bootstrap resamples and percentile intervals.
The metric definitions and interval methods are documented in
:mod:`sdc_bench.reports.metrics`, the public face; :mod:`sdc_bench.reports.stats` reuses
the same evaluator and resampling for its paired comparisons.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.proportion import proportion_confint

from sdc_bench.core.errors import ConfigError, DataError

__all__ = [
    "CLASS_METRICS",
    "ECE_BINS",
    "METRICS",
    "OVERALL_METRICS",
    "ClassificationMetrics",
    "FloatArray",
    "IntArray",
    "MetricEvaluator",
    "as_rng",
    "bootstrap_replicates",
    "check_confidence",
    "check_n_bootstrap",
    "keyed_rng",
    "patient_bootstrap",
    "patient_resample_weights",
    "percentile_interval",
    "point_metrics",
    "wilson_interval",
    "with_macros",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Number of equal-width confidence bins of the expected calibration error.
ECE_BINS = 15
#: Metrics reported per class and as a macro average.
CLASS_METRICS: tuple[str, ...] = ("sensitivity", "specificity", "ppv", "npv", "f1", "auroc", "auprc")
#: Metrics reported once per group (``class_name == 'overall'``).
OVERALL_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "kappa", "mcc", "brier", "ece")
#: Every metric, in the order rows appear in the metrics table.
METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "auroc",
    "auprc",
    "kappa",
    "mcc",
    "brier",
    "ece",
)

# Upper bound on resamples x images held in one weight block (about 16 MB of float64).
_MAX_WEIGHT_CELLS = 2_000_000


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class ClassificationMetrics:
    """Point values (or interval bounds) of every metric for one set of predictions.

    Attributes
    ----------
    accuracy, balanced_accuracy, kappa, mcc, brier, ece : float
        Overall metrics (see the module docstring for definitions).
    sensitivity, specificity, ppv, npv, f1, auroc, auprc : ndarray of shape (n_classes,)
        One-vs-rest per-class metrics in class order; NaN where undefined.
    """

    accuracy: float
    balanced_accuracy: float
    kappa: float
    mcc: float
    brier: float
    ece: float
    sensitivity: FloatArray
    specificity: FloatArray
    ppv: FloatArray
    npv: FloatArray
    f1: FloatArray
    auroc: FloatArray
    auprc: FloatArray

    def macro(self, metric: str) -> float:
        """Mean of a per-class metric over the classes where it is defined.

        Parameters
        ----------
        metric : str
            One of :data:`CLASS_METRICS`.

        Returns
        -------
        float
            The macro average, NaN when no class has a defined value.
        """
        if metric not in CLASS_METRICS:
            raise ConfigError(
                f"metric {metric!r} has no per-class values; choose one of {', '.join(CLASS_METRICS)}"
            )
        return float(_nanmean(np.asarray(getattr(self, metric))[None, :], axis=1)[0])

    @classmethod
    def _from_replicates(cls, values: dict[str, FloatArray], index: int) -> ClassificationMetrics:
        fields: dict[str, Any] = {}
        for name in OVERALL_METRICS:
            fields[name] = float(values[name][index])
        for name in CLASS_METRICS:
            fields[name] = np.asarray(values[name][index], dtype=np.float64)
        return cls(**fields)


# --------------------------------------------------------------------------- numerics


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """Element-wise ``numerator / denominator``, NaN where the denominator is 0."""
    numerator, denominator = np.broadcast_arrays(
        np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    )
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _nanmean(values: FloatArray, axis: int) -> FloatArray:
    """Mean over the defined (non-NaN) entries; NaN, without a warning, where none is."""
    defined = ~np.isnan(values)
    return _ratio(np.where(defined, values, 0.0).sum(axis=axis), defined.sum(axis=axis))


def percentile_interval(replicates: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Percentile interval over axis 0, ignoring NaN replicates (NaN if all are NaN)."""
    tail = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are reported as NaN
        low, high = np.nanquantile(replicates, [tail, 1.0 - tail], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def wilson_interval(
    count: ArrayLike, nobs: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for binomial proportions.

    Parameters
    ----------
    count : array-like of int
        Number of successes.
    nobs : array-like of int
        Number of trials; where it is 0 the interval is NaN.
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).

    Returns
    -------
    low, high : ndarray
        Interval bounds, broadcast to the shape of ``count`` and ``nobs``.

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 3), round(float(high), 3)
    (0.49, 0.943)
    """
    check_confidence(confidence)
    count_array, nobs_array = np.broadcast_arrays(
        np.asarray(count, dtype=np.float64), np.asarray(nobs, dtype=np.float64)
    )
    low = np.full(count_array.shape, np.nan)
    high = np.full(count_array.shape, np.nan)
    defined = nobs_array > 0
    if defined.any():
        lo, hi = proportion_confint(
            count_array[defined], nobs_array[defined], alpha=1.0 - confidence, method="wilson"
        )
        low[defined] = lo
        high[defined] = hi
    return low, high


# --------------------------------------------------------------------------- evaluator


class MetricEvaluator:
    """Every metric of one set of predictions, under any number of image weightings.

    A weighting gives each image a (usually integer) weight, e.g. the number of times
    its patient was drawn in a bootstrap resample; all-ones weights give the plain
    metrics. The per-image design matrices are built once, so evaluating a block of
    ``B`` weightings costs a few ``(B, n_images)`` array passes.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_images,)
        Class codes in ``[0, n_classes)``.
    proba : array-like of float, shape (n_images, n_classes)
        Class probabilities; column ``k`` belongs to class code ``k``.
    """

    def __init__(self, y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike) -> None:
        true_codes, pred_codes, probabilities = _check_arrays(y_true, y_pred, proba)
        n_images, n_classes = probabilities.shape
        self.n_images = n_images
        self.n_classes = n_classes
        rows = np.arange(n_images)

        self._pairs = np.zeros((n_images, n_classes * n_classes))
        self._pairs[rows, true_codes * n_classes + pred_codes] = 1.0

        truth = np.zeros((n_images, n_classes))
        truth[rows, true_codes] = 1.0
        self._squared_error = ((probabilities - truth) ** 2).sum(axis=1)

        confidence = probabilities.max(axis=1)
        correct = (probabilities.argmax(axis=1) == true_codes).astype(np.float64)
        inner_edges = np.linspace(0.0, 1.0, ECE_BINS + 1)[1:-1]
        bins = np.searchsorted(inner_edges, confidence, side="left")  # bin m holds (e_m, e_m+1]
        self._bin_order = np.argsort(bins, kind="stable")
        sorted_bins = bins[self._bin_order]
        self._bin_starts = np.flatnonzero(np.r_[True, sorted_bins[1:] != sorted_bins[:-1]])
        self._calibration_gap = (correct - confidence)[self._bin_order]

        self._ranking: list[tuple[IntArray, IntArray, FloatArray]] = []
        for k in range(n_classes):
            order = np.argsort(probabilities[:, k], kind="stable")
            scores = probabilities[order, k]
            level_starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
            positive = (true_codes[order] == k).astype(np.float64)
            self._ranking.append((order, level_starts, positive))

    def __call__(self, weights: ArrayLike) -> dict[str, FloatArray]:
        """Evaluate every metric under each row of ``weights``.

        Parameters
        ----------
        weights : array-like of float, shape (n_weightings, n_images)
            Non-negative image weights.

        Returns
        -------
        dict of str to ndarray
            Overall metrics map to arrays of shape ``(n_weightings,)``, per-class metrics
            to ``(n_weightings, n_classes)``.
        """
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if w.shape[1] != self.n_images:
            raise ValueError(f"weights have {w.shape[1]} columns for {self.n_images} images")
        k = self.n_classes
        # Integer-valued weights and 0/1 entries: this product is exact in any summation order.
        confusion = (w @ self._pairs).reshape(-1, k, k)  # [weighting, true, predicted]
        total = confusion.sum(axis=(1, 2))
        tp = np.diagonal(confusion, axis1=1, axis2=2)
        actual = confusion.sum(axis=2)
        predicted = confusion.sum(axis=1)
        fn = actual - tp
        fp = predicted - tp
        tn = total[:, None] - tp - fn - fp

        values: dict[str, FloatArray] = {}
        values["accuracy"] = _ratio(tp.sum(axis=1), total)
        values["sensitivity"] = _ratio(tp, actual)
        values["specificity"] = _ratio(tn, tn + fp)
        values["ppv"] = _ratio(tp, predicted)
        values["npv"] = _ratio(tn, tn + fn)
        values["f1"] = _ratio(2.0 * tp, 2.0 * tp + fp + fn)
        values["balanced_accuracy"] = _nanmean(values["sensitivity"], axis=1)

        chance = _ratio((actual * predicted).sum(axis=1), total**2)
        values["kappa"] = _ratio(values["accuracy"] - chance, 1.0 - chance)
        # Gorodkin's multi-class MCC, written as scikit-learn does (0 when undefined).
        cov_true_pred = tp.sum(axis=1) * total - (actual * predicted).sum(axis=1)
        cov_pred_pred = total**2 - (predicted * predicted).sum(axis=1)
        cov_true_true = total**2 - (actual * actual).sum(axis=1)
        scale = cov_pred_pred * cov_true_true
        values["mcc"] = np.where(scale == 0, 0.0, cov_true_pred / np.sqrt(np.where(scale == 0, 1.0, scale)))

        # Float-valued sums use NumPy reductions rather than BLAS: BLAS results can change
        # with the thread count, and the metrics table must be byte-identical across hosts.
        values["brier"] = _ratio((w * self._squared_error).sum(axis=1), total)
        bin_gaps = np.add.reduceat(w[:, self._bin_order] * self._calibration_gap, self._bin_starts, axis=1)
        values["ece"] = _ratio(np.abs(bin_gaps).sum(axis=1), total)

        auroc = np.empty((w.shape[0], k))
        auprc = np.empty((w.shape[0], k))
        for class_code, (order, level_starts, positive) in enumerate(self._ranking):
            sorted_weights = w[:, order]
            # Weight of positives / negatives at each distinct score, ascending.
            level_all = np.add.reduceat(sorted_weights, level_starts, axis=1)
            level_pos = np.add.reduceat(sorted_weights * positive, level_starts, axis=1)
            level_neg = level_all - level_pos
            total_pos = level_pos.sum(axis=1)
            total_neg = level_neg.sum(axis=1)
            neg_below = np.cumsum(level_neg, axis=1) - level_neg
            concordant = (level_pos * (neg_below + 0.5 * level_neg)).sum(axis=1)
            auroc[:, class_code] = _ratio(concordant, total_pos * total_neg)
            # Average precision over thresholds taken from the highest score down.
            tp_curve = np.cumsum(level_pos[:, ::-1], axis=1)
            called = np.cumsum(level_all[:, ::-1], axis=1)
            precision = np.divide(tp_curve, called, out=np.zeros_like(tp_curve), where=called > 0)
            auprc[:, class_code] = _ratio((level_pos[:, ::-1] * precision).sum(axis=1), total_pos)
        values["auroc"] = auroc
        values["auprc"] = auprc
        return values


def _check_arrays(
    y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike
) -> tuple[IntArray, IntArray, FloatArray]:
    probabilities = np.asarray(proba, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise DataError(f"proba must have shape (n_images, n_classes >= 2), got {probabilities.shape}")
    if not np.isfinite(probabilities).all():
        raise DataError("proba holds non-finite values; every probability must be a finite number")
    n_images, n_classes = probabilities.shape
    if n_images == 0:
        raise DataError("proba has no rows; metrics need at least one image")
    codes = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(values)
        if array.shape != (n_images,):
            raise DataError(f"{name} has shape {array.shape}; expected ({n_images},) to match proba")
        if not np.issubdtype(array.dtype, np.integer):
            raise DataError(f"{name} must hold integer class codes, got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= n_classes):
            raise DataError(
                f"{name} holds class codes outside [0, {n_classes}) for {n_classes} proba columns"
            )
        codes.append(array.astype(np.int64))
    return codes[0], codes[1], probabilities


def point_metrics(y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike) -> ClassificationMetrics:
    """Compute every metric of one set of predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_images,)
        True and predicted class codes in ``[0, n_classes)``.
    proba : array-like of float, shape (n_images, n_classes)
        Class probabilities in class-code order.

    Returns
    -------
    ClassificationMetrics
        Overall metrics as floats, per-class metrics as arrays (NaN where undefined,
        e.g. sensitivity of a class absent from ``y_true``).

    Examples
    --------
    >>> import numpy as np
    >>> m = point_metrics([0, 1, 1], [0, 1, 0], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    >>> round(m.accuracy, 3), m.sensitivity.round(2).tolist()
    (0.667, [1.0, 0.5])
    """
    evaluator = MetricEvaluator(y_true, y_pred, proba)
    values = evaluator(np.ones((1, evaluator.n_images)))
    return ClassificationMetrics._from_replicates(values, 0)


# --------------------------------------------------------------------------- bootstrap


def check_confidence(confidence: float) -> None:
    if not 0.0 < float(confidence) < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def check_n_bootstrap(n_bootstrap: int, minimum: int = 1) -> None:
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, int | np.integer)
        or n_bootstrap < minimum
    ):
        raise ConfigError(f"n_bootstrap must be an integer >= {minimum}, got {n_bootstrap!r}")


def as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def keyed_rng(seed: int, key: Sequence[object]) -> np.random.Generator:
    """A generator that depends on the seed and a group key only, so adding or removing
    other groups never changes this group's intervals."""
    as_rng(seed)  # validates
    digest = zlib.crc32("\x1f".join(str(part) for part in key).encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed), digest]))


def patient_resample_weights(
    patient_ids: ArrayLike,
    n_bootstrap: int,
    seed: int | np.random.Generator = 0,
    *,
    max_cells: int = _MAX_WEIGHT_CELLS,
) -> Iterator[FloatArray]:
    """Yield patient-level bootstrap resamples as blocks of image weights.

    Each resample draws as many patients as there are, with replacement; an image's
    weight is the number of times its patient was drawn, so all images of a patient
    move together.

    Parameters
    ----------
    patient_ids : array-like, shape (n_images,)
        Patient of each image.
    n_bootstrap : int
        Number of resamples, >= 1.
    seed : int or numpy.random.Generator, default=0
        Seed (or generator) for the draws.
    max_cells : int, default=2_000_000
        Largest ``resamples x images`` block yielded at once (bounds memory).

    Yields
    ------
    ndarray of shape (n_block, n_images)
        Image weights, ``n_bootstrap`` rows over all blocks.
    """
    check_n_bootstrap(n_bootstrap)
    generator = as_rng(seed)
    _, patient_codes = np.unique(np.asarray(patient_ids).astype(str), return_inverse=True)
    patient_codes = patient_codes.ravel()
    n_patients = int(patient_codes.max()) + 1 if patient_codes.size else 0
    if n_patients == 0:
        raise DataError("patient_ids is empty; a bootstrap needs at least one patient")
    block = max(1, min(n_bootstrap, max_cells // max(1, patient_codes.size)))
    done = 0
    while done < n_bootstrap:
        size = min(block, n_bootstrap - done)
        draws = generator.integers(0, n_patients, size=(size, n_patients))
        offsets = (np.arange(size) * n_patients)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size * n_patients).reshape(size, n_patients)
        yield counts[:, patient_codes].astype(np.float64)
        done += size


def bootstrap_replicates(
    evaluator: MetricEvaluator,
    patient_ids: ArrayLike,
    n_bootstrap: int,
    seed: int | np.random.Generator,
) -> dict[str, FloatArray]:
    blocks = [evaluator(weights) for weights in patient_resample_weights(patient_ids, n_bootstrap, seed)]
    return {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}


def with_macros(values: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Add ``macro_<metric>`` entries (mean over defined classes) to evaluator output."""
    out = dict(values)
    for name in CLASS_METRICS:
        out[f"macro_{name}"] = _nanmean(values[name], axis=1)
    return out


def patient_bootstrap(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    proba: ArrayLike,
    patient_ids: ArrayLike,
    *,
    n_bootstrap: int = 1000,
    seed: int | np.random.Generator = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Patient-level percentile bootstrap intervals for every metric.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_images,)
        True and predicted class codes.
    proba : array-like of float, shape (n_images, n_classes)
        Class probabilities.
    patient_ids : array-like, shape (n_images,)
        Patient of each image; patients, not images, are resampled.
    n_bootstrap : int, default=1000
        Number of resamples.
    seed : int or numpy.random.Generator, default=0
        Seed of the resampling.
    confidence : float, default=0.95
        Coverage of the intervals.

    Returns
    -------
    dict of str to (low, high)
        One entry per metric of :data:`METRICS` (bounds of shape ``()`` for overall
        metrics, ``(n_classes,)`` for per-class ones) and one ``'macro_<metric>'`` entry
        per metric of :data:`CLASS_METRICS`. Resamples in which a metric is undefined
        (e.g. a class drawn without positives) are left out of its interval.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    >>> ci = patient_bootstrap([0, 1, 0, 1], [0, 1, 0, 1], proba, ["a", "a", "b", "c"], n_bootstrap=50)
    >>> low, high = ci["macro_auroc"]
    >>> bool(low <= high)
    True
    """
    check_confidence(confidence)
    evaluator = MetricEvaluator(y_true, y_pred, proba)
    if np.asarray(patient_ids).shape != (evaluator.n_images,):
        raise DataError(f"patient_ids must have one entry per image ({evaluator.n_images})")
    replicates = with_macros(bootstrap_replicates(evaluator, patient_ids, n_bootstrap, seed))
    return {name: percentile_interval(samples, confidence) for name, samples in replicates.items()}
