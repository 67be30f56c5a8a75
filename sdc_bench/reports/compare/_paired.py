"""Paired differences of runs on the same data: per configuration, split and metric, run minus the first run.

Images are matched by ``sample_id``, protocol repetition (the n-th seed of each run), and, where both runs
used the same seeds (so the same folds), by ``outer_fold`` and ``seed`` too. The differences carry a
paired patient-level bootstrap interval and p-value; each configuration gets an exact McNemar test; each
test family is Holm-adjusted over all its rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sdc_bench.reports.compare._runs import CONFIGURATION, ComparedRun
from sdc_bench.reports.metrics import FloatArray, IntArray
from sdc_bench.reports.stats import holm, mcnemar_exact
from sdc_bench.reports.stats.paired import PAIRED_METRICS, paired_bootstrap

__all__ = ["PAIRED_COLUMNS", "paired_differences"]

PAIRED_COLUMNS = (
    *CONFIGURATION, "split", "baseline", "candidate", "metric", "n_images", "n_patients", "difference",
    "ci_low", "ci_high", "p_bootstrap", "p_holm", "mcnemar_p", "mcnemar_p_holm", "significant",
)  # fmt: skip


def _with_repetition(predictions: pd.DataFrame) -> pd.DataFrame:
    seeds = sorted(predictions["seed"].unique())
    return predictions.assign(repetition=predictions["seed"].map({s: i for i, s in enumerate(seeds)}))


def _pairs(baseline: ComparedRun, candidate: ComparedRun) -> tuple[pd.DataFrame, bool]:
    """The two runs' predictions joined image by image, and whether folds and seeds were matched too.

    An external split is predicted by every fold model, so its images are always matched by fold as well.
    """
    same_seeds = tuple(baseline.manifest.seeds) == tuple(candidate.manifest.seeds)
    key = [*CONFIGURATION, "split", "sample_id", "repetition"] + (
        ["outer_fold", "seed"] if same_seeds else []
    )
    a, b = _with_repetition(baseline.predictions), _with_repetition(candidate.predictions)
    internal = a["split"] == "test"
    joined = [
        a[internal].merge(b[b["split"] == "test"], on=key, suffixes=("_a", "_b"), validate="one_to_one")
    ]
    if not same_seeds:
        by_fold = [*key, "outer_fold"]
        joined.append(
            a[~internal].merge(
                b[b["split"] != "test"], on=by_fold, suffixes=("_a", "_b"), validate="one_to_one"
            )
        )
    else:
        joined.append(
            a[~internal].merge(b[b["split"] != "test"], on=key, suffixes=("_a", "_b"), validate="one_to_one")
        )
    return pd.concat(joined, ignore_index=True), same_seeds


def paired_differences(
    runs: Sequence[ComparedRun], *, n_bootstrap: int, seed: int, confidence: float = 0.95
) -> tuple[pd.DataFrame, list[str]]:
    """Every later run against the first: the paired table (:data:`PAIRED_COLUMNS`) and notes on matching."""
    baseline = runs[0]
    classes = list(baseline.classes)
    codes = {name: code for code, name in enumerate(classes)}
    rows, notes = [], []
    index = 0
    for candidate in runs[1:]:
        joined, same_seeds = _pairs(baseline, candidate)
        matched = "sample_id, repetition, outer_fold and seed" if same_seeds else "sample_id and repetition"
        notes.append(
            f"{candidate.label} vs {baseline.label}: {len(joined)} image predictions matched by {matched}"
            + ("" if same_seeds else " (the runs' seeds differ, so their folds do too)")
        )
        for group_key, group in joined.groupby([*CONFIGURATION, "split"], sort=True):
            truth: IntArray = np.asarray(group["y_true_a"].astype(str).map(codes), dtype=np.int64)
            pred: dict[str, IntArray] = {
                s: np.asarray(group[f"y_pred_{s}"].astype(str).map(codes), dtype=np.int64) for s in "ab"
            }
            proba: dict[str, FloatArray] = {
                s: group[[f"p_{c}_{s}" for c in classes]].to_numpy(dtype=np.float64) for s in "ab"
            }
            patients = group["patient_id_a"].astype(str).to_numpy()
            rng = np.random.default_rng([seed, index])
            index += 1
            bootstrap = paired_bootstrap(
                truth,
                (pred["b"], proba["b"]),
                (pred["a"], proba["a"]),
                patients,
                n_bootstrap,
                rng,
                confidence,
            )
            test = mcnemar_exact(truth, pred["b"], pred["a"])
            for metric in PAIRED_METRICS:
                result = bootstrap[metric]
                rows.append(
                    {
                        **dict(zip([*CONFIGURATION, "split"], map(str, group_key))),
                        "baseline": baseline.label,
                        "candidate": candidate.label,
                        "metric": metric,
                        "n_images": len(group),
                        "n_patients": len(set(patients)),
                        "difference": result.estimate,
                        "ci_low": result.ci_low,
                        "ci_high": result.ci_high,
                        "p_bootstrap": result.p_value,
                        "mcnemar_p": test.p_value,
                    }
                )
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c not in {"p_holm", "mcnemar_p_holm"}])
    table["p_holm"] = holm(table["p_bootstrap"].to_numpy()) if len(table) else []
    # McNemar is one test per configuration and split (repeated on each metric's row): one family of those
    first_rows = table.drop_duplicates([*CONFIGURATION, "split", "candidate"])
    adjusted = pd.Series(
        holm(first_rows["mcnemar_p"].to_numpy()) if len(first_rows) else [], index=first_rows.index
    )
    keys = [*CONFIGURATION, "split", "candidate"]
    lookup = dict(zip(map(tuple, first_rows[keys].to_numpy()), adjusted))
    table["mcnemar_p_holm"] = [lookup[tuple(k)] for k in table[keys].to_numpy()]
    table["significant"] = table["p_holm"] < 0.05
    return table[list(PAIRED_COLUMNS)], notes
