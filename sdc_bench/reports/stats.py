"""Statistical comparisons of methods, computed only from the predictions table.

The one job of this module is to say whether one configuration is better than another
and by how much: paired tests (exact McNemar on pooled out-of-fold predictions, the
Nadeau-Bengio corrected resampled t-test on per-fold scores, a patient-level paired
bootstrap), Holm's step-down correction within each test family, and the Friedman test
with Nemenyi post-hoc comparisons for many methods over many blocks (Demšar 2006).
Maintained implementations (statsmodels, SciPy) do the arithmetic wherever they exist.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.reports._metric_engine import MetricEvaluator, keyed_rng, patient_resample_weights
from sdc_bench.reports.metrics import (
    CONFIGURATION_COLUMNS,
    OOF_SPLIT,
    PROBABILITY_PREFIX,
    validate_predictions,
)

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

FloatArray = NDArray[np.float64]

#: Columns of the table :func:`compare_to_reference` returns, in order.
COMPARISON_COLUMNS: tuple[str, ...] = (
    *CONFIGURATION_COLUMNS,
    "reference",
    "test",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "statistic",
    "p_value",
    "p_holm",
    "significant",
)


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


@dataclass(frozen=True, eq=False)
class FriedmanResult:
    """Friedman test with Nemenyi post-hoc comparisons (Demšar 2006).

    Attributes
    ----------
    statistic, p_value : float
        Friedman chi-square statistic and its p-value (SciPy).
    iman_davenport, iman_davenport_p_value : float
        Iman-Davenport F statistic ``(N-1) chi2 / (N(k-1) - chi2)`` with
        ``(k-1, (k-1)(N-1))`` degrees of freedom, the less conservative variant Demšar
        recommends.
    average_ranks : pandas.Series
        Average rank of each method (1 = best), indexed by method.
    q_alpha : float
        Studentized range quantile ``q(1-alpha; k, inf) / sqrt(2)``.
    critical_difference : float
        Nemenyi critical difference ``q_alpha * sqrt(k(k+1) / (6N))``.
    pairwise_p_values : pandas.DataFrame
        Nemenyi p-values of every pair of methods (1 on the diagonal).
    alpha : float
        Level of the critical difference.
    n_blocks, n_methods : int
        ``N`` and ``k``.
    """

    statistic: float
    p_value: float
    iman_davenport: float
    iman_davenport_p_value: float
    average_ranks: pd.Series
    q_alpha: float
    critical_difference: float
    pairwise_p_values: pd.DataFrame
    alpha: float
    n_blocks: int
    n_methods: int


# --------------------------------------------------------------------------- checks


def _check_probability(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not 0.0 < float(value) < 1.0
    ):
        raise ConfigError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _same_length(**arrays: NDArray[Any]) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        described = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise DataError(f"paired inputs must have equal lengths, got {described}")
    return next(iter(lengths.values()))


# --------------------------------------------------------------------------- paired tests


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
    n_images = _same_length(y_true=truth, pred_a=a, pred_b=b)
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
    k = _same_length(scores_a=a, scores_b=b)
    if k < 2:
        raise DataError(f"corrected_resampled_ttest needs scores of at least 2 folds, got {k}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("corrected_resampled_ttest scores must be finite numbers")
    train = np.asarray(n_train, dtype=np.float64)
    test = np.asarray(n_test, dtype=np.float64)
    if np.any(train <= 0) or np.any(test <= 0):
        raise ConfigError("n_train and n_test must be positive")
    confidence = _check_probability("confidence", confidence)
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


def _macro(values: FloatArray) -> FloatArray:
    defined = ~np.isnan(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


_PAIRED_METRICS = ("auroc", "balanced_accuracy", "accuracy")


def _paired_bootstrap(
    y_true: NDArray[np.int64],
    a: tuple[NDArray[np.int64], FloatArray],
    b: tuple[NDArray[np.int64], FloatArray],
    patient_ids: NDArray[Any],
    n_bootstrap: int,
    rng: np.random.Generator,
    confidence: float,
) -> dict[str, TestResult]:
    """Paired patient-level bootstrap of A - B for macro AUROC, balanced accuracy and
    accuracy; both methods see the same resamples."""
    evaluator_a = MetricEvaluator(y_true, *a)
    evaluator_b = MetricEvaluator(y_true, *b)

    def summary(values: dict[str, FloatArray]) -> dict[str, FloatArray]:
        return {
            "auroc": _macro(values["auroc"]),
            "balanced_accuracy": values["balanced_accuracy"],
            "accuracy": values["accuracy"],
        }

    ones = np.ones((1, evaluator_a.n_images))
    point_a, point_b = summary(evaluator_a(ones)), summary(evaluator_b(ones))
    blocks: dict[str, list[FloatArray]] = {name: [] for name in _PAIRED_METRICS}
    for weights in patient_resample_weights(patient_ids, n_bootstrap, rng):
        block_a, block_b = summary(evaluator_a(weights)), summary(evaluator_b(weights))
        for name in _PAIRED_METRICS:
            blocks[name].append(block_a[name] - block_b[name])
    results = {}
    for name in _PAIRED_METRICS:
        differences = np.concatenate(blocks[name])
        low, high = _interval(differences, confidence)
        results[name] = TestResult(
            test="paired_bootstrap",
            statistic=math.nan,
            p_value=_bootstrap_p_value(differences),
            estimate=float(point_a[name][0] - point_b[name][0]),
            ci_low=low,
            ci_high=high,
        )
    return results


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
    n_bootstrap = _check_positive_int("n_bootstrap", n_bootstrap)
    confidence = _check_probability("confidence", confidence)
    truth = np.asarray(y_true)
    a = np.asarray(proba_a, dtype=np.float64)
    b = np.asarray(proba_b, dtype=np.float64)
    patients = np.asarray(patient_ids)
    _same_length(y_true=truth, proba_a=a, proba_b=b, patient_ids=patients)
    if a.shape != b.shape:
        raise DataError(f"proba_a and proba_b must have the same shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(_check_seed(seed))
    # Predictions do not enter AUROC; argmax keeps the evaluator's inputs valid.
    results = _paired_bootstrap(
        truth, (a.argmax(axis=1), a), (b.argmax(axis=1), b), patients, n_bootstrap, rng, confidence
    )
    return results["auroc"]


def holm(p_values: ArrayLike) -> FloatArray:
    """Holm step-down adjusted p-values (statsmodels ``multipletests``).

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
        adjusted[defined] = multipletests(p[defined], method="holm")[1]
    return adjusted


# --------------------------------------------------------------------------- many methods


def friedman_nemenyi(
    score_table: pd.DataFrame,
    *,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> FriedmanResult:
    """Friedman test over blocks with Nemenyi post-hoc comparisons (Demšar 2006).

    Parameters
    ----------
    score_table : pandas.DataFrame
        One row per block (fold or dataset), one column per method, no missing values;
        at least 2 rows and 3 columns.
    alpha : float, default=0.05
        Level of the critical difference.
    higher_is_better : bool, default=True
        Rank 1 goes to the highest score (set False for losses such as Brier).

    Returns
    -------
    FriedmanResult
        Friedman statistic and p-value (``scipy.stats.friedmanchisquare``), average
        ranks, the Nemenyi critical difference and pairwise p-values
        ``P(q > |R_i - R_j| / sqrt(k(k+1)/(6N)) * sqrt(2))`` under the studentized range
        distribution with infinite degrees of freedom.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"a": [0.9, 0.8, 0.85, 0.9], "b": [0.7, 0.75, 0.8, 0.7],
    ...                       "c": [0.6, 0.65, 0.7, 0.6]})
    >>> result = friedman_nemenyi(table)
    >>> result.average_ranks.tolist()
    [1.0, 2.0, 3.0]
    """
    if not isinstance(score_table, pd.DataFrame):
        raise DataError(f"score_table must be a pandas DataFrame, got {type(score_table).__name__}")
    alpha = _check_probability("alpha", alpha)
    n_blocks, n_methods = score_table.shape
    if n_methods < 3:
        raise DataError(f"score_table needs at least 3 method columns for a Friedman test, got {n_methods}")
    if n_blocks < 2:
        raise DataError(f"score_table needs at least 2 block rows for a Friedman test, got {n_blocks}")
    if score_table.columns.duplicated().any():
        raise DataError("score_table has duplicated method columns")
    for column in score_table.columns:
        if not pd.api.types.is_numeric_dtype(score_table[column]):
            raise DataError(f"score_table column {column!r} must be numeric")
    scores = score_table.to_numpy(dtype=np.float64)
    if not np.isfinite(scores).all():
        column = score_table.columns[np.flatnonzero(~np.isfinite(scores).all(axis=0))[0]]
        raise DataError(f"score_table column {column!r} has missing or non-finite scores")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-tied blocks give a 0/0 statistic
        friedman = scipy_stats.friedmanchisquare(*scores.T)
    statistic, p_value = float(friedman.statistic), float(friedman.pvalue)

    ranks = scipy_stats.rankdata(-scores if higher_is_better else scores, axis=1)
    average_ranks = pd.Series(ranks.mean(axis=0), index=score_table.columns, name="average_rank")

    k, n = n_methods, n_blocks
    denominator = n * (k - 1) - statistic
    if np.isfinite(statistic) and denominator > 0:
        iman_davenport = (n - 1) * statistic / denominator
        iman_davenport_p = float(scipy_stats.f.sf(iman_davenport, k - 1, (k - 1) * (n - 1)))
    else:
        iman_davenport, iman_davenport_p = math.nan, math.nan

    q_alpha = float(scipy_stats.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)
    standard_error = math.sqrt(k * (k + 1) / (6.0 * n))
    critical_difference = q_alpha * standard_error
    rank_gaps = np.abs(average_ranks.to_numpy()[:, None] - average_ranks.to_numpy()[None, :])
    pairwise = scipy_stats.studentized_range.sf(rank_gaps / standard_error * math.sqrt(2.0), k, np.inf)
    pairwise = np.clip(np.asarray(pairwise, dtype=np.float64), 0.0, 1.0)
    np.fill_diagonal(pairwise, 1.0)

    return FriedmanResult(
        statistic=statistic,
        p_value=p_value,
        iman_davenport=float(iman_davenport),
        iman_davenport_p_value=iman_davenport_p,
        average_ranks=average_ranks,
        q_alpha=q_alpha,
        critical_difference=critical_difference,
        pairwise_p_values=pd.DataFrame(pairwise, index=score_table.columns, columns=score_table.columns),
        alpha=alpha,
        n_blocks=n,
        n_methods=k,
    )


# --------------------------------------------------------------------------- predictions table


def _configuration_label(configuration: Sequence[Any]) -> str:
    return "/".join(str(part) for part in configuration)


_PAIR_KEYS = ["seed", "outer_fold", "sample_id"]


def _aligned(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(_PAIR_KEYS, kind="mergesort").reset_index(drop=True)


def compare_to_reference(
    predictions: pd.DataFrame,
    reference_method: str,
    *,
    reference_config: Mapping[str, str] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired comparisons of every configuration against a reference configuration.

    Uses the out-of-fold rows (``split == 'test'``). Each other configuration with
    exactly the same (seed, outer_fold, sample_id) rows is compared with the reference
    by

    - ``mcnemar_exact`` / ``accuracy``: exact McNemar on the pooled out-of-fold
      predictions (images aligned by protocol seed and ``sample_id``);
    - ``corrected_resampled_ttest`` / ``balanced_accuracy``: Nadeau-Bengio test on
      per-fold balanced accuracy, ``n_test`` = images in the fold,
      ``n_train`` = the repetition's images minus ``n_test``; with several protocol
      seeds the r x k (seed, fold) scores are the resamples, which is what the
      correction is for;
    - ``paired_bootstrap`` / ``auroc``, ``balanced_accuracy``, ``accuracy``: paired
      patient-level bootstrap of the pooled macro AUROC, balanced accuracy and
      accuracy (effect sizes with percentile intervals), over the stacked repetitions
      (a drawn patient brings its images of every seed).

    Holm's correction runs within each (test, metric) family over all comparisons.
    Configurations whose rows differ from the reference's are skipped with a warning.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Table in the predictions contract.
    reference_method : str
        Method of the reference configuration (the run's proposed method).
    reference_config : mapping, optional
        Values of ``backbone``/``augment``/``imbalance`` that single out the reference
        when the method has several configurations.
    n_bootstrap : int, default=1000
        Patient resamples per comparison.
    seed : int, default=0
        Seed; each comparison derives its own stream from it and the configuration.
    confidence : float, default=0.95
        Coverage of the intervals.
    alpha : float, default=0.05
        Level for the ``significant`` column (Holm-adjusted p-value below it).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`; ``estimate`` is reference minus other, so a
        positive estimate favours the reference. ``reference`` names the reference
        configuration as ``method/backbone/augment/imbalance``.

    Raises
    ------
    ConfigError
        If the reference is missing or ambiguous, or a parameter is out of range.
    DataError
        If the table is malformed or a compared configuration disagrees with the
        reference on ``y_true`` or ``patient_id``.
    """
    n_bootstrap = _check_positive_int("n_bootstrap", n_bootstrap)
    seed = _check_seed(seed)
    confidence = _check_probability("confidence", confidence)
    alpha = _check_probability("alpha", alpha)
    frame, names = validate_predictions(predictions)
    probability_columns = [PROBABILITY_PREFIX + name for name in names]
    oof = frame.loc[frame["split"] == OOF_SPLIT]
    if oof.empty:
        raise DataError(f"predictions have no out-of-fold rows (column 'split' == '{OOF_SPLIT}')")

    configurations = sorted(
        oof[list(CONFIGURATION_COLUMNS)].drop_duplicates().itertuples(index=False, name=None),
        key=lambda configuration: tuple(str(part) for part in configuration),
    )
    selector = dict(reference_config or {})
    for column in selector:
        if column not in CONFIGURATION_COLUMNS[1:]:
            raise ConfigError(
                f"reference_config key {column!r} is not one of {', '.join(CONFIGURATION_COLUMNS[1:])}"
            )
    references = [
        configuration
        for configuration in configurations
        if str(configuration[0]) == reference_method
        and all(
            str(configuration[CONFIGURATION_COLUMNS.index(column)]) == str(value)
            for column, value in selector.items()
        )
    ]
    if not references:
        methods = sorted({str(configuration[0]) for configuration in configurations})
        raise ConfigError(
            f"reference_method {reference_method!r} (with reference_config {selector}) matches no configuration; "
            f"methods present: {', '.join(methods)}"
        )
    if len(references) > 1:
        listed = "; ".join(_configuration_label(reference) for reference in references)
        raise ConfigError(
            f"reference_method {reference_method!r} matches {len(references)} configurations ({listed}); "
            "pick one with reference_config={'backbone': ..., 'augment': ..., 'imbalance': ...}"
        )
    reference = references[0]
    reference_label = _configuration_label(reference)

    def rows_of(configuration: tuple[Any, ...]) -> pd.DataFrame:
        mask = np.ones(len(oof), dtype=bool)
        for column, value in zip(CONFIGURATION_COLUMNS, configuration, strict=True):
            mask &= (oof[column] == value).to_numpy()
        return _aligned(oof.loc[mask])

    def codes(values: pd.Series) -> NDArray[np.int64]:
        return np.asarray(pd.Categorical(values.astype(str), categories=names).codes, dtype=np.int64)

    reference_rows = rows_of(reference)
    if reference_rows[["seed", "sample_id"]].duplicated().any():
        raise DataError(
            f"predictions column 'sample_id' repeats within the out-of-fold rows of {reference_label}; "
            "each image must appear once (per protocol seed)"
        )
    keys = reference_rows[_PAIR_KEYS].astype(str).to_numpy()
    y_true = codes(reference_rows["y_true"])
    patients = reference_rows["patient_id"].astype(str).to_numpy()
    reference_pred = codes(reference_rows["y_pred"])
    reference_proba = reference_rows[probability_columns].to_numpy(dtype=np.float64)
    # one resample per (protocol seed, outer fold): r x k blocks for r repetitions of k folds
    repeat = reference_rows["seed"].to_numpy()
    folds = reference_rows["outer_fold"].to_numpy()
    fold_values = sorted(set(zip(repeat.tolist(), folds.tolist(), strict=True)))
    fold_masks = [(repeat == s) & (folds == f) for s, f in fold_values]
    fold_sizes = np.array([mask.sum() for mask in fold_masks], dtype=np.float64)
    repeat_sizes = np.array([np.sum(repeat == s) for s, _ in fold_values], dtype=np.float64)

    def fold_balanced_accuracy(pred: NDArray[np.int64], proba: FloatArray) -> FloatArray:
        scores = []
        for in_fold in fold_masks:
            evaluator = MetricEvaluator(y_true[in_fold], pred[in_fold], proba[in_fold])
            scores.append(evaluator(np.ones((1, evaluator.n_images)))["balanced_accuracy"][0])
        return np.asarray(scores, dtype=np.float64)

    reference_fold_scores = fold_balanced_accuracy(reference_pred, reference_proba)

    records: list[dict[str, Any]] = []
    for configuration in configurations:
        if configuration == reference:
            continue
        label = _configuration_label(configuration)
        other = rows_of(configuration)
        if len(other) != len(reference_rows) or not np.array_equal(
            other[_PAIR_KEYS].astype(str).to_numpy(), keys
        ):
            warnings.warn(
                f"skipping {label}: its out-of-fold (seed, outer_fold, sample_id) rows differ from the reference {reference_label}",
                UserWarning,
                stacklevel=2,
            )
            continue
        if not np.array_equal(codes(other["y_true"]), y_true):
            raise DataError(
                f"predictions column 'y_true' differs between {label} and the reference for the same sample_id"
            )
        if not np.array_equal(other["patient_id"].astype(str).to_numpy(), patients):
            raise DataError(
                f"predictions column 'patient_id' differs between {label} and the reference for the same sample_id"
            )
        other_pred = codes(other["y_pred"])
        other_proba = other[probability_columns].to_numpy(dtype=np.float64)

        results: list[tuple[str, TestResult]] = []
        bootstrap = _paired_bootstrap(
            y_true,
            (reference_pred, reference_proba),
            (other_pred, other_proba),
            patients,
            n_bootstrap,
            keyed_rng(seed, (*reference, *configuration)),
            confidence,
        )
        mcnemar_result = mcnemar_exact(y_true, reference_pred, other_pred)
        accuracy = bootstrap["accuracy"]
        results.append(
            (
                "accuracy",
                TestResult(
                    test=mcnemar_result.test,
                    statistic=mcnemar_result.statistic,
                    p_value=mcnemar_result.p_value,
                    estimate=mcnemar_result.estimate,
                    ci_low=accuracy.ci_low,
                    ci_high=accuracy.ci_high,
                ),
            )
        )
        if len(fold_values) >= 2:
            ttest = corrected_resampled_ttest(
                reference_fold_scores,
                fold_balanced_accuracy(other_pred, other_proba),
                n_train=repeat_sizes - fold_sizes,
                n_test=fold_sizes,
                confidence=confidence,
            )
        else:
            ttest = TestResult("corrected_resampled_ttest", math.nan, math.nan)
        results.append(("balanced_accuracy", ttest))
        results.extend((name, bootstrap[name]) for name in ("auroc", "balanced_accuracy", "accuracy"))

        for metric, result in results:
            records.append(
                {
                    **dict(zip(CONFIGURATION_COLUMNS, configuration, strict=True)),
                    "reference": reference_label,
                    "test": result.test,
                    "metric": metric,
                    "estimate": result.estimate,
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                    "statistic": result.statistic,
                    "p_value": result.p_value,
                }
            )

    table = pd.DataFrame.from_records(
        records, columns=[c for c in COMPARISON_COLUMNS if c not in ("p_holm", "significant")]
    )
    table = table.astype({c: np.float64 for c in ("estimate", "ci_low", "ci_high", "statistic", "p_value")})
    table["p_holm"] = np.nan
    for _, family in table.groupby(["test", "metric"], sort=False).groups.items():
        table.loc[family, "p_holm"] = holm(table.loc[family, "p_value"].to_numpy())
    table["p_holm"] = table["p_holm"].astype(np.float64)
    table["significant"] = (table["p_holm"] < alpha).astype(bool)
    return table[list(COMPARISON_COLUMNS)]
