"""Paired differences of runs on the same data: per configuration, split and metric, run minus the first run.

Images are matched by ``sample_id`` and protocol repetition (the n-th seed of each run), and, where both
runs used the same seeds (so the same folds), by ``outer_fold`` and ``seed`` too. On an external split,
which every fold model predicts, each run's image is its fold models' soft-vote ensemble, as in
``metrics.csv``, so a paired difference is the difference of the two runs' reported metrics.

Each difference carries a paired patient-level bootstrap interval and p-value. That bootstrap resamples
patients and holds the two trained models fixed; where the spread between training seeds is known (the
runs' own protocol seeds, or a baseline's SDs: ``_seed_spread``), the headline interval adds it, so that it
covers the two sources of variation a recipe's difference has (patients and training seeds). The interval
with the models held fixed is kept beside it. Each configuration gets an exact McNemar test (always about
the two models); each test family is Holm-adjusted over all its rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sdc_bench.reports.compare._runs import CONFIGURATION, ComparedRun
from sdc_bench.reports.metrics import FloatArray, IntArray, soft_vote
from sdc_bench.reports.stats import holm, mcnemar_exact
from sdc_bench.reports.stats.paired import PAIRED_METRICS, paired_replicates

__all__ = ["PAIRED_COLUMNS", "SEEDS_AND_PATIENTS", "THESE_MODELS", "paired_differences"]

PAIRED_COLUMNS = (
    *CONFIGURATION, "split", "baseline", "candidate", "metric", "n_images", "n_patients", "difference",
    "ci_low", "ci_high", "p_bootstrap", "p_holm", "significant", "covers", "seed_sd", "seed_df", "models_ci_low",
    "models_ci_high", "models_p", "models_p_holm", "mcnemar_p", "mcnemar_p_holm",
)  # fmt: skip

#: What a row's headline interval (``ci_low``, ``ci_high``, ``p_bootstrap``) covers.
SEEDS_AND_PATIENTS, THESE_MODELS = "patients and training seeds", "patients only (these two models)"


def _with_repetition(predictions: pd.DataFrame) -> pd.DataFrame:
    seeds = sorted(predictions["seed"].unique())
    return predictions.assign(repetition=predictions["seed"].map({s: i for i, s in enumerate(seeds)}))


def _ensembled(rows: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """External-split rows as one prediction per image and repetition: the fold models' soft vote, the
    pooled prediction ``metrics.csv`` scores (:func:`~sdc_bench.reports.metrics.soft_vote`), and its argmax."""
    columns = [f"p_{c}" for c in classes]
    votes = soft_vote(rows, columns, keys=[*CONFIGURATION, "split", "sample_id", "repetition", "seed"])
    proba = votes[columns].to_numpy(dtype=np.float64)
    return votes.assign(y_pred=np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if len(proba) else [])


def _pairs(
    baseline: ComparedRun, candidate: ComparedRun, classes: Sequence[str]
) -> tuple[pd.DataFrame, bool]:
    """The two runs' predictions joined image by image, and whether folds and seeds were matched too."""
    same_seeds = tuple(baseline.manifest.seeds) == tuple(candidate.manifest.seeds)
    key = [*CONFIGURATION, "split", "sample_id", "repetition"]
    a, b = _with_repetition(baseline.predictions), _with_repetition(candidate.predictions)
    internal_a, internal_b = a["split"] == "test", b["split"] == "test"
    internal = a[internal_a].merge(
        b[internal_b],
        on=key + (["outer_fold", "seed"] if same_seeds else []),
        suffixes=("_a", "_b"),
        validate="one_to_one",
    )
    external = _ensembled(a[~internal_a], classes).merge(
        _ensembled(b[~internal_b], classes),
        on=key + (["seed"] if same_seeds else []),
        suffixes=("_a", "_b"),
        validate="one_to_one",
    )
    return pd.concat([internal, external], ignore_index=True), same_seeds


def paired_differences(
    runs: Sequence[ComparedRun],
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float = 0.95,
    seed_sds: Mapping[tuple[str, ...], tuple[float, float]] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Every later run against the first: the paired table (:data:`PAIRED_COLUMNS`) and notes on matching.

    Parameters
    ----------
    seed_sds : mapping, optional
        ``(*configuration, split, metric, candidate label)`` -> (the SD training seeds add to that
        difference, its degrees of freedom) (:meth:`SeedSpread.difference_sds`). Rows found there get the interval over patients and
        training seeds (``covers`` = :data:`SEEDS_AND_PATIENTS`); the others hold the models fixed.
    """
    seed_sds = seed_sds or {}
    baseline = runs[0]
    classes = list(baseline.classes)
    codes = {name: code for code, name in enumerate(classes)}
    rows, notes = [], []
    index = 0
    for candidate in runs[1:]:
        joined, same_seeds = _pairs(baseline, candidate, classes)
        matched = "sample_id, repetition, outer_fold and seed" if same_seeds else "sample_id and repetition"
        notes.append(
            f"{candidate.label} vs {baseline.label}: {len(joined)} image predictions matched by {matched}"
            + ("" if same_seeds else " (the runs' seeds differ, so their folds do too)")
            + "; on external splits each run's fold-model soft vote, as in metrics.csv"
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
            replicates = paired_replicates(
                truth, (pred["b"], proba["b"]), (pred["a"], proba["a"]), patients, n_bootstrap, rng
            )
            test = mcnemar_exact(truth, pred["b"], pred["a"])
            where = dict(zip([*CONFIGURATION, "split"], map(str, group_key)))
            for metric in PAIRED_METRICS:
                models = replicates[metric].result(confidence)
                seed_sd, seed_df = seed_sds.get(
                    (*where.values(), metric, candidate.label), (math.nan, math.nan)
                )
                headline = (
                    replicates[metric].result(confidence, seed_sd=seed_sd, seed_df=seed_df, rng=rng)
                    if math.isfinite(seed_sd)
                    else models
                )
                rows.append(
                    {
                        **where,
                        "baseline": baseline.label,
                        "candidate": candidate.label,
                        "metric": metric,
                        "n_images": len(group),
                        "n_patients": len(set(patients)),
                        "difference": headline.estimate,
                        "ci_low": headline.ci_low,
                        "ci_high": headline.ci_high,
                        "p_bootstrap": headline.p_value,
                        "covers": SEEDS_AND_PATIENTS if math.isfinite(seed_sd) else THESE_MODELS,
                        "seed_sd": seed_sd,
                        "seed_df": seed_df,
                        "models_ci_low": models.ci_low,
                        "models_ci_high": models.ci_high,
                        "models_p": models.p_value,
                        "mcnemar_p": test.p_value,
                    }
                )
    adjusted = {"p_holm", "significant", "models_p_holm", "mcnemar_p_holm"}
    table = pd.DataFrame(rows, columns=[c for c in PAIRED_COLUMNS if c not in adjusted])
    table["p_holm"] = holm(table["p_bootstrap"].to_numpy()) if len(table) else []
    table["models_p_holm"] = holm(table["models_p"].to_numpy()) if len(table) else []
    # McNemar is one test per configuration and split (repeated on each metric's row): one family of those
    first_rows = table.drop_duplicates([*CONFIGURATION, "split", "candidate"])
    mcnemar_holm = pd.Series(
        holm(first_rows["mcnemar_p"].to_numpy()) if len(first_rows) else [], index=first_rows.index
    )
    keys = [*CONFIGURATION, "split", "candidate"]
    lookup = dict(zip(map(tuple, first_rows[keys].to_numpy()), mcnemar_holm))
    table["mcnemar_p_holm"] = [lookup[tuple(k)] for k in table[keys].to_numpy()]
    table["significant"] = table["p_holm"] < 0.05
    return table[list(PAIRED_COLUMNS)], notes
