"""Flags a reader must see before trusting a row: a model that did not learn, a refit cut short,
a final model still improving when training stopped.

- ``did_not_learn``: the pooled balanced accuracy's 95% CI lower bound is not above the
  majority-class rule's ``1/K``, or the accuracy's upper bound is below the majority rule's accuracy
  (both on the same pooled out-of-fold images; see :mod:`sdc_bench.reports.rules`).
- ``short_refit``: a cell's final fit trained fewer than :data:`MIN_EPOCHS` epochs, or less than
  :data:`MIN_EPOCH_FRACTION` of its method's ``epochs`` budget (``params.epochs``).
- ``unconverged``: the final fit's loss curve (validation loss, else training loss: a refit has no
  validation split) has not flattened: the least-squares trend over its last :data:`UNCONVERGED_WINDOW`
  of epochs (at least 3) still falls by more than :data:`UNCONVERGED_DROP` of the curve's whole fall
  (first epoch to lowest). The fall is measured against the whole fall, not the last value: a training
  loss that memorises 180 images goes from 0.05 to 0.03, a 40% drop of a curve that is done; and a trend,
  not two end points, so one noisy epoch neither hides nor fakes a fall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT

__all__ = [
    "FLAG_MARKS",
    "MIN_EPOCHS",
    "MIN_EPOCH_FRACTION",
    "UNCONVERGED_DROP",
    "UNCONVERGED_WINDOW",
    "Flag",
    "cell_flags",
    "learning_flags",
]

MIN_EPOCHS = 3
MIN_EPOCH_FRACTION = 0.5
UNCONVERGED_WINDOW = 0.2
UNCONVERGED_DROP = 0.10
#: Table mark of each flag kind, and the words the report uses for it.
FLAG_MARKS: dict[str, tuple[str, str]] = {
    "did_not_learn": ("†", "did not learn (not better than the majority-class rule)"),
    "short_refit": ("‡", "final fit shorter than its method's minimum epochs"),
    "unconverged": ("§", "unconverged (loss still falling in the last 20% of epochs)"),
}


@dataclass(frozen=True)
class Flag:
    """One flag on one configuration (method, backbone, augment, imbalance): its kind and why."""

    configuration: tuple[str, ...]
    kind: str
    reason: str


def _value(rows: pd.DataFrame, metric: str, column: str) -> float:
    hit = rows[(rows["metric"] == metric) & (rows["class_name"].isin(["overall", "macro"]))]
    return float(hit[column].iloc[0]) if len(hit) else math.nan


def learning_flags(metrics: pd.DataFrame, rules: pd.DataFrame, *, split: str = OOF_SPLIT) -> list[Flag]:
    """``did_not_learn`` flags of the pooled configurations of ``metrics`` against the majority rule."""
    majority = rules[rules["method"] == "majority"] if len(rules) else rules
    if majority.empty:
        return []
    chance = _value(majority, "balanced_accuracy", "value")
    majority_accuracy = _value(majority, "accuracy", "value")
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    flags = []
    for key, rows in pooled.groupby(list(CONFIGURATION_COLUMNS), sort=True):
        configuration = tuple(str(k) for k in key)
        ba_low = _value(rows, "balanced_accuracy", "ci_low")
        ba_low = ba_low if math.isfinite(ba_low) else _value(rows, "balanced_accuracy", "value")
        accuracy_high = _value(rows, "accuracy", "ci_high")
        if math.isfinite(ba_low) and ba_low <= chance:
            reason = f"balanced accuracy CI lower bound {ba_low:.3f} ≤ {chance:.3f} (majority-class rule)"
        elif math.isfinite(accuracy_high) and accuracy_high < majority_accuracy:
            reason = (
                f"accuracy CI upper bound {accuracy_high:.3f} < {majority_accuracy:.3f} (majority-class rule)"
            )
        else:
            continue
        flags.append(Flag(configuration, "did_not_learn", reason))
    return flags


def _losses(history: Sequence[Mapping[str, Any]]) -> list[float]:
    """The loss curve of a fit: validation loss where every epoch has one, else training loss."""

    def series(key: str) -> list[float]:
        values = [e.get(key) for e in history]
        return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]

    validation = series("val_loss")
    return validation if validation and len(validation) == len(history) else series("train_loss")


def _unconverged(history: Sequence[Mapping[str, Any]]) -> str | None:
    losses = _losses(history)
    if len(losses) < 4:
        return None
    window = max(3, math.ceil(UNCONVERGED_WINDOW * len(losses)))
    slope = float(np.polyfit(np.arange(window), losses[-window:], 1)[0])
    still_falling, whole_fall = -slope * (window - 1), losses[0] - min(losses)
    if whole_fall > 0 and still_falling > UNCONVERGED_DROP * whole_fall:
        return (
            f"loss still falling over the last {window} of {len(losses)} epochs "
            f"({100 * still_falling / whole_fall:.0f}% of its whole fall)"
        )
    return None


def _short(info: Mapping[str, Any]) -> str | None:
    trained, budget = info.get("epochs_trained"), (info.get("params") or {}).get("epochs")
    if not isinstance(trained, int | float) or not isinstance(budget, int | float) or budget <= 0:
        return None  # a method without epochs (the classical baseline)
    minimum = min(float(budget), max(MIN_EPOCHS, MIN_EPOCH_FRACTION * float(budget)))
    if trained < minimum:
        return f"trained {int(trained)} of {int(budget)} epochs (minimum {minimum:g})"
    return None


def cell_flags(cells: Sequence[Mapping[str, Any]]) -> list[Flag]:
    """``short_refit`` and ``unconverged`` flags of the cell records, one per configuration and kind."""
    found: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for info in cells:
        cell = info.get("cell") or {}
        configuration = tuple(str(cell.get(c, "")) for c in CONFIGURATION_COLUMNS)
        fold = f"fold {cell.get('outer_fold', '?')}"
        for kind, reason in (
            ("short_refit", _short(info)),
            ("unconverged", _unconverged(info.get("history") or [])),
        ):
            if reason:
                found.setdefault((configuration, kind), []).append(f"{fold}: {reason}")
    return [Flag(c, kind, "; ".join(reasons)) for (c, kind), reasons in sorted(found.items())]
