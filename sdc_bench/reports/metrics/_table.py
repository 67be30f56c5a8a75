"""The metrics table of a predictions table (private to :mod:`sdc_bench.reports.metrics`).

Its one job: turn the predictions contract into the tidy metrics table, pooled, per protocol seed
and per outer fold, with the interval each registered metric declares; plus the summaries over
folds and seeds. Definitions and interval methods are documented on the package's face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sdc_bench.core.contracts import (
    ALL_SEEDS,
    CONFIGURATION_COLUMNS,
    METRIC_TABLE_COLUMNS,
    OOF_SPLIT,
    PROBABILITY_PREFIX,
)
from sdc_bench.core.errors import DataError
from sdc_bench.core.metric_specs import METRICS
from sdc_bench.reports.metrics._engine import (
    FloatArray,
    IntArray,
    MetricEvaluator,
    as_rng,
    bootstrap_replicates,
    check_confidence,
    check_n_bootstrap,
    keyed_rng,
    percentile_interval,
    wilson_interval,
    with_macros,
)
from sdc_bench.reports.predictions_table import validate_predictions

__all__ = ["compute_metrics", "soft_vote", "summarize_folds", "summarize_seeds"]

_SUMMARY_KEYS: tuple[str, ...] = (*CONFIGURATION_COLUMNS, "split", "metric", "class_name")
_TABLE_DTYPES = {
    "seed": np.int64,
    "outer_fold": np.int64,
    "value": np.float64,
    "ci_low": np.float64,
    "ci_high": np.float64,
    "n_images": np.int64,
    "n_patients": np.int64,
}


# --------------------------------------------------------------------------- metrics table


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
    voted = soft_vote(rows, probability_columns)
    proba = voted[probability_columns].to_numpy(dtype=np.float64)
    return _Scoped(
        y_true=_codes(voted["y_true"], names),
        y_pred=proba.argmax(axis=1).astype(np.int64),
        proba=proba,
        patient_ids=voted["patient_id"].astype(str).to_numpy(),
    )


def soft_vote(
    rows: pd.DataFrame, probability_columns: Sequence[str], keys: Sequence[str] = ("sample_id",)
) -> pd.DataFrame:
    """The fold models' soft-vote ensemble of predictions that several outer-fold models made of one
    image (an external split): per ``keys``, the mean of ``probability_columns``, with ``y_true`` and
    ``patient_id``. Rows come out sorted by ``keys``; the pooled external metrics score this ensemble.

    Raises
    ------
    DataError
        If the folds disagree on an image's ``y_true`` or ``patient_id``.
    """
    keys = list(keys)
    # A fixed row order fixes the summation order of the mean, so results do not depend
    # on how the input table was ordered.
    rows = rows.sort_values([*keys, "outer_fold"], kind="mergesort")
    per_sample = rows.groupby(keys, sort=True)
    if (per_sample["y_true"].nunique() > 1).any() or (per_sample["patient_id"].nunique() > 1).any():
        split = ", ".join(map(repr, rows["split"].unique())) if "split" in rows else "?"
        raise DataError(
            f"predictions columns 'y_true'/'patient_id' disagree between folds for one sample of split {split}"
        )
    first = per_sample[["y_true", "patient_id"]].first()
    return pd.concat([first, per_sample[list(probability_columns)].mean()], axis=1).reset_index()


def _stacked(blocks: Sequence[_Scoped]) -> _Scoped:
    """The repetitions of a configuration one after the other (each image once per protocol seed)."""
    return _Scoped(
        y_true=np.concatenate([b.y_true for b in blocks]),
        y_pred=np.concatenate([b.y_pred for b in blocks]),
        proba=np.concatenate([b.proba for b in blocks]),
        patient_ids=np.concatenate([b.patient_ids for b in blocks]),
    )


def _metric_rows(
    data: _Scoped,
    names: list[str],
    *,
    n_bootstrap: int,
    rng: np.random.Generator | None,
    confidence: float,
    wilson: bool = True,
) -> list[tuple[str, str, float, float, float, str]]:
    """Rows (metric, class_name, value, ci_low, ci_high, ci_method) in table order;
    bootstrap intervals only when ``rng`` is given and ``n_bootstrap > 0``. ``wilson=False``
    bootstraps the proportions too (stacked repetitions are not independent trials)."""
    evaluator = MetricEvaluator(data.y_true, data.y_pred, data.proba)
    bootstrap = None
    if rng is not None and n_bootstrap > 0:
        bootstrap = bootstrap_replicates(evaluator, data.patient_ids, n_bootstrap, rng)
    unweighted = evaluator.inputs(np.ones((1, evaluator.n_images)))
    point = with_macros({name: spec.evaluate(unweighted) for name, spec in METRICS.items()})

    intervals: dict[str, tuple[FloatArray, FloatArray]] = {}
    if bootstrap is not None:
        for name, samples in with_macros(bootstrap).items():
            intervals[name] = percentile_interval(samples, confidence)

    def bootstrapped(key: str, index: int | None) -> tuple[float, float, str]:
        if key not in intervals or METRICS[key.removeprefix("macro_")].interval == "none":
            return np.nan, np.nan, "none"
        low, high = intervals[key]
        if index is None:
            return float(low), float(high), "bootstrap"
        return float(low[index]), float(high[index]), "bootstrap"

    rows: list[tuple[str, str, float, float, float, str]] = []
    for metric, spec in METRICS.items():
        use_wilson = wilson and spec.interval == "wilson"
        if use_wilson:
            assert spec.counts is not None  # a Wilson spec has counts (MetricSpec checks)
            successes, trials = (np.asarray(part)[0] for part in spec.counts(unweighted))
            low, high = wilson_interval(successes, trials, confidence=confidence)
        if spec.scope == "class":
            rows.append(
                (metric, "macro", float(point[f"macro_{metric}"][0]), *bootstrapped(f"macro_{metric}", None))
            )
            for index, name in enumerate(names):
                value = float(point[metric][0, index])
                if use_wilson:
                    rows.append((metric, name, value, float(low[index]), float(high[index]), "wilson"))
                else:
                    rows.append((metric, name, value, *bootstrapped(metric, index)))
        elif use_wilson:
            rows.append((metric, "overall", float(point[metric][0]), float(low), float(high), "wilson"))
        else:
            rows.append((metric, "overall", float(point[metric][0]), *bootstrapped(metric, None)))
    # An undefined value (e.g. sensitivity of an absent class) has no interval either.
    return [
        (m, c, v, np.nan, np.nan, "none") if np.isnan(v) else (m, c, v, lo, hi, method)
        for m, c, v, lo, hi, method in rows
    ]


def _group_records(
    key: tuple[Any, ...],
    rows: pd.DataFrame,
    names: list[str],
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float,
) -> list[tuple[Any, ...]]:
    """The pooled, per-seed (several protocol seeds only) and per-fold rows of one configuration and split."""
    split = str(key[-1])
    probability_columns = [PROBABILITY_PREFIX + name for name in names]
    seeds = sorted(int(s) for s in rows["seed"].unique())
    per_seed = {s: _pooled(rows.loc[rows["seed"] == s], split, names, probability_columns) for s in seeds}
    records: list[tuple[Any, ...]] = []

    def add(scope: str, repeat: int, fold: int, data: _Scoped, bootstrap: bool, wilson: bool = True) -> None:
        size = (len(data.y_true), len(np.unique(data.patient_ids)))
        # a seed block draws the stream a single-seed run's pooled block draws: the same intervals
        rng = keyed_rng(seed, (*key, "pooled")) if bootstrap else None
        rows_of = _metric_rows(
            data,
            names,
            n_bootstrap=n_bootstrap if bootstrap else 0,
            rng=rng,
            confidence=confidence,
            wilson=wilson,
        )
        records.extend((*key, scope, repeat, fold, *row, *size) for row in rows_of)

    if len(seeds) == 1:
        add("pooled", ALL_SEEDS, -1, per_seed[seeds[0]], bootstrap=True)
    else:
        add("pooled", ALL_SEEDS, -1, _stacked([per_seed[s] for s in seeds]), bootstrap=True, wilson=False)
        for repeat in seeds:
            add("seed", repeat, -1, per_seed[repeat], bootstrap=True)
    for repeat in seeds:
        mine = rows.loc[rows["seed"] == repeat]
        for fold in sorted(mine["outer_fold"].unique()):
            fold_data = _scoped(mine.loc[mine["outer_fold"] == fold], names, probability_columns)
            add("fold", repeat, int(fold), fold_data, bootstrap=False)
    return records


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

    With several protocol seeds (the ``seed`` column, see the module docstring) the
    ``'pooled'`` block pools every repetition with bootstrap intervals only, one
    ``'seed'`` block per seed is that repetition's own pooled block, and the ``'fold'``
    blocks carry their seed.

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
        Columns :data:`METRIC_TABLE_COLUMNS`; ``outer_fold`` is -1 on pooled and seed
        rows, ``seed`` is -1 (:data:`ALL_SEEDS`) on pooled rows. Rows are ordered by
        configuration, split (``'test'`` first), scope (pooled, seed, fold), seed,
        outer fold, metric (:data:`METRICS` order) and class (``'overall'`` or
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
    check_n_bootstrap(n_bootstrap, minimum=0)
    as_rng(seed)
    check_confidence(confidence)
    frame, names = validate_predictions(predictions)
    records: list[tuple[Any, ...]] = []
    # the rows of each group, in table order, found in one pass (not one full-table mask per group)
    positions = frame.groupby([*CONFIGURATION_COLUMNS, "split"], sort=False, dropna=False).indices
    for key in _group_keys(frame):
        rows = frame.iloc[np.sort(positions[key])]
        records += _group_records(key, rows, names, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence)
    table = pd.DataFrame.from_records(records, columns=list(METRIC_TABLE_COLUMNS))
    return table.astype(_TABLE_DTYPES)


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


def summarize_seeds(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of each metric across protocol seeds (repeated cross-validation).

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`compute_metrics`; only ``scope == 'seed'`` rows are used (a
        single-seed table has none, and gives an empty summary).

    Returns
    -------
    pandas.DataFrame
        Columns method, backbone, augment, imbalance, split, metric, class_name, mean,
        sd (ddof=1) and n_seeds (seeds with a defined value).
    """
    if "scope" not in metrics.columns:
        raise DataError("metrics table lacks the column 'scope'; pass the output of compute_metrics")
    seeds = metrics.loc[metrics["scope"] == "seed"]
    grouped = seeds.groupby(list(_SUMMARY_KEYS), sort=False, dropna=False)["value"]
    summary = grouped.agg(mean="mean", sd="std", n_seeds="count").reset_index()
    return summary.astype({"mean": np.float64, "sd": np.float64, "n_seeds": np.int64})
