"""The report's Backbones section: results grouped by backbone."""

from __future__ import annotations

import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.document import Section
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.table_format import (
    CI_NOTE,
    best_rows,
    by_configuration,
    config_cells,
    decorate,
    fmt_interval,
    metric_columns,
    metric_value,
    pooled_rows,
    reference_first,
    shown_columns,
)

__all__ = ["backbones_section", "per_backbone_table"]


@report_section("backbones", title="Backbones", order=70)
def backbones_section(ctx: ReportContext) -> Section:
    """Results grouped by backbone."""
    backbones = Section("Backbones")
    backbones.items.append(
        ctx.writer.table(
            "per_backbone",
            per_backbone_table(ctx.metrics, reference=ctx.reference),
            "Results grouped by backbone.",
        )
    )
    return backbones


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
