"""The report's Results section: the main table, the method and fold figures, the fold summary, the rank test
with its critical-difference diagram and the paired comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import (
    _METRIC_TITLES,
    _configurations,
    _look,
    _pooled_scores,
    _row_labels,
    _rows_of,
)
from sdc_bench.reports.flags import Flag
from sdc_bench.reports.loaders import load_cells
from sdc_bench.reports.metrics import (
    METRICS,
    OVERALL_METRICS,
    get_metric,
    summarize_folds,
)
from sdc_bench.reports.min_n import MIN_N, shortfall
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.stats import friedman_nemenyi
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    LINESTYLES,
    SINGLE_COLUMN_IN,
    apply_style,
    configuration_labels,
    save_figure,
)
from sdc_bench.reports.table_format import (
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

__all__ = [
    "comparisons_table",
    "critical_difference",
    "decision_note",
    "fold_scores",
    "fold_summary_table",
    "main_table",
    "method_comparison",
    "results_section",
]


@report_section("results", title="Results", order=50)
def results_section(ctx: ReportContext) -> Section:
    """Main table, method and fold figures, fold summary, critical-difference diagram and paired comparisons."""
    writer, metrics, reference = ctx.writer, ctx.metrics, ctx.reference
    palette, markers = ctx.palette, ctx.markers
    results = Section("Results")
    fold_note = shortfall("fold_box", _n_blocks(metrics))
    if fold_note:
        ctx.small_n.append(f"fold scores drawn as joined dots: {fold_note}")
    results.items.append(
        writer.table(
            "main_comparison",
            main_table(
                metrics,
                reference=reference,
                comparisons=ctx.comparisons,
                rules=ctx.rules,
                flags=ctx.flags,
                decision_note=decision_note(load_cells(ctx.root)),
            ),
            "Main comparison: pooled out-of-fold headline metrics with 95% CIs; reference method first, "
            "reference rules last.",
        )
    )
    results.items += writer.figure(
        "method_comparison",
        "Pooled out-of-fold estimates with 95% CIs (dotted line: the reference method). Configurations by balanced accuracy.",
        lambda stem: method_comparison(metrics, stem, reference=reference, palette=palette, markers=markers),
    )
    results.items += writer.figure(
        "fold_scores",
        "Balanced accuracy of each outer fold (points) and its spread over folds (box)."
        if not fold_note
        else f"Balanced accuracy of each outer fold; each fold's points joined across configurations "
        f"(no box: {fold_note}).",
        lambda stem: fold_scores(metrics, stem, palette=palette, markers=markers),
    )
    results.items.append(
        writer.table(
            "fold_summary",
            fold_summary_table(metrics, reference=reference),
            "Mean ± SD over outer folds.",
        )
    )
    _add_rank_test(ctx, results)
    _add_comparisons(ctx, results)
    return results


def _n_blocks(metrics: pd.DataFrame) -> int:
    folds = metrics[(metrics["scope"] == "fold") & (metrics["split"] == OOF_SPLIT)]
    return len(folds[[c for c in ("seed", "outer_fold") if c in folds.columns]].drop_duplicates())


def _add_rank_test(ctx: ReportContext, results: Section) -> None:
    # Friedman's chi-square and the Nemenyi CD are large-sample approximations over blocks (folds x
    # seeds): over 2 or 3 folds the CD spans the whole axis and the p-value means little
    reason = shortfall("friedman", _n_blocks(ctx.metrics))
    if reason:
        ctx.small_n.append(f"no Friedman test or critical-difference diagram: {reason}")
        return
    friedman = _friedman_text(ctx.metrics) or ""
    critical = ctx.writer.figure(
        "critical_difference",
        "Critical-difference diagram: average rank of balanced accuracy over outer folds (1 = best); configurations "
        f"joined by a thick bar are not significantly different (Nemenyi, α = 0.05). {friedman}".rstrip(),
        lambda stem: critical_difference(ctx.metrics, stem),
    )
    results.items += critical
    if friedman and not critical:
        results.paragraphs.append(friedman)


def _add_comparisons(ctx: ReportContext, results: Section) -> None:
    if ctx.comparisons.empty:
        results.paragraphs.append(
            f"Paired comparisons skipped: no `{ctx.reference}` configuration, or nothing to compare it with."
        )
        return
    untested = ctx.comparisons[
        (ctx.comparisons["test"] == "corrected_resampled_ttest") & ctx.comparisons["p_value"].isna()
    ]
    reason = shortfall("corrected_ttest", _n_blocks(ctx.metrics))
    if len(untested) and reason:
        ctx.small_n.append(f"corrected resampled t-test not run: {reason}")
    results.items.append(
        ctx.writer.table(
            "comparisons",
            comparisons_table(ctx.comparisons),
            f"Paired comparisons of every configuration with {display_name(ctx.reference)} "
            "(Δ = reference − method).",
        )
    )


def _friedman_text(metrics: pd.DataFrame) -> str | None:
    folds = metrics[
        (metrics["scope"] == "fold") & (metrics["split"] == OOF_SPLIT)
        & (metrics["metric"] == "balanced_accuracy") & (metrics["class_name"] == "overall")
    ]  # fmt: skip
    if folds.empty:
        return None
    # a block is one outer fold of one protocol seed (r x k blocks for repeated cross-validation)
    blocks = [c for c in ("seed", "outer_fold") if c in folds.columns]
    table = folds.assign(key=folds[CONFIG].astype(str).apply("/".join, axis=1)).pivot_table(
        index=blocks, columns="key", values="value", aggfunc="first"
    ).dropna()  # fmt: skip
    if table.shape[0] < 2 or table.shape[1] < 3:
        return "Friedman test not run: it needs at least 3 configurations scored on at least 2 outer folds."
    result = friedman_nemenyi(table.reset_index(drop=True))
    return (
        f"Friedman test over {result.n_blocks} outer folds and {result.n_methods} configurations (balanced accuracy): "
        f"chi² = {result.statistic:.2f}, p = {result.p_value:.3g}"
        + (
            f" (Iman–Davenport p = {result.iman_davenport_p_value:.3g})"
            if math.isfinite(result.iman_davenport_p_value)
            else ""
        )
        + "; "
        f"Nemenyi critical difference {result.critical_difference:.2f} ranks at α = {result.alpha:g}."
    )


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
    decision_note: str = "",
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
    decision_note : str
        :func:`decision_note`: the decision rule of the rows when it is not argmax (a footnote).

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
    notes += [decision_note] if decision_note else []
    table = decorate(pd.DataFrame(rows), bold=bold, marks=marks, notes=notes)
    table.attrs["stack"] = ["Method", "Backbone"]  # the LaTeX copy sets the backbone under the method
    return table


def decision_note(cells: Sequence[Mapping[str, Any]]) -> str:
    """The main table's footnote on the decision rule of its rows; empty when every cell took argmax.

    >>> decision_note([{"decision": {"rule": "argmax"}}])
    ''
    >>> cells = [{"decision": {"rule": "inner_threshold", "threshold": t, "positive_class": "b"}} for t in (0.2, 0.4)]
    >>> "predicts b when p(b) is above a threshold" in decision_note(cells), "(0.2-0.4 over 2 cells)" in decision_note(cells)
    (True, True)
    """
    points = [c.get("decision") or {"rule": "argmax"} for c in cells]
    rules = sorted({str(p["rule"]) for p in points})
    if rules in ([], ["argmax"]):
        return ""
    thresholds = [float(p["threshold"]) for p in points if p.get("threshold") is not None]
    positive = next((str(p["positive_class"]) for p in points if p.get("positive_class")), "")
    spread = (
        f" ({min(thresholds):.3g}-{max(thresholds):.3g} over {len(thresholds)} cells)" if thresholds else ""
    )
    return (
        f"Decision rule {', '.join(rules)}: every row predicts {positive} when p({positive}) is above a threshold "
        f"chosen per cell on its inner data, never on its test fold{spread}; AUROC does not depend on it, the "
        "label-based metrics do."
    )


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


def method_comparison(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    split: str = OOF_SPLIT,
    reference: str,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Forest plot: every configuration's pooled estimate with its 95% CI, one panel per headline metric.

    Configurations run top to bottom by balanced accuracy; a dotted line marks the best
    ``reference`` (the run's proposed method) estimate in each panel.
    """
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    if pooled.empty:
        return []
    apply_style()
    look = _look(_configurations(pooled), palette, markers, _pooled_scores(metrics, split))
    panels = [
        ("accuracy", "overall"),
        ("balanced_accuracy", "overall"),
        ("specificity", "macro"),
        ("auroc", "macro"),
    ]
    n = len(look.order)
    row_labels, row_height = _row_labels(look, wrap=28)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(DOUBLE_COLUMN_IN, 0.9 + row_height * n), sharey=True, layout="constrained"
    )
    y = np.arange(n)[::-1]
    for ax, (metric, class_name) in zip(axes, panels):
        rows = pooled[(pooled["metric"] == metric) & (pooled["class_name"] == class_name)]
        best_reference = -math.inf
        for position, configuration in zip(y, look.order):
            hit = _rows_of(rows, configuration)
            if hit.empty:
                continue
            value, low, high = (float(hit[c].iloc[0]) for c in ("value", "ci_low", "ci_high"))
            if configuration[0] == reference and math.isfinite(value):
                best_reference = max(best_reference, value)
            xerr = None
            if math.isfinite(low) and math.isfinite(high):
                xerr = [[max(value - low, 0.0)], [max(high - value, 0.0)]]
            ax.errorbar(
                value,
                position,
                xerr=xerr,
                fmt=look.markers[configuration],
                color=look.colours[configuration],
                ms=4,
                capsize=1.5,
                lw=1,
            )
        if math.isfinite(best_reference):
            ax.axvline(best_reference, color="#555555", lw=0.7, ls=":", zorder=0)
        ax.set_title(_METRIC_TITLES.get(metric, metric))
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.grid(axis="y", visible=False)
        ax.set_ylim(-0.6, n - 0.4)
    axes[0].set_yticks(y, row_labels)
    figure.supxlabel(
        f"Pooled out-of-fold estimate (95% CI){'' if split == OOF_SPLIT else f', {split}'}", fontsize=7
    )
    return save_figure(figure, stem)


def fold_scores(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Per-fold scores of each configuration: a box over folds with the folds as points; below
    ``MIN_N["fold_box"]`` folds, each fold's dots joined across configurations (no box of 2 points)."""
    class_name = "overall" if metric in OVERALL_METRICS else "macro"
    folds = metrics[
        (metrics["scope"] == "fold")
        & (metrics["split"] == split)
        & (metrics["metric"] == metric)
        & (metrics["class_name"] == class_name)
    ].dropna(subset=["value"])
    if folds.empty:
        return []
    apply_style()
    look = _look(_configurations(folds), palette, markers, _pooled_scores(metrics, split, metric))
    n = len(look.order)
    row_labels, row_height = _row_labels(look, wrap=28 if n <= 8 else 44)
    figure, ax = plt.subplots(
        figsize=(SINGLE_COLUMN_IN if n <= 8 else DOUBLE_COLUMN_IN, 0.6 + row_height * n),
        layout="constrained",
    )
    positions = np.arange(n)[::-1]
    blocks = [c for c in ("seed", "outer_fold") if c in folds.columns]
    n_blocks = len(folds[blocks].drop_duplicates())
    if shortfall("fold_box", n_blocks):
        _joined_fold_dots(ax, folds, look, positions, blocks)
    else:
        _fold_boxes(ax, folds, look, positions)
    ax.set_yticks(positions, row_labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    n_folds = int(folds["outer_fold"].nunique())
    n_seeds = int(folds["seed"].nunique()) if "seed" in folds.columns else 1
    repeats = f" x {n_seeds} seeds" if n_seeds > 1 else ""
    ax.set_xlabel(f"{_METRIC_TITLES.get(metric, metric)} per outer fold ({n_folds} folds{repeats})")
    return save_figure(figure, stem)


def _fold_boxes(ax: Any, folds: pd.DataFrame, look: Any, positions: np.ndarray) -> None:
    """A box over folds per configuration, the folds as jittered points (enough folds for a box)."""
    data = [_rows_of(folds, c)["value"].to_numpy(dtype=float) for c in look.order]
    ax.boxplot(
        data, positions=positions, orientation="horizontal", widths=0.55, showfliers=False, patch_artist=True,
        boxprops={"facecolor": "#F2F2F2", "edgecolor": "#888888", "linewidth": 0.7},
        medianprops={"color": "#444444", "linewidth": 0.9},
        whiskerprops={"color": "#888888", "linewidth": 0.7}, capprops={"color": "#888888", "linewidth": 0.7},
    )  # fmt: skip
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every build
    for position, values, configuration in zip(positions, data, look.order):
        jitter = rng.uniform(-0.12, 0.12, size=len(values))
        ax.scatter(
            values, position + jitter, s=12, marker=look.markers[configuration],
            color=look.colours[configuration], edgecolor="white", linewidth=0.4, zorder=3,
        )  # fmt: skip


def _joined_fold_dots(
    ax: Any, folds: pd.DataFrame, look: Any, positions: np.ndarray, blocks: list[str]
) -> None:
    """Too few folds for a box: each fold's scores as dots, joined across configurations (paired by fold)."""
    row_of = dict(zip(look.order, positions))
    for index, (key, fold) in enumerate(folds.groupby(blocks, sort=True)):
        points = sorted(
            (row_of[tuple(str(r[c]) for c in CONFIG)], float(r["value"]), tuple(str(r[c]) for c in CONFIG))
            for _, r in fold.iterrows()
        )
        label = f"fold {key[-1] if isinstance(key, tuple) else key}"
        ax.plot([p[1] for p in points], [p[0] for p in points], color="#999999", lw=0.7,
                ls=LINESTYLES[index % len(LINESTYLES)], zorder=2, label=label)  # fmt: skip
        for position, value, configuration in points:
            ax.scatter(value, position, s=14, marker=look.markers[configuration], color=look.colours[configuration],
                       edgecolor="white", linewidth=0.4, zorder=3)  # fmt: skip
    ax.legend(loc="best", fontsize=6, frameon=False)


def critical_difference(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    split: str = OOF_SPLIT,
    alpha: float = 0.05,
) -> list[Path]:
    """Critical-difference diagram (Demšar 2006): average ranks over outer folds, Nemenyi CD bar,
    thick bars joining configurations whose ranks differ by less than the CD.

    Needs at least 3 configurations scored on the same 2 or more folds; otherwise ``[]``.
    """
    folds = metrics[
        (metrics["scope"] == "fold")
        & (metrics["split"] == split)
        & (metrics["metric"] == metric)
        & (metrics["class_name"].isin(["overall", "macro"]))
    ]
    if folds.empty:
        return []
    labels = configuration_labels(_configurations(folds))
    frame = folds.assign(label=[labels[tuple(str(r[c]) for c in CONFIG)] for _, r in folds.iterrows()])
    # a block is one outer fold of one protocol seed (r x k blocks for repeated cross-validation)
    blocks = [c for c in ("seed", "outer_fold") if c in frame.columns]
    table = frame.pivot_table(index=blocks, columns="label", values="value", aggfunc="first").dropna()
    if table.shape[0] < 2 or table.shape[1] < 3:
        return []
    result = friedman_nemenyi(table.reset_index(drop=True), alpha=alpha)
    ranks = result.average_ranks.sort_values(kind="mergesort")
    apply_style()
    return _draw_critical_difference(ranks, result.critical_difference, stem, _cd_title(result, metric))


def _cd_title(result: Any, metric: str) -> str:
    return (
        f"{_METRIC_TITLES.get(metric, metric)}, average rank over {result.n_blocks} folds\n"
        f"Friedman p = {result.p_value:.3g}; Nemenyi CD at α = {result.alpha:g}"
    )


def _cliques(ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of sorted ranks with ``ranks[j] - ranks[i] < cd`` (at least two members)."""
    spans: list[tuple[int, int]] = []
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return spans


def _draw_critical_difference(ranks: pd.Series, cd: float, stem: str | Path, title: str) -> list[Path]:
    k = len(ranks)
    names = [str(n) for n in ranks.index]
    values = ranks.to_numpy(dtype=float)
    left = math.ceil(k / 2)
    spans = _cliques(values, cd)
    row = 0.16  # inches between label rows (one data unit on the y axis)
    bar_rows = max(len(spans), 1)
    first_label = -0.6 - bar_rows * 0.55 - 0.4
    depth = -first_label + (left - 1) + 0.6  # data units below the rank axis
    top_in = 0.9
    height = top_in + depth * row + 0.05
    width = DOUBLE_COLUMN_IN if k > 6 or max(map(len, names)) > 16 else SINGLE_COLUMN_IN
    figure = plt.figure(figsize=(width, height))
    # margins wide enough for the longest label on either side
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    # many labels (a full suite's 64): a point smaller, so the rank axis between them keeps some width
    label_size = 7 if k <= 16 else 6
    probe = [figure.text(0, 0, f"{n} ({r:.2f})", fontsize=label_size) for n, r in zip(names, values)]
    text_in = max(t.get_window_extent(renderer).width for t in probe) / figure.dpi + 0.15
    for text in probe:
        text.remove()
    margin = min(text_in / width, 0.4)
    axis_height = depth * row
    ax = figure.add_axes((margin, 0.05 / height, 1 - 2 * margin, axis_height / height))
    ax.set_xlim(1, max(k, 2))
    ax.set_ylim(-depth, 0.0)
    ax.axis("off")
    # the rank axis, best (1) on the left
    ax.plot([1, k], [0, 0], color="black", lw=0.8, clip_on=False)
    # every rank a tick; beyond ~16 ranks their numbers would touch, so only 1 and every 5th (10th) is numbered
    step = 1 if k <= 16 else 5 if k <= 40 else 10
    for tick in range(1, k + 1):
        numbered = tick == 1 or tick % step == 0
        ax.plot(
            [tick, tick],
            [0, 0.35 if numbered else 0.2],
            color="black",
            lw=0.8 if numbered else 0.5,
            clip_on=False,
        )
        if numbered:
            ax.text(tick, 0.55, str(tick), ha="center", va="bottom", fontsize=6.5, clip_on=False)
    # the critical difference, as a bar above the axis starting at rank 1
    cd_end = 1 + cd
    ax.plot([1, min(cd_end, k)], [1.9, 1.9], color="black", lw=1.2, clip_on=False)
    for x in (1, min(cd_end, k)):
        ax.plot([x, x], [1.7, 2.1], color="black", lw=0.8, clip_on=False)
    cd_text = f"CD = {cd:.2f}" + (" (beyond the axis)" if cd_end > k else "")
    ax.text((1 + min(cd_end, k)) / 2, 2.25, cd_text, ha="center", va="bottom", fontsize=6.5, clip_on=False)
    # cliques: thick bars just under the axis
    for index, (i, j) in enumerate(spans):
        y = -0.6 - index * 0.55
        ax.plot([values[i] - 0.03, values[j] + 0.03], [y, y], color="black", lw=2.2, solid_capstyle="round")
    for index, (name, rank) in enumerate(zip(names, values)):
        on_left = index < left
        level = first_label - (index if on_left else k - 1 - index)
        end = 1 if on_left else k
        ax.plot([rank, rank, end], [0, level, level], color="#333333", lw=0.7, clip_on=False)
        ax.text(
            end + (-0.04 if on_left else 0.04) * (k - 1),
            level,
            f"{name} ({rank:.2f})",
            ha="right" if on_left else "left",
            va="center",
            fontsize=label_size,
            clip_on=False,
        )
    figure.suptitle(title, fontsize=7.5, y=0.99, va="top")
    return save_figure(figure, stem)
