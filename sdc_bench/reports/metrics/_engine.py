"""The array-level engine behind :mod:`sdc_bench.reports.metrics` (private to that package).

Its one job: every registered metric (:data:`~sdc_bench.core.metric_specs.METRICS`) of one set of
predictions (class codes and probabilities as arrays), under any number of image weightings at once,
plus the interval machinery that uses it: Wilson intervals, patient-level bootstrap resamples and
percentile intervals. The metric definitions and interval methods are documented in
:mod:`sdc_bench.reports.metrics`, the public face; :mod:`sdc_bench.reports.stats` reuses the same
evaluator and resampling (through that face) for its paired comparisons.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.proportion import proportion_confint

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.metric_specs import (
    CLASS_METRICS,
    ECE_BINS,
    METRICS,
    OVERALL_METRICS,
    MetricInputs,
    ScoredImages,
    macro_average,
)

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
    extra : mapping of str to float or ndarray
        Metrics registered beyond these (:func:`~sdc_bench.core.metric_specs.register_metric`),
        also readable as attributes.
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
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} has no metric {name!r}")

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
        return float(macro_average(np.asarray(getattr(self, metric))[None, :], axis=1)[0])

    @classmethod
    def _from_replicates(cls, values: dict[str, FloatArray], index: int) -> ClassificationMetrics:
        point: dict[str, Any] = {}
        for name in OVERALL_METRICS:
            point[name] = float(values[name][index])
        for name in CLASS_METRICS:
            point[name] = np.asarray(values[name][index], dtype=np.float64)
        own = {f.name for f in cls.__dataclass_fields__.values()}
        return cls(
            **{k: v for k, v in point.items() if k in own},
            extra={k: v for k, v in point.items() if k not in own},
        )


# --------------------------------------------------------------------------- numerics


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
        self._images = ScoredImages.from_codes(true_codes, pred_codes, probabilities)
        self.n_images = self._images.n_images
        self.n_classes = self._images.n_classes

    def inputs(self, weights: ArrayLike) -> MetricInputs:
        """The :class:`~sdc_bench.core.metric_specs.MetricInputs` of each row of ``weights``."""
        w = np.ascontiguousarray(np.atleast_2d(np.asarray(weights, dtype=np.float64)))
        if w.shape[1] != self.n_images:
            raise ValueError(f"weights have {w.shape[1]} columns for {self.n_images} images")
        return MetricInputs.weighted(self._images, w)

    def __call__(self, weights: ArrayLike, metrics: Sequence[str] | None = None) -> dict[str, FloatArray]:
        """Evaluate every registered metric (or those named) under each row of ``weights``.

        Parameters
        ----------
        weights : array-like of float, shape (n_weightings, n_images)
            Non-negative image weights.
        metrics : sequence of str, optional
            Names of registered metrics to evaluate; by default all of them. A caller that needs a few
            (the paired bootstrap) saves the cost of the others.

        Returns
        -------
        dict of str to ndarray
            Overall metrics map to arrays of shape ``(n_weightings,)``, per-class metrics
            to ``(n_weightings, n_classes)``.
        """
        inputs = self.inputs(weights)
        names = list(METRICS) if metrics is None else list(metrics)
        return {name: METRICS[name].evaluate(inputs) for name in names}


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
        # np.take keeps the rows contiguous (``counts[:, codes]`` would be column-major), and every
        # metric gathers columns of these rows: about 8x faster than from a column-major block.
        yield np.take(counts, patient_codes, axis=1).astype(np.float64)
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
        out[f"macro_{name}"] = macro_average(values[name], axis=1)
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
