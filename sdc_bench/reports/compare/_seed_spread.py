"""Differences between runs judged against the spread between training seeds, not only between patients.

The paired patient bootstrap and McNemar (``_paired``) resample patients while holding the two trained
models fixed: alone, they test whether *these two model instances* differ on these patients. Training with
another seed gives other instances (other folds, initialisation and augmentation draws). This module
judges each later run's difference from the first, per configuration, split and metric, against the
seed-to-seed spread, and gives the SD that training seeds add to each difference (``difference_sd``),
which ``_paired`` adds to its intervals. The spread comes from one or both of two sources:

- **Protocol seeds in the runs** (multi-seed runs: ``--seeds`` or ``protocol.seeds``). Each seed's pooled
  out-of-fold metric is one draw of the recipe on this dataset. The runs' means are compared with Welch's
  t-test over the per-seed values when both runs have two or more seeds, and with Student's pooled t-test
  when one run has a single seed (it borrows the other run's seed spread, assuming the two recipes share
  it); the p-values are Holm-adjusted over the whole family. This is the simple, assumption-light choice
  for a handful of seeds. The Nadeau-Bengio corrected resampled t-test is not used: it needs both models
  scored on the same folds (pairs of per-fold scores), while compared runs often differ in seed and hence
  in folds, and each per-seed pooled value here already uses every image once. What it does not cover:
  the per-seed values share one dataset, so the test says whether another training seed would change the
  verdict on *these* patients, not whether the difference holds in another sample of patients.
- **A baseline** (``--baseline``, built by ``sdc-bench baseline`` from K runs that differ in seed and
  thread count, the file ``regress`` reads): each metric's band ``max(k_sd * SD, floor)``, MLPerf-style.
  A difference whose size exceeds the band lies outside the seed spread, as ``regress`` would flag a
  candidate that far from the baseline mean. The difference of two draws has sqrt(2) times one draw's SD,
  so the 4-SD band is about 2.8 SD of a difference: a conservative check that fails rarely by chance. A
  band that the baseline marks as not gated (too noisy at its suite's size) judges nothing. A baseline
  built on other data (no run of it has these runs' data fingerprint) is ignored, with a note.

Where neither source exists (one seed per run and no baseline), the seed spread is unknown and nothing is
judged: :attr:`SeedSpread.refusal` says so in one line and the comparison gives only the paired view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from sdc_bench.reports.compare._runs import CONFIGURATION, ComparedRun
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.stats import holm

__all__ = ["SEED_SPREAD_COLUMNS", "SPREAD_METRICS", "BaselineBands", "SeedSpread", "seed_spread"]

#: (metric, class_name) judged against the seed spread: those the paired view tests.
SPREAD_METRICS = (("balanced_accuracy", "overall"), ("accuracy", "overall"), ("auroc", "macro"))

SEED_SPREAD_COLUMNS = (
    *CONFIGURATION, "split", "baseline", "candidate", "metric", "class_name", "n_seeds_baseline",
    "n_seeds_candidate", "mean_baseline", "mean_candidate", "difference", "seed_sd", "difference_sd",
    "sd_df", "test", "p_value", "p_holm", "band", "band_gated", "within_band", "verdict",
)  # fmt: skip

#: Verdicts of a row.
WITHIN, BEYOND, NOT_JUDGED = "within seed spread", "beyond seed spread", "not judged"

_ALPHA = 0.05


@dataclass(frozen=True)
class BaselineBands:
    """The bands of a baseline file, as the comparison needs them (read by the CLI through ``regress``).

    Attributes
    ----------
    source : str
        Where the bands come from (the baseline's path), named in the report.
    bands : mapping
        ``(method, backbone, augment, imbalance, split, metric, class_name)`` -> ``(band, gated)``.
    rule : str
        The band rule in words, e.g. ``band = max(4*SD, 0.02) around the mean of K runs``.
    data_fingerprints : tuple of str
        The data fingerprints of the baseline's runs; a band only describes runs on one of them.
    n_runs : int
        How many runs (draws) the baseline holds.
    sds : mapping
        The same keys -> the SD of the metric over the baseline's runs (one run's seed-to-seed SD).
    """

    source: str
    bands: Mapping[tuple[str, ...], tuple[float, bool]]
    rule: str = ""
    data_fingerprints: tuple[str, ...] = ()
    n_runs: int = 0
    sds: Mapping[tuple[str, ...], float] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedSpread:
    """What :func:`seed_spread` found.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`SEED_SPREAD_COLUMNS`, one row per later run, configuration, split and metric; empty when
        the spread is unknown.
    judged_by : str
        ``'t-test over seeds'``, ``'baseline band'``, ``'t-test over seeds and baseline band'`` or
        ``'unknown'``.
    refusal : str
        One line saying why nothing is judged (empty when something is).
    notes : list of str
        How each source was used, or why it was not.
    """

    table: pd.DataFrame
    judged_by: str
    refusal: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def n_beyond(self) -> int:
        """Rows whose difference lies beyond the seed spread."""
        return int((self.table["verdict"] == BEYOND).sum()) if len(self.table) else 0

    def difference_sds(self) -> dict[tuple[str, ...], tuple[float, float]]:
        """``(*configuration, split, metric, candidate)`` -> (the SD that training seeds add to that
        difference, its degrees of freedom): ``difference_sd`` and ``sd_df``; rows where it is unknown are
        left out."""
        keys = [*CONFIGURATION, "split", "metric", "candidate"]
        known = self.table[np.isfinite(self.table["difference_sd"].to_numpy(dtype=np.float64))]
        return {
            tuple(str(part) for part in key): (float(sd), float(df))
            for key, sd, df in zip(
                known[keys].itertuples(index=False, name=None), known["difference_sd"], known["sd_df"]
            )
        }


def per_seed_values(run: ComparedRun) -> pd.DataFrame:
    """Each protocol seed's pooled out-of-fold value of :data:`SPREAD_METRICS`, per configuration and split.

    Columns: the configuration, ``split``, ``metric``, ``class_name``, ``seed``, ``value``. A single-seed
    run gives its pooled values under its one seed. Point estimates only (no bootstrap).
    """
    metrics = compute_metrics(run.predictions, n_bootstrap=0)
    wanted = pd.Series(
        [(m, c) in SPREAD_METRICS for m, c in zip(metrics["metric"], metrics["class_name"])],
        index=metrics.index,
    )
    per_seed = metrics[wanted & (metrics["scope"] == "seed")]
    if per_seed.empty:
        per_seed = metrics[wanted & (metrics["scope"] == "pooled")].assign(seed=run.manifest.seeds[0])
    columns = [*CONFIGURATION, "split", "metric", "class_name", "seed", "value"]
    return per_seed[columns].astype({c: str for c in columns[:-2]}).reset_index(drop=True)


def _t_test(baseline: np.ndarray, candidate: np.ndarray) -> tuple[str, float]:
    """Welch (both runs >= 2 seeds) or Student's pooled t-test (one run has 1 seed); ('', NaN) otherwise."""
    if len(baseline) >= 2 and len(candidate) >= 2:
        test, equal_var = "Welch t", False
    elif len(baseline) + len(candidate) >= 3:
        test, equal_var = "Student t", True
    else:
        return "", math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        result = scipy_stats.ttest_ind(candidate, baseline, equal_var=equal_var)
    p_value = float(result.pvalue)
    return (test, p_value) if math.isfinite(p_value) else ("", math.nan)


def _pooled_sd(*groups: np.ndarray) -> float:
    """Within-run SD pooled over the runs with two or more seeds; NaN when none has."""
    usable = [g for g in groups if len(g) >= 2]
    if not usable:
        return math.nan
    squares = sum(float(np.sum((g - g.mean()) ** 2)) for g in usable)
    return math.sqrt(squares / sum(len(g) - 1 for g in usable))


def _verdict(p_holm: float, band: float, gated: bool, difference: float) -> tuple[bool | None, str]:
    """(within_band or None, verdict) of one row."""
    within = None if not math.isfinite(band) else bool(abs(difference) <= band + 1e-12)
    judged, beyond = False, False
    if math.isfinite(p_holm):
        judged, beyond = True, p_holm < _ALPHA
    if within is not None and gated:
        judged, beyond = True, beyond or not within
    if not judged:
        return within, NOT_JUDGED
    return within, BEYOND if beyond else WITHIN


def _usable_bands(
    runs: Sequence[ComparedRun], bands: BaselineBands | None
) -> tuple[BaselineBands | None, str]:
    """The baseline if it describes these runs' data, and a note on how it was used (or why not)."""
    if bands is None:
        return None, ""
    fingerprints = sorted({run.manifest.data.fingerprint for run in runs})
    if bands.data_fingerprints and not set(fingerprints) <= set(bands.data_fingerprints):
        return None, (
            f"Baseline {bands.source} ignored: it was built on data {', '.join(sorted(set(bands.data_fingerprints)))}, "
            f"these runs on {', '.join(fingerprints)}, so its bands describe another dataset's seed spread."
        )
    rule = f" ({bands.rule})" if bands.rule else ""
    return bands, (
        f"Baseline {bands.source}: {bands.n_runs or 'its'} runs that differ in seed (and threads) give each "
        f"metric a band{rule}; a difference larger than the band lies beyond the seed spread."
    )


def seed_spread(runs: Sequence[ComparedRun], bands: BaselineBands | None = None) -> SeedSpread:
    """Judge every later run's difference from the first against the seed spread (see the module docstring).

    Parameters
    ----------
    runs : sequence of ComparedRun
        Runs on the same data; the first is the baseline of the differences.
    bands : BaselineBands, optional
        A baseline's bands (``--baseline``); ignored, with a note, when built on other data.

    Returns
    -------
    SeedSpread
        The table (empty, with a one-line refusal, when the spread is unknown), how it was judged, notes.
    """
    usable, band_note = _usable_bands(runs, bands)
    notes = [band_note] if band_note else []
    seeds = {run.label: len(run.manifest.seeds) for run in runs}
    has_seeds = any(n >= 2 for n in seeds.values())
    if usable is None and not has_seeds:
        refusal = (
            "Seed spread unknown: every run has one protocol seed and no usable --baseline was given, so no "
            "difference is judged against training-seed variance; only the paired view follows, which holds "
            "the trained models fixed (run with --seeds 0,1,2, or pass --baseline from `sdc-bench baseline`)."
        )
        return SeedSpread(pd.DataFrame(columns=list(SEED_SPREAD_COLUMNS)), "unknown", refusal, notes)
    if has_seeds:
        counts = ", ".join(f"{label}: {n}" for label, n in seeds.items())
        notes.append(
            f"Protocol seeds per run ({counts}): each seed's pooled out-of-fold value is one draw; Welch's t-test "
            "over the per-seed values where both runs have two or more seeds, Student's pooled t-test where one "
            "has a single seed (it borrows the other's spread), Holm-adjusted over every row."
        )
    notes.append(
        "The values are each run's pooled out-of-fold metrics, as in metrics.csv and `regress` (on an external "
        "split, the fold models' soft-vote ensemble), as in the paired table. 'difference SD' is the SD that "
        "training seeds add to a difference: one seed's SD (the larger of the runs' own and the baseline's "
        "estimate) times sqrt(1/n_seeds + 1/n_seeds); the paired intervals add it, as Student's t with the "
        "estimate's degrees of freedom (K runs: K - 1), since a few runs give an uncertain SD."
    )
    values = {run.label: per_seed_values(run) for run in runs}
    key = [*CONFIGURATION, "split", "metric", "class_name"]
    baseline = runs[0]
    rows = []
    for candidate in runs[1:]:
        first = dict(iter(values[baseline.label].groupby(key, sort=True)))
        for group_key, later in values[candidate.label].groupby(key, sort=True):
            if group_key not in first:
                continue
            a = first[group_key]["value"].to_numpy(dtype=np.float64)
            b = later["value"].to_numpy(dtype=np.float64)
            a, b = a[np.isfinite(a)], b[np.isfinite(b)]
            if not len(a) or not len(b):
                continue
            test, p_value = _t_test(a, b)
            band_key = tuple(str(part) for part in group_key)
            band, gated = usable.bands.get(band_key, (math.nan, False)) if usable else (math.nan, False)
            seed_sd = _pooled_sd(a, b)
            baseline_sd = usable.sds.get(band_key, math.nan) if usable else math.nan
            # one seed's SD: the larger of the runs' own and the baseline's estimate, so that a lucky
            # small sample of seeds does not narrow the paired intervals that add it; with the degrees
            # of freedom of the estimate chosen (K runs: K - 1; unknown K: none, the normal)
            estimates = [
                (seed_sd, float(sum(max(len(g) - 1, 0) for g in (a, b) if len(g) >= 2))),
                (baseline_sd, float(usable.n_runs - 1) if usable and usable.n_runs >= 2 else math.inf),
            ]
            sigma, sd_df = max(
                ((v, df) for v, df in estimates if math.isfinite(v)), default=(math.nan, math.nan)
            )
            rows.append(
                {
                    **dict(zip(key, group_key)),
                    "baseline": baseline.label,
                    "candidate": candidate.label,
                    "n_seeds_baseline": len(a),
                    "n_seeds_candidate": len(b),
                    "mean_baseline": float(a.mean()),
                    "mean_candidate": float(b.mean()),
                    "difference": float(b.mean() - a.mean()),
                    "seed_sd": seed_sd,
                    "difference_sd": sigma * math.sqrt(1.0 / len(a) + 1.0 / len(b)),
                    "sd_df": sd_df,
                    "test": test,
                    "p_value": p_value,
                    "band": float(band),
                    "band_gated": bool(gated),
                }
            )
    table = pd.DataFrame(
        rows, columns=[c for c in SEED_SPREAD_COLUMNS if c not in {"p_holm", "within_band", "verdict"}]
    )
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=np.float64)) if len(table) else []
    verdicts = [
        _verdict(p, band, gated, difference)
        for p, band, gated, difference in zip(
            table["p_holm"], table["band"], table["band_gated"], table["difference"]
        )
    ]
    table["within_band"] = [within for within, _ in verdicts]
    table["verdict"] = [verdict for _, verdict in verdicts]
    tested = bool(table["test"].astype(bool).any()) if len(table) else False
    judged_by = (
        " and ".join(
            part
            for part, used in (("t-test over seeds", tested), ("baseline band", usable is not None))
            if used
        )
        or "unknown"
    )
    return SeedSpread(table[list(SEED_SPREAD_COLUMNS)], judged_by, "", notes)
