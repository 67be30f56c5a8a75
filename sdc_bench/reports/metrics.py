"""Classification metrics with 95% intervals, computed only from the predictions table.

The one job of this module is to turn the predictions contract (one row per image per
cell, one ``p_<class>`` probability column per class) into a tidy metrics table:
point estimates per configuration, per split and per outer fold, with Wilson intervals
for proportions and patient-level bootstrap intervals for everything else.

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

import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.proportion import proportion_confint

from sdc_bench.errors import ConfigError, DataError

__all__ = [
    "CLASS_METRICS",
    "CONFIGURATION_COLUMNS",
    "ECE_BINS",
    "METRICS",
    "METRIC_TABLE_COLUMNS",
    "OOF_SPLIT",
    "OVERALL_METRICS",
    "PROBABILITY_PREFIX",
    "ClassificationMetrics",
    "MetricEvaluator",
    "class_names",
    "compute_metrics",
    "patient_bootstrap",
    "patient_resample_weights",
    "point_metrics",
    "summarize_folds",
    "validate_predictions",
    "wilson_interval",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Columns that identify a configuration; pooled out-of-fold rows pool its outer folds.
CONFIGURATION_COLUMNS: tuple[str, ...] = ("method", "backbone", "augment", "imbalance")
#: Prefix of the per-class probability columns, in class order.
PROBABILITY_PREFIX = "p_"
#: Value of ``split`` for outer-fold out-of-fold predictions.
OOF_SPLIT = "test"
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
#: Columns of the table :func:`compute_metrics` returns, in order.
METRIC_TABLE_COLUMNS: tuple[str, ...] = (
    *CONFIGURATION_COLUMNS,
    "split",
    "scope",
    "outer_fold",
    "metric",
    "class_name",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_images",
    "n_patients",
)

# Proportions get Wilson intervals; everything else in a pooled row is bootstrapped.
_WILSON_CLASS_METRICS = ("sensitivity", "specificity", "ppv", "npv")
_PROBABILITY_TOLERANCE = 1e-4
# Upper bound on resamples x images held in one weight block (about 16 MB of float64).
_MAX_WEIGHT_CELLS = 2_000_000
_REQUIRED_COLUMNS: tuple[str, ...] = (
    *CONFIGURATION_COLUMNS,
    "split",
    "outer_fold",
    "sample_id",
    "patient_id",
    "y_true",
    "y_pred",
)
_SUMMARY_KEYS: tuple[str, ...] = (*CONFIGURATION_COLUMNS, "split", "metric", "class_name")


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


def _percentile_interval(replicates: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
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
    _check_confidence(confidence)
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


def _check_confidence(confidence: float) -> None:
    if not 0.0 < float(confidence) < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _check_n_bootstrap(n_bootstrap: int, minimum: int = 1) -> None:
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, int | np.integer)
        or n_bootstrap < minimum
    ):
        raise ConfigError(f"n_bootstrap must be an integer >= {minimum}, got {n_bootstrap!r}")


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def _keyed_rng(seed: int, key: Sequence[object]) -> np.random.Generator:
    """A generator that depends on the seed and a group key only, so adding or removing
    other groups never changes this group's intervals."""
    _rng(seed)  # validates
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
    _check_n_bootstrap(n_bootstrap)
    generator = _rng(seed)
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


def _bootstrap_replicates(
    evaluator: MetricEvaluator,
    patient_ids: ArrayLike,
    n_bootstrap: int,
    seed: int | np.random.Generator,
) -> dict[str, FloatArray]:
    blocks = [evaluator(weights) for weights in patient_resample_weights(patient_ids, n_bootstrap, seed)]
    return {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}


def _with_macros(values: dict[str, FloatArray]) -> dict[str, FloatArray]:
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
    _check_confidence(confidence)
    evaluator = MetricEvaluator(y_true, y_pred, proba)
    if np.asarray(patient_ids).shape != (evaluator.n_images,):
        raise DataError(f"patient_ids must have one entry per image ({evaluator.n_images})")
    replicates = _with_macros(_bootstrap_replicates(evaluator, patient_ids, n_bootstrap, seed))
    return {name: _percentile_interval(samples, confidence) for name, samples in replicates.items()}


# --------------------------------------------------------------------------- predictions table


def _probability_columns(predictions: pd.DataFrame) -> list[str]:
    columns = [str(c) for c in predictions.columns if str(c).startswith(PROBABILITY_PREFIX)]
    if not columns:
        raise DataError(
            f"predictions have no probability columns; expected one '{PROBABILITY_PREFIX}<class>' column per class"
        )
    if len(columns) < 2:
        raise DataError(
            f"predictions have only one probability column ({columns[0]}); expected one per class, at least 2"
        )
    if len(set(columns)) != len(columns):
        raise DataError("predictions have duplicated probability columns; each class needs exactly one")
    if any(c == PROBABILITY_PREFIX for c in columns):
        raise DataError(
            f"predictions have a probability column named '{PROBABILITY_PREFIX}' with no class name"
        )
    return columns


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str = "predictions") -> None:
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"{what} lack the column '{column}'")
        if frame[column].isna().any():
            raise DataError(
                f"{what} column '{column}' has missing values in {int(frame[column].isna().sum())} rows"
            )


def class_names(predictions: pd.DataFrame) -> list[str]:
    """Class names of a predictions table, in the order of its ``p_<class>`` columns.

    Also validates what the metrics rely on: ``y_true`` and ``y_pred`` hold only these
    classes, and every row's probabilities are finite, in [0, 1] and sum to 1 within
    1e-4.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Table in the predictions contract.

    Returns
    -------
    list of str
        Class names; class code ``k`` is ``names[k]``.

    Raises
    ------
    DataError
        Naming the offending column.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y_true": ["a", "b"], "y_pred": ["a", "a"],
    ...                       "p_a": [0.7, 0.6], "p_b": [0.3, 0.4]})
    >>> class_names(frame)
    ['a', 'b']
    """
    if not isinstance(predictions, pd.DataFrame):
        raise DataError(f"predictions must be a pandas DataFrame, got {type(predictions).__name__}")
    probability_columns = _probability_columns(predictions)
    names = [c[len(PROBABILITY_PREFIX) :] for c in probability_columns]
    _require_columns(predictions, ("y_true", "y_pred"))
    known = set(names)
    for column in ("y_true", "y_pred"):
        labels = pd.unique(predictions[column].astype(str))
        unknown = sorted(str(v) for v in labels if v not in known)
        if unknown:
            raise DataError(
                f"predictions column '{column}' holds labels with no probability column: "
                f"{', '.join(repr(v) for v in unknown[:5])} (classes from p_ columns: {', '.join(names)})"
            )
    for column in probability_columns:
        if not pd.api.types.is_numeric_dtype(predictions[column]) or pd.api.types.is_bool_dtype(
            predictions[column]
        ):
            raise DataError(
                f"predictions column '{column}' must be numeric, got dtype {predictions[column].dtype}"
            )
        values = predictions[column].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"predictions column '{column}' has {int(bad.sum())} missing or non-finite probabilities"
            )
        outside = (values < -_PROBABILITY_TOLERANCE) | (values > 1.0 + _PROBABILITY_TOLERANCE)
        if outside.any():
            raise DataError(
                f"predictions column '{column}' has {int(outside.sum())} probabilities outside [0, 1]"
            )
    totals = predictions[probability_columns].to_numpy(dtype=np.float64).sum(axis=1)
    off = np.abs(totals - 1.0) > _PROBABILITY_TOLERANCE
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise DataError(
            f"predictions columns {', '.join(probability_columns)} do not sum to 1 in {int(off.sum())} rows "
            f"(row {first} sums to {totals[first]:.6g}); expected 1 within {_PROBABILITY_TOLERANCE:g}"
        )
    return names


def validate_predictions(predictions: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Validate a predictions table for metrics and comparisons.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Table in the predictions contract.

    Returns
    -------
    frame : pandas.DataFrame
        A copy with ``outer_fold`` cast to int64.
    names : list of str
        Class names in ``p_`` column order (see :func:`class_names`).

    Raises
    ------
    DataError
        If a required column is missing, has missing values or is malformed.
    """
    names = class_names(predictions)
    _require_columns(predictions, _REQUIRED_COLUMNS)
    folds = predictions["outer_fold"]
    if pd.api.types.is_bool_dtype(folds) or not pd.api.types.is_numeric_dtype(folds):
        raise DataError(f"predictions column 'outer_fold' must hold integers, got dtype {folds.dtype}")
    fold_values = folds.to_numpy(dtype=np.float64)
    if not np.all(fold_values == np.round(fold_values)):
        raise DataError("predictions column 'outer_fold' must hold whole numbers")
    frame = predictions.copy()
    frame["outer_fold"] = fold_values.astype(np.int64)
    return frame, names


def _split_order(split: str) -> tuple[int, str]:
    return (0 if split == OOF_SPLIT else 1, split)


def _group_keys(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    keys = frame[[*CONFIGURATION_COLUMNS, "split"]].drop_duplicates().itertuples(index=False, name=None)
    return sorted(keys, key=lambda key: (*(str(part) for part in key[:-1]), *_split_order(str(key[-1]))))


@dataclass(frozen=True)
class _Scoped:
    """One prediction per image, ready for the evaluator."""

    y_true: IntArray
    y_pred: IntArray
    proba: FloatArray
    patient_ids: NDArray[Any]


def _codes(values: pd.Series, names: list[str]) -> IntArray:
    return np.asarray(pd.Categorical(values.astype(str), categories=names).codes, dtype=np.int64)


def _scoped(rows: pd.DataFrame, names: list[str], probability_columns: list[str]) -> _Scoped:
    rows = rows.sort_values(["outer_fold", "sample_id"], kind="mergesort")
    return _Scoped(
        y_true=_codes(rows["y_true"], names),
        y_pred=_codes(rows["y_pred"], names),
        proba=rows[probability_columns].to_numpy(dtype=np.float64),
        patient_ids=rows["patient_id"].astype(str).to_numpy(),
    )


def _pooled(rows: pd.DataFrame, split: str, names: list[str], probability_columns: list[str]) -> _Scoped:
    """One prediction per image over all outer folds of a configuration.

    Out-of-fold predictions hold each image once. On an external split every fold model
    predicts every image, so the pooled prediction is their soft-vote ensemble (mean
    probabilities, argmax).
    """
    if rows.duplicated(["outer_fold", "sample_id"]).any():
        sample = rows.loc[rows.duplicated(["outer_fold", "sample_id"]), "sample_id"].iloc[0]
        raise DataError(
            f"predictions column 'sample_id' repeats {sample!r} within one cell of split {split!r}"
        )
    if not rows["sample_id"].duplicated().any():
        return _scoped(rows, names, probability_columns)
    if split == OOF_SPLIT:
        sample = rows.loc[rows["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise DataError(
            f"predictions column 'sample_id' has {sample!r} in several outer folds of split '{OOF_SPLIT}'; "
            "out-of-fold predictions must hold each image once"
        )
    # A fixed row order fixes the summation order of the mean, so results do not depend
    # on how the input table was ordered.
    rows = rows.sort_values(["sample_id", "outer_fold"], kind="mergesort")
    per_sample = rows.groupby("sample_id", sort=True)
    if (per_sample["y_true"].nunique() > 1).any() or (per_sample["patient_id"].nunique() > 1).any():
        raise DataError(
            f"predictions columns 'y_true'/'patient_id' disagree between folds for one sample of split {split!r}"
        )
    proba = per_sample[probability_columns].mean().to_numpy(dtype=np.float64)
    first = per_sample[["y_true", "patient_id"]].first()
    return _Scoped(
        y_true=_codes(first["y_true"], names),
        y_pred=proba.argmax(axis=1).astype(np.int64),
        proba=proba,
        patient_ids=first["patient_id"].astype(str).to_numpy(),
    )


def _metric_rows(
    data: _Scoped,
    names: list[str],
    *,
    n_bootstrap: int,
    rng: np.random.Generator | None,
    confidence: float,
) -> list[tuple[str, str, float, float, float, str]]:
    """Rows (metric, class_name, value, ci_low, ci_high, ci_method) in table order;
    bootstrap intervals only when ``rng`` is given and ``n_bootstrap > 0``."""
    evaluator = MetricEvaluator(data.y_true, data.y_pred, data.proba)
    bootstrap = None
    if rng is not None and n_bootstrap > 0:
        bootstrap = _bootstrap_replicates(evaluator, data.patient_ids, n_bootstrap, rng)
    point = _with_macros(evaluator(np.ones((1, evaluator.n_images))))

    # Counts for Wilson intervals, from the unweighted confusion matrix.
    k = evaluator.n_classes
    confusion = np.zeros((k, k))
    np.add.at(confusion, (data.y_true, data.y_pred), 1.0)
    total = confusion.sum()
    tp = np.diag(confusion)
    actual, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    tn = total - actual - predicted + tp
    wilson_counts = {
        "sensitivity": (tp, actual),
        "specificity": (tn, total - actual),
        "ppv": (tp, predicted),
        "npv": (tn, total - predicted),
    }

    intervals: dict[str, tuple[FloatArray, FloatArray]] = {}
    if bootstrap is not None:
        for name, samples in _with_macros(bootstrap).items():
            intervals[name] = _percentile_interval(samples, confidence)

    def bootstrapped(key: str, index: int | None) -> tuple[float, float, str]:
        if key not in intervals:
            return np.nan, np.nan, "none"
        low, high = intervals[key]
        if index is None:
            return float(low), float(high), "bootstrap"
        return float(low[index]), float(high[index]), "bootstrap"

    rows: list[tuple[str, str, float, float, float, str]] = []
    for metric in METRICS:
        if metric in CLASS_METRICS:
            rows.append(
                (metric, "macro", float(point[f"macro_{metric}"][0]), *bootstrapped(f"macro_{metric}", None))
            )
            if metric in _WILSON_CLASS_METRICS:
                low, high = wilson_interval(*wilson_counts[metric], confidence=confidence)
            for index, name in enumerate(names):
                value = float(point[metric][0, index])
                if metric in _WILSON_CLASS_METRICS:
                    rows.append((metric, name, value, float(low[index]), float(high[index]), "wilson"))
                else:
                    rows.append((metric, name, value, *bootstrapped(metric, index)))
        elif metric == "accuracy":
            low, high = wilson_interval(tp.sum(), total, confidence=confidence)
            rows.append((metric, "overall", float(point[metric][0]), float(low), float(high), "wilson"))
        else:
            rows.append((metric, "overall", float(point[metric][0]), *bootstrapped(metric, None)))
    # An undefined value (e.g. sensitivity of an absent class) has no interval either.
    return [
        (m, c, v, np.nan, np.nan, "none") if np.isnan(v) else (m, c, v, lo, hi, method)
        for m, c, v, lo, hi, method in rows
    ]


def compute_metrics(
    predictions: pd.DataFrame,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Metrics table of a predictions table, pooled and per outer fold.

    For every configuration (method, backbone, augment, imbalance) and split, one
    ``'pooled'`` block pools all outer folds (out-of-fold predictions hold each image
    once; on an external split, where each fold model predicts every image, the pooled
    prediction is the fold models' soft-vote ensemble) and carries intervals: Wilson
    for accuracy and per-class sensitivity/specificity/PPV/NPV, patient-level
    percentile bootstrap for the rest. One ``'fold'`` block per outer fold carries the
    Wilson intervals only (``ci_method == 'none'`` elsewhere) to stay fast.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Table in the predictions contract (see ``DESIGN.md``).
    n_bootstrap : int, default=1000
        Patient resamples per pooled block; 0 skips the bootstrap.
    seed : int, default=0
        Seed of the bootstrap. Each block derives its own stream from the seed and its
        key, so a block's intervals do not depend on which other blocks are present.
    confidence : float, default=0.95
        Coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`METRIC_TABLE_COLUMNS`; ``outer_fold`` is -1 on pooled rows.
        Rows are ordered by configuration, split (``'test'`` first), scope (pooled
        first), outer fold, metric (:data:`METRICS` order) and class (``'overall'`` or
        ``'macro'`` first, then the classes in ``p_`` column order). Deterministic given
        the input and the seed.

    Raises
    ------
    DataError
        If a required column is missing or malformed.
    ConfigError
        If ``n_bootstrap``, ``seed`` or ``confidence`` is out of range.

    Examples
    --------
    >>> table = compute_metrics(predictions, n_bootstrap=200)  # doctest: +SKIP
    >>> table.query("scope == 'pooled' and metric == 'auroc' and class_name == 'macro'")  # doctest: +SKIP
    """
    _check_n_bootstrap(n_bootstrap, minimum=0)
    _rng(seed)
    _check_confidence(confidence)
    frame, names = validate_predictions(predictions)
    probability_columns = [PROBABILITY_PREFIX + name for name in names]

    records: list[tuple[Any, ...]] = []
    for key in _group_keys(frame):
        mask = np.ones(len(frame), dtype=bool)
        for column, value in zip((*CONFIGURATION_COLUMNS, "split"), key, strict=True):
            mask &= (frame[column] == value).to_numpy()
        rows = frame.loc[mask]
        split = str(key[-1])

        pooled = _pooled(rows, split, names, probability_columns)
        rng = _keyed_rng(seed, (*key, "pooled"))
        size = (len(pooled.y_true), len(np.unique(pooled.patient_ids)))
        for row in _metric_rows(pooled, names, n_bootstrap=n_bootstrap, rng=rng, confidence=confidence):
            records.append((*key, "pooled", -1, *row, *size))

        for fold in sorted(rows["outer_fold"].unique()):
            fold_data = _scoped(rows.loc[rows["outer_fold"] == fold], names, probability_columns)
            size = (len(fold_data.y_true), len(np.unique(fold_data.patient_ids)))
            for row in _metric_rows(fold_data, names, n_bootstrap=0, rng=None, confidence=confidence):
                records.append((*key, "fold", int(fold), *row, *size))

    table = pd.DataFrame.from_records(records, columns=list(METRIC_TABLE_COLUMNS))
    return table.astype(
        {
            "outer_fold": np.int64,
            "value": np.float64,
            "ci_low": np.float64,
            "ci_high": np.float64,
            "n_images": np.int64,
            "n_patients": np.int64,
        }
    )


def summarize_folds(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of each metric across outer folds.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`compute_metrics`; only ``scope == 'fold'`` rows are used.

    Returns
    -------
    pandas.DataFrame
        Columns method, backbone, augment, imbalance, split, metric, class_name, mean,
        sd (sample standard deviation, ddof=1; NaN with one fold) and n_folds (folds with
        a defined value), in the row order of ``metrics``.
    """
    if not isinstance(metrics, pd.DataFrame):
        raise DataError(f"metrics must be a pandas DataFrame, got {type(metrics).__name__}")
    for column in (*_SUMMARY_KEYS, "scope", "value"):
        if column not in metrics.columns:
            raise DataError(f"metrics table lacks the column '{column}'; pass the output of compute_metrics")
    folds = metrics.loc[metrics["scope"] == "fold"]
    grouped = folds.groupby(list(_SUMMARY_KEYS), sort=False, dropna=False)["value"]
    summary = grouped.agg(mean="mean", sd="std", n_folds="count").reset_index()
    return summary.astype({"mean": np.float64, "sd": np.float64, "n_folds": np.int64})
