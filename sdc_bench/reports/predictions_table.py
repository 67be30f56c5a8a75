"""Validation of the predictions table (the contract of :mod:`sdc_bench.core.contracts`) before any metric.

Class names come from the ``p_<class>`` columns; labels, probabilities, folds and protocol seeds are
checked so that a malformed table fails with one line naming the column, not deep inside a metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sdc_bench.core.contracts import (
    ALL_SEEDS,
    PROBABILITY_PREFIX,
    REQUIRED_PREDICTION_COLUMNS,
)
from sdc_bench.core.errors import DataError

__all__ = ["class_names", "n_protocol_seeds", "repeat_seeds", "validate_predictions"]

_PROBABILITY_TOLERANCE = 1e-4


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
    _require_columns(predictions, REQUIRED_PREDICTION_COLUMNS)
    folds = predictions["outer_fold"]
    if pd.api.types.is_bool_dtype(folds) or not pd.api.types.is_numeric_dtype(folds):
        raise DataError(f"predictions column 'outer_fold' must hold integers, got dtype {folds.dtype}")
    fold_values = folds.to_numpy(dtype=np.float64)
    if not np.all(fold_values == np.round(fold_values)):
        raise DataError("predictions column 'outer_fold' must hold whole numbers")
    frame = predictions.copy()
    frame["outer_fold"] = fold_values.astype(np.int64)
    frame["seed"] = repeat_seeds(frame)
    return frame, names


def repeat_seeds(predictions: pd.DataFrame) -> NDArray[np.int64]:
    """The protocol seed (repetition of the cross-validation) of every row.

    :data:`ALL_SEEDS` (-1) for every row when the table has no ``seed`` column.

    Raises
    ------
    DataError
        If ``seed`` has missing or non-integer values.
    """
    if "seed" not in predictions.columns:
        return np.full(len(predictions), ALL_SEEDS, dtype=np.int64)
    column = predictions["seed"]
    if column.isna().any() or pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        raise DataError(
            f"predictions column 'seed' must hold integers without gaps, got dtype {column.dtype}"
        )
    values = column.to_numpy(dtype=np.float64)
    if not np.all(values == np.round(values)):
        raise DataError("predictions column 'seed' must hold whole numbers")
    return values.astype(np.int64)


def n_protocol_seeds(predictions: pd.DataFrame) -> int:
    """How many protocol seeds (repetitions of the cross-validation) a predictions table stacks; at least 1.

    Rows that pool every seed count as one.
    """
    seeds = set(repeat_seeds(predictions).tolist()) - {ALL_SEEDS}
    return max(len(seeds), 1)
