"""The report's result sections: headline results with the rank test, per-class results, per-backbone results."""

from __future__ import annotations

import math

import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT
from sdc_bench.reports import figures, tables
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.names import display_name
from sdc_bench.reports.report import Section
from sdc_bench.reports.sections.context import ReportContext
from sdc_bench.reports.stats import friedman_nemenyi

__all__ = ["backbones_section", "per_class_section", "results_section"]

CONFIG = list(CONFIGURATION_COLUMNS)


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
            tables.main_table(
                metrics, reference=reference, comparisons=ctx.comparisons, rules=ctx.rules, flags=ctx.flags
            ),
            "Main comparison: pooled out-of-fold headline metrics with 95% CIs; reference method first, "
            "reference rules last.",
        )
    )
    results.items += writer.figure(
        "method_comparison",
        "Pooled out-of-fold estimates with 95% CIs (dotted line: the reference method). Configurations by balanced accuracy.",
        lambda stem: figures.method_comparison(
            metrics, stem, reference=reference, palette=palette, markers=markers
        ),
    )
    results.items += writer.figure(
        "fold_scores",
        "Balanced accuracy of each outer fold (points) and its spread over folds (box)."
        if not fold_note
        else f"Balanced accuracy of each outer fold; each fold's points joined across configurations "
        f"(no box: {fold_note}).",
        lambda stem: figures.fold_scores(metrics, stem, palette=palette, markers=markers),
    )
    results.items.append(
        writer.table(
            "fold_summary",
            tables.fold_summary_table(metrics, reference=reference),
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
        lambda stem: figures.critical_difference(ctx.metrics, stem),
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
            tables.comparisons_table(ctx.comparisons),
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


def per_class_section(ctx: ReportContext) -> Section:
    """Per-class table, sensitivity/specificity, ROC, confusion and reliability figures.

    Confusion matrices and reliability diagrams pool the protocol seeds of a repeated cross-validation
    (each image once per seed); their captions say so.
    """
    writer, metrics, predictions = ctx.writer, ctx.metrics, ctx.predictions
    palette, markers = ctx.palette, ctx.markers
    pooled = figures.seed_pooling_note(predictions)
    per_class = Section("Per class")
    per_class.items.append(
        writer.table(
            "per_class",
            tables.per_class_table(metrics),
            "Per-class sensitivity and specificity (one-vs-rest, Wilson 95% CI).",
        )
    )
    per_class.items += writer.figure(
        "per_class_sensitivity_specificity",
        "Per-class sensitivity and specificity with Wilson 95% CIs.",
        lambda stem: figures.per_class_sensitivity_specificity(
            metrics, stem, palette=palette, markers=markers
        ),
    )
    per_class.items += writer.figure(
        "roc_curves",
        "One-vs-rest ROC curves pooled out-of-fold, macro average then one panel per class, with 95% "
        "patient-bootstrap bands; the AUROC [95% CI] in each panel is the tables' pooled estimate.",
        lambda stem: figures.roc_curves(
            predictions, stem, metrics=metrics, palette=palette, markers=markers, seed=ctx.seed
        ),
    )
    per_class.items += writer.figure(
        "confusion_counts",
        "Confusion matrices (pooled out-of-fold image counts)." + pooled,
        lambda stem: figures.confusion_matrices(predictions, stem),
    )
    per_class.items += writer.figure(
        "confusion_normalised",
        "Confusion matrices normalised by true class (rows sum to 1; the diagonal is per-class sensitivity)."
        + pooled,
        lambda stem: figures.confusion_matrices(predictions, stem, normalise=True),
    )
    per_class.items += writer.figure(
        "reliability",
        "Reliability diagrams (top-label confidence, 15 bins; lighter bars hold fewer images) with the expected calibration error."
        + pooled,
        lambda stem: figures.reliability_diagrams(predictions, stem, palette=palette, markers=markers),
    )
    return per_class


def backbones_section(ctx: ReportContext) -> Section:
    """Results grouped by backbone."""
    backbones = Section("Backbones")
    backbones.items.append(
        ctx.writer.table(
            "per_backbone",
            tables.per_backbone_table(ctx.metrics, reference=ctx.reference),
            "Results grouped by backbone.",
        )
    )
    return backbones
