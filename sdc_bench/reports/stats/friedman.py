"""The Friedman test with Nemenyi post-hoc comparisons, for many methods over many blocks (Demšar 2006)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from sdc_bench.core.errors import DataError
from sdc_bench.reports.stats._checks import check_probability

__all__ = ["FriedmanResult", "friedman_nemenyi"]

FloatArray = NDArray[np.float64]


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
    alpha = check_probability("alpha", alpha)
    scores = _checked_scores(score_table)
    n_blocks, n_methods = scores.shape

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-tied blocks give a 0/0 statistic
        friedman = scipy_stats.friedmanchisquare(*scores.T)
    statistic, p_value = float(friedman.statistic), float(friedman.pvalue)

    ranks = scipy_stats.rankdata(-scores if higher_is_better else scores, axis=1)
    average_ranks = pd.Series(ranks.mean(axis=0), index=score_table.columns, name="average_rank")
    iman_davenport, iman_davenport_p = _iman_davenport(statistic, n_blocks, n_methods)
    q_alpha, critical_difference, pairwise = _nemenyi(average_ranks, n_blocks, n_methods, alpha)
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
        n_blocks=n_blocks,
        n_methods=n_methods,
    )


def _checked_scores(score_table: pd.DataFrame) -> FloatArray:
    """The scores as a (blocks, methods) array, after the checks a Friedman test needs."""
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
    return scores


def _iman_davenport(statistic: float, n: int, k: int) -> tuple[float, float]:
    """Iman-Davenport F and its p-value from the Friedman chi-square; NaN where it is undefined."""
    denominator = n * (k - 1) - statistic
    if np.isfinite(statistic) and denominator > 0:
        iman_davenport = (n - 1) * statistic / denominator
        return iman_davenport, float(scipy_stats.f.sf(iman_davenport, k - 1, (k - 1) * (n - 1)))
    return math.nan, math.nan


def _nemenyi(average_ranks: pd.Series, n: int, k: int, alpha: float) -> tuple[float, float, FloatArray]:
    """``q_alpha``, the critical difference and the pairwise Nemenyi p-values (1 on the diagonal)."""
    q_alpha = float(scipy_stats.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)
    standard_error = math.sqrt(k * (k + 1) / (6.0 * n))
    critical_difference = q_alpha * standard_error
    rank_gaps = np.abs(average_ranks.to_numpy()[:, None] - average_ranks.to_numpy()[None, :])
    pairwise = scipy_stats.studentized_range.sf(rank_gaps / standard_error * math.sqrt(2.0), k, np.inf)
    pairwise = np.clip(np.asarray(pairwise, dtype=np.float64), 0.0, 1.0)
    np.fill_diagonal(pairwise, 1.0)
    return q_alpha, critical_difference, pairwise
