"""The report's Imbalance strategies section: configurations grouped by imbalance strategy."""

from __future__ import annotations

import math

import numpy as np
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
    shown_columns,
)

__all__ = ["imbalance_section", "imbalance_table"]


@report_section("imbalance", title="Imbalance strategies", order=90)
def imbalance_section(ctx: ReportContext) -> Section:
    """Configurations grouped by imbalance strategy."""
    imbalance = Section("Imbalance strategies")
    table = imbalance_table(ctx.metrics)
    if table.empty:
        imbalance.skipped = "no pooled results."
        return imbalance
    strategies = sorted(set(ctx.predictions["imbalance"].astype(str)))
    imbalance.paragraphs.append(f"Strategies in this run: {', '.join(strategies)}.")
    imbalance.items.append(
        ctx.writer.table(
            "imbalance",
            table,
            "Configurations grouped by imbalance strategy, with metrics sensitive to rare classes.",
        )
    )
    return imbalance


def imbalance_table(metrics: pd.DataFrame, *, split: str = OOF_SPLIT) -> pd.DataFrame:
    """Configurations grouped by imbalance strategy, with metrics that reward the rare classes."""
    pooled = pooled_rows(metrics, split)
    parts = by_configuration(pooled)
    columns = metric_columns(("balanced_accuracy", "overall"), ("f1", "macro"), ("auprc", "macro"))
    if not parts:
        return decorate(pd.DataFrame(columns=["Imbalance", "Method", *[t for _, _, t in columns]]))
    configurations = sorted(parts, key=lambda c: (c[3], c))
    shown = [c for c in shown_columns(configurations) if c != "imbalance"]
    values = {c: {t: metric_value(parts[c], m, k) for m, k, t in columns} for c in configurations}
    rows, worst_values = [], []
    for configuration in configurations:
        row = {"Imbalance": configuration[3], **config_cells(configuration, shown)}
        row.update({t: fmt_interval(*values[configuration][t]) for _, _, t in columns})
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
                f"{fmt_interval(worst['value'], worst['ci_low'], worst['ci_high'])} ({worst['class_name']})"
            )
            worst_values.append(float(worst["value"]))
        rows.append(row)
    bold = [(r, t) for _, _, t in columns for r in best_rows([values[c][t][0] for c in configurations])]
    bold += [(r, "Worst-class sensitivity") for r in best_rows(worst_values)]
    notes = [
        CI_NOTE
        + " Worst-class sensitivity: the lowest per-class sensitivity (Wilson CI), class in parentheses. "
        "Bold: best value in the column."
    ]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Imbalance")
