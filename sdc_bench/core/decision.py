"""The decision rule of a cell: how class probabilities become a predicted label (``protocol.decision``).

``argmax`` (the default) takes the most probable class. ``inner_threshold`` is an operating point chosen on
inner data, as DESIGN says: for 2 classes, the threshold on the second class's probability that maximises
balanced accuracy (Youden's J) on the cell's inner predictions, which come from a model that saw neither
those samples nor the outer-test fold (:func:`sdc_bench.benchmark.cell.run_cell` makes them). The threshold
is stored in the cell record and applied to that cell's predictions only; the probabilities are unchanged.

K > 2 classes are refused with one line (:func:`check_decision`): a prior-corrected argmax would need the
deployment prevalence, which a benchmark does not know, and a per-class threshold search on a small inner
split overfits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import probability_column
from sdc_bench.core.errors import ConfigError

__all__ = [
    "DECISIONS",
    "OperatingPoint",
    "apply_decision",
    "check_decision",
    "choose_threshold",
]

#: ``protocol.decision`` values and what each does.
DECISIONS: dict[str, str] = {
    "argmax": "the most probable class",
    "inner_threshold": "2 classes: a threshold on p(second class) maximising balanced accuracy on inner data",
}


@dataclass(frozen=True)
class OperatingPoint:
    """A cell's decision rule: ``argmax``, or a threshold on the positive (second) class's probability.

    Attributes
    ----------
    rule : str
        A key of :data:`DECISIONS`.
    threshold : float or None
        The positive class is predicted when its probability is above it (``None`` for argmax; 0.5 is argmax).
    positive_class : str
        The class the threshold is on (the second of the run's classes); empty for argmax.
    inner_balanced_accuracy, inner_argmax_balanced_accuracy : float or None
        Balanced accuracy on the inner predictions with the threshold and with argmax.
    n_inner : int
        Inner predictions the threshold was chosen on.
    """

    rule: str = "argmax"
    threshold: float | None = None
    positive_class: str = ""
    inner_balanced_accuracy: float | None = None
    inner_argmax_balanced_accuracy: float | None = None
    n_inner: int = 0

    def to_record(self) -> dict[str, Any]:
        """The cell record's ``decision`` object (and the kept model's, and ``package.json``'s)."""
        return asdict(self)


def check_decision(decision: str, classes: Sequence[str], where: str = "protocol.decision") -> None:
    """Refuse, in one line, a rule the data cannot take (``inner_threshold`` needs exactly 2 classes)."""
    if decision not in DECISIONS:
        raise ConfigError(f"{where}={decision!r}: choose one of {', '.join(DECISIONS)}")
    if decision == "inner_threshold" and len(classes) != 2:
        raise ConfigError(
            f"{where}='inner_threshold' needs 2 classes, the data have {len(classes)} ({', '.join(classes)}): "
            "a K-class operating point (prior-corrected argmax) needs the deployment prevalence, which a "
            "benchmark does not know; use protocol.decision='argmax'"
        )


def _balanced_accuracy(truth: np.ndarray, positive: np.ndarray) -> float:
    """Mean of sensitivity and specificity of boolean predictions ``positive`` against boolean ``truth``."""
    sensitivity = positive[truth].mean() if truth.any() else 0.0
    specificity = (~positive[~truth]).mean() if (~truth).any() else 0.0
    return float((sensitivity + specificity) / 2)


def choose_threshold(inner: pd.DataFrame, classes: Sequence[str]) -> OperatingPoint:
    """The threshold maximising balanced accuracy on inner predictions (``y_true`` and ``p_<class>`` columns).

    Candidates are the midpoints between consecutive distinct probabilities of the positive (second) class,
    so a tie between samples never splits; among equally good ones the one nearest 0.5 (argmax) wins, so
    uninformative inner data leave the decision near argmax.

    >>> inner = pd.DataFrame({"y_true": ["a", "a", "a", "b", "b"], "p_b": [0.1, 0.2, 0.3, 0.35, 0.4]})
    >>> point = choose_threshold(inner, ["a", "b"])
    >>> point.threshold, point.inner_balanced_accuracy, point.inner_argmax_balanced_accuracy
    (0.325, 1.0, 0.5)
    """
    positive_class = str(classes[1])
    truth = inner["y_true"].astype(str).to_numpy() == positive_class
    scores = inner[probability_column(positive_class)].to_numpy(dtype=np.float64)
    argmax_score = _balanced_accuracy(truth, scores > 0.5)
    distinct = np.unique(scores)
    candidates = np.concatenate([[0.5], (distinct[:-1] + distinct[1:]) / 2]) if len(distinct) else [0.5]
    best, best_score = 0.5, argmax_score
    for candidate in sorted(candidates, key=lambda c: (abs(c - 0.5), c)):
        score = _balanced_accuracy(truth, scores > candidate)
        if score > best_score + 1e-12:
            best, best_score = float(candidate), score
    return OperatingPoint(
        rule="inner_threshold",
        threshold=round(best, 12),
        positive_class=positive_class,
        inner_balanced_accuracy=best_score,
        inner_argmax_balanced_accuracy=argmax_score,
        n_inner=len(inner),
    )


def apply_decision(proba: np.ndarray, classes: Sequence[str], point: OperatingPoint) -> np.ndarray:
    """Predicted class names of probabilities ``proba`` (N, K) under ``point`` (argmax without a threshold).

    >>> apply_decision(np.array([[0.7, 0.3], [0.4, 0.6]]), ["a", "b"], OperatingPoint("inner_threshold", 0.25, "b"))
    array(['b', 'b'], dtype='<U1')
    """
    names = np.asarray(classes)
    if point.threshold is None or len(names) != 2:
        return names[proba.argmax(axis=1)]
    return np.where(proba[:, 1] > point.threshold, names[1], names[0])
