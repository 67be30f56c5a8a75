"""Paired comparisons of every configuration of a predictions table with one reference configuration.

Uses the out-of-fold rows (``split == 'test'``). Each other configuration with exactly the same
(seed, outer_fold, sample_id) rows is compared with the reference by

- ``mcnemar_exact`` / ``accuracy``: exact McNemar on the pooled out-of-fold predictions (images
  aligned by protocol seed and ``sample_id``);
- ``corrected_resampled_ttest`` / ``balanced_accuracy``: Nadeau-Bengio test on per-fold balanced
  accuracy, run only with at least ``MIN_N["corrected_ttest"]`` (seed, fold) blocks (NaN p below), its
  effect size and interval those of the paired bootstrap of pooled balanced accuracy, ``n_test`` = images in the fold, ``n_train`` = the repetition's images minus ``n_test``;
  with several protocol seeds the r x k (seed, fold) scores are the resamples, which is what the
  correction is for;
- ``paired_bootstrap`` / ``auroc``, ``balanced_accuracy``, ``accuracy``: paired patient-level
  bootstrap of the pooled macro AUROC, balanced accuracy and accuracy (effect sizes with percentile
  intervals), over the stacked repetitions (a drawn patient brings its images of every seed).

Holm's correction runs within each (test, metric) family over all comparisons.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.reports.metrics import balanced_accuracy_score, keyed_rng
from sdc_bench.reports.min_n import MIN_N
from sdc_bench.reports.predictions_table import validate_predictions
from sdc_bench.reports.stats._checks import check_positive_int, check_probability, check_seed
from sdc_bench.reports.stats.paired import (
    TestResult,
    corrected_resampled_ttest,
    holm,
    mcnemar_exact,
    paired_bootstrap,
)

__all__ = ["COMPARISON_COLUMNS", "compare_to_reference"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

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

_PAIR_KEYS = ["seed", "outer_fold", "sample_id"]
_FLOAT_COLUMNS = ("estimate", "ci_low", "ci_high", "statistic", "p_value")


def _configuration_label(configuration: Sequence[Any]) -> str:
    return "/".join(str(part) for part in configuration)


def _aligned(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(_PAIR_KEYS, kind="mergesort").reset_index(drop=True)


def _rows_of(oof: pd.DataFrame, configuration: tuple[Any, ...]) -> pd.DataFrame:
    mask = np.ones(len(oof), dtype=bool)
    for column, value in zip(CONFIGURATION_COLUMNS, configuration, strict=True):
        mask &= (oof[column] == value).to_numpy()
    return _aligned(oof.loc[mask])


def _codes(values: pd.Series, names: list[str]) -> IntArray:
    return np.asarray(pd.Categorical(values.astype(str), categories=names).codes, dtype=np.int64)


def _pick_reference(
    configurations: list[tuple[Any, ...]], reference_method: str, reference_config: Mapping[str, str] | None
) -> tuple[Any, ...]:
    """The one configuration of ``reference_method`` that ``reference_config`` singles out."""
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
    return references[0]


@dataclass(frozen=True, eq=False)
class _Reference:
    """The reference's aligned out-of-fold rows as arrays, and its (seed, fold) blocks."""

    configuration: tuple[Any, ...]
    label: str
    names: list[str]
    keys: NDArray[Any]
    y_true: IntArray
    patients: NDArray[Any]
    pred: IntArray
    proba: FloatArray
    # one resample per (protocol seed, outer fold): r x k blocks for r repetitions of k folds
    fold_masks: list[NDArray[np.bool_]]
    fold_sizes: FloatArray
    repeat_sizes: FloatArray

    @classmethod
    def of(cls, rows: pd.DataFrame, configuration: tuple[Any, ...], names: list[str]) -> _Reference:
        label = _configuration_label(configuration)
        if rows[["seed", "sample_id"]].duplicated().any():
            raise DataError(
                f"predictions column 'sample_id' repeats within the out-of-fold rows of {label}; "
                "each image must appear once (per protocol seed)"
            )
        repeat = rows["seed"].to_numpy()
        folds = rows["outer_fold"].to_numpy()
        fold_values = sorted(set(zip(repeat.tolist(), folds.tolist(), strict=True)))
        fold_masks = [(repeat == s) & (folds == f) for s, f in fold_values]
        return cls(
            configuration=configuration,
            label=label,
            names=names,
            keys=rows[_PAIR_KEYS].astype(str).to_numpy(),
            y_true=_codes(rows["y_true"], names),
            patients=rows["patient_id"].astype(str).to_numpy(),
            pred=_codes(rows["y_pred"], names),
            proba=rows[[PROBABILITY_PREFIX + name for name in names]].to_numpy(dtype=np.float64),
            fold_masks=fold_masks,
            fold_sizes=np.array([mask.sum() for mask in fold_masks], dtype=np.float64),
            repeat_sizes=np.array([np.sum(repeat == s) for s, _ in fold_values], dtype=np.float64),
        )

    @cached_property
    def fold_scores(self) -> FloatArray:
        """The reference's balanced accuracy per (seed, fold) block, computed once for every comparison."""
        return self.fold_balanced_accuracy(self.pred)

    def fold_balanced_accuracy(self, pred: IntArray) -> FloatArray:
        n_classes = len(self.names)
        scores = [
            balanced_accuracy_score(self.y_true[in_fold], pred[in_fold], n_classes)
            for in_fold in self.fold_masks
        ]
        return np.asarray(scores, dtype=np.float64)

    def pairs_with(self, other: pd.DataFrame, label: str) -> bool:
        """Whether ``other`` holds the reference's images; False (with a warning) skips it, a mismatch raises."""
        if len(other) != len(self.keys) or not np.array_equal(
            other[_PAIR_KEYS].astype(str).to_numpy(), self.keys
        ):
            warnings.warn(
                f"skipping {label}: its out-of-fold (seed, outer_fold, sample_id) rows differ from the reference {self.label}",
                UserWarning,
                stacklevel=3,  # the caller of compare_to_reference
            )
            return False
        if not np.array_equal(_codes(other["y_true"], self.names), self.y_true):
            raise DataError(
                f"predictions column 'y_true' differs between {label} and the reference for the same sample_id"
            )
        if not np.array_equal(other["patient_id"].astype(str).to_numpy(), self.patients):
            raise DataError(
                f"predictions column 'patient_id' differs between {label} and the reference for the same sample_id"
            )
        return True


def _compare(
    reference: _Reference,
    configuration: tuple[Any, ...],
    other: pd.DataFrame,
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float,
) -> list[tuple[str, TestResult]]:
    """(metric, result) of every test of one configuration against the reference, in table order."""
    other_pred = _codes(other["y_pred"], reference.names)
    other_proba = other[[PROBABILITY_PREFIX + name for name in reference.names]].to_numpy(dtype=np.float64)
    bootstrap = paired_bootstrap(
        reference.y_true,
        (reference.pred, reference.proba),
        (other_pred, other_proba),
        reference.patients,
        n_bootstrap,
        keyed_rng(seed, (*reference.configuration, *configuration)),
        confidence,
    )
    mcnemar_result = mcnemar_exact(reference.y_true, reference.pred, other_pred)
    accuracy = bootstrap["accuracy"]
    results = [
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
    ]
    # below its declared minimum of folds the t-test is not run (its p-value stays NaN, so Holm skips it)
    if len(reference.fold_masks) >= MIN_N["corrected_ttest"].minimum:
        folds = corrected_resampled_ttest(
            reference.fold_scores,
            reference.fold_balanced_accuracy(other_pred),
            n_train=reference.repeat_sizes - reference.fold_sizes,
            n_test=reference.fold_sizes,
            confidence=confidence,
        )
        statistic, p_value = folds.statistic, folds.p_value
    else:
        statistic, p_value = math.nan, math.nan
    # the effect size is on the metric's scale: the pooled difference and its paired bootstrap interval,
    # never the t interval of k fold differences (at k = 2 it spans more than [-1, 1])
    balanced = bootstrap["balanced_accuracy"]
    ttest = TestResult(
        "corrected_resampled_ttest", statistic, p_value, balanced.estimate, balanced.ci_low, balanced.ci_high
    )
    results.append(("balanced_accuracy", ttest))
    results.extend((name, bootstrap[name]) for name in ("auroc", "balanced_accuracy", "accuracy"))
    return results


def _records(
    reference_label: str, configuration: tuple[Any, ...], results: list[tuple[str, TestResult]]
) -> list[dict[str, Any]]:
    """Rows of the comparisons table (without the Holm columns) for one compared configuration."""
    return [
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
        for metric, result in results
    ]


def _table(records: list[dict[str, Any]], alpha: float) -> pd.DataFrame:
    """The comparisons table with Holm-adjusted p-values within each (test, metric) family."""
    table = pd.DataFrame.from_records(
        records, columns=[c for c in COMPARISON_COLUMNS if c not in ("p_holm", "significant")]
    )
    table = table.astype({c: np.float64 for c in _FLOAT_COLUMNS})
    table["p_holm"] = np.nan
    for _, family in table.groupby(["test", "metric"], sort=False).groups.items():
        table.loc[family, "p_holm"] = holm(table.loc[family, "p_value"].to_numpy())
    table["p_holm"] = table["p_holm"].astype(np.float64)
    table["significant"] = (table["p_holm"] < alpha).astype(bool)
    return table[list(COMPARISON_COLUMNS)]


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

    The tests are listed in the module docstring. Configurations whose rows differ from the
    reference's are skipped with a warning.

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
    n_bootstrap, seed = check_positive_int("n_bootstrap", n_bootstrap), check_seed(seed)
    confidence, alpha = check_probability("confidence", confidence), check_probability("alpha", alpha)
    frame, names = validate_predictions(predictions)
    oof = frame.loc[frame["split"] == OOF_SPLIT]
    if oof.empty:
        raise DataError(f"predictions have no out-of-fold rows (column 'split' == '{OOF_SPLIT}')")
    configurations = sorted(
        oof[list(CONFIGURATION_COLUMNS)].drop_duplicates().itertuples(index=False, name=None),
        key=lambda configuration: tuple(str(part) for part in configuration),
    )
    chosen = _pick_reference(configurations, reference_method, reference_config)
    reference = _Reference.of(_rows_of(oof, chosen), chosen, names)
    records: list[dict[str, Any]] = []
    for configuration in configurations:
        other = _rows_of(oof, configuration) if configuration != chosen else None
        if other is None or not reference.pairs_with(other, _configuration_label(configuration)):
            continue
        results = _compare(
            reference, configuration, other, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence
        )
        records += _records(reference.label, configuration, results)
    return _table(records, alpha)
