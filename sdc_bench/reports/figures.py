"""Figures from stored metrics, in the house style of :mod:`sdc_bench.reports.style`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sdc_bench.reports.style import DOUBLE_COLUMN_IN, apply_style, method_palette, save_figure

__all__ = ["per_class_sensitivity_specificity"]


def per_class_sensitivity_specificity(metrics: pd.DataFrame, stem: str | Path, *, split: str = "test") -> list[Path]:
    """Per-class sensitivity and specificity (pooled out-of-fold, Wilson 95% CI), one colour per method."""
    apply_style()
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]
    data = pooled[pooled["metric"].isin(["sensitivity", "specificity"]) & ~pooled["class_name"].isin(["macro", "overall"])].copy()
    data["config"] = data["method"] + np.where(data["backbone"].nunique() > 1, " / " + data["backbone"], "")
    configs = list(dict.fromkeys(data.sort_values("method")["config"]))
    palette = method_palette(configs)
    classes = list(dict.fromkeys(data["class_name"]))
    figure, axes = plt.subplots(1, 2, figsize=(DOUBLE_COLUMN_IN, 2.6), sharey=True)
    width = 0.8 / max(len(configs), 1)
    for ax, metric in zip(axes, ("sensitivity", "specificity")):
        for offset, config in enumerate(configs):
            part = data[(data["metric"] == metric) & (data["config"] == config)].set_index("class_name").reindex(classes)
            x = np.arange(len(classes)) + (offset - (len(configs) - 1) / 2) * width
            low = (part["value"] - part["ci_low"]).clip(lower=0).fillna(0)
            high = (part["ci_high"] - part["value"]).clip(lower=0).fillna(0)
            ax.errorbar(x, part["value"], yerr=[low, high], fmt="o", ms=4, capsize=2, lw=1, color=palette[config], label=config)
        ax.set_xticks(np.arange(len(classes)), [c.replace("_", "\n") for c in classes])
        ax.set_ylim(0, 1.02)
        ax.set_title(metric.capitalize())
        ax.set_xlabel("")
    axes[0].set_ylabel("Pooled out-of-fold (95% Wilson CI)")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=min(len(configs), 4), bbox_to_anchor=(0.5, 1.08), frameon=False)
    figure.tight_layout()
    return save_figure(figure, stem)
