"""Reference rules every main table shows beside the methods: the majority-class rule and a
stratified-random rule, scored on the same pooled out-of-fold labels.

A method that does not beat these rules has not learned anything from the images. The majority
rule predicts the most frequent class for every image: its balanced accuracy is exactly ``1/K``,
its accuracy the majority share (Wilson CI) and its AUROC 0.5. The stratified-random rule draws
each prediction from the class prevalence: expected accuracy ``sum(p_c^2)``, balanced accuracy
``1/K``, macro specificity ``1 - 1/K``, AUROC 0.5; its intervals are the 2.5 and 97.5
percentiles of a seeded simulation over the same labels (the spread a lucky guesser shows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT, PROBABILITY_PREFIX
from sdc_bench.reports.metrics import MetricInputs, balanced_accuracy, confusion_matrices, wilson_interval

__all__ = ["RULES", "RULE_DRAWS", "chance_balanced_accuracy", "reference_rules"]

#: Rule ids (their display names are in :mod:`sdc_bench.reports.names`).
RULES: tuple[str, ...] = ("majority", "stratified_random")
#: Simulated draws of the stratified-random rule.
RULE_DRAWS = 1000
_COLUMNS = [*CONFIGURATION_COLUMNS, "scope", "split", "metric", "class_name", "value", "ci_low", "ci_high"]


def _labels(predictions: pd.DataFrame, split: str) -> tuple[np.ndarray, list[str]]:
    """Pooled labels of ``split``, each (protocol seed, image) once, and the class names."""
    rows = predictions[predictions["split"].astype(str) == split]
    keys = [c for c in ("seed", "sample_id") if c in rows.columns]
    rows = rows.drop_duplicates(subset=keys) if keys else rows
    classes = [
        str(c)[len(PROBABILITY_PREFIX) :] for c in rows.columns if str(c).startswith(PROBABILITY_PREFIX)
    ]
    truth = pd.Categorical(rows["y_true"].astype(str), categories=classes).codes.astype(np.int64)
    return truth, classes


def chance_balanced_accuracy(n_classes: int) -> float:
    """Balanced accuracy of the majority rule (and the expected value of any rule that ignores the image)."""
    return 1.0 / n_classes


def _simulate(truth: np.ndarray, prevalence: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and macro specificity of ``RULE_DRAWS`` stratified-random draws."""
    rng = np.random.default_rng(seed)
    k = len(prevalence)
    draws = rng.choice(k, size=(RULE_DRAWS, len(truth)), p=prevalence)
    correct = draws == truth[None, :]
    counts = np.bincount(truth, minlength=k).astype(float)
    confusion = np.concatenate([confusion_matrices(truth, draw, k) for draw in draws])
    negatives = len(truth) - counts
    specificity = np.stack(
        [((draws != c) & (truth[None, :] != c)).sum(axis=1) for c in range(k)], axis=1
    ) / np.maximum(negatives, 1)
    return {
        "accuracy": correct.mean(axis=1),
        "balanced_accuracy": balanced_accuracy(MetricInputs(confusion)),
        "specificity": specificity.mean(axis=1),
    }


def reference_rules(predictions: pd.DataFrame, *, split: str = OOF_SPLIT, seed: int = 0) -> pd.DataFrame:
    """Pooled headline metrics of the two reference rules, in the long format of the metrics table.

    The configuration columns hold the rule id as ``method`` and ``"–"`` elsewhere; ``scope`` is
    ``'pooled'``. Returns an empty frame when ``split`` has no rows.
    """
    truth, classes = _labels(predictions, split)
    if len(truth) == 0 or not classes:
        return pd.DataFrame(columns=_COLUMNS)
    k, n = len(classes), len(truth)
    counts = np.bincount(truth, minlength=k)
    prevalence = counts / n
    chance = chance_balanced_accuracy(int((counts > 0).sum()))
    low, high = wilson_interval(int(counts.max()), n)
    nan = float("nan")
    values = {
        "majority": [
            ("accuracy", "overall", float(prevalence.max()), float(low), float(high)),
            ("balanced_accuracy", "overall", chance, nan, nan),
            ("specificity", "macro", 1.0 - 1.0 / k, nan, nan),
            ("auroc", "macro", 0.5, nan, nan),
        ]
    }
    simulated = _simulate(truth, prevalence, seed)
    expected = {
        "accuracy": float(np.sum(prevalence**2)),
        "balanced_accuracy": chance,
        "specificity": 1.0 - 1.0 / k,
    }
    random_rows = []
    for metric in ("accuracy", "balanced_accuracy", "specificity"):
        q_low, q_high = (float(q) for q in np.quantile(simulated[metric], [0.025, 0.975]))
        random_rows.append(
            (metric, "macro" if metric == "specificity" else "overall", expected[metric], q_low, q_high)
        )
    values["stratified_random"] = [*random_rows, ("auroc", "macro", 0.5, nan, nan)]
    records = [
        {"method": rule, "backbone": "–", "augment": "–", "imbalance": "–", "scope": "pooled", "split": split,
         "metric": metric, "class_name": class_name, "value": value, "ci_low": lo, "ci_high": hi}
        for rule, rows in values.items()
        for metric, class_name, value, lo, hi in rows
    ]  # fmt: skip
    return pd.DataFrame.from_records(records, columns=_COLUMNS)
