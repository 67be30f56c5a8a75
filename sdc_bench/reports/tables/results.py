"""Result tables of the metrics and comparisons: main, per class, per backbone, fold summary, comparisons."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.flags import Flag
from sdc_bench.reports.metrics import METRICS, get_metric, summarize_folds
from sdc_bench.reports.min_n import MIN_N
from sdc_bench.reports.tables._format import (
    CI_NOTE,
    CONFIG,
    HEADLINE,
    MARK,
    SEED_SPREAD,
    SIGNIFICANCE_TESTS,
    as_float,
    best_rows,
    by_configuration,
    config_cells,
    configurations_of,
    decorate,
    flag_marks,
    fmt_interval,
    fmt_number,
    metric_columns,
    metric_value,
    p_text,
    pooled_rows,
    reference_first,
    references_of,
    rule_notes,
    rule_rows,
    seed_spread,
    seeds_note,
    shown_columns,
    significance,
    spread_text,
)

__all__ = ["comparisons_table", "fold_summary_table", "main_table", "per_backbone_table", "per_class_table"]

_TEST_NAMES = {
    "mcnemar_exact": "exact McNemar",
    "corrected_resampled_ttest": "corrected resampled t-test",
    "paired_bootstrap": "paired patient bootstrap",
}
# a compared metric in a sentence: its registry title, lower case unless it starts with an acronym
_METRIC_NAMES = {
    name: title if title.split()[0].isupper() else title.lower()
    for name, title in ((name, spec.title()) for name, spec in METRICS.items())
}


def main_table(
    metrics: pd.DataFrame,
    *,
    split: str = OOF_SPLIT,
    reference: str,
    comparisons: pd.DataFrame | None = None,
    alpha: float = 0.05,
    rules: pd.DataFrame | None = None,
    flags: Sequence[Flag] = (),
) -> pd.DataFrame:
    """Methods x headline metrics (estimate [95% CI]); best in bold, significance marks, reference rules.

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
    rules : pandas.DataFrame, optional
        :func:`~sdc_bench.reports.rules.reference_rules`: rows listed last, never bold or tested.
    flags : sequence of Flag
        :mod:`~sdc_bench.reports.flags`: a mark after the method name of each flagged configuration.

    Returns
    -------
    pandas.DataFrame
        One row per configuration, reference method first, then by balanced accuracy; the rules last.
    """
    pooled = pooled_rows(metrics, split)
    parts = by_configuration(pooled)
    configurations = list(parts)
    if not configurations:
        return decorate(pd.DataFrame(columns=["Method", *[t for _, _, t in HEADLINE]]))
    shown = shown_columns(configurations)
    values = {c: {title: metric_value(parts[c], m, k) for m, k, title in HEADLINE} for c in configurations}
    order = reference_first(
        configurations, reference, {c: values[c]["Balanced accuracy"][0] for c in configurations}
    )
    significant = significance(comparisons)
    spread, n_seeds = seed_spread(metrics, split)
    rows, marks = [], []
    for index, configuration in enumerate(order):
        row = config_cells(configuration, shown)
        for metric, class_name, title in HEADLINE:
            row[title] = fmt_interval(*values[configuration][title])
            test = SIGNIFICANCE_TESTS.get(title)
            if test and significant.get((configuration, *test)):
                marks.append((index, title, MARK))
            if n_seeds and title in SEED_SPREAD:
                row[f"{title}, mean ± SD over {n_seeds} seeds"] = spread_text(
                    spread, (configuration, metric, class_name)
                )
        rows.append(row)
    bold = [
        (r, title)
        for metric, _, title in HEADLINE
        for r in best_rows(
            [values[c][title][0] for c in order], higher_is_better=get_metric(metric).higher_is_better
        )
    ]
    marks += flag_marks(order, flags)
    rows += rule_rows(rules, split, shown, rows[0].keys())
    notes = _main_notes(n_seeds, references_of(comparisons), reference, alpha) + rule_notes(rules, flags)
    table = decorate(pd.DataFrame(rows), bold=bold, marks=marks, notes=notes)
    table.attrs["stack"] = ["Method", "Backbone"]  # the LaTeX copy sets the backbone under the method
    return table


def _main_notes(n_seeds: int, references: list[str], reference: str, alpha: float) -> list[str]:
    notes = [(seeds_note(n_seeds) if n_seeds else CI_NOTE) + " Bold: best value in the column."]
    if references:
        notes.append(
            f"{MARK} Holm-adjusted p < {alpha:g} against the reference ({'; '.join(references)}; {reference} on the "
            "same backbone where there is one) on the same out-of-fold images: accuracy by the exact McNemar "
            "test, balanced accuracy and macro AUROC by a paired patient-level bootstrap of the pooled "
            "difference; Holm correction within each test family. Specificity is not tested. Macro "
            "sensitivity equals balanced accuracy and is not repeated (per-class sensitivity: per-class table)."
        )
    else:
        notes.append(f"No significance marks: no {reference} configuration to compare with.")
    return notes


def per_class_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT) -> pd.DataFrame:
    """Per-class sensitivity and specificity (Wilson 95% CI): one row per class and configuration.

    Rows are grouped by class (classes in ``p_`` column order); the best value of each
    class is in bold.
    """
    pooled = pooled_rows(metrics, split)
    per_class = pooled[pooled["metric"].isin(["sensitivity", "specificity"])]
    per_class = per_class[~per_class["class_name"].isin(["macro", "overall"])]
    parts = by_configuration(per_class)
    configurations = list(parts)
    classes = list(dict.fromkeys(per_class["class_name"].astype(str)))
    if not configurations:
        return decorate(pd.DataFrame(columns=["Class", "Method", "Sensitivity", "Specificity"]))
    shown = shown_columns(configurations)
    spread, n_seeds = seed_spread(metrics, split)
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for class_name in classes:
        start = len(rows)
        block = {
            c: {m: metric_value(parts[c], m, class_name) for m in ("sensitivity", "specificity")}
            for c in configurations
        }
        for configuration in configurations:
            row = {"Class": class_name, **config_cells(configuration, shown)}
            for metric in ("sensitivity", "specificity"):
                row[get_metric(metric).label] = fmt_interval(*block[configuration][metric])
                if n_seeds:
                    row[f"{get_metric(metric).label}, mean ± SD over {n_seeds} seeds"] = spread_text(
                        spread, (configuration, metric, class_name)
                    )
            rows.append(row)
        for metric in ("sensitivity", "specificity"):
            best = best_rows([block[c][metric][0] for c in configurations])
            bold += [(start + r, get_metric(metric).label) for r in best]
    notes = [
        (
            f"One-vs-rest per class, pooled out-of-fold over {n_seeds} protocol seeds, patient-level bootstrap "
            "95% CI; mean ± SD: the per-seed estimates across seeds."
            if n_seeds
            else "One-vs-rest per class, pooled out-of-fold, Wilson 95% CI."
        )
        + " Bold: best value within the class."
    ]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Class")


def per_backbone_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT, reference: str) -> pd.DataFrame:
    """Headline results grouped by backbone; the best value within each backbone in bold."""
    pooled = pooled_rows(metrics, split)
    parts = by_configuration(pooled)
    configurations = list(parts)
    columns = metric_columns(("balanced_accuracy", "overall"), ("auroc", "macro"), ("accuracy", "overall"))
    if not configurations:
        return decorate(pd.DataFrame(columns=["Backbone", "Method", *[t for _, _, t in columns]]))
    shown = [c for c in shown_columns(configurations) if c != "backbone"]
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for backbone in sorted({c[1] for c in configurations}):
        members = [c for c in configurations if c[1] == backbone]
        values = {c: {t: metric_value(parts[c], m, k) for m, k, t in columns} for c in members}
        members = reference_first(members, reference, {c: values[c]["Balanced accuracy"][0] for c in members})
        start = len(rows)
        for configuration in members:
            row = {"Backbone": backbone, **config_cells(configuration, shown)}
            row.update({t: fmt_interval(*values[configuration][t]) for _, _, t in columns})
            rows.append(row)
        for _, _, title in columns:
            bold += [(start + r, title) for r in best_rows([values[c][title][0] for c in members])]
    notes = [CI_NOTE + " Bold: best value within the backbone."]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Backbone")


def fold_summary_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT, reference: str) -> pd.DataFrame:
    """Mean ± SD over outer folds of the headline metrics (from :func:`summarize_folds`)."""
    summary = summarize_folds(metrics)
    summary = summary[summary["split"] == split]
    parts = by_configuration(summary)
    if not parts:
        return decorate(pd.DataFrame(columns=["Method", *[t for _, _, t in HEADLINE]]))
    configurations = list(parts)
    shown = shown_columns(configurations)

    def stat(group: pd.DataFrame, metric: str, class_name: str) -> tuple[float, float, int]:
        hit = group[(group["metric"] == metric) & (group["class_name"] == class_name)]
        if hit.empty:
            return (math.nan, math.nan, 0)
        return (float(hit["mean"].iloc[0]), float(hit["sd"].iloc[0]), int(hit["n_folds"].iloc[0]))

    values = {c: {t: stat(parts[c], m, k) for m, k, t in HEADLINE} for c in configurations}
    order = reference_first(
        configurations, reference, {c: values[c]["Balanced accuracy"][0] for c in configurations}
    )
    rows = []
    for configuration in order:
        row = config_cells(configuration, shown)
        for _, _, title in HEADLINE:
            mean, sd, _ = values[configuration][title]
            row[title] = "n/a" if not math.isfinite(mean) else f"{fmt_number(mean)} ± {fmt_number(sd)}"
        row["Folds"] = str(max(v[2] for v in values[configuration].values()))
        rows.append(row)
    bold = [
        (r, t)
        for m, _, t in HEADLINE
        for r in best_rows([values[c][t][0] for c in order], higher_is_better=get_metric(m).higher_is_better)
    ]
    notes = ["Mean ± sample SD of the per-fold estimates over outer folds. Bold: best mean in the column."]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes)


def _statistic_text(test: str, statistic: float, p_value: float) -> str:
    if test == "corrected_resampled_ttest" and not math.isfinite(p_value):
        return f"not run (< {MIN_N['corrected_ttest'].minimum} folds)"
    return fmt_number(statistic, 2) if math.isfinite(statistic) else "–"


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
        return decorate(pd.DataFrame(columns=columns))
    configurations = configurations_of(comparisons)
    shown = shown_columns(configurations)
    references = references_of(comparisons)
    rows, marks, bold = [], [], []
    ordered = comparisons.sort_values([*CONFIG, "test", "metric"], kind="mergesort")
    for index, row in enumerate(ordered.itertuples(index=False)):
        configuration = tuple(str(getattr(row, c)) for c in CONFIG)
        out = config_cells(configuration, shown)
        if len(references) > 1:
            out["Reference"] = str(row.reference)
        out.update(
            {
                "Test": _TEST_NAMES.get(str(row.test), str(row.test)),
                "Metric": _METRIC_NAMES.get(str(row.metric), str(row.metric)),
                "Δ (reference − method)": fmt_interval(
                    as_float(row.estimate), as_float(row.ci_low), as_float(row.ci_high), signed=True
                ),
                "Statistic": _statistic_text(str(row.test), as_float(row.statistic), as_float(row.p_value)),
                "p": p_text(as_float(row.p_value)),
                "p (Holm)": p_text(as_float(row.p_holm)),
            }
        )
        if bool(row.significant):
            marks.append((index, "p (Holm)", MARK))
            bold.append((index, "p (Holm)"))
        rows.append(out)
    notes = [
        f"Reference: {' and '.join(references)}. Δ > 0: the reference is better. McNemar: exact test on discordant pooled out-of-fold predictions "
        "(Δ in accuracy); corrected resampled t-test (Nadeau & Bengio 2003) on per-fold balanced accuracy, "
        f"run with at least {MIN_N['corrected_ttest'].minimum} outer folds; paired patient bootstrap: percentile "
        "CI of the pooled difference. Every Δ and its 95% CI is the pooled out-of-fold difference with its paired "
        "patient-bootstrap interval, on the metric's scale. "
        f"{MARK} / bold: Holm-adjusted p < {alpha:g} within each (test, metric) family."
    ]
    return decorate(pd.DataFrame(rows), bold=bold, marks=marks, notes=notes)
