"""The report's External validation section: results on every ``external:<name>`` split, its table and figure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.document import Section
from sdc_bench.reports.figure_common import (
    _METRIC_TITLES,
    _configurations,
    _legend_below,
    _legend_height_in,
    _look,
    _pooled_scores,
    _row_labels,
)
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import (
    DOUBLE_COLUMN_IN,
    SINGLE_COLUMN_IN,
    apply_style,
    save_figure,
)
from sdc_bench.reports.table_format import (
    best_rows,
    by_configuration,
    config_cells,
    decorate,
    fmt_interval,
    fmt_number,
    metric_columns,
    metric_value,
    pooled_rows,
    reference_first,
    shown_columns,
)

__all__ = ["external_section", "external_table", "external_validation"]


@report_section("external", title="External validation", order=100)
def external_section(ctx: ReportContext) -> Section:
    """Results on every ``external:<name>`` split, or why there are none."""
    external = Section("External validation")
    table = external_table(ctx.metrics, reference=ctx.reference)
    if table.empty:
        external.skipped = "no `external:<name>` split in the predictions."
        ctx.skipped.append("external validation (no external split)")
        return external
    external.items.append(
        ctx.writer.table(
            "external",
            table,
            "External validation: every fold model predicts the external images.",
        )
    )
    external.items += ctx.writer.figure(
        "external_validation",
        "Balanced accuracy out-of-fold (open) and on each external dataset (filled).",
        lambda stem: external_validation(ctx.metrics, stem, palette=ctx.palette, markers=ctx.markers),
    )
    return external


def external_table(metrics: pd.DataFrame, *, reference: str) -> pd.DataFrame:
    """Results on each external split next to the out-of-fold (internal) balanced accuracy.

    Empty when the run has no ``external:<name>`` split.
    """
    pooled = metrics[(metrics["scope"] == "pooled")]
    splits = sorted(s for s in pooled["split"].astype(str).unique() if s.startswith("external:"))
    columns = metric_columns(("accuracy", "overall"), ("balanced_accuracy", "overall"), ("auroc", "macro"))
    if not splits:
        return decorate(pd.DataFrame(columns=["Dataset", "Method", *[t for _, _, t in columns]]))
    internal = by_configuration(pooled_rows(metrics, OOF_SPLIT))
    shown = shown_columns(list(by_configuration(pooled)))
    rows: list[dict[str, str]] = []
    bold: list[tuple[int, str]] = []
    for split in splits:
        parts = by_configuration(pooled_rows(metrics, split))
        values = {c: {t: metric_value(parts[c], m, k) for m, k, t in columns} for c in parts}
        members = reference_first(
            list(parts), reference, {c: values[c]["Balanced accuracy"][0] for c in parts}
        )
        start = len(rows)
        for configuration in members:
            row = {"Dataset": split.split(":", 1)[1], **config_cells(configuration, shown)}
            row.update({t: fmt_interval(*values[configuration][t]) for _, _, t in columns})
            oof = (
                metric_value(internal[configuration], "balanced_accuracy", "overall")[0]
                if configuration in internal
                else math.nan
            )
            row["Δ balanced accuracy vs internal"] = fmt_number(
                values[configuration]["Balanced accuracy"][0] - oof, signed=True
            )
            rows.append(row)
        for _, _, title in columns:
            bold += [(start + r, title) for r in best_rows([values[c][title][0] for c in members])]
    notes = [
        "Each outer-fold model predicts every external image; the pooled prediction is their soft vote "
        "(mean probabilities). 95% CIs: Wilson for accuracy, patient-level bootstrap otherwise. "
        "Δ: external minus internal out-of-fold balanced accuracy. Bold: best value within the dataset."
    ]
    return decorate(pd.DataFrame(rows), bold=bold, notes=notes, group="Dataset")


def external_validation(
    metrics: pd.DataFrame,
    stem: str | Path,
    *,
    metric: str = "balanced_accuracy",
    palette: Mapping[str, str] | None = None,
    markers: Mapping[str, str] | None = None,
) -> list[Path]:
    """Internal (out-of-fold) versus external balanced accuracy of each configuration (dumbbells)."""
    splits = sorted(s for s in metrics["split"].astype(str).unique() if s.startswith("external:"))
    if not splits:
        return []
    apply_style()
    internal = _pooled_scores(metrics, OOF_SPLIT, metric)
    pooled = metrics[metrics["scope"] == "pooled"]
    configurations = _configurations(pooled[pooled["split"].isin(splits)])
    look = _look(configurations, palette, markers, internal)
    n = len(look.order)
    width = (
        DOUBLE_COLUMN_IN if len(splits) > 1 or max(map(len, look.labels.values())) > 24 else SINGLE_COLUMN_IN
    )
    row_labels, row_height = _row_labels(look, wrap=44 if width > SINGLE_COLUMN_IN else 24)
    legend_labels = ["internal (out-of-fold)", "external (fold-model soft vote)"]
    # title + x axis (~0.9 in) + legend + rows, and at least ~0.5 in of plot even for one configuration
    height = 0.9 + _legend_height_in(width, legend_labels, 2) + max(0.5, row_height * n)
    figure, axes = plt.subplots(
        1, len(splits), figsize=(width, height),
        sharey=True, sharex=True, squeeze=False, layout="constrained",
    )  # fmt: skip
    y = np.arange(n)[::-1]
    for ax, split in zip(axes[0], splits):
        external = _pooled_scores(metrics, split, metric)
        for position, configuration in zip(y, look.order):
            a, b = internal.get(configuration, math.nan), external.get(configuration, math.nan)
            colour = look.colours[configuration]
            ax.plot([a, b], [position, position], color=colour, lw=1, alpha=0.6)
            ax.plot(a, position, marker=look.markers[configuration], mfc="white", mec=colour, ls="none", ms=4)
            ax.plot(b, position, marker=look.markers[configuration], color=colour, ls="none", ms=4)
        ax.set_title(split.split(":", 1)[1])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(_METRIC_TITLES.get(metric, metric))
    axes[0][0].set_yticks(y, row_labels)
    handles = [
        Line2D([], [], marker="o", mfc="white", mec="#333333", ls="none", ms=4),
        Line2D([], [], marker="o", color="#333333", ls="none", ms=4),
    ]
    _legend_below(figure, handles, legend_labels, ncol=2)
    return save_figure(figure, stem)
