"""The report's Ablations section: the reference method and its ablations (methods named ``<reference>_*``)."""

from __future__ import annotations

import math

import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.document import Section
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.table_format import (
    CI_NOTE,
    CONFIG,
    MARK,
    as_float,
    best_rows,
    by_configuration,
    config_cells,
    decorate,
    fmt_interval,
    metric_value,
    p_text,
    pooled_rows,
    reference_first,
    shown_columns,
)

__all__ = ["ablation_table", "ablations_section"]


@report_section("ablations", title="Ablations", order=80)
def ablations_section(ctx: ReportContext) -> Section:
    """The reference method and its ablations (methods named ``<reference>_*``), or why there are none."""
    reference = ctx.reference
    ablations = Section("Ablations")
    ablation = ablation_table(ctx.metrics, ctx.comparisons, reference=reference)
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
        estimate, low, high = as_float(row.estimate), as_float(row.ci_low), as_float(row.ci_high)
        out[key] = (fmt_interval(-estimate, -high, -low, signed=True), as_float(row.p_holm))
    return out


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
    pooled = pooled_rows(metrics, split)
    parts = by_configuration(pooled)
    is_ablation = [c for c in parts if c[0].startswith(f"{reference}_")]
    columns = ["Backbone", "Method", "Balanced accuracy", "AUROC (macro)", "Δ balanced accuracy", "p (Holm)"]
    if not is_ablation:
        return decorate(pd.DataFrame(columns=columns))
    configurations = [c for c in parts if c[0] == reference or c in is_ablation]
    shown = [c for c in shown_columns(configurations) if c != "backbone"]
    deltas = _delta_cells(comparisons, "paired_bootstrap", "balanced_accuracy")
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    marks: list[tuple[int, str, str]] = []
    for backbone in sorted({c[1] for c in configurations}):
        members = [c for c in configurations if c[1] == backbone]
        values = {
            c: (
                metric_value(parts[c], "balanced_accuracy", "overall"),
                metric_value(parts[c], "auroc", "macro"),
            )
            for c in members
        }
        members = reference_first(members, reference, {c: values[c][0][0] for c in members})
        start = len(rows)
        for offset, configuration in enumerate(members):
            delta, p_holm = deltas.get(
                configuration, ("reference" if configuration[0] == reference else "n/a", math.nan)
            )
            row = {"Backbone": backbone, **config_cells(configuration, shown)}
            row.update(
                {
                    "Balanced accuracy": fmt_interval(*values[configuration][0]),
                    "AUROC (macro)": fmt_interval(*values[configuration][1]),
                    "Δ balanced accuracy": delta,
                    "p (Holm)": p_text(p_holm) if math.isfinite(p_holm) else "",
                }
            )
            if math.isfinite(p_holm) and p_holm < alpha:
                marks.append((start + offset, "Δ balanced accuracy", MARK))
            rows.append(row)
        for index, title in enumerate(("Balanced accuracy", "AUROC (macro)")):
            bold += [(start + r, title) for r in best_rows([values[c][index][0] for c in members])]
    notes = [
        CI_NOTE,
        f"Δ: ablation minus {reference} on the same images, paired patient-level bootstrap (95% CI); "
        f"{MARK} Holm-adjusted p < {alpha:g}. Bold: best value within the backbone.",
    ]
    return decorate(
        pd.DataFrame(rows)[[c for c in rows[0]]], bold=bold, marks=marks, notes=notes, group="Backbone"
    )
