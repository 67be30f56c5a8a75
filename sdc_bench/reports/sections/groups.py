"""The report's grouped sections: ablations of the reference method, imbalance strategies, external validation."""

from __future__ import annotations

from sdc_bench.reports import figures, tables
from sdc_bench.reports.names import display_name
from sdc_bench.reports.report import Section
from sdc_bench.reports.sections.context import ReportContext

__all__ = ["ablations_section", "external_section", "imbalance_section"]


def ablations_section(ctx: ReportContext) -> Section:
    """The reference method and its ablations (methods named ``<reference>_*``), or why there are none."""
    reference = ctx.reference
    ablations = Section("Ablations")
    ablation = tables.ablation_table(ctx.metrics, ctx.comparisons, reference=reference)
    if ablation.empty:
        ablations.skipped = (
            f"no ablation of {display_name(reference)} (methods named `{reference}_*`) in this run."
        )
        ctx.skipped.append("ablations (no ablation method)")
        return ablations
    ablations.items.append(
        ctx.writer.table(
            "ablations",
            ablation,
            f"{display_name(reference)} and its ablations, with the paired change in balanced accuracy.",
        )
    )
    return ablations


def imbalance_section(ctx: ReportContext) -> Section:
    """Configurations grouped by imbalance strategy."""
    imbalance = Section("Imbalance strategies")
    imbalance_table = tables.imbalance_table(ctx.metrics)
    if imbalance_table.empty:
        imbalance.skipped = "no pooled results."
        return imbalance
    strategies = sorted(set(ctx.predictions["imbalance"].astype(str)))
    imbalance.paragraphs.append(f"Strategies in this run: {', '.join(strategies)}.")
    imbalance.items.append(
        ctx.writer.table(
            "imbalance",
            imbalance_table,
            "Configurations grouped by imbalance strategy, with metrics sensitive to rare classes.",
        )
    )
    return imbalance


def external_section(ctx: ReportContext) -> Section:
    """Results on every ``external:<name>`` split, or why there are none."""
    external = Section("External validation")
    external_table = tables.external_table(ctx.metrics, reference=ctx.reference)
    if external_table.empty:
        external.skipped = "no `external:<name>` split in the predictions."
        ctx.skipped.append("external validation (no external split)")
        return external
    external.items.append(
        ctx.writer.table(
            "external",
            external_table,
            "External validation: every fold model predicts the external images.",
        )
    )
    external.items += ctx.writer.figure(
        "external_validation",
        "Balanced accuracy out-of-fold (open) and on each external dataset (filled).",
        lambda stem: figures.external_validation(ctx.metrics, stem, palette=ctx.palette, markers=ctx.markers),
    )
    return external
