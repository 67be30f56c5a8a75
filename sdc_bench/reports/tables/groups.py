"""Grouped result tables: the reference method's ablations, imbalance strategies, external validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.reports.tables._format import (
    CI_NOTE,
    CONFIG,
    MARK,
    as_float,
    best_rows,
    by_configuration,
    config_cells,
    decorate,
    fmt_interval,
    fmt_number,
    metric_columns,
    metric_value,
    p_text,
    pooled_rows,
    reference_first,
    shown_columns,
)

__all__ = ["ablation_table", "external_table", "imbalance_table"]


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
