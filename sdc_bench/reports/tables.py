"""Paper tables from stored results, written as CSV, Markdown and LaTeX (booktabs).

Each ``*_table`` function returns a :class:`pandas.DataFrame` of display strings (estimates
with 95% intervals, counts, names); emphasis travels in ``DataFrame.attrs`` so one table
renders the same way in every format:

- ``attrs["bold"]``: ``[(row, column), ...]`` cells to set in bold (best value);
- ``attrs["marks"]``: ``[(row, column, mark), ...]`` significance marks after a cell;
- ``attrs["notes"]``: footnotes printed under the table;
- ``attrs["group"]``: a column whose change of value starts a new block (a ``\\midrule``).

The renderers of :mod:`sdc_bench.reports.render` (re-exported here) honour these attributes:
:func:`to_markdown`, :func:`to_latex` and :func:`to_html` work on any plain DataFrame too;
:func:`write_table` writes ``<stem>.csv``, ``.md`` and ``.tex``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.reports.metrics import CONFIGURATION_COLUMNS, OOF_SPLIT, summarize_folds, summarize_seeds
from sdc_bench.reports.render import to_html, to_latex, to_markdown, write_table

__all__ = [
    "HEADLINE",
    "SEED_SPREAD",
    "SIGNIFICANCE_TESTS",
    "ablation_table",
    "comparisons_table",
    "dataset_flow_counts",
    "dataset_flow_table",
    "external_table",
    "fold_summary_table",
    "imbalance_table",
    "main_table",
    "per_backbone_table",
    "per_class_table",
    "search_table",
    "selected_params_table",
    "throughput_table",
    "to_html",
    "to_latex",
    "to_markdown",
    "write_table",
]

CONFIG = list(CONFIGURATION_COLUMNS)
_CONFIG_TITLES = {
    "method": "Method",
    "backbone": "Backbone",
    "augment": "Augmentation",
    "imbalance": "Imbalance",
}
#: Headline metrics of the main table: (metric, class_name, column title).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "overall", "Accuracy"),
    ("balanced_accuracy", "overall", "Balanced accuracy"),
    ("sensitivity", "macro", "Sensitivity (macro)"),
    ("specificity", "macro", "Specificity (macro)"),
    ("auroc", "macro", "AUROC (macro)"),
)
#: Column title -> (test, metric) of :func:`~sdc_bench.reports.stats.compare_to_reference`
#: whose Holm-adjusted p-value marks that column. Macro sensitivity is balanced accuracy.
SIGNIFICANCE_TESTS: dict[str, tuple[str, str]] = {
    "Accuracy": ("mcnemar_exact", "accuracy"),
    "Balanced accuracy": ("corrected_resampled_ttest", "balanced_accuracy"),
    "Sensitivity (macro)": ("paired_bootstrap", "balanced_accuracy"),
    "AUROC (macro)": ("paired_bootstrap", "auroc"),
}
_TEST_NAMES = {
    "mcnemar_exact": "exact McNemar",
    "corrected_resampled_ttest": "corrected resampled t-test",
    "paired_bootstrap": "paired patient bootstrap",
}
_METRIC_NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "auroc": "AUROC (macro)",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
}
#: Headline columns that, in a run with several protocol seeds, get a "mean ± SD over seeds" column beside them.
SEED_SPREAD: tuple[str, ...] = ("Balanced accuracy", "AUROC (macro)")
_DIGITS = 3
_MARK = "*"
_CI_NOTE = (
    "Pooled out-of-fold estimates with 95% CIs: Wilson for accuracy and per-class sensitivity "
    "and specificity; patient-level percentile bootstrap for balanced accuracy and macro averages."
)


# --------------------------------------------------------------------------- helpers


def _number(value: float, digits: int = _DIGITS, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    text = f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"
    if float(text) == 0.0:  # no "-0.000"
        text = text.replace("-", "+" if signed else "")
    return text


def _cell(value: float, low: float, high: float, *, signed: bool = False) -> str:
    """``0.912 [0.880, 0.940]``; the interval is left out where it is undefined."""
    if pd.isna(value):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return _number(value, signed=signed)
    return f"{_number(value, signed=signed)} [{_number(low, signed=signed)}, {_number(high, signed=signed)}]"


def _seed_spread(
    metrics: pd.DataFrame, split: str
) -> tuple[dict[tuple[tuple[str, ...], str, str], tuple[float, float]], int]:
    """(configuration, metric, class_name) -> (mean, SD) over protocol seeds, and the number of seeds;
    empty and 0 for a single-seed run (no ``'seed'`` rows)."""
    if "seed" not in metrics.columns or not (metrics["scope"] == "seed").any():
        return {}, 0
    summary = summarize_seeds(metrics)
    summary = summary[summary["split"] == split]
    n_seeds = int(metrics.loc[metrics["scope"] == "seed", "seed"].nunique())
    spread = {
        (tuple(str(getattr(row, c)) for c in CONFIG), str(row.metric), str(row.class_name)): (
            _float(row.mean),
            _float(row.sd),
        )
        for row in summary.itertuples(index=False)
    }
    return spread, n_seeds


def _spread_text(spread: Mapping[Any, tuple[float, float]], key: Any) -> str:
    mean, sd = spread.get(key, (math.nan, math.nan))
    return "n/a" if not math.isfinite(mean) else f"{_number(mean)} ± {_number(sd)}"


def _seeds_note(n_seeds: int) -> str:
    return (
        f"Repeated cross-validation over {n_seeds} protocol seeds: the estimate pools every repetition (each "
        "image once per seed) and all its 95% CIs are patient-level bootstrap intervals (repetitions of one "
        "image are not independent trials); mean ± SD: the per-seed pooled estimates across seeds."
    )


def _float(value: Any) -> float:
    """A table cell as a float (NaN when missing)."""
    return math.nan if value is None or pd.isna(value) else float(value)


def _pooled(metrics: pd.DataFrame, split: str) -> pd.DataFrame:
    return metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]


def _configurations(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    keys = frame[CONFIG].astype(str).drop_duplicates().itertuples(index=False, name=None)
    return sorted(keys)


def _shown_columns(configurations: Sequence[tuple[str, ...]]) -> list[str]:
    """Method and backbone always; augmentation / imbalance only where they tell configurations apart."""
    shown = ["method", "backbone"]
    for column in ("imbalance", "augment"):
        parts = [CONFIG.index(c) for c in shown]
        if len({tuple(c[i] for i in parts) for c in configurations}) < len(set(configurations)):
            shown.append(column)
    return [c for c in CONFIG if c in shown]


def _metric(group: pd.DataFrame, metric: str, class_name: str) -> tuple[float, float, float]:
    hit = group[(group["metric"] == metric) & (group["class_name"] == class_name)]
    if hit.empty:
        return (math.nan, math.nan, math.nan)
    row = hit.iloc[0]
    return (float(row["value"]), float(row["ci_low"]), float(row["ci_high"]))


def _by_configuration(frame: pd.DataFrame) -> dict[tuple[str, ...], pd.DataFrame]:
    keys = frame[CONFIG].astype(str).apply(tuple, axis=1) if len(frame) else pd.Series([], dtype=object)
    return {key: part for key, part in frame.groupby(keys, sort=True)}


def _best_rows(values: Sequence[float], *, higher_is_better: bool = True) -> list[int]:
    """Rows holding the best value, compared as displayed (rounded), so visible ties all win."""
    rounded = np.array([round(v, _DIGITS) if v is not None and math.isfinite(v) else np.nan for v in values])
    if np.isnan(rounded).all():
        return []
    best = np.nanmax(rounded) if higher_is_better else np.nanmin(rounded)
    return [int(i) for i in np.flatnonzero(rounded == best)]


def _decorate(
    table: pd.DataFrame,
    *,
    bold: Iterable[tuple[int, str]] = (),
    marks: Iterable[tuple[int, str, str]] = (),
    notes: Iterable[str] = (),
    group: str | None = None,
) -> pd.DataFrame:
    table = table.reset_index(drop=True)
    table.attrs = {
        "bold": sorted({(int(r), str(c)) for r, c in bold}),
        "marks": sorted({(int(r), str(c), str(m)) for r, c, m in marks}),
        "notes": [str(n) for n in notes],
        "group": group,
    }
    return table


def _config_cells(configuration: tuple[str, ...], shown: Sequence[str]) -> dict[str, str]:
    return {_CONFIG_TITLES[c]: configuration[CONFIG.index(c)] for c in shown}


def _significance(comparisons: pd.DataFrame | None) -> dict[tuple[tuple[str, ...], str, str], bool]:
    if comparisons is None or comparisons.empty:
        return {}
    out = {}
    for row in comparisons.itertuples(index=False):
        key = tuple(str(getattr(row, c)) for c in CONFIG)
        out[(key, str(row.test), str(row.metric))] = bool(row.significant)
    return out


def _references(comparisons: pd.DataFrame | None) -> list[str]:
    if comparisons is None or comparisons.empty:
        return []
    return sorted({str(r) for r in comparisons["reference"]})


def _reference_first(configurations: Sequence[tuple[str, ...]], reference: str, score: Mapping) -> list:
    return sorted(configurations, key=lambda c: (c[0] != reference, -_finite(score.get(c)), c))


def _finite(value: Any) -> float:
    return float(value) if value is not None and math.isfinite(float(value)) else -math.inf


# --------------------------------------------------------------------------- result tables


def main_table(
    metrics: pd.DataFrame,
    *,
    split: str = OOF_SPLIT,
    reference: str,
    comparisons: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Methods x headline metrics (estimate [95% CI]); best in bold, significance marks.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Output of :func:`~sdc_bench.reports.metrics.compute_metrics`.
    split : str, default='test'
        Split to report (``'test'`` is out-of-fold).
    reference : str
        Method listed first; the one the significance marks compare with (the run's proposed
        method, :func:`~sdc_bench.core.store.proposed_method`).
    comparisons : pandas.DataFrame, optional
        Output of :func:`~sdc_bench.reports.stats.compare_to_reference` (several references
        concatenated are fine); a cell gets ``*`` where its matching test (see
        :data:`SIGNIFICANCE_TESTS`) has a Holm-adjusted p-value below ``alpha``.
    alpha : float, default=0.05
        Level quoted in the footnote (the ``significant`` column of ``comparisons`` decides).

    Returns
    -------
    pandas.DataFrame
        One row per configuration, reference method first, then by balanced accuracy.
    """
    pooled = _pooled(metrics, split)
    parts = _by_configuration(pooled)
    configurations = list(parts)
    if not configurations:
        return _decorate(pd.DataFrame(columns=["Method", *[t for _, _, t in HEADLINE]]))
    shown = _shown_columns(configurations)
    values = {c: {title: _metric(parts[c], m, k) for m, k, title in HEADLINE} for c in configurations}
    order = _reference_first(
        configurations, reference, {c: values[c]["Balanced accuracy"][0] for c in configurations}
    )
    significant = _significance(comparisons)
    spread, n_seeds = _seed_spread(metrics, split)
    rows, marks = [], []
    for index, configuration in enumerate(order):
        row = _config_cells(configuration, shown)
        for metric, class_name, title in HEADLINE:
            row[title] = _cell(*values[configuration][title])
            test = SIGNIFICANCE_TESTS.get(title)
            if test and significant.get((configuration, *test)):
                marks.append((index, title, _MARK))
            if n_seeds and title in SEED_SPREAD:
                row[f"{title}, mean ± SD over {n_seeds} seeds"] = _spread_text(
                    spread, (configuration, metric, class_name)
                )
        rows.append(row)
    bold = [(r, title) for _, _, title in HEADLINE for r in _best_rows([values[c][title][0] for c in order])]
    notes = [(_seeds_note(n_seeds) if n_seeds else _CI_NOTE) + " Bold: best value in the column."]
    references = _references(comparisons)
    if references:
        notes.append(
            f"{_MARK} Holm-adjusted p < {alpha:g} against the reference ({'; '.join(references)}; {reference} on the "
            "same backbone where there is one) on the same out-of-fold images: accuracy by the exact McNemar "
            "test, balanced accuracy by the corrected resampled t-test on per-fold scores (Nadeau & Bengio "
            "2003), macro sensitivity (= balanced accuracy) and macro AUROC by a paired patient-level "
            "bootstrap; Holm correction within each test family. Specificity is not tested."
        )
    else:
        notes.append(f"No significance marks: no {reference} configuration to compare with.")
    return _decorate(pd.DataFrame(rows), bold=bold, marks=marks, notes=notes)


def per_class_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT) -> pd.DataFrame:
    """Per-class sensitivity and specificity (Wilson 95% CI): one row per class and configuration.

    Rows are grouped by class (classes in ``p_`` column order); the best value of each
    class is in bold.
    """
    pooled = _pooled(metrics, split)
    per_class = pooled[pooled["metric"].isin(["sensitivity", "specificity"])]
    per_class = per_class[~per_class["class_name"].isin(["macro", "overall"])]
    parts = _by_configuration(per_class)
    configurations = list(parts)
    classes = list(dict.fromkeys(per_class["class_name"].astype(str)))
    if not configurations:
        return _decorate(pd.DataFrame(columns=["Class", "Method", "Sensitivity", "Specificity"]))
    shown = _shown_columns(configurations)
    spread, n_seeds = _seed_spread(metrics, split)
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for class_name in classes:
        start = len(rows)
        block = {
            c: {m: _metric(parts[c], m, class_name) for m in ("sensitivity", "specificity")}
            for c in configurations
        }
        for configuration in configurations:
            row = {"Class": class_name, **_config_cells(configuration, shown)}
            for metric in ("sensitivity", "specificity"):
                row[metric.capitalize()] = _cell(*block[configuration][metric])
                if n_seeds:
                    row[f"{metric.capitalize()}, mean ± SD over {n_seeds} seeds"] = _spread_text(
                        spread, (configuration, metric, class_name)
                    )
            rows.append(row)
        for metric in ("sensitivity", "specificity"):
            best = _best_rows([block[c][metric][0] for c in configurations])
            bold += [(start + r, metric.capitalize()) for r in best]
    notes = [
        (
            f"One-vs-rest per class, pooled out-of-fold over {n_seeds} protocol seeds, patient-level bootstrap "
            "95% CI; mean ± SD: the per-seed estimates across seeds."
            if n_seeds
            else "One-vs-rest per class, pooled out-of-fold, Wilson 95% CI."
        )
        + " Bold: best value within the class."
    ]
    return _decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Class")


def per_backbone_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT, reference: str) -> pd.DataFrame:
    """Headline results grouped by backbone; the best value within each backbone in bold."""
    pooled = _pooled(metrics, split)
    parts = _by_configuration(pooled)
    configurations = list(parts)
    columns = (
        ("balanced_accuracy", "overall", "Balanced accuracy"),
        ("auroc", "macro", "AUROC (macro)"),
        ("accuracy", "overall", "Accuracy"),
    )
    if not configurations:
        return _decorate(pd.DataFrame(columns=["Backbone", "Method", *[t for _, _, t in columns]]))
    shown = [c for c in _shown_columns(configurations) if c != "backbone"]
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for backbone in sorted({c[1] for c in configurations}):
        members = [c for c in configurations if c[1] == backbone]
        values = {c: {t: _metric(parts[c], m, k) for m, k, t in columns} for c in members}
        members = _reference_first(
            members, reference, {c: values[c]["Balanced accuracy"][0] for c in members}
        )
        start = len(rows)
        for configuration in members:
            row = {"Backbone": backbone, **_config_cells(configuration, shown)}
            row.update({t: _cell(*values[configuration][t]) for _, _, t in columns})
            rows.append(row)
        for _, _, title in columns:
            bold += [(start + r, title) for r in _best_rows([values[c][title][0] for c in members])]
    notes = [_CI_NOTE + " Bold: best value within the backbone."]
    return _decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Backbone")


def _delta_cells(
    comparisons: pd.DataFrame | None, test: str, metric: str
) -> dict[tuple[str, ...], tuple[str, float]]:
    """Configuration -> (``method - reference [CI]`` text, Holm p) from the comparisons."""
    out: dict[tuple[str, ...], tuple[str, float]] = {}
    if comparisons is None or comparisons.empty:
        return out
    rows = comparisons[(comparisons["test"] == test) & (comparisons["metric"] == metric)]
    for row in rows.itertuples(index=False):
        key = tuple(str(getattr(row, c)) for c in CONFIG)
        # compare_to_reference reports reference - other; a table of changes reads other - reference
        estimate, low, high = _float(row.estimate), _float(row.ci_low), _float(row.ci_high)
        out[key] = (_cell(-estimate, -high, -low, signed=True), _float(row.p_holm))
    return out


def _p_text(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def ablation_table(
    metrics: pd.DataFrame,
    comparisons: pd.DataFrame | None = None,
    *,
    split: str = OOF_SPLIT,
    reference: str,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The reference method and its ablations (methods named ``<reference>_*``), with the paired change.

    Returns an empty table when the run has no ablation.
    """
    pooled = _pooled(metrics, split)
    parts = _by_configuration(pooled)
    is_ablation = [c for c in parts if c[0].startswith(f"{reference}_")]
    columns = ["Backbone", "Method", "Balanced accuracy", "AUROC (macro)", "Δ balanced accuracy", "p (Holm)"]
    if not is_ablation:
        return _decorate(pd.DataFrame(columns=columns))
    configurations = [c for c in parts if c[0] == reference or c in is_ablation]
    shown = [c for c in _shown_columns(configurations) if c != "backbone"]
    deltas = _delta_cells(comparisons, "paired_bootstrap", "balanced_accuracy")
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    marks: list[tuple[int, str, str]] = []
    for backbone in sorted({c[1] for c in configurations}):
        members = [c for c in configurations if c[1] == backbone]
        values = {
            c: (_metric(parts[c], "balanced_accuracy", "overall"), _metric(parts[c], "auroc", "macro"))
            for c in members
        }
        members = _reference_first(members, reference, {c: values[c][0][0] for c in members})
        start = len(rows)
        for offset, configuration in enumerate(members):
            delta, p_holm = deltas.get(
                configuration, ("reference" if configuration[0] == reference else "n/a", math.nan)
            )
            row = {"Backbone": backbone, **_config_cells(configuration, shown)}
            row.update(
                {
                    "Balanced accuracy": _cell(*values[configuration][0]),
                    "AUROC (macro)": _cell(*values[configuration][1]),
                    "Δ balanced accuracy": delta,
                    "p (Holm)": _p_text(p_holm) if math.isfinite(p_holm) else "",
                }
            )
            if math.isfinite(p_holm) and p_holm < alpha:
                marks.append((start + offset, "Δ balanced accuracy", _MARK))
            rows.append(row)
        for index, title in enumerate(("Balanced accuracy", "AUROC (macro)")):
            bold += [(start + r, title) for r in _best_rows([values[c][index][0] for c in members])]
    notes = [
        _CI_NOTE,
        f"Δ: ablation minus {reference} on the same images, paired patient-level bootstrap (95% CI); "
        f"{_MARK} Holm-adjusted p < {alpha:g}. Bold: best value within the backbone.",
    ]
    return _decorate(
        pd.DataFrame(rows)[[c for c in rows[0]]], bold=bold, marks=marks, notes=notes, group="Backbone"
    )


def imbalance_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT) -> pd.DataFrame:
    """Configurations grouped by imbalance strategy, with metrics that reward the rare classes."""
    pooled = _pooled(metrics, split)
    parts = _by_configuration(pooled)
    columns = (
        ("balanced_accuracy", "overall", "Balanced accuracy"),
        ("f1", "macro", "F1 (macro)"),
        ("auprc", "macro", "AUPRC (macro)"),
    )
    if not parts:
        return _decorate(pd.DataFrame(columns=["Imbalance", "Method", *[t for _, _, t in columns]]))
    configurations = sorted(parts, key=lambda c: (c[3], c))
    shown = [c for c in _shown_columns(configurations) if c != "imbalance"]
    values = {c: {t: _metric(parts[c], m, k) for m, k, t in columns} for c in configurations}
    rows, worst_values = [], []
    for configuration in configurations:
        row = {"Imbalance": configuration[3], **_config_cells(configuration, shown)}
        row.update({t: _cell(*values[configuration][t]) for _, _, t in columns})
        sensitivity = parts[configuration]
        sensitivity = sensitivity[
            (sensitivity["metric"] == "sensitivity") & ~sensitivity["class_name"].isin(["macro", "overall"])
        ].dropna(subset=["value"])
        if sensitivity.empty:
            row["Worst-class sensitivity"] = "n/a"
            worst_values.append(math.nan)
        else:
            worst = sensitivity.iloc[int(np.argmin(sensitivity["value"].to_numpy(dtype=float)))]
            row["Worst-class sensitivity"] = (
                f"{_cell(worst['value'], worst['ci_low'], worst['ci_high'])} ({worst['class_name']})"
            )
            worst_values.append(float(worst["value"]))
        rows.append(row)
    bold = [(r, t) for _, _, t in columns for r in _best_rows([values[c][t][0] for c in configurations])]
    bold += [(r, "Worst-class sensitivity") for r in _best_rows(worst_values)]
    notes = [
        _CI_NOTE
        + " Worst-class sensitivity: the lowest per-class sensitivity (Wilson CI), class in parentheses. "
        "Bold: best value in the column."
    ]
    return _decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Imbalance")


def external_table(metrics: pd.DataFrame, *, reference: str) -> pd.DataFrame:
    """Results on each external split next to the out-of-fold (internal) balanced accuracy.

    Empty when the run has no ``external:<name>`` split.
    """
    pooled = metrics[(metrics["scope"] == "pooled")]
    splits = sorted(s for s in pooled["split"].astype(str).unique() if s.startswith("external:"))
    columns = (
        ("accuracy", "overall", "Accuracy"),
        ("balanced_accuracy", "overall", "Balanced accuracy"),
        ("auroc", "macro", "AUROC (macro)"),
    )
    if not splits:
        return _decorate(pd.DataFrame(columns=["Dataset", "Method", *[t for _, _, t in columns]]))
    internal = _by_configuration(_pooled(metrics, OOF_SPLIT))
    shown = _shown_columns(list(_by_configuration(pooled)))
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for split in splits:
        parts = _by_configuration(_pooled(metrics, split))
        values = {c: {t: _metric(parts[c], m, k) for m, k, t in columns} for c in parts}
        members = _reference_first(
            list(parts), reference, {c: values[c]["Balanced accuracy"][0] for c in parts}
        )
        start = len(rows)
        for configuration in members:
            row = {"Dataset": split.split(":", 1)[1], **_config_cells(configuration, shown)}
            row.update({t: _cell(*values[configuration][t]) for _, _, t in columns})
            oof = (
                _metric(internal[configuration], "balanced_accuracy", "overall")[0]
                if configuration in internal
                else math.nan
            )
            row["Δ balanced accuracy vs internal"] = _number(
                values[configuration]["Balanced accuracy"][0] - oof, signed=True
            )
            rows.append(row)
        for _, _, title in columns:
            bold += [(start + r, title) for r in _best_rows([values[c][title][0] for c in members])]
    notes = [
        "Each outer-fold model predicts every external image; the pooled prediction is their soft vote "
        "(mean probabilities). 95% CIs: Wilson for accuracy, patient-level bootstrap otherwise. "
        "Δ: external minus internal out-of-fold balanced accuracy. Bold: best value within the dataset."
    ]
    return _decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Dataset")


def fold_summary_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT, reference: str) -> pd.DataFrame:
    """Mean ± SD over outer folds of the headline metrics (from :func:`summarize_folds`)."""
    summary = summarize_folds(metrics)
    summary = summary[summary["split"] == split]
    parts = _by_configuration(summary)
    if not parts:
        return _decorate(pd.DataFrame(columns=["Method", *[t for _, _, t in HEADLINE]]))
    configurations = list(parts)
    shown = _shown_columns(configurations)

    def stat(group: pd.DataFrame, metric: str, class_name: str) -> tuple[float, float, int]:
        hit = group[(group["metric"] == metric) & (group["class_name"] == class_name)]
        if hit.empty:
            return (math.nan, math.nan, 0)
        return (float(hit["mean"].iloc[0]), float(hit["sd"].iloc[0]), int(hit["n_folds"].iloc[0]))

    values = {c: {t: stat(parts[c], m, k) for m, k, t in HEADLINE} for c in configurations}
    order = _reference_first(
        configurations, reference, {c: values[c]["Balanced accuracy"][0] for c in configurations}
    )
    rows = []
    for configuration in order:
        row = _config_cells(configuration, shown)
        for _, _, title in HEADLINE:
            mean, sd, _ = values[configuration][title]
            row[title] = "n/a" if not math.isfinite(mean) else f"{_number(mean)} ± {_number(sd)}"
        row["Folds"] = str(max(v[2] for v in values[configuration].values()))
        rows.append(row)
    bold = [(r, t) for _, _, t in HEADLINE for r in _best_rows([values[c][t][0] for c in order])]
    notes = ["Mean ± sample SD of the per-fold estimates over outer folds. Bold: best mean in the column."]
    return _decorate(pd.DataFrame(rows), bold=bold, notes=notes)


def comparisons_table(comparisons: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The paired tests of :func:`~sdc_bench.reports.stats.compare_to_reference`, readable."""
    columns = [
        "Method",
        "Reference",
        "Test",
        "Metric",
        "Δ (reference − method)",
        "Statistic",
        "p",
        "p (Holm)",
    ]
    if comparisons is None or comparisons.empty:
        return _decorate(pd.DataFrame(columns=columns))
    configurations = _configurations(comparisons)
    shown = _shown_columns(configurations)
    references = _references(comparisons)
    rows, marks, bold = [], [], []
    ordered = comparisons.sort_values([*CONFIG, "test", "metric"], kind="mergesort")
    for index, row in enumerate(ordered.itertuples(index=False)):
        configuration = tuple(str(getattr(row, c)) for c in CONFIG)
        out = _config_cells(configuration, shown)
        if len(references) > 1:
            out["Reference"] = str(row.reference)
        out.update(
            {
                "Test": _TEST_NAMES.get(str(row.test), str(row.test)),
                "Metric": _METRIC_NAMES.get(str(row.metric), str(row.metric)),
                "Δ (reference − method)": _cell(
                    _float(row.estimate), _float(row.ci_low), _float(row.ci_high), signed=True
                ),
                "Statistic": _number(_float(row.statistic), 2)
                if math.isfinite(_float(row.statistic))
                else "–",
                "p": _p_text(_float(row.p_value)),
                "p (Holm)": _p_text(_float(row.p_holm)),
            }
        )
        if bool(row.significant):
            marks.append((index, "p (Holm)", _MARK))
            bold.append((index, "p (Holm)"))
        rows.append(out)
    notes = [
        f"Reference: {' and '.join(references)}. Δ > 0: the reference is better. McNemar: exact test on discordant pooled out-of-fold predictions "
        "(Δ in accuracy); corrected resampled t-test (Nadeau & Bengio 2003) on per-fold balanced accuracy; "
        "paired patient bootstrap: percentile CI of the pooled difference. "
        f"{_MARK} / bold: Holm-adjusted p < {alpha:g} within each (test, metric) family."
    ]
    return _decorate(pd.DataFrame(rows), bold=bold, marks=marks, notes=notes)


# --------------------------------------------------------------------------- data and run tables


def dataset_flow_counts(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """Images and patients per class in the whole dataset and in each fold's train / test part.

    Parameters
    ----------
    manifest : pandas.DataFrame
        ``sample_id``, ``label`` and ``patient_id`` columns.
    splits : mapping
        The ``splits.json`` payload (``folds``: ``outer_fold``, ``train``, ``test``).
    classes : sequence of str, optional
        Class order (the run's); classes of the manifest not in it follow, sorted.

    Returns
    -------
    pandas.DataFrame
        Columns ``outer_fold`` (-1 for the whole dataset), ``part`` (``all``/``train``/``test``),
        ``class_name`` (a class or ``total``), ``n_images``, ``n_patients``.
    """
    manifest = manifest.astype({"sample_id": str, "label": str, "patient_id": str})
    present = set(manifest["label"])
    classes = [str(c) for c in (classes or []) if str(c) in present]
    classes += sorted(present - set(classes))
    by_id = manifest.set_index("sample_id")
    records = []

    def count(outer_fold: int, part: str, ids: Sequence[str] | None) -> None:
        rows = (
            manifest
            if ids is None
            else by_id.loc[by_id.index.intersection([str(i) for i in ids])].reset_index()
        )
        for class_name in [*classes, "total"]:
            chosen = rows if class_name == "total" else rows[rows["label"] == class_name]
            records.append(
                {
                    "outer_fold": outer_fold,
                    "part": part,
                    "class_name": class_name,
                    "n_images": len(chosen),
                    "n_patients": int(chosen["patient_id"].nunique()),
                }
            )

    count(-1, "all", None)
    for fold in sorted(splits.get("folds", []), key=lambda f: int(f["outer_fold"])):
        for part in ("train", "test"):
            count(int(fold["outer_fold"]), part, fold.get(part, []))
    return pd.DataFrame.from_records(records).astype(
        {"outer_fold": np.int64, "n_images": np.int64, "n_patients": np.int64}
    )


def dataset_flow_table(
    manifest: pd.DataFrame, splits: Mapping[str, Any], *, classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """CLAIM-style flow: ``images (patients)`` per class, whole dataset then each fold's train / test."""
    counts = dataset_flow_counts(manifest, splits, classes=classes)
    classes = list(dict.fromkeys(counts["class_name"]))
    rows = []
    for fold, part in counts[["outer_fold", "part"]].drop_duplicates().itertuples(index=False):
        group = counts[(counts["outer_fold"] == fold) & (counts["part"] == part)]
        row = {"Fold": "all" if int(fold) < 0 else str(fold), "Set": str(part)}
        for class_name in classes:
            hit = group[group["class_name"] == class_name].iloc[0]
            row["Total" if class_name == "total" else class_name] = f"{hit['n_images']} ({hit['n_patients']})"
        rows.append(row)
    notes = [
        "Images (patients) per class. Outer folds are patient-grouped: no patient is in both the train and "
        "the test part of a fold. Hyperparameter search uses an inner split of the train part only."
    ]
    return _decorate(pd.DataFrame(rows), notes=notes, group="Fold")


def throughput_table(throughput: pd.DataFrame) -> pd.DataFrame:
    """The throughput measurements, fastest inference per device and mode in bold."""
    frame = throughput.copy()
    notes_extra = []
    if "status" in frame:
        failed = frame[frame["status"].astype(str) != "ok"]
        if len(failed):
            notes_extra.append(
                f"{len(failed)} configuration(s) not measured (status skipped/failed) are left out."
            )
        frame = frame[frame["status"].astype(str) == "ok"]
    for column in ("device", "device_name", "precision", "mode"):
        if column not in frame:
            frame[column] = ""
    frame = frame.sort_values(["device", "mode", "backbone", "precision", "batch_size"], kind="mergesort")
    frame = frame.reset_index(drop=True)
    titles = {
        "backbone": "Backbone",
        "device_name": "Device",
        "precision": "Precision",
        "mode": "Mode",
        "batch_size": "Batch",
        "img_size": "Size",
        "channels_last": "Channels last",
        "compiled": "Compiled",
        "images_per_s": "Images/s",
        "latency_ms_p50": "Latency p50 (ms)",
        "latency_ms_p95": "Latency p95 (ms)",
        "peak_mem_mb": "Peak memory (MB)",
        "params_m": "Params (M)",
        "gflops": "GFLOPs",
        "fraction_of_peak": "Fraction of peak",
    }
    present = [
        c
        for c in titles
        if c in frame and not (c in ("channels_last", "compiled") and frame[c].nunique() < 2)
    ]
    digits = {
        "images_per_s": 1,
        "latency_ms_p50": 2,
        "latency_ms_p95": 2,
        "peak_mem_mb": 0,
        "params_m": 1,
        "gflops": 2,
        "fraction_of_peak": 2,
    }
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column in present:
            value = record[column]
            if column in digits and isinstance(value, int | float) and not isinstance(value, bool):
                row[titles[column]] = (
                    _number(float(value), digits[column]) if math.isfinite(float(value)) else "n/a"
                )
            else:
                row[titles[column]] = str(value)
        if (
            "device_name" in present
            and record.get("device")
            and str(record["device"]) not in str(record["device_name"])
        ):
            row["Device"] = f"{record['device_name']} ({record['device']})"
        rows.append(row)
    bold = []
    if "images_per_s" in frame:
        for _, group in frame.groupby(["device", "mode"], sort=False):
            best = group["images_per_s"].astype(float)
            bold += [(int(i), "Images/s") for i in best.index[best == best.max()]]
    notes = [
        "Measured by `sdc-bench throughput` on the device named. Bold: highest images/s per device and mode.",
        *notes_extra,
    ]
    return _decorate(
        pd.DataFrame(rows), bold=bold, notes=notes, group="Device" if "device_name" in present else None
    )


def _params_text(params: Mapping[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _search_cell(search: Any) -> str:
    if not isinstance(search, Mapping) or not search.get("n_trials"):
        return "none"
    best = search.get("best_value")
    best_text = f", best {_number(float(best))}" if isinstance(best, int | float) else ""
    return f"{search['n_trials']} trials ({search.get('n_pruned', 0)} pruned){best_text}"


def _fold_text(fold: Any, repeat_seed: Any, repeated: bool) -> str:
    """An outer fold, with its protocol seed when the run repeated the cross-validation."""
    return f"{fold} (seed {repeat_seed})" if repeated else str(fold)


def selected_params_table(cells: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per cell: the hyperparameters used for the outer-fold fit, data sizes and training length."""
    rows = []
    repeated = len({int(i.get("cell", {}).get("repeat_seed", 0)) for i in cells}) > 1
    for info in sorted(
        cells,
        key=lambda i: (
            *(str(i.get("cell", {}).get(k, "")) for k in ("method", "backbone", "augment", "imbalance")),
            int(i.get("cell", {}).get("repeat_seed", 0)),
            int(i.get("cell", {}).get("outer_fold", 0)),
        ),
    ):
        cell = info.get("cell", {})
        rows.append(
            {
                "Method": str(cell.get("method", "")),
                "Backbone": str(cell.get("backbone", "")),
                "Fold": _fold_text(cell.get("outer_fold", ""), cell.get("repeat_seed", 0), repeated),
                "Fit / val / test": f"{info.get('n_fit', '?')} / {info.get('n_val', '?')} / {info.get('n_test', '?')}",
                "Epochs (best)": f"{info.get('epochs_trained', '?')} ({info.get('best_epoch', '?')})",
                "Search": _search_cell(info.get("search")),
                "Seconds": _number(float(info["seconds"]), 1)
                if isinstance(info.get("seconds"), int | float)
                else "n/a",
                "Parameters": _params_text(info.get("params", {})),
            }
        )
    notes = [
        "Images in the inner fit and validation parts and the outer test fold; parameters used for the outer fit."
    ]
    return _decorate(pd.DataFrame(rows), notes=notes, group="Method")


def search_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per Optuna study: trials by state and the best inner-validation value.

    Parameters
    ----------
    trials : pandas.DataFrame
        One row per trial with ``study``, ``method``, ``backbone``, ``outer_fold``, ``state``
        and ``value`` (and ``param_<name>`` columns).
    """
    rows = []
    if trials is None or trials.empty:
        return _decorate(pd.DataFrame(columns=["Method", "Backbone", "Fold", "Trials", "Best value"]))
    if "seed" not in trials.columns:
        trials = trials.assign(seed=-1)
    repeated = trials["seed"].nunique() > 1
    keys = ["method", "backbone", "seed", "outer_fold"]
    for (method, backbone, repeat, fold), group in trials.groupby(keys, sort=True):
        states = group["state"].value_counts()
        complete = group[group["state"] == "COMPLETE"].dropna(subset=["value"])
        best = (
            complete.iloc[int(np.argmax(complete["value"].to_numpy(dtype=float)))]
            if not complete.empty
            else None
        )
        params = (
            {c[len("param_") :]: best[c] for c in group.columns if c.startswith("param_")}
            if best is not None
            else {}
        )
        rows.append(
            {
                "Method": str(method),
                "Backbone": str(backbone),
                "Fold": _fold_text(fold, repeat, repeated),
                "Trials": str(len(group)),
                "Complete": str(int(states.get("COMPLETE", 0))),
                "Pruned": str(int(states.get("PRUNED", 0))),
                "Failed": str(int(states.get("FAIL", 0))),
                "Best value": _number(float(best["value"])) if best is not None else "n/a",
                "Best parameters": _params_text({k: v for k, v in params.items() if pd.notna(v)}),
            }
        )
    notes = ["Value: the inner-validation score the search maximised (never the outer test fold)."]
    return _decorate(pd.DataFrame(rows), notes=notes, group="Method")
