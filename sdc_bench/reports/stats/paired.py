"""Paired tests of two classifiers on the same images, and Holm's correction within a test family.

Exact McNemar on pooled out-of-fold predictions, the Nadeau-Bengio corrected resampled t-test on
per-fold scores, a patient-level paired bootstrap (macro AUROC, balanced accuracy, accuracy; its
replicates can take training-seed variance as well, :class:`PairedReplicates`), and Holm's step-down
adjustment. Maintained implementations (statsmodels, SciPy) do the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.reports.metrics import MetricEvaluator, macro_average, patient_resample_weights
from sdc_bench.reports.stats._checks import check_positive_int, check_probability, check_seed, same_length

__all__ = [
    "PAIRED_METRICS",
    "PairedReplicates",
    "TestResult",
    "corrected_resampled_ttest",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_bootstrap_auroc",
    "paired_replicates",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TestResult:
    """Outcome of one paired test.

    Attributes
    ----------
    test : str
        Name of the test (``'mcnemar_exact'``, ``'corrected_resampled_ttest'``,
        ``'paired_bootstrap'``).
    statistic : float
        Test statistic (NaN where the test has none, e.g. the bootstrap).
    p_value : float
        Two-sided p-value.
    estimate : float
        Effect estimate, always ``a - b`` (first argument minus second).
    ci_low, ci_high : float
        Interval of the estimate (NaN where the test gives none).
    df : float
        Degrees of freedom, for t-tests; NaN otherwise.
    n01, n10 : int or None
        McNemar discordant counts: ``n01`` images A gets right and B wrong, ``n10``
        images B gets right and A wrong; None for other tests.
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p_value: float
    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    df: float = math.nan
    n01: int | None = None
    n10: int | None = None


def mcnemar_exact(y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike) -> TestResult:
    """Exact McNemar test of two classifiers on the same images.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like, shape (n_images,)
        True labels and the two classifiers' predictions (any comparable labels).

    Returns
    -------
    TestResult
        ``statistic = min(n01, n10)``, the two-sided exact binomial p-value of the
        discordant pairs (statsmodels ``mcnemar(exact=True)``), ``estimate`` the
        accuracy difference A - B, and ``n01``/``n10``.

    Examples
    --------
    >>> result = mcnemar_exact([0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 0, 1, 0])
    >>> result.n01, result.n10, round(result.p_value, 3)
    (2, 0, 0.5)
    """
    truth, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    n_images = same_length(y_true=truth, pred_a=a, pred_b=b)
    if n_images == 0:
        raise DataError("mcnemar_exact needs at least one image")
    correct_a, correct_b = a == truth, b == truth
    n11 = int(np.sum(correct_a & correct_b))
    n01 = int(np.sum(correct_a & ~correct_b))
    n10 = int(np.sum(~correct_a & correct_b))
    n00 = int(np.sum(~correct_a & ~correct_b))
    result = mcnemar([[n11, n01], [n10, n00]], exact=True)
    return TestResult(
        test="mcnemar_exact",
        statistic=float(result.statistic),
        p_value=float(min(1.0, result.pvalue)),
        estimate=(n01 - n10) / n_images,
        n01=n01,
        n10=n10,
    )


def corrected_resampled_ttest(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    n_train: float | ArrayLike,
    n_test: float | ArrayLike,
    *,
    confidence: float = 0.95,
) -> TestResult:
    """Corrected resampled t-test of paired per-fold scores (Nadeau & Bengio 2003).

    With differences ``d_j = a_j - b_j`` over ``k`` folds, sample variance ``s^2``
    (ddof=1) and ``rho = n_test / n_train``, the statistic is
    ``t = mean(d) / sqrt(s^2 (1/k + rho))`` on ``k - 1`` degrees of freedom, as in
    Bouckaert & Frank (2004). The ``rho`` term accounts for the overlap of training sets
    between folds, which makes the plain paired t-test far too liberal.

    Parameters
    ----------
    scores_a, scores_b : array-like of float, shape (k,)
        Per-fold scores of the two methods on the same folds, ``k >= 2``.
    n_train, n_test : float or array-like of shape (k,)
        Training and test set sizes; with per-fold sizes, ``rho`` is the mean of the
        per-fold ratios.
    confidence : float, default=0.95
        Coverage of the interval of the mean difference.

    Returns
    -------
    TestResult
        ``statistic`` t, two-sided ``p_value``, ``estimate`` mean difference, its
        t interval, and ``df``. All-zero differences give t = 0 and p = 1; constant
        non-zero differences give t = +-inf and p = 0.
    """
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    k = same_length(scores_a=a, scores_b=b)
    if k < 2:
        raise DataError(f"corrected_resampled_ttest needs scores of at least 2 folds, got {k}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("corrected_resampled_ttest scores must be finite numbers")
    train = np.asarray(n_train, dtype=np.float64)
    test = np.asarray(n_test, dtype=np.float64)
    if np.any(train <= 0) or np.any(test <= 0):
        raise ConfigError("n_train and n_test must be positive")
    confidence = check_probability("confidence", confidence)
    rho = float(np.mean(np.broadcast_to(test / train, (k,))))
    difference = a - b
    mean = float(difference.mean())
    variance = float(difference.var(ddof=1)) * (1.0 / k + rho)
    df = k - 1
    if variance == 0.0:
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p_value = 1.0 if mean == 0.0 else 0.0
        return TestResult("corrected_resampled_ttest", statistic, p_value, mean, mean, mean, float(df))
    se = math.sqrt(variance)
    statistic = mean / se
    p_value = float(2.0 * scipy_stats.t.sf(abs(statistic), df))
    margin = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, df)) * se
    return TestResult(
        test="corrected_resampled_ttest",
        statistic=statistic,
        p_value=p_value,
        estimate=mean,
        ci_low=mean - margin,
        ci_high=mean + margin,
        df=float(df),
    )


def _bootstrap_p_value(differences: FloatArray) -> float:
    """Two-sided p-value by inverting the percentile interval of a difference:
    twice the smaller share of resamples on either side of 0, with a +1 correction
    so that it is never 0."""
    valid = differences[~np.isnan(differences)]
    if valid.size == 0:
        return math.nan
    below = (1.0 + np.sum(valid <= 0.0)) / (valid.size + 1.0)
    above = (1.0 + np.sum(valid >= 0.0)) / (valid.size + 1.0)
    return float(min(1.0, 2.0 * min(below, above)))


def _interval(differences: FloatArray, confidence: float) -> tuple[float, float]:
    valid = differences[~np.isnan(differences)]
    if valid.size == 0:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(valid, [tail, 1.0 - tail])
    return float(low), float(high)


PAIRED_METRICS = ("auroc", "balanced_accuracy", "accuracy")


@dataclass(frozen=True)
class PairedReplicates:
    """A paired bootstrap's point estimate of ``A - B`` and its replicates, before they are summarised.

    Kept apart from the summary so that one set of resamples gives both the interval that holds the two
    trained models fixed and the one that adds training-seed variance (:meth:`result`).

    Attributes
    ----------
    estimate : float
        ``A - B`` on all images.
    differences : ndarray of float, shape (n_bootstrap,)
        ``A - B`` on each patient resample (NaN where a resample left the metric undefined).
    """

    estimate: float
    differences: FloatArray

    def result(
        self,
        confidence: float,
        *,
        seed_sd: float = 0.0,
        seed_df: float = math.inf,
        rng: np.random.Generator | None = None,
    ) -> TestResult:
        """Percentile interval and the p-value that inverts it, optionally with training-seed variance.

        Parameters
        ----------
        confidence : float
            Coverage of the percentile interval.
        seed_sd : float, default=0.0
            SD that training with other seeds adds to the difference (e.g. ``sigma * sqrt(2)`` for two
            single-seed runs whose seed-to-seed SD is ``sigma``). When positive, each replicate gets an
            independent ``Normal(0, seed_sd**2)`` draw, so the interval covers the two sources of
            variation a recipe's difference has, patients and training seeds, assumed independent
            (Bouthillier et al., "Accounting for variance in machine learning benchmarks", MLSys 2021).
            0 holds the two trained models fixed: only patients vary.
        seed_df : float, default=inf
            Degrees of freedom of ``seed_sd`` when it is estimated from a few runs (K runs: K - 1). The
            draws are then ``seed_sd`` times Student's t with ``seed_df`` degrees of freedom, the predictive
            spread of a difference whose SD is itself uncertain; ``inf`` draws from the normal.
        rng : numpy.random.Generator, optional
            Source of the seed draws; required when ``seed_sd > 0``.

        Returns
        -------
        TestResult
            ``test`` is ``'paired_bootstrap'``, or ``'paired_bootstrap+seed_variance'`` when ``seed_sd > 0``.
        """
        differences, test = self.differences, "paired_bootstrap"
        if math.isfinite(seed_sd) and seed_sd > 0.0:
            if rng is None:
                raise ConfigError("PairedReplicates.result: seed_sd > 0 needs an rng for the seed draws")
            if seed_df < 1:
                raise ConfigError(f"PairedReplicates.result: seed_df must be >= 1, got {seed_df}")
            noise = (
                rng.standard_t(seed_df, differences.shape)
                if math.isfinite(seed_df)
                else rng.standard_normal(differences.shape)
            )
            differences = differences + seed_sd * noise
            test = "paired_bootstrap+seed_variance"
        low, high = _interval(differences, confidence)
        return TestResult(
            test=test,
            statistic=math.nan,
            p_value=_bootstrap_p_value(differences),
            estimate=self.estimate,
            ci_low=low,
            ci_high=high,
        )


def paired_replicates(
    y_true: NDArray[np.int64],
    a: tuple[NDArray[np.int64], FloatArray],
    b: tuple[NDArray[np.int64], FloatArray],
    patient_ids: NDArray[Any],
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, PairedReplicates]:
    """Paired patient-level bootstrap replicates of A - B for macro AUROC, balanced accuracy and
    accuracy (:data:`PAIRED_METRICS`); both methods see the same resamples."""
    evaluator_a = MetricEvaluator(y_true, *a)
    evaluator_b = MetricEvaluator(y_true, *b)

    def summary(values: dict[str, FloatArray]) -> dict[str, FloatArray]:
        return {
            "auroc": macro_average(values["auroc"], axis=1),
            "balanced_accuracy": values["balanced_accuracy"],
            "accuracy": values["accuracy"],
        }

    ones = np.ones((1, evaluator_a.n_images))
    point_a = summary(evaluator_a(ones, PAIRED_METRICS))
    point_b = summary(evaluator_b(ones, PAIRED_METRICS))
    blocks: dict[str, list[FloatArray]] = {name: [] for name in PAIRED_METRICS}
    for weights in patient_resample_weights(patient_ids, n_bootstrap, rng):
        # only the three metrics compared: the others (AUPRC, calibration, ...) would cost as much again
        block_a = summary(evaluator_a(weights, PAIRED_METRICS))
        block_b = summary(evaluator_b(weights, PAIRED_METRICS))
        for name in PAIRED_METRICS:
            blocks[name].append(block_a[name] - block_b[name])
    return {
        name: PairedReplicates(float(point_a[name][0] - point_b[name][0]), np.concatenate(blocks[name]))
        for name in PAIRED_METRICS
    }


def paired_bootstrap(
    y_true: NDArray[np.int64],
    a: tuple[NDArray[np.int64], FloatArray],
    b: tuple[NDArray[np.int64], FloatArray],
    patient_ids: NDArray[Any],
    n_bootstrap: int,
    rng: np.random.Generator,
    confidence: float,
) -> dict[str, TestResult]:
    """Paired patient-level bootstrap of A - B for macro AUROC, balanced accuracy and
    accuracy; both methods see the same resamples and the two models are held fixed."""
    replicates = paired_replicates(y_true, a, b, patient_ids, n_bootstrap, rng)
    return {name: replicates[name].result(confidence) for name in PAIRED_METRICS}


def paired_bootstrap_auroc(
    y_true: ArrayLike,
    proba_a: ArrayLike,
    proba_b: ArrayLike,
    patient_ids: ArrayLike,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> TestResult:
    """Paired patient-level bootstrap of the difference in macro one-vs-rest AUROC.

    Patients are drawn with replacement (all their images come along) and both
    probability sets are scored on the same resample.

    Parameters
    ----------
    y_true : array-like of int, shape (n_images,)
        True class codes in ``[0, n_classes)``.
    proba_a, proba_b : array-like of float, shape (n_images, n_classes)
        The two methods' probabilities for the same images.
    patient_ids : array-like, shape (n_images,)
        Patient of each image.
    n_bootstrap : int, default=1000
        Number of resamples.
    seed : int, default=0
        Seed of the resampling.
    confidence : float, default=0.95
        Coverage of the percentile interval.

    Returns
    -------
    TestResult
        ``estimate`` macro AUROC of A minus that of B, percentile interval, and the
        two-sided p-value ``min(1, 2 min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1)))``
        that inverts the percentile interval; ``statistic`` is NaN.
    """
    n_bootstrap = check_positive_int("n_bootstrap", n_bootstrap)
    confidence = check_probability("confidence", confidence)
    truth = np.asarray(y_true)
    a = np.asarray(proba_a, dtype=np.float64)
    b = np.asarray(proba_b, dtype=np.float64)
    patients = np.asarray(patient_ids)
    same_length(y_true=truth, proba_a=a, proba_b=b, patient_ids=patients)
    if a.shape != b.shape:
        raise DataError(f"proba_a and proba_b must have the same shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(check_seed(seed))
    # Predictions do not enter AUROC; argmax keeps the evaluator's inputs valid.
    results = paired_bootstrap(
        truth, (a.argmax(axis=1), a), (b.argmax(axis=1), b), patients, n_bootstrap, rng, confidence
    )
    return results["auroc"]


def holm(p_values: ArrayLike) -> FloatArray:
    """Holm step-down adjusted p-values.

    The arithmetic of statsmodels' ``multipletests(method="holm")`` (sorted p-values times
    ``m, m-1, ..., 1``, a running maximum, capped at 1), written out because that function calls
    ``gc.collect()`` on every call: tens of milliseconds each in a report's full heap, seconds over
    a full suite's test families. A test checks the two agree.

    Parameters
    ----------
    p_values : array-like of float
        Raw p-values of one test family; NaN entries are left out of the family and
        stay NaN.

    Returns
    -------
    ndarray of float
        Adjusted p-values in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    defined = ~np.isnan(p)
    if np.any((p[defined] < 0.0) | (p[defined] > 1.0)):
        raise DataError("p_values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    if defined.any():
        family = p[defined]
        order = np.argsort(family)
        stepped = np.maximum.accumulate(family[order] * np.arange(family.size, 0, -1))
        corrected = np.empty_like(family)
        corrected[order] = np.minimum(stepped, 1.0)
        adjusted[defined] = corrected
    return adjusted
